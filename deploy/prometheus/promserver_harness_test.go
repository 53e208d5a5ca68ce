package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPromConfigIsValid checks the configuration the live test generates with promtool: it parses,
// it loads the shipped rules file, and it scrapes the job name SqldrControllerDown expects.
func TestPromConfigIsValid(t *testing.T) {
	promtool := findPromtool(t)
	rulesPath, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := promConfig(promOptions{target: "127.0.0.1:9724", rulesFile: rulesPath, interval: 1500 * time.Millisecond})
	for _, want := range []string{"scrape_interval: 1500ms", "evaluation_interval: 1500ms", "job_name: sqldr\n",
		`targets: ["127.0.0.1:9724"]`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("generated configuration lacks %q:\n%s", want, cfg)
		}
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 1 rule files found") || !strings.Contains(string(out), rulesPath) {
		t.Fatalf("the generated configuration does not load %s:\n%s", rulesPath, out)
	}
}

// TestStartPrometheusReportsABrokenRulesFile checks the harness' failure path: a server that cannot
// load its rules exits, and the start reports that with the server's own log instead of waiting for
// readiness until its deadline.
func TestStartPrometheusReportsABrokenRulesFile(t *testing.T) {
	bin := findPrometheus(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-rules.yml")
	if err := os.WriteFile(bad, []byte("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(promConfig(promOptions{target: "127.0.0.1:1", rulesFile: bad, interval: time.Second})), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := tryStartPrometheus(t, bin, cfgPath, filepath.Join(dir, "run"))
	if err == nil {
		t.Fatalf("prometheus started on %s with a broken rules file", p.base)
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "bad-rules.yml") {
		t.Fatalf("error does not say that prometheus exited over the rules file: %v", err)
	}
	// Informational: the failure is seen when the process exits, not at the 30s readiness deadline.
	t.Logf("failure reported after %s", time.Since(start).Round(time.Millisecond))
}

package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// promServer is a real Prometheus server (Debian's /usr/bin/prometheus) run by a test on loopback,
// with its configuration, its TSDB and its log in the test's temporary directory.
type promServer struct {
	// base is the server's URL, http://127.0.0.1:PORT.
	base string
	// logPath is the server's log file (stdout and stderr).
	logPath string
}

// promOptions configure startPrometheus.
type promOptions struct {
	// target is the sqldr HTTP address scraped under the job name "sqldr".
	target string
	// rulesFile is loaded with rule_files: as it is (absolute path).
	rulesFile string
	// interval is the global scrape and evaluation interval (default 1s).
	interval time.Duration
}

// findPrometheus returns the prometheus binary's path; without it the test fails in CI and is
// skipped elsewhere.
func findPrometheus(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus not found (CI=true; .ci/run installs Debian's prometheus package): %v", err)
		}
		t.Skipf("prometheus not found: %v", err)
	}
	return p
}

// promConfig renders the server's configuration: short intervals so that a test sees scrapes and
// rule evaluations every interval, one scrape job "sqldr" (the job name SqldrControllerDown expects),
// and the rules file loaded unchanged.
func promConfig(o promOptions) string {
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
rule_files:
  - %[2]q
scrape_configs:
  - job_name: sqldr
    static_configs:
      - targets: [%[3]q]
`, model(o.interval), o.rulesFile, o.target)
}

// model writes a duration the way Prometheus' configuration accepts it (whole milliseconds).
func model(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// startPrometheus starts the server and waits until it is ready (/-/ready). The listen port is
// found by binding 127.0.0.1:0 and closing it; if another process takes the port in between, the
// start is retried on a new one (at most 3 attempts). The server is stopped (SIGTERM, then SIGKILL
// after 10s) by t.Cleanup, before the temporary directory is removed.
func startPrometheus(t *testing.T, o promOptions) *promServer {
	t.Helper()
	bin := findPrometheus(t)
	if o.interval <= 0 {
		o.interval = time.Second
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(promConfig(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		p, err := tryStartPrometheus(t, bin, cfgPath, filepath.Join(dir, fmt.Sprintf("run%d", attempt)))
		if err == nil {
			return p
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("listen port taken")

// tryStartPrometheus runs one attempt of startPrometheus with runDir for the TSDB and the log.
func tryStartPrometheus(t *testing.T, bin, cfgPath, runDir string) (*promServer, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, fmt.Errorf("free port %s: %w", addr, err)
	}
	if err := os.MkdirAll(filepath.Join(runDir, "data"), 0o750); err != nil {
		return nil, err
	}
	p := &promServer{base: "http://" + addr, logPath: filepath.Join(runDir, "prometheus.log")}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(runDir, "data"),
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	// A *os.File as stdout/stderr: no copying goroutines; the process writes the file itself.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	// exited is closed when the process has ended; waitErr is then its exit status.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited: // it ended by itself (a failed start, reported there)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("prometheus exited with %v after SIGTERM", waitErr)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Errorf("prometheus did not stop within 10s of SIGTERM; killed")
			}
		}
		_ = logFile.Close()
		httpClient.CloseIdleConnections()
		if t.Failed() {
			t.Logf("prometheus log (tail):\n%s", p.logTail(40))
		}
	})

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		code, _, err := httpGet(context.Background(), p.base+"/-/ready")
		if err == nil && code == http.StatusOK {
			return p, nil
		}
		select {
		case <-exited:
			tail := p.logTail(20)
			if strings.Contains(tail, "address already in use") {
				return nil, fmt.Errorf("%w: %s", errPortTaken, addr)
			}
			return nil, fmt.Errorf("prometheus exited before it was ready (%w):\n%s", waitErr, tail)
		case <-deadline.C:
			return nil, fmt.Errorf("prometheus not ready on %s within 30s:\n%s", addr, p.logTail(20))
		case <-tick.C:
		}
	}
}

// logTail returns the last n lines of the server's log.
func (p *promServer) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// api GETs an HTTP API path (with query parameters) and decodes the "data" member of a successful
// response into data.
func (p *promServer) api(path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	code, body, err := httpGet(context.Background(), u)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return fmt.Errorf("GET %s: status %d, undecodable body %.200q: %w", u, code, body, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: status %d, %s: %s", u, code, env.ErrorType, env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("GET %s: decode data: %w", u, err)
	}
	return nil
}

// promAlert is an active alert of /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// State is "pending" or "firing" (resolved alerts are not listed).
	State    string    `json:"state"`
	ActiveAt time.Time `json:"activeAt"`
	Value    string    `json:"value"`
}

// alerts returns the server's active alerts (pending and firing).
func (p *promServer) alerts() ([]promAlert, error) {
	var d struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.api("/api/v1/alerts", nil, &d); err != nil {
		return nil, err
	}
	return d.Alerts, nil
}

// promTarget is an active target of /api/v1/targets.
type promTarget struct {
	Labels    map[string]string `json:"labels"`
	ScrapeURL string            `json:"scrapeUrl"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// targets returns the server's active targets.
func (p *promServer) targets() ([]promTarget, error) {
	var d struct {
		ActiveTargets []promTarget `json:"activeTargets"`
	}
	if err := p.api("/api/v1/targets", nil, &d); err != nil {
		return nil, err
	}
	return d.ActiveTargets, nil
}

// promRule is a rule of /api/v1/rules.
type promRule struct {
	Name     string  `json:"name"`
	Query    string  `json:"query"`
	Duration float64 `json:"duration"`
	Health   string  `json:"health"`
	Type     string  `json:"type"`
}

// promRuleGroup is a rule group of /api/v1/rules.
type promRuleGroup struct {
	Name  string     `json:"name"`
	File  string     `json:"file"`
	Rules []promRule `json:"rules"`
}

// rules returns the loaded rule groups.
func (p *promServer) rules() ([]promRuleGroup, error) {
	var d struct {
		Groups []promRuleGroup `json:"groups"`
	}
	if err := p.api("/api/v1/rules", nil, &d); err != nil {
		return nil, err
	}
	return d.Groups, nil
}

// promSample is one series of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query evaluates an instant PromQL query and returns its vector.
func (p *promServer) query(q string) ([]promSample, error) {
	var d struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {q}}, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %s, want vector", q, d.ResultType)
	}
	return d.Result, nil
}

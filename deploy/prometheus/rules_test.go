// Package prometheus_test checks the shipped Prometheus rules: promtool accepts them and passes their
// unit tests, every alert is tested both ways, every metric they use exists in pkg/metrics, and every
// runbook link lands on a section of docs/alerts.md.
package prometheus_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sqldr/sqldr/pkg/metrics"
)

const (
	rulesFile     = "sqldr-rules.yml"
	rulesTestFile = "sqldr-rules.test.yml"
	alertsDoc     = "../../docs/alerts.md"
	runbookBase   = "https://github.com/sqldr/sqldr/blob/main/docs/alerts.md#"
)

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name      string `yaml:"name"`
		AlertRule []struct {
			EvalTime  string           `yaml:"eval_time"`
			AlertName string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// loadYAML decodes a YAML file; strict rejects keys the target type does not declare.
func loadYAML(t *testing.T, path string, strict bool, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(strict)
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var f ruleFile
	loadYAML(t, rulesFile, true, &f)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("no rules")
	}
	return out
}

// findPromtool returns promtool's path; without it the test fails in CI and is skipped elsewhere.
func findPromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (CI=true; .ci/run installs Debian's prometheus package): %v", err)
		}
		t.Skipf("promtool not found: %v", err)
	}
	return p
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(findPromtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out, err := exec.Command(findPromtool(t), "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules did not report success:\n%s", out)
	}
}

// TestEveryAlertIsTestedBothWays requires, for every alert, a test case where it fires and one where
// it is expected quiet; and, for an alert with a for:, a quiet case (the pending period) besides.
func TestEveryAlertIsTestedBothWays(t *testing.T) {
	var tf testFile
	loadYAML(t, rulesTestFile, false, &tf)
	if !slices.Equal(tf.RuleFiles, []string{rulesFile}) {
		t.Fatalf("rule tests load %v, want [%s]", tf.RuleFiles, rulesFile)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRule {
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName]++
			} else {
				quiet[a.AlertName]++
			}
		}
	}
	alerts := 0
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts++
		if fires[r.Alert] == 0 {
			t.Errorf("%s: no test case where it fires", r.Alert)
		}
		want := 1
		if r.For != "" {
			want = 2 // the pending period, and a case where the condition does not hold long enough or at all
		}
		if quiet[r.Alert] < want {
			t.Errorf("%s: %d quiet test case(s), want at least %d", r.Alert, quiet[r.Alert], want)
		}
	}
	if alerts < 12 {
		t.Errorf("%d alerts, want at least the 12 the issue lists", alerts)
	}
}

// seriesName matches sqldr metric names in expressions and in annotation templates (query calls).
var seriesName = regexp.MustCompile(`\bsqldr_[a-z0-9_]+`)

func TestRulesUseOnlyDefinedMetrics(t *testing.T) {
	recorded := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	used := 0
	for _, r := range loadRules(t) {
		texts := []string{r.Expr}
		for _, v := range r.Annotations {
			texts = append(texts, v)
		}
		for _, text := range texts {
			for _, name := range seriesName.FindAllString(text, -1) {
				used++
				if !metrics.IsDefined(name) {
					t.Errorf("rule %s%s uses %s, which pkg/metrics does not define", r.Alert, r.Record, name)
				}
			}
			for _, name := range regexp.MustCompile(`\bsqldr:[a-z0-9_:]+`).FindAllString(text, -1) {
				if !recorded[name] {
					t.Errorf("rule %s%s uses %s, which no recording rule defines", r.Alert, r.Record, name)
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("found no sqldr metric in the rules: the check is broken")
	}
}

func TestAlertsHaveSeveritySummaryDescriptionAndRunbook(t *testing.T) {
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		if d := r.Annotations["description"]; !strings.Contains(d, "$labels.") && !strings.Contains(d, "$value") {
			t.Errorf("%s: description carries no figure or label", r.Alert)
		}
		if want := runbookBase + anchor(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
	}
}

// TestRunbookAnchorsExist checks that every runbook_url lands on a heading of docs/alerts.md and that
// the runbook documents no alert that does not exist.
func TestRunbookAnchorsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Clean(alertsDoc))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			h = strings.TrimSpace(h)
			anchors[anchor(h)] = true
			if strings.HasPrefix(h, "Sqldr") {
				documented[h] = true
			}
		}
	}
	alerts := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts[r.Alert] = true
		a, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookBase)
		if !ok {
			t.Errorf("%s: runbook_url %q does not point into docs/alerts.md", r.Alert, r.Annotations["runbook_url"])
			continue
		}
		if !anchors[a] {
			t.Errorf("%s: runbook anchor #%s is not a heading of docs/alerts.md", r.Alert, a)
		}
	}
	for h := range documented {
		if !alerts[h] {
			t.Errorf("docs/alerts.md documents %s, which is not an alert of %s", h, rulesFile)
		}
	}
}

// anchor is GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.
func anchor(heading string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			sb.WriteRune(r)
		case r == ' ':
			sb.WriteRune('-')
		}
	}
	return sb.String()
}

func TestAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"SqldrLogBackupStale":   "sqldrlogbackupstale",
		"Severity and routing":  "severity-and-routing",
		"Why `for:` is 2m here": "why-for-is-2m-here",
	} {
		if got := anchor(in); got != want {
			t.Errorf("anchor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPromtoolCheckExampleConfig(t *testing.T) {
	out, err := exec.Command(findPromtool(t), "check", "config", "prometheus.example.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 1 rule files found") {
		t.Fatalf("the example config does not load the rules file:\n%s", out)
	}
	b, err := os.ReadFile("prometheus.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "job_name: sqldr\n") {
		t.Fatal(`the example config does not scrape job "sqldr", which SqldrControllerDown expects`)
	}
}

// metricsReference renders the "Metrics" section of docs/alerts.md from metrics.Definitions.
func metricsReference() string {
	var sb strings.Builder
	sb.WriteString(metricsHeading + "\n\n")
	sb.WriteString("Generated from `pkg/metrics` (`go test ./deploy/prometheus -run MetricsReference -update` rewrites it).\n\n")
	sb.WriteString("| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n")
	for _, d := range metrics.Definitions() {
		labels := strings.Join(d.Labels, ", ")
		if labels == "" {
			labels = "(none)"
		}
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", d.Name, d.Kind, labels, d.Help)
	}
	return sb.String()
}

const metricsHeading = "## Metrics"

var update = flag.Bool("update", false, "rewrite the metrics reference in docs/alerts.md")

// TestMetricsReferenceIsCurrent keeps the metrics table at the end of docs/alerts.md in step with the
// definitions in pkg/metrics.
func TestMetricsReferenceIsCurrent(t *testing.T) {
	b, err := os.ReadFile(alertsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n"+metricsHeading+"\n")
	if i < 0 {
		t.Fatalf("docs/alerts.md has no %q section", metricsHeading)
	}
	current, want := doc[i+1:], metricsReference()
	if current == want {
		return
	}
	if *update {
		if err := os.WriteFile(alertsDoc, []byte(doc[:i+1]+want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the metrics reference in docs/alerts.md is stale; run go test ./deploy/prometheus -run MetricsReference -update")
}

// Package grafana_test checks the shipped Grafana dashboard: valid JSON, well-formed panels, queries
// that use only metrics pkg/metrics defines or the recording rules record, PromQL that Prometheus
// parses, and a state timeline whose value mappings match the controller's states.
package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sqldr/sqldr/pkg/metrics"
)

const (
	dashboardFile = "sqldr.json"
	rulesFile     = "../prometheus/sqldr-rules.yml"
)

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Mappings []struct {
				Type    string `json:"type"`
				Options map[string]struct {
					Text string `json:"text"`
				} `json:"options"`
			} `json:"mappings"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"` // a row's collapsed panels
}

func load(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// queries returns every PromQL text of the dashboard with where it comes from.
func queries(d dashboard) map[string]string {
	out := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if q, ok := v.Query.(map[string]any); ok {
			out["variable "+v.Name], _ = q["query"].(string)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out["annotation "+a.Name] = a.Expr
		}
	}
	return out
}

func TestDashboardIsWellFormed(t *testing.T) {
	d := load(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q uid %q: both are required", d.Title, d.UID)
	}
	ids := map[int]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d %q: bad gridPos %+v", p.ID, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %d %q: datasource must be the ${datasource} variable", p.ID, p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no query", p.ID, p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %d %q target %s: empty expr", p.ID, p.Title, tg.RefID)
			}
		}
	}
}

var (
	seriesName   = regexp.MustCompile(`\bsqldr_[a-z0-9_]+`)
	recordedName = regexp.MustCompile(`\bsqldr:[a-z0-9_:]+`)
)

func recordingRules(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out[r.Record] = r.Expr
			}
		}
	}
	return out
}

func TestDashboardUsesOnlyExistingMetrics(t *testing.T) {
	d := load(t)
	recorded := recordingRules(t)
	n := 0
	for where, q := range queries(d) {
		for _, name := range seriesName.FindAllString(q, -1) {
			n++
			if !metrics.IsDefined(name) {
				t.Errorf("%s uses %s, which pkg/metrics does not define", where, name)
			}
		}
		for _, name := range recordedName.FindAllString(q, -1) {
			n++
			if _, ok := recorded[name]; !ok {
				t.Errorf("%s uses %s, which no recording rule of %s records", where, name, rulesFile)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no metric in the dashboard's queries: the check is broken")
	}
}

// TestDashboardCoversTheIssue checks the panels the issue asks for are there.
func TestDashboardCoversTheIssue(t *testing.T) {
	d := load(t)
	all := ""
	for _, q := range queries(d) {
		all += q + "\n"
	}
	for _, want := range []string{
		"sqldr:state:code", "sqldr_logship_backup_age_seconds", "sqldr_logship_restore_age_seconds",
		"sqldr_data_loss_window_seconds", "sqldr_data_loss_budget_seconds", "sqldr_probe_up",
		"sqldr_promotions_total", "sqldr_signals_rejected_total", "sqldr_last_reconcile_timestamp_seconds",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// TestStateTimelineMappingsMatchStates ties the dashboard's value mappings to metrics.States through
// the recording rule sqldr:state:code.
func TestStateTimelineMappingsMatchStates(t *testing.T) {
	code := regexp.MustCompile(`(\d+) \* max without \(state\) \(sqldr_state\{state="(\w+)"\}\)`)
	expr := recordingRules(t)["sqldr:state:code"]
	terms := code.FindAllStringSubmatch(expr, -1)
	if len(terms) != len(metrics.States) {
		t.Fatalf("sqldr:state:code has %d terms, want one per state (%d)", len(terms), len(metrics.States))
	}
	byCode := map[string]string{}
	for _, m := range terms {
		byCode[m[1]] = m[2]
	}
	for i, s := range metrics.States {
		if byCode[strconv.Itoa(i)] != s {
			t.Errorf("sqldr:state:code maps %d to %q, want %q", i, byCode[strconv.Itoa(i)], s)
		}
	}
	found := false
	for _, p := range allPanels(load(t).Panels) {
		if p.Type != "state-timeline" || len(p.Targets) == 0 || !strings.Contains(p.Targets[0].Expr, "sqldr:state:code") {
			continue
		}
		found = true
		got := map[string]string{}
		for _, m := range p.FieldConfig.Defaults.Mappings {
			for k, v := range m.Options {
				got[k] = v.Text
			}
		}
		for i, s := range metrics.States {
			if got[strconv.Itoa(i)] != s {
				t.Errorf("panel %q maps %d to %q, want %q", p.Title, i, got[strconv.Itoa(i)], s)
			}
		}
	}
	if !found {
		t.Fatal("no state-timeline panel on sqldr:state:code")
	}
}

// grafanaVars replaces Grafana's macros and variables with values Prometheus accepts, so that
// promtool can parse the queries.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$__interval", "1m",
	"${group}", ".*", "$group", ".*", "${database}", ".*", "$database", ".*")

// TestDashboardQueriesParse runs every query through promtool check rules as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (CI=true; .ci/run installs Debian's prometheus package): %v", err)
		}
		t.Skipf("promtool not found: %v", err)
	}
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, q := range queries(load(t)) {
		if strings.HasPrefix(q, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", len(rules)), Expr: grafanaVars.Replace(q)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []map[string]any{{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("a dashboard query does not parse: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(rules)); !strings.Contains(string(out), want) {
		t.Fatalf("promtool check rules: want %q in\n%s", want, out)
	}
}

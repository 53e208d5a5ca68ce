package metrics_test

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/sqldr/sqldr/pkg/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// labOptions is the lab's topology: a stretched pool with mgc in a failover group, mgccomp monitored.
func labOptions() metrics.Options {
	return metrics.Options{
		Groups: []metrics.Group{{Name: "mgc", DataLossBudget: 5 * time.Minute}},
		Databases: []metrics.Database{
			{Name: "mgc", Mirrored: true, BackupThreshold: 15 * time.Minute, RestoreThreshold: 20 * time.Minute},
			{Name: "mgccomp", BackupThreshold: 15 * time.Minute, RestoreThreshold: 45 * time.Minute},
		},
		Instances: []metrics.Instance{
			{Name: "sqla1", Site: "A", Role: metrics.RolePrincipal},
			{Name: "sqla2", Site: "A", Role: metrics.RoleMirror},
			{Name: "sqlb1", Site: "B", Role: metrics.RoleSecondary},
		},
		Build: metrics.Build{Version: "v0.1.0", Revision: "abc123", GoVersion: "go1.26.8"},
	}
}

func newLab(t *testing.T, mutate func(*metrics.Options)) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	opts := labOptions()
	if mutate != nil {
		mutate(&opts)
	}
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return reg, m
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// populate sets the figures of a healthy-then-degraded cycle with realistic values.
func populate(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	must(t, m.ObserveProbe("sqla1", true, 42*time.Millisecond))
	must(t, m.ObserveProbe("sqla2", true, 300*time.Millisecond))
	must(t, m.ObserveProbe("sqlb1", false, 5*time.Second))
	must(t, m.SetLogShipping("mgc", metrics.LogShipping{
		BackupAge: metrics.Seconds(95 * time.Second), CopyAge: metrics.Seconds(130 * time.Second),
		RestoreAge: metrics.Seconds(22 * time.Minute), RestoreLatency: metrics.Seconds(4 * time.Minute),
		UnrestoredFiles: metrics.Count(3),
	}))
	must(t, m.SetLogShipping("mgccomp", metrics.LogShipping{
		BackupAge: metrics.Seconds(60 * time.Second), CopyAge: metrics.Unknown,
		RestoreAge: metrics.Unknown, RestoreLatency: metrics.Unknown, UnrestoredFiles: metrics.Unknown,
	}))
	must(t, m.SetDataLoss("mgc", metrics.Seconds(7*time.Minute+12*time.Second), metrics.Seconds(4*time.Second)))
	must(t, m.SetMirroringState("mgc", "sqla1", "SYNCHRONIZED"))
	must(t, m.SetMirroringState("mgc", "sqla2", "")) // monitoring login: columns read NULL
	must(t, m.Transition("mgc", "Unknown", "Healthy"))
	must(t, m.Transition("mgc", "Healthy", "Degraded"))
	must(t, m.SetPromotionBlocked("mgc", metrics.BlockNotConfirmedDown, metrics.BlockDataLossOverBudget))
	must(t, m.SignalRejected(metrics.RejectWrongPlan))
	must(t, m.SignalRejected(metrics.RejectWrongPlan))
	must(t, m.PromotionEnded("mgc", metrics.ResultAborted, 90*time.Second))
	m.Reconciled(time.Date(2026, 11, 28, 16, 0, 0, 500_000_000, time.UTC))
}

func TestScrapeMatchesExpectedExposition(t *testing.T) {
	reg, m := newLab(t, nil)
	populate(t, m)

	help := map[string]string{}
	for _, d := range metrics.Definitions() {
		help[d.Name] = "# HELP " + d.Name + " " + d.Help + "\n# TYPE " + d.Name + " " + d.Kind.String() + "\n"
	}
	expected := help["sqldr_build_info"] + `sqldr_build_info{goversion="go1.26.8",revision="abc123",version="v0.1.0"} 1
` + help["sqldr_probe_up"] + `sqldr_probe_up{role="mirror",site="A",sql_instance="sqla2"} 1
sqldr_probe_up{role="principal",site="A",sql_instance="sqla1"} 1
sqldr_probe_up{role="secondary",site="B",sql_instance="sqlb1"} 0
` + help["sqldr_logship_backup_age_seconds"] + `sqldr_logship_backup_age_seconds{database="mgc"} 95
sqldr_logship_backup_age_seconds{database="mgccomp"} 60
` + help["sqldr_logship_restore_age_seconds"] + `sqldr_logship_restore_age_seconds{database="mgc"} 1320
sqldr_logship_restore_age_seconds{database="mgccomp"} NaN
` + help["sqldr_logship_unrestored_files"] + `sqldr_logship_unrestored_files{database="mgc"} 3
sqldr_logship_unrestored_files{database="mgccomp"} NaN
` + help["sqldr_logship_restore_threshold_seconds"] + `sqldr_logship_restore_threshold_seconds{database="mgc"} 1200
sqldr_logship_restore_threshold_seconds{database="mgccomp"} 2700
` + help["sqldr_data_loss_window_seconds"] + `sqldr_data_loss_window_seconds{group="mgc"} 432
` + help["sqldr_data_loss_window_known"] + `sqldr_data_loss_window_known{group="mgc"} 1
` + help["sqldr_data_loss_uncertainty_seconds"] + `sqldr_data_loss_uncertainty_seconds{group="mgc"} 4
` + help["sqldr_data_loss_budget_seconds"] + `sqldr_data_loss_budget_seconds{group="mgc"} 300
` + help["sqldr_mirroring_state"] + `sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="DISCONNECTED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="PENDING_FAILOVER"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="SUSPENDED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="SYNCHRONIZED"} 1
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="SYNCHRONIZING"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="UNKNOWN"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla1",state="UNSYNCHRONIZED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="DISCONNECTED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="PENDING_FAILOVER"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="SUSPENDED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="SYNCHRONIZED"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="SYNCHRONIZING"} 0
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="UNKNOWN"} 1
sqldr_mirroring_state{database="mgc",sql_instance="sqla2",state="UNSYNCHRONIZED"} 0
` + help["sqldr_state"] + `sqldr_state{group="mgc",state="AwaitingApproval"} 0
sqldr_state{group="mgc",state="Degraded"} 1
sqldr_state{group="mgc",state="Healthy"} 0
sqldr_state{group="mgc",state="Promoted"} 0
sqldr_state{group="mgc",state="PromotionFailed"} 0
sqldr_state{group="mgc",state="Promoting"} 0
sqldr_state{group="mgc",state="SiteDown"} 0
sqldr_state{group="mgc",state="SiteSuspect"} 0
sqldr_state{group="mgc",state="SplitBrainRisk"} 0
sqldr_state{group="mgc",state="Unknown"} 0
` + help["sqldr_promotion_blocked"] + `sqldr_promotion_blocked{group="mgc",reason="approval_mode"} 0
sqldr_promotion_blocked{group="mgc",reason="cooldown"} 0
sqldr_promotion_blocked{group="mgc",reason="data_loss_over_budget"} 1
sqldr_promotion_blocked{group="mgc",reason="data_loss_unknown"} 0
sqldr_promotion_blocked{group="mgc",reason="not_corroborated"} 0
sqldr_promotion_blocked{group="mgc",reason="paused"} 0
sqldr_promotion_blocked{group="mgc",reason="site_not_confirmed_down"} 1
` + help["sqldr_approval_pending"] + `sqldr_approval_pending{group="mgc"} 0
` + help["sqldr_promotions_total"] + `sqldr_promotions_total{group="mgc",result="aborted"} 1
sqldr_promotions_total{group="mgc",result="failed"} 0
sqldr_promotions_total{group="mgc",result="promoted"} 0
` + help["sqldr_promotion_duration_seconds"] + `sqldr_promotion_duration_seconds_bucket{group="mgc",le="10"} 0
sqldr_promotion_duration_seconds_bucket{group="mgc",le="30"} 0
sqldr_promotion_duration_seconds_bucket{group="mgc",le="60"} 0
sqldr_promotion_duration_seconds_bucket{group="mgc",le="120"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="300"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="600"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="1200"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="1800"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="3600"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="7200"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="14400"} 1
sqldr_promotion_duration_seconds_bucket{group="mgc",le="+Inf"} 1
sqldr_promotion_duration_seconds_sum{group="mgc"} 90
sqldr_promotion_duration_seconds_count{group="mgc"} 1
` + help["sqldr_signals_rejected_total"] + `sqldr_signals_rejected_total{reason="malformed"} 0
sqldr_signals_rejected_total{reason="stale"} 0
sqldr_signals_rejected_total{reason="unknown_signal"} 0
sqldr_signals_rejected_total{reason="unsafe_directory"} 0
sqldr_signals_rejected_total{reason="wrong_owner"} 0
sqldr_signals_rejected_total{reason="wrong_plan"} 2
` + help["sqldr_last_reconcile_timestamp_seconds"] + `sqldr_last_reconcile_timestamp_seconds 1.7958816005e+09
`
	err := testutil.GatherAndCompare(reg, strings.NewReader(expected),
		"sqldr_build_info", "sqldr_probe_up", "sqldr_logship_backup_age_seconds", "sqldr_logship_restore_age_seconds",
		"sqldr_logship_unrestored_files", "sqldr_logship_restore_threshold_seconds", "sqldr_data_loss_window_seconds",
		"sqldr_data_loss_window_known", "sqldr_data_loss_uncertainty_seconds", "sqldr_data_loss_budget_seconds",
		"sqldr_mirroring_state", "sqldr_state", "sqldr_promotion_blocked", "sqldr_approval_pending",
		"sqldr_promotions_total", "sqldr_promotion_duration_seconds", "sqldr_signals_rejected_total",
		"sqldr_last_reconcile_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
}

// TestEveryDefinitionIsExportedAndPreCreated checks that a fresh registry, before any update, already
// exposes every family with the series the configuration implies.
func TestEveryDefinitionIsExportedAndPreCreated(t *testing.T) {
	reg, _ := newLab(t, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, metrics.Names()) {
		t.Fatalf("exported families differ from definitions:\n got %v\nwant %v", names, metrics.Names())
	}
	wantSeries := map[string]int{
		"sqldr_probe_up":                         3,
		"sqldr_probe_duration_seconds":           3,
		"sqldr_logship_copy_age_seconds":         2,
		"sqldr_mirroring_state":                  2 * len(metrics.MirroringStates), // mgc on sqla1 and sqla2; mgccomp not mirrored
		"sqldr_state":                            len(metrics.States),
		"sqldr_transitions_total":                len(metrics.States) * (len(metrics.States) - 1),
		"sqldr_promotion_blocked":                len(metrics.DefaultBlockReasons),
		"sqldr_promotions_total":                 len(metrics.PromotionResults),
		"sqldr_signals_rejected_total":           len(metrics.DefaultRejectReasons),
		"sqldr_last_reconcile_timestamp_seconds": 1,
	}
	for name, n := range wantSeries {
		if c := len(got[name].GetMetric()); c != n {
			t.Errorf("%s: %d series pre-created, want %d", name, c, n)
		}
	}
	// Figures not yet observed are unknown (NaN), never a reassuring 0.
	for _, mf := range mfs {
		if mf.GetName() != "sqldr_logship_backup_age_seconds" && mf.GetName() != "sqldr_data_loss_window_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if v := s.GetGauge().GetValue(); !math.IsNaN(v) {
				t.Errorf("%s %v = %v before any observation, want NaN", mf.GetName(), s.GetLabel(), v)
			}
		}
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "sqldr_state", `state="Unknown"`)); v != 1 {
		t.Errorf("initial state Unknown = %v, want 1", v)
	}
}

// mustCollector returns a gatherer view of one series, for testutil.ToFloat64.
func mustCollector(t *testing.T, reg prometheus.Gatherer, family, labelFragment string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, s := range mf.GetMetric() {
			if labelMatches(s, labelFragment) {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 { return s.GetGauge().GetValue() })
			}
		}
	}
	t.Fatalf("no series %s{%s}", family, labelFragment)
	return nil
}

func labelMatches(s *dto.Metric, fragment string) bool {
	kv := strings.SplitN(fragment, "=", 2)
	for _, l := range s.GetLabel() {
		if l.GetName() == kv[0] && `"`+l.GetValue()+`"` == kv[1] {
			return true
		}
	}
	return false
}

func TestDefinitionsFollowNamingConventions(t *testing.T) {
	for _, d := range metrics.Definitions() {
		if !strings.HasPrefix(d.Name, "sqldr_") {
			t.Errorf("%s: missing sqldr_ prefix", d.Name)
		}
		if (d.Kind == metrics.KindCounter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s (%s): _total is for counters, and counters need it", d.Name, d.Kind)
		}
		if strings.Contains(d.Name, "timestamp") && !strings.HasSuffix(d.Name, "_timestamp_seconds") {
			t.Errorf("%s: instants end in _timestamp_seconds", d.Name)
		}
		for _, bad := range []string{"_ms", "_milliseconds", "_minutes", "_hours"} {
			if strings.Contains(d.Name, bad) {
				t.Errorf("%s: not a base unit (%s)", d.Name, bad)
			}
		}
		if len(d.Help) < 20 || !strings.HasSuffix(d.Help, ".") {
			t.Errorf("%s: HELP %q is not a sentence a DBA can read", d.Name, d.Help)
		}
		for _, l := range d.Labels {
			if l == "instance" || l == "job" {
				t.Errorf("%s: label %q collides with Prometheus' target labels", d.Name, l)
			}
		}
	}
}

func TestStateIsOneHot(t *testing.T) {
	reg, m := newLab(t, nil)
	path := []string{"Healthy", "SiteSuspect", "SiteDown", "AwaitingApproval", "Promoting", "Promoted"}
	from := "Unknown"
	for _, to := range path {
		must(t, m.Transition("mgc", from, to))
		hot := hotStates(t, reg, "mgc")
		if !slices.Equal(hot, []string{to}) {
			t.Fatalf("after %s -> %s hot states %v, want [%s]", from, to, hot, to)
		}
		from = to
	}
	if got := testutil.ToFloat64(counterFor(t, reg, "Healthy", "SiteSuspect")); got != 1 {
		t.Errorf("transitions Healthy->SiteSuspect = %v, want 1", got)
	}
	if got := testutil.ToFloat64(counterFor(t, reg, "SiteSuspect", "Healthy")); got != 0 {
		t.Errorf("transitions SiteSuspect->Healthy = %v, want 0", got)
	}
	must(t, m.SetState("mgc", "Healthy"))
	if hot := hotStates(t, reg, "mgc"); !slices.Equal(hot, []string{"Healthy"}) {
		t.Errorf("after SetState hot states %v, want [Healthy]", hot)
	}
}

func hotStates(t *testing.T, reg prometheus.Gatherer, group string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var hot []string
	for _, mf := range mfs {
		if mf.GetName() != "sqldr_state" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if labelMatches(s, `group="`+group+`"`) && s.GetGauge().GetValue() == 1 {
				for _, l := range s.GetLabel() {
					if l.GetName() == "state" {
						hot = append(hot, l.GetValue())
					}
				}
			}
		}
	}
	return hot
}

func counterFor(t *testing.T, reg prometheus.Gatherer, from, to string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sqldr_transitions_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if labelMatches(s, `from="`+from+`"`) && labelMatches(s, `to="`+to+`"`) {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 { return s.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no transitions series %s -> %s", from, to)
	return nil
}

// TestOneHotUnderConcurrentScrapes checks that no scrape ever sees zero or two states hot while the
// state changes concurrently.
func TestOneHotUnderConcurrentScrapes(t *testing.T) {
	reg, m := newLab(t, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.SetState("mgc", metrics.States[i%len(metrics.States)]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		if hot := hotStates(t, reg, "mgc"); len(hot) != 1 {
			close(stop)
			wg.Wait()
			t.Fatalf("scrape saw hot states %v, want exactly one", hot)
		}
	}
	close(stop)
	wg.Wait()
}

func TestUpdatesRejectUndeclaredLabels(t *testing.T) {
	_, m := newLab(t, nil)
	cases := map[string]error{
		"probe of unknown instance":        m.ObserveProbe("sqlx9", true, time.Second),
		"log shipping of unknown database": m.SetLogShipping("nope", metrics.LogShipping{}),
		"data loss of unknown group":       m.SetDataLoss("nope", metrics.Unknown, metrics.Unknown),
		"mirroring on the secondary":       m.SetMirroringState("mgc", "sqlb1", "SYNCHRONIZED"),
		"mirroring of unmirrored database": m.SetMirroringState("mgccomp", "sqla1", "SYNCHRONIZED"),
		"unknown mirroring state":          m.SetMirroringState("mgc", "sqla1", "HAPPY"),
		"unknown state":                    m.SetState("mgc", "Exploded"),
		"state of unknown group":           m.SetState("nope", "Healthy"),
		"transition from unknown state":    m.Transition("mgc", "Exploded", "Healthy"),
		"unknown gate":                     m.SetPromotionBlocked("mgc", "moon_phase"),
		"approval of unknown group":        m.SetApprovalPending("nope", true),
		"unknown promotion result":         m.PromotionEnded("mgc", "maybe", time.Second),
		"unknown reject reason":            m.SignalRejected("bad vibes"),
	}
	for name, err := range cases {
		if !errors.Is(err, metrics.ErrUnknownLabel) {
			t.Errorf("%s: error %v, want ErrUnknownLabel", name, err)
		}
	}
	if err := m.SetState("mgc", "Healthy"); err != nil {
		t.Errorf("a valid update after rejected ones failed: %v", err)
	}
}

func TestMirroringStateNormalisesSQLServerSpelling(t *testing.T) {
	reg, m := newLab(t, nil)
	must(t, m.SetMirroringState("mgc", "sqla1", "synchronizing "))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sqldr_mirroring_state" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if !labelMatches(s, `sql_instance="sqla1"`) {
				continue
			}
			want := 0.0
			if labelMatches(s, `state="SYNCHRONIZING"`) {
				want = 1
			}
			if got := s.GetGauge().GetValue(); got != want {
				t.Errorf("%v = %v, want %v", s.GetLabel(), got, want)
			}
		}
	}
}

func TestUnknownDataLossWindowIsNaNAndFlagged(t *testing.T) {
	reg, m := newLab(t, nil)
	must(t, m.SetDataLoss("mgc", metrics.Seconds(time.Minute), metrics.Seconds(time.Second)))
	must(t, m.SetDataLoss("mgc", metrics.Unknown, metrics.Seconds(3*time.Second)))
	expected := `# HELP sqldr_data_loss_window_known ` + lookupHelp("sqldr_data_loss_window_known") + `
# TYPE sqldr_data_loss_window_known gauge
sqldr_data_loss_window_known{group="mgc"} 0
# HELP sqldr_data_loss_window_seconds ` + lookupHelp("sqldr_data_loss_window_seconds") + `
# TYPE sqldr_data_loss_window_seconds gauge
sqldr_data_loss_window_seconds{group="mgc"} NaN
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "sqldr_data_loss_window_known", "sqldr_data_loss_window_seconds"); err != nil {
		t.Fatal(err)
	}
}

func lookupHelp(name string) string {
	for _, d := range metrics.Definitions() {
		if d.Name == name {
			return d.Help
		}
	}
	return ""
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*metrics.Options)
		want   []string
	}{
		{"empty group name", func(o *metrics.Options) { o.Groups[0].Name = "" }, []string{"groups[0].name: empty"}},
		{"zero budget", func(o *metrics.Options) { o.Groups[0].DataLossBudget = 0 }, []string{"groups[0].data_loss_budget"}},
		{"duplicate database and missing thresholds", func(o *metrics.Options) {
			o.Databases = append(o.Databases, metrics.Database{Name: "mgc"})
		}, []string{`databases[2].name: duplicate "mgc"`, "databases[2].backup_threshold", "databases[2].restore_threshold"}},
		{"instance without site or role", func(o *metrics.Options) { o.Instances[1].Site, o.Instances[2].Role = "", "" },
			[]string{"instances[1].site: empty", "instances[2].role: empty"}},
		{"transition to a state that does not exist", func(o *metrics.Options) {
			o.Transitions = []metrics.Transition{{From: "Healthy", To: "Sleeping"}}
		}, []string{`transitions[0].to: "Sleeping" is not a state`}},
		{"duplicate gate", func(o *metrics.Options) { o.BlockReasons = []string{"paused", "paused"} }, []string{`block_reasons[1]: duplicate`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := labOptions()
			tc.mutate(&opts)
			_, err := metrics.New(prometheus.NewRegistry(), opts)
			if err == nil {
				t.Fatal("New accepted invalid options")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := metrics.New(nil, labOptions()); err == nil {
		t.Error("New accepted a nil registerer")
	}
}

func TestNewFailsOnDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, labOptions()); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, labOptions()); err == nil {
		t.Fatal("second New on the same registry succeeded; want a registration error")
	}
	// A failed New leaves nothing behind: a registry holding a clashing sqldr_state keeps only it.
	reg = prometheus.NewRegistry()
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sqldr_state", Help: "clash"})
	must(t, reg.Register(clash))
	if _, err := metrics.New(reg, labOptions()); err == nil {
		t.Fatal("New succeeded despite a clashing sqldr_state")
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 1 {
		t.Fatalf("after a failed New the registry holds %d families (err %v), want only the clash", len(mfs), err)
	}
}

func TestCustomTransitionsArePreCreatedOnly(t *testing.T) {
	reg, m := newLab(t, func(o *metrics.Options) {
		o.Transitions = []metrics.Transition{{From: "Unknown", To: "Healthy"}, {From: "Healthy", To: "Degraded"}}
	})
	if n := testutil.CollectAndCount(collectorOf(reg), "sqldr_transitions_total"); n != 2 {
		t.Fatalf("%d transition series, want 2", n)
	}
	must(t, m.Transition("mgc", "Degraded", "SiteSuspect")) // not pre-created, still counted
	if n := testutil.CollectAndCount(collectorOf(reg), "sqldr_transitions_total"); n != 3 {
		t.Fatalf("%d transition series after an unlisted transition, want 3", n)
	}
}

// collectorOf adapts a gatherer for testutil.CollectAndCount.
type gathererCollector struct{ g prometheus.Gatherer }

func collectorOf(g prometheus.Gatherer) prometheus.Collector { return gathererCollector{g} }

func (gathererCollector) Describe(chan<- *prometheus.Desc) {}

func (c gathererCollector) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.g.Gather()
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			var names, values []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
				values = append(values, l.GetValue())
			}
			desc := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), names, nil)
			v := s.GetGauge().GetValue() + s.GetCounter().GetValue()
			ch <- prometheus.MustNewConstMetric(desc, prometheus.UntypedValue, v, values...)
		}
	}
}

// TestPromtoolCheckMetrics lints, with `promtool check metrics`, a live HTTP scrape (loopback, port 0)
// of a registry populated with realistic values, process and Go collectors included.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := findPromtool(t)
	reg, m := newLab(t, func(o *metrics.Options) { o.RuntimeCollectors = true })
	populate(t, m)
	// Scrape it the way Prometheus does: over HTTP on loopback, through promhttp.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer func() {
		if err := resp.Body.Close(); err != nil {
			t.Errorf("close scrape body: %v", err)
		}
	}()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %s", resp.Status)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	for _, want := range []string{"sqldr_state{", "process_cpu_seconds_total", "go_goroutines"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("scrape lacks %s:\n%s", want, buf.String())
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics reported problems:\n%s", out)
	}
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

func BenchmarkSetState(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), labOptions())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := m.SetState("mgc", metrics.States[i%len(metrics.States)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, labOptions()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

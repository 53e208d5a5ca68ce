package prometheus_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/metrics"
)

// liveRestoreThreshold is the daemon's log_shipping.restore_threshold in the live alert test
// (simulated time; the lab restores every simulated minute, so a healthy restore age stays far below).
const liveRestoreThreshold = 15 * time.Minute

// TestRestoreStaleAlertFiresAndResolvesLive runs the whole alerting path for real: the lab's
// log-shipping restore job is stopped, the daemon watching the lab exports a growing restore age,
// a real Prometheus server scrapes it and evaluates the SHIPPED rules file (loaded unchanged, from
// this directory), and SqldrRestoreStale goes pending, then firing after its `for:` in wall time,
// as Prometheus' own HTTP API reports; once the job runs again the alert resolves.
//
// Time: the lab runs 60 times faster than the wall clock, so the 15-minute threshold is crossed
// about 15s after the job stops; the test then waits the rule's real hold (2m) and ends in about
// 2m40s. Prometheus scrapes and evaluates every second.
func TestRestoreStaleAlertFiresAndResolvesLive(t *testing.T) {
	findPrometheus(t)
	if testing.Short() {
		t.Skip("-short: the live alert test waits the rule's real for: hold (minutes)")
	}
	rulesPath, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	stale := ruleNamed(t, "SqldrRestoreStale")
	hold, err := time.ParseDuration(stale.For)
	if err != nil || hold <= 0 {
		t.Fatalf("SqldrRestoreStale for: %q is not a positive duration (%v)", stale.For, err)
	}

	w := startLiveWorld(t, liveWorldOptions{speed: 60, restoreThreshold: liveRestoreThreshold})
	p := startPrometheus(t, promOptions{target: w.addr, rulesFile: rulesPath})

	// Prometheus loaded the shipped file itself: the rule as written there, with its hold.
	waitFor(t, "SqldrRestoreStale loaded and evaluated without error", 30*time.Second, 250*time.Millisecond, func() (bool, error) {
		groups, err := p.rules()
		if err != nil {
			return false, err
		}
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Name != stale.Alert {
					continue
				}
				if g.File != rulesPath {
					t.Fatalf("SqldrRestoreStale loaded from %s, want the shipped %s", g.File, rulesPath)
				}
				if r.Duration != hold.Seconds() {
					t.Fatalf("SqldrRestoreStale holds %vs in Prometheus, the file says %s", r.Duration, stale.For)
				}
				if strings.Join(strings.Fields(r.Query), " ") != strings.Join(strings.Fields(stale.Expr), " ") {
					t.Fatalf("SqldrRestoreStale query %q, the file says %q", r.Query, stale.Expr)
				}
				return r.Health == "ok", fmt.Errorf("rule health %q", r.Health)
			}
		}
		return false, errNotYet
	})
	waitFor(t, "Prometheus scraping sqldr (target health up)", 30*time.Second, 250*time.Millisecond, func() (bool, error) {
		ts, err := p.targets()
		if err != nil {
			return false, err
		}
		for _, tg := range ts {
			if tg.Labels["job"] == "sqldr" && tg.Labels["instance"] == w.addr {
				return tg.Health == "up", fmt.Errorf("target health %q: %s", tg.Health, tg.LastError)
			}
		}
		return false, errNotYet
	})

	// Baseline: the restore age is scraped, finite and under the threshold Prometheus also scraped;
	// the alert is not active.
	ageQuery := fmt.Sprintf(`%s{job="sqldr",database="mgc"}`, metrics.NameRestoreAge)
	waitFor(t, "a healthy restore age of mgc in Prometheus", 30*time.Second, 250*time.Millisecond, func() (bool, error) {
		v, err := p.scalar(ageQuery)
		return err == nil && v < liveRestoreThreshold.Seconds(), err
	})
	if v, err := p.scalar(`sqldr_logship_restore_threshold_seconds{job="sqldr",database="mgc"}`); err != nil || v != liveRestoreThreshold.Seconds() {
		t.Fatalf("scraped restore threshold of mgc = %v (%v), want the configured %v", v, err, liveRestoreThreshold.Seconds())
	}
	// A healthy estate raises no alert at all. (Right after Prometheus starts, SqldrControllerDown is
	// pending until the first scrape: absent(up{job="sqldr"}); its for: keeps it from firing.)
	waitFor(t, "no active alert on the healthy estate", 20*time.Second, 250*time.Millisecond, func() (bool, error) {
		as, err := p.alerts()
		if err != nil {
			return false, err
		}
		if len(as) > 0 {
			return false, fmt.Errorf("%d active, first %s %s %v", len(as), as[0].Labels["alertname"], as[0].State, as[0].Labels)
		}
		return true, nil
	})

	// Stop the secondary's restore job.
	faultID, err := w.lab.Topology().Inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "SQLB1", Job: "restore"})
	if err != nil {
		t.Fatalf("stop the restore job: %v", err)
	}
	stopped := time.Now()

	// pending, then firing once the condition has held for the rule's hold, in wall time.
	var pendingSeen bool
	var firing *promAlert
	var firingSeen time.Time
	fireWithin := w.realDuration(liveRestoreThreshold+2*time.Minute) + hold + time.Minute
	waitFor(t, "SqldrRestoreStale{database=mgc} firing", fireWithin, 500*time.Millisecond, func() (bool, error) {
		a, err := p.restoreStale("mgc")
		if err != nil || a == nil {
			return false, err
		}
		switch a.State {
		case "pending":
			pendingSeen = true
		case "firing":
			firing, firingSeen = a, time.Now()
			return true, nil
		}
		return false, fmt.Errorf("state %s since %s", a.State, a.ActiveAt.Format(time.RFC3339))
	})
	t.Logf("SqldrRestoreStale fired %s after the restore job stopped (active since %s)",
		firingSeen.Sub(stopped).Round(time.Second), firing.ActiveAt.Sub(stopped).Round(time.Second))
	if !pendingSeen {
		t.Errorf("SqldrRestoreStale went firing without being seen pending first")
	}
	if !firing.ActiveAt.After(stopped) {
		t.Errorf("SqldrRestoreStale active since %s, before the restore job stopped at %s", firing.ActiveAt, stopped)
	}
	if held := firingSeen.Sub(firing.ActiveAt); held < hold-time.Second {
		t.Errorf("SqldrRestoreStale fired %s after it became active, want at least its for: %s", held, hold)
	}
	checkRestoreStaleAlert(t, firing, w.addr)
	// The monitored database (never failed over, but watched) is restored by the same job: it pages too.
	waitFor(t, "SqldrRestoreStale{database=mgccomp} firing", 30*time.Second, 500*time.Millisecond, func() (bool, error) {
		a, err := p.restoreStale("mgccomp")
		return a != nil && a.State == "firing", err
	})

	// Restart the job: the next restore brings the age down and the alert resolves.
	if err := w.lab.Topology().Heal(faultID); err != nil {
		t.Fatalf("restart the restore job: %v", err)
	}
	restarted := time.Now()
	waitFor(t, "SqldrRestoreStale resolved for mgc and mgccomp", w.realDuration(3*time.Minute)+30*time.Second, 500*time.Millisecond, func() (bool, error) {
		for _, db := range []string{"mgc", "mgccomp"} {
			a, err := p.restoreStale(db)
			if err != nil {
				return false, err
			}
			if a != nil {
				return false, fmt.Errorf("%s still %s", db, a.State)
			}
		}
		return true, nil
	})
	t.Logf("SqldrRestoreStale resolved %s after the restore job restarted", time.Since(restarted).Round(time.Second))
	if v, err := p.scalar(ageQuery); err != nil || v >= liveRestoreThreshold.Seconds() {
		t.Errorf("restore age of mgc after the alert resolved = %v (%v), want under %v", v, err, liveRestoreThreshold.Seconds())
	}
	if s, err := p.query(`ALERTS{alertname="SqldrRestoreStale",alertstate="firing"}`); err != nil || len(s) != 0 {
		t.Errorf("ALERTS still reports SqldrRestoreStale firing after it resolved: %v (%v)", s, err)
	}
}

// checkRestoreStaleAlert checks the firing alert's labels and annotations: what the page says.
func checkRestoreStaleAlert(t *testing.T, a *promAlert, target string) {
	t.Helper()
	for k, want := range map[string]string{"alertname": "SqldrRestoreStale", "severity": "warning", "job": "sqldr",
		"instance": target, "database": "mgc"} {
		if a.Labels[k] != want {
			t.Errorf("firing alert label %s = %q, want %q (labels %v)", k, a.Labels[k], want, a.Labels)
		}
	}
	if v, err := strconv.ParseFloat(a.Value, 64); err != nil || !(v > liveRestoreThreshold.Seconds()) {
		t.Errorf("firing alert value %q, want a restore age over %v seconds", a.Value, liveRestoreThreshold.Seconds())
	}
	if s := a.Annotations["summary"]; !strings.HasPrefix(s, "No log restore of mgc on the secondary for ") {
		t.Errorf("summary %q", s)
	}
	// The description carries the threshold, read back from sqldr's own series by the template.
	if d := a.Annotations["description"]; !strings.Contains(d, "over its threshold of 15m 0s") ||
		!strings.Contains(d, "database mgc") {
		t.Errorf("description does not carry the database and the threshold: %q", d)
	}
	if u := a.Annotations["runbook_url"]; u != runbookBase+"sqldrrestorestale" {
		t.Errorf("runbook_url %q", u)
	}
}

// ruleNamed returns the shipped alerting rule with that name.
func ruleNamed(t *testing.T, alert string) rule {
	t.Helper()
	for _, r := range loadRules(t) {
		if r.Alert == alert {
			return r
		}
	}
	t.Fatalf("%s has no alert %s", rulesFile, alert)
	return rule{}
}

// restoreStale returns the active SqldrRestoreStale alert of a database, or nil when there is none.
func (p *promServer) restoreStale(database string) (*promAlert, error) {
	as, err := p.alerts()
	if err != nil {
		return nil, err
	}
	var found *promAlert
	for i, a := range as {
		if a.Labels["alertname"] != "SqldrRestoreStale" || a.Labels["database"] != database {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("two SqldrRestoreStale alerts for %s: %v and %v", database, found.Labels, a.Labels)
		}
		found = &as[i]
	}
	return found, nil
}

// scalar evaluates a query that must return exactly one series and returns its value.
func (p *promServer) scalar(q string) (float64, error) {
	s, err := p.query(q)
	if err != nil {
		return math.NaN(), err
	}
	if len(s) != 1 {
		return math.NaN(), fmt.Errorf("query %s: %d series, want 1", q, len(s))
	}
	str, ok := s[0].Value[1].(string)
	if !ok {
		return math.NaN(), fmt.Errorf("query %s: value %v is not a string", q, s[0].Value)
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN(), fmt.Errorf("query %s: value %q: %w", q, str, err)
	}
	return v, nil
}

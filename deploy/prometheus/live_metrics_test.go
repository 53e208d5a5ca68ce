package prometheus_test

import (
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/metrics"
)

// sampleValue returns the value of the sample whose series (name and labels, as exposed) is series,
// and whether the scrape has it.
func sampleValue(scrape, series string) (float64, bool) {
	for _, line := range strings.Split(scrape, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return f, err == nil
	}
	return 0, false
}

// TestLiveScrapePassesPromtoolCheckMetrics is the CI step that lints a LIVE scrape: a running sqldr
// daemon watching the lab, scraped over HTTP after it has probed the estate (so every metric carries
// real figures, not only the pre-created zeros of a fresh registry), piped into
// `promtool check metrics`.
func TestLiveScrapePassesPromtoolCheckMetrics(t *testing.T) {
	promtool := findPromtool(t)
	w := startLiveWorld(t, liveWorldOptions{})

	// Wait until the probes have read the secondary: its restore age is then a finite number.
	var scrape string
	waitFor(t, "a finite sqldr_logship_restore_age_seconds in the scrape", 30*time.Second, 200*time.Millisecond, func() (bool, error) {
		scrape = w.scrape(t)
		v, ok := sampleValue(scrape, metrics.NameRestoreAge+`{database="mgc"}`)
		return ok && !math.IsNaN(v), nil
	})
	for _, name := range []string{metrics.NameRestoreAge, "sqldr_probe_up", "sqldr_state", "sqldr_build_info",
		"sqldr_last_reconcile_timestamp_seconds"} {
		if !strings.Contains(scrape, "\n# TYPE "+name+" ") {
			t.Errorf("the live scrape has no %s", name)
		}
	}
	if v, ok := sampleValue(scrape, `sqldr_probe_up{role="secondary",site="B",sql_instance="SQLB1"}`); !ok || v != 1 {
		t.Errorf("sqldr_probe_up of SQLB1 = %v (present %v), want 1: the daemon does not watch the lab", v, ok)
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics on the live scrape: %v\n%s", err, out)
	}
}

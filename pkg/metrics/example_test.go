package metrics_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqldr/sqldr/pkg/metrics"
)

// Example shows how the daemon wires the metrics: declare the topology once, then report each
// reconcile cycle's observations and decisions. Serve reg with promhttp.HandlerFor on /metrics.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{
		Groups: []metrics.Group{{Name: "mgc", DataLossBudget: 5 * time.Minute}},
		Databases: []metrics.Database{
			{Name: "mgc", Mirrored: true, BackupThreshold: 15 * time.Minute, RestoreThreshold: 20 * time.Minute},
		},
		Instances: []metrics.Instance{
			{Name: "sqla1", Site: "A", Role: metrics.RolePrincipal},
			{Name: "sqla2", Site: "A", Role: metrics.RoleMirror},
			{Name: "sqlb1", Site: "B", Role: metrics.RoleSecondary},
		},
		Build:             metrics.Build{Version: "v0.1.0"},
		RuntimeCollectors: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// One reconcile cycle: what the probes saw...
	_ = m.ObserveProbe("sqla1", true, 40*time.Millisecond)
	_ = m.SetMirroringState("mgc", "sqla1", "SYNCHRONIZED")
	_ = m.SetLogShipping("mgc", metrics.LogShipping{
		BackupAge: metrics.Seconds(90 * time.Second), CopyAge: metrics.Seconds(2 * time.Minute),
		RestoreAge: metrics.Seconds(3 * time.Minute), RestoreLatency: metrics.Seconds(4 * time.Minute),
		UnrestoredFiles: metrics.Count(1),
	})
	_ = m.SetDataLoss("mgc", metrics.Seconds(95*time.Second), metrics.Seconds(2*time.Second))
	// ...what the controller decided...
	_ = m.Transition("mgc", "Unknown", "Healthy")
	_ = m.SetPromotionBlocked("mgc", metrics.BlockNotConfirmedDown)
	// ...and that the cycle finished.
	m.Reconciled(time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC))

	// An undeclared label is an error, not a new series.
	err = m.SetState("mgc", "Sleeping")
	fmt.Println(err)
	// Output: set state of group "mgc": value "Sleeping" (want one of Unknown, Healthy, Degraded, SiteSuspect, SiteDown, AwaitingApproval, Promoting, Promoted, PromotionFailed, SplitBrainRisk): label value not declared
}

package runbook_test

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/probes"
)

// ProbeOptions maps the configuration onto probes.Options (a function for cmd/).
func ProbeOptions(c *config.Config) probes.Options {
	roles := map[string]probes.Role{config.RolePartner: probes.RolePartner, config.RoleSecondary: probes.RoleSecondary,
		config.RoleMonitor: probes.RoleMonitor}
	o := probes.Options{Databases: append(append([]string(nil), c.Databases...), c.MonitoredDatabases...)}
	for _, in := range c.Instances {
		o.Targets = append(o.Targets, probes.Target{Name: in.Name, Site: probes.Site(in.Site), Role: roles[in.Role],
			DSNEnv: in.DSNEnv, DSNFile: in.DSNFile, ConnectTimeout: in.ConnectTimeout, QueryTimeout: in.QueryTimeout})
	}
	return o
}

// ControllerOptions maps the configuration onto controller.Options (a function for cmd/).
func ControllerOptions(c *config.Config) (controller.Options, error) {
	mode, err := controller.ParseMode(c.Mode)
	if err != nil {
		return controller.Options{}, err
	}
	return controller.Options{Group: c.Group, Databases: c.Databases, Target: c.Target, Mode: mode,
		ConfirmAfter: c.ConfirmAfter, MinFailedProbes: c.MinFailedProbes, MaxDataLoss: c.MaxDataLoss,
		Cooldown: c.Cooldown, ApprovalTTL: c.ApprovalTTL, HistorySize: c.HistorySize}, nil
}

// Example wires the runbook executor from the configuration, as `sqldr run`
// does: one executor per daemon, its history from the journal, its results
// fed back into the next controller.Decide.
func Example() {
	log := zap.NewNop()
	c, err := config.Load("/etc/sqldr/sqldr.yml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	store, err := journal.Open(log, journal.Options{Dir: c.StateDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer func() { _ = store.Close() }()
	prober, err := probes.New(log, ProbeOptions(c), clock.RealClock{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer func() { _ = prober.Close() }()
	pools, err := runbook.OpenPools(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer func() { _ = pools.Close() }()
	ex, err := runbook.New(log, runbook.FromConfig(c), runbook.Deps{
		Clock:   clock.RealClock{},
		Journal: store,
		Conn:    pools.Conn,
		Prober:  prober,
		Hooks:   hook.NewRunner(log, hook.Options{Scrub: c.DSNEnvNames()}),
		History: store.Records(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	copts, err := ControllerOptions(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctl, err := controller.New(log, copts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	st, err := controller.Load(store, ctl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// One reconcile cycle (the loop, signals, observers and metrics are left out).
	snap := prober.Probe(context.Background())
	dl, _ := controller.ComputeDataLoss(copts, st, snap)
	res, err := ctl.Decide(st, controller.Input{Snapshot: snap, DataLoss: dl}, clock.RealClock{}.Now())
	if err != nil {
		return
	}
	if err := controller.Persist(store, res, clock.RealClock{}.Now()); err != nil {
		return // the state directory cannot be trusted: act on nothing
	}
	var next []controller.StepResult // goes into the next cycle's Input.StepResults
	for _, a := range res.Actions {
		if a.Kind == controller.ActionPublishPlan || a.Kind == controller.ActionCancelPlan {
			continue // the daemon publishes plans itself
		}
		out, err := ex.Execute(context.Background(), runbook.Request{Action: a, Plan: res.Status.Plan,
			OldPrimary: res.Status.Principals[c.Databases[0]], DataLoss: res.Status.DataLoss})
		next = append(next, out...)
		if err != nil {
			break // journal failure or shutdown: stop acting
		}
	}
	_ = next
}

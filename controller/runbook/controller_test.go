package runbook

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/lab"
)

// TestDrivenByTheController runs the real decision loop over the lab: probe,
// controller.Decide, controller.Persist, then the executor runs the emitted
// actions and its step records go back into the next Decide — the wiring the
// daemon does. Site A is lost, confirmed, the plan runs in auto mode to
// Promoted; then site A returns and the old principal is fenced.
func TestDrivenByTheController(t *testing.T) {
	e := newEnv(t, envOption{})
	c, err := controller.New(zaptest.NewLogger(t), controller.Options{Group: "mgc", Databases: []string{"mgc"}, Target: "SQLB1",
		Mode: controller.ModeAuto, ConfirmAfter: 3 * time.Second, MinFailedProbes: 2, MaxDataLoss: time.Hour, Cooldown: time.Hour,
		ApprovalTTL: 15 * time.Minute, HistorySize: 100})
	if err != nil {
		t.Fatal(err)
	}
	st := c.NewStatus()
	var results []controller.StepResult
	executed := map[controller.ActionKind]int{}
	cycle := func(corroboration controller.CorroborationVerdict) {
		t.Helper()
		snap := e.prober.Probe(context.Background())
		dl, _ := controller.ComputeDataLoss(c.Options(), st, snap)
		res, err := c.Decide(st, controller.Input{Snapshot: snap, DataLoss: dl, StepResults: results,
			Corroboration: controller.Corroboration{Verdict: corroboration}}, e.h.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := controller.Persist(e.store, res, e.h.clk.Now()); err != nil {
			t.Fatal(err)
		}
		st, results = res.Status, nil
		for _, a := range res.Actions {
			switch a.Kind {
			case controller.ActionPublishPlan, controller.ActionCancelPlan:
				continue
			}
			executed[a.Kind]++
			old := ""
			if st.Principals != nil {
				old = st.Principals["mgc"]
			}
			out, err := e.exec(Request{Action: a, Plan: st.Plan, OldPrimary: old, DataLoss: st.DataLoss})
			if err != nil {
				t.Fatalf("execute %s: %v", a, err)
			}
			results = append(results, out...)
		}
		e.h.advance(time.Second)
	}
	e.h.advance(3 * time.Minute)
	for i := 0; i < 5; i++ {
		cycle(controller.CorroborationVetoed)
	}
	if st.State != controller.StateHealthy && st.State != controller.StateDegraded {
		t.Fatalf("before the disaster: %s (%s)", st.State, st.Reason)
	}
	e.h.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	for i := 0; i < 40 && st.State != controller.StatePromoted; i++ {
		cycle(controller.CorroborationDown)
	}
	if st.State != controller.StatePromoted {
		t.Fatalf("state %s (%s), plan %+v", st.State, st.Reason, st.Plan)
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatalf("promoted but not writable: %v", err)
	}
	if executed[controller.ActionRunStep] != len(controller.Runbook) {
		t.Fatalf("%d steps run, want %d", executed[controller.ActionRunStep], len(controller.Runbook))
	}
	// The hooks saw the plan and a known data-loss figure.
	runs := e.hookRuns()
	if len(runs) != 2 || !strings.HasPrefix(runs[1], "post_promote "+st.Plan.ID+" mgc old=SQLA1 new=SQLB1 loss=") || strings.Contains(runs[1], "loss=±") {
		t.Fatalf("hook runs %q", runs)
	}
	// Site A returns with the old principal writable: the controller asks for a fence.
	e.h.topo.HealAll()
	deadline := time.Now().Add(10 * time.Second)
	for err := e.h.insert("SQLA1", "mgc"); err != nil; err = e.h.insert("SQLA1", "mgc") {
		if time.Now().After(deadline) {
			t.Fatalf("the old principal did not come back: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 10 && (executed[controller.ActionFence] == 0 || st.State != controller.StatePromoted); i++ {
		cycle(controller.CorroborationVetoed)
	}
	if executed[controller.ActionFence] == 0 || st.State != controller.StatePromoted {
		t.Fatalf("after site A returned: state %s (%s), fences %d", st.State, st.Reason, executed[controller.ActionFence])
	}
	if err := e.h.insert("SQLA1", "mgc"); err == nil {
		t.Fatal("the old principal still takes writes after the fence")
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatal(err)
	}
}

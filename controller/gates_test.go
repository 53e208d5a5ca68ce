package controller

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/signal"
)

// confirmedDown returns a status in SiteDown (confirmed) at simStart+1m.
func confirmedDown(t *testing.T, opts Options) (*Controller, Status, time.Time) {
	t.Helper()
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st := Status{Group: opts.Group, State: StateSiteDown, Outage: Outage{FirstFailed: simStart, Failures: 5}}
	return c, st, simStart.Add(time.Minute)
}

// TestGatesNamedWithFigures: each blocking gate is reported by name with its
// figures, blocks automatic promotion, and leaves the plan waiting.
func TestGatesNamedWithFigures(t *testing.T) {
	down := world{siteA: "down", principal: "a1", mirror: "sync", secondary: "restoring"}
	within := DataLoss{Known: true, Window: 2 * time.Minute}
	cases := []struct {
		name   string
		mod    func(*Options, *Status, *Input)
		gate   Gate
		detail string
	}{
		{"over budget", func(_ *Options, _ *Status, in *Input) {
			in.DataLoss = DataLoss{Known: true, Window: 7*time.Minute + 12*time.Second}
		}, GateDataLossBudget, "data-loss window 7m12s > budget 5m0s"},
		{"unknown window", func(_ *Options, _ *Status, in *Input) { in.DataLoss = DataLoss{} },
			GateDataLossKnown, "data-loss window unknown"},
		{"no observer", func(_ *Options, _ *Status, in *Input) {
			in.Corroboration = Corroboration{Verdict: CorroborationNotConfigured}
		}, GateCorroborated, "no observer configured: auto mode behaves as approval mode"},
		{"no fresh corroboration", func(_ *Options, _ *Status, in *Input) {
			in.Corroboration = Corroboration{Verdict: CorroborationNone, Detail: "(observer-1 stale 2m)"}
		}, GateCorroborated, "no fresh corroboration from outside site B (observer-1 stale 2m)"},
		{"vetoed", func(_ *Options, _ *Status, in *Input) {
			in.Corroboration = Corroboration{Verdict: CorroborationVetoed, Detail: "observer-1 sees a1 serving"}
		}, GateCorroborated, "vetoed by an observer outside site B: observer-1 sees a1 serving"},
		{"cooldown", func(_ *Options, st *Status, _ *Input) {
			st.LastPromotion = &PromotionRecord{Plan: "mgc-old-1", Started: simStart}
		}, GateCooldown, "unacknowledged promotion of plan mgc-old-1, cooldown 1h0m0s until 2026-11-28T13:00:00Z"},
		{"paused", func(_ *Options, _ *Status, in *Input) { in.Signals.Paused = true }, GatePaused, "paused by the pause signal file"},
		{"approval mode", func(o *Options, _ *Status, _ *Input) { o.Mode = ModeApproval }, GateMode, "mode approval"},
		{"secondary down", func(_ *Options, _ *Status, in *Input) {
			w := down
			w.secondary = "down"
			in.Snapshot = w.snapshot(simStart.Add(time.Minute))
		}, GateSecondaryTarget, `secondary "b1" not reachable`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Mode = ModeAuto
			st := Status{Group: opts.Group, State: StateSiteDown, Outage: Outage{FirstFailed: simStart, Failures: 5}}
			now := simStart.Add(time.Minute)
			in := Input{Snapshot: down.snapshot(now), Corroboration: Corroboration{Verdict: CorroborationDown}, DataLoss: within}
			tc.mod(&opts, &st, &in)
			c, err := New(zap.NewNop(), opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Decide(st, in, now)
			if err != nil {
				t.Fatal(err)
			}
			v := res.Status.Verdict
			if v.WouldPromote || !v.Blocks(tc.gate) {
				t.Fatalf("verdict %s, want blocked by %s", v, tc.gate)
			}
			if !strings.Contains(v.String(), tc.detail) {
				t.Fatalf("verdict %q does not carry %q", v, tc.detail)
			}
			for _, a := range res.Actions {
				if a.Kind == ActionRunStep {
					t.Fatalf("promotion started although %s blocks: %v", tc.gate, res.Actions)
				}
			}
			if tc.gate == GatePaused {
				if res.Status.State != StateSiteDown || len(res.Actions) != 0 {
					t.Fatalf("paused: state %s actions %v, want no plan", res.Status.State, res.Actions)
				}
				return
			}
			if res.Status.State != StateAwaitingApproval || res.Status.Plan == nil {
				t.Fatalf("state %s, want the plan waiting for approval", res.Status.State)
			}
		})
	}
	t.Run("every gate passes", func(t *testing.T) {
		opts := DefaultOptions()
		opts.Mode = ModeAuto
		c, st, now := confirmedDown(t, opts)
		res, err := c.Decide(st, Input{Snapshot: down.snapshot(now), Corroboration: Corroboration{Verdict: CorroborationDown}, DataLoss: within}, now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status.State != StatePromoting || len(res.Actions) != 2 || res.Actions[1].Step != StepRecheck {
			t.Fatalf("state %s actions %v, want Promoting with publish_plan, run_step recheck", res.Status.State, res.Actions)
		}
		p := res.Status.Plan
		if p.ID != "mgc-20261128T120100Z-1" || p.Target != "b1" || len(p.Steps) != 8 || p.DataLoss != within ||
			p.Approval == nil || p.Approval.By != "auto" || !p.Created.Equal(now) {
			t.Fatalf("plan = %+v", p)
		}
	})
}

// TestHoldTimer: confirmation needs both confirm_after and
// min_failed_probes, and one good probe resets it.
func TestHoldTimer(t *testing.T) {
	opts := DefaultOptions()
	opts.ConfirmAfter = 60 * time.Second
	opts.MinFailedProbes = 3
	opts.Mode = ModeMonitor // stay in SiteDown once confirmed
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	down, up := healthyWorld(), healthyWorld()
	down.siteA = "down"
	st := Status{State: StateHealthy}
	step := func(w world, at time.Duration) State {
		t.Helper()
		now := simStart.Add(at)
		res, err := c.Decide(st, Input{Snapshot: w.snapshot(now), DataLoss: DataLoss{Known: true}}, now)
		if err != nil {
			t.Fatal(err)
		}
		st = res.Status
		return st.State
	}
	// Two probes spanning 2 minutes: held long enough, too few failures.
	if s := step(down, 0); s != StateSiteSuspect {
		t.Fatalf("first failure: %s", s)
	}
	if s := step(down, 120*time.Second); s != StateSiteSuspect {
		t.Fatalf("2 failures over 120s: %s, want SiteSuspect (min_failed_probes 3)", s)
	}
	// One good probe resets.
	if s := step(up, 121*time.Second); s != StateHealthy || st.Outage.Failures != 0 {
		t.Fatalf("good probe: %s, failures %d", s, st.Outage.Failures)
	}
	// Five quick failures: enough probes, not held long enough.
	for i := 0; i < 5; i++ {
		if s := step(down, 130*time.Second+time.Duration(i)*10*time.Second); s != StateSiteSuspect {
			t.Fatalf("quick failure %d: %s", i, s)
		}
	}
	if s := step(down, 190*time.Second); s != StateSiteDown {
		t.Fatalf("6 failures held 60s: %s, want SiteDown", s)
	}
	if st.Outage.Failures != 6 || !st.Outage.FirstFailed.Equal(simStart.Add(130*time.Second)) {
		t.Fatalf("outage = %+v", st.Outage)
	}
}

// TestApprovalWhilePausedStartsAfterResume: an approval is recorded while
// paused; the promotion starts only after resume, and only if site A is
// still down.
func TestApprovalWhilePausedStartsAfterResume(t *testing.T) {
	opts := DefaultOptions()
	c, st, now := confirmedDown(t, opts)
	down := healthyWorld()
	down.siteA = "down"
	in := Input{Snapshot: down.snapshot(now), DataLoss: DataLoss{Known: true}}
	res, err := c.Decide(st, in, now)
	if err != nil || res.Status.State != StateAwaitingApproval {
		t.Fatalf("%v %s", err, res.Status.State)
	}
	st, plan := res.Status, res.Status.Plan.ID
	now = now.Add(10 * time.Second)
	in = Input{Snapshot: down.snapshot(now), Signals: Signals{Paused: true,
		Accepted: []signal.Signal{{Kind: signal.KindApprove, Plan: plan, ModTime: now.Add(-time.Second)}}}}
	res, err = c.Decide(st, in, now)
	if err != nil || res.Status.State != StateAwaitingApproval || len(res.Actions) != 0 || res.Status.Plan.Approval == nil {
		t.Fatalf("paused approval: %v %s %v %+v", err, res.Status.State, res.Actions, res.Status.Plan.Approval)
	}
	st = res.Status
	now = now.Add(10 * time.Second)
	res, err = c.Decide(st, Input{Snapshot: down.snapshot(now)}, now)
	if err != nil || res.Status.State != StatePromoting || len(res.Actions) != 1 || res.Actions[0].Step != StepRecheck {
		t.Fatalf("after resume: %v %s %v", err, res.Status.State, res.Actions)
	}
}

func BenchmarkDecide(b *testing.B) {
	opts := DefaultOptions()
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		b.Fatal(err)
	}
	w := healthyWorld()
	st := Status{State: StateHealthy}
	snap := shippingSnapshot(w, simStart)
	in := Input{Snapshot: snap, DataLoss: DataLoss{Known: true, Window: time.Minute}, Corroboration: Corroboration{Verdict: CorroborationDown}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Decide(st, in, simStart.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecidePromoting(b *testing.B) {
	opts := DefaultOptions()
	opts.Mode = ModeAuto
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		b.Fatal(err)
	}
	w := healthyWorld()
	w.siteA = "down"
	now := simStart.Add(time.Minute)
	st := Status{State: StateSiteDown, Outage: Outage{FirstFailed: simStart, Failures: 5}}
	in := Input{Snapshot: w.snapshot(now), DataLoss: DataLoss{Known: true, Window: time.Minute}, Corroboration: Corroboration{Verdict: CorroborationDown}}
	res, err := c.Decide(st, in, now)
	if err != nil || res.Status.State != StatePromoting {
		b.Fatalf("%v %s", err, res.Status.State)
	}
	st = res.Status
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decide(st, in, now); err != nil {
			b.Fatal(err)
		}
	}
}

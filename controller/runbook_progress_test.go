package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/signal"
)

// promotingSim returns a sim (auto mode, manual executor) that has just
// entered Promoting with run_step recheck emitted.
func promotingSim(t *testing.T) *sim {
	t.Helper()
	opts := DefaultOptions()
	opts.Mode = ModeAuto
	s := newSim(t, opts, knobs{})
	s.manual = true
	s.w.siteA = "down"
	for i := 0; s.st.State != StatePromoting; i++ {
		if i > 10 {
			t.Fatalf("stuck in %s", s.st.State)
		}
		if _, _, err := s.cycle(); err != nil {
			t.Fatal(err)
		}
		s.now = s.now.Add(20 * time.Second)
	}
	return s
}

func (s *sim) result(step Step, oc Outcome, err string, recovered ...string) {
	s.pending = append(s.pending, StepResult{Plan: s.planID(), Step: step, Outcome: oc, At: s.now, Err: err, Recovered: recovered})
}

func mustCycle(t *testing.T, s *sim) Result {
	t.Helper()
	_, res, err := s.cycle()
	if err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(10 * time.Second)
	return res
}

func TestRunbookWaitsForEachStep(t *testing.T) {
	s := promotingSim(t)
	// No result yet: nothing new is emitted, the step is not re-sent.
	if res := mustCycle(t, s); len(res.Actions) != 0 {
		t.Fatalf("re-emitted while recheck runs: %v", res.Actions)
	}
	s.result(StepRecheck, OutcomeStarted, "")
	if res := mustCycle(t, s); len(res.Actions) != 0 || s.st.Plan.step(StepRecheck).Phase != PhaseStarted {
		t.Fatalf("after start: %v %s", res.Actions, s.st.Plan.step(StepRecheck).Phase)
	}
	s.result(StepRecheck, OutcomeDone, "")
	res := mustCycle(t, s)
	if len(res.Actions) != 1 || res.Actions[0].Step != StepPreHooks || res.Actions[0].Attempt != 1 {
		t.Fatalf("after done: %v", res.Actions)
	}
	// A result for another plan is ignored and said so.
	s.pending = append(s.pending, StepResult{Plan: "other", Step: StepPreHooks, Outcome: OutcomeDone})
	res = mustCycle(t, s)
	if len(res.Ignored) != 1 || !strings.Contains(res.Ignored[0], "not the current plan") || s.st.Plan.step(StepPreHooks).Phase == PhaseDone {
		t.Fatalf("foreign result: %v", res.Ignored)
	}
}

func TestUndoMustReportBeforeAckOrRetry(t *testing.T) {
	s := promotingSim(t)
	s.result(StepRecheck, OutcomeDone, "")
	mustCycle(t, s)
	s.result(StepPreHooks, OutcomeFailed, "hook exited 3: veto")
	res := mustCycle(t, s)
	if s.st.State != StatePromotionFailed || len(res.Actions) != 1 || res.Actions[0].Kind != ActionUndo {
		t.Fatalf("veto: %s %v", s.st.State, res.Actions)
	}
	plan := s.planID()
	s.signal(signal.KindAck, plan, time.Second)
	s.signal(signal.KindRetry, plan, time.Second)
	res = mustCycle(t, s)
	if s.st.State != StatePromotionFailed || len(res.Ignored) != 2 {
		t.Fatalf("ack/retry while the undo runs: %s %v", s.st.State, res.Ignored)
	}
	s.result(StepUndo, OutcomeFailed, "sp_update_job: permission denied")
	mustCycle(t, s)
	if p := s.st.Plan; p.UndoDispatched || p.UndoErr == "" {
		t.Fatalf("undo failure not recorded: %+v", p)
	}
	s.signal(signal.KindAck, plan, time.Second)
	mustCycle(t, s)
	if s.st.State != StateDegraded && s.st.State != StateSiteSuspect && s.st.State != StateAwaitingApproval {
		t.Fatalf("ack after the undo reported: %s", s.st.State)
	}
}

func TestFenceIsRepeatedUntilItTakes(t *testing.T) {
	s := promotingSim(t)
	s.manual = false
	s.result(StepRecheck, OutcomeDone, "") // the one emitted while manual
	for i := 0; s.st.State != StatePromoted; i++ {
		if i > 20 {
			t.Fatalf("not promoted: %s", s.st.State)
		}
		mustCycle(t, s)
	}
	s.manual = true // fences are emitted but have no effect
	s.w.siteA = "up"
	fences := 0
	for i := 0; i < 30; i++ { // 5 minutes at 10s
		res := mustCycle(t, s)
		for _, a := range res.Actions {
			if a.Kind == ActionFence && a.Instance == "a1" {
				fences++
			}
		}
	}
	if s.st.State != StateSplitBrainRisk || fences != 3 {
		t.Fatalf("state %s, %d fences in 5m; want SplitBrainRisk and one fence per %s", s.st.State, fences, FenceRetryInterval)
	}
}

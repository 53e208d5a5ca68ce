package runbook

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqldr/sqldr/controller"
)

// The copy and restore jobs keep their Agent schedules until disable_jobs: a
// run may start at any moment during record_config, final_copy and
// final_restore. These tests start runs at the worst moments (as a schedule
// would) and restart the executor while a run is in progress.

// startJob starts a job from outside the runbook (as its schedule would).
func (e *env) startJob(id string) {
	e.t.Helper()
	if _, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", id)); err != nil {
		e.t.Fatalf("start job %s: %v", id, err)
	}
}

func (e *env) secondary() SecondaryState {
	e.t.Helper()
	s, err := readSecondary(context.Background(), e.h.dbs["SQLB1"], "mgc")
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// copied asserts the postcondition the promotion relies on: the newest log
// backup on the share is the last one copied.
func (e *env) assertAllCopied() {
	e.t.Helper()
	s := e.secondary()
	newest, err := newestOnShare(context.Background(), e.h.dbs["SQLB1"], s)
	if err != nil {
		e.t.Fatal(err)
	}
	if newest == "" || newest > baseName(s.LastCopiedFile) {
		e.t.Fatalf("newest on the share %q, last copied %q", newest, s.LastCopiedFile)
	}
}

// idle moves time (bounded) until neither the copy nor the restore job of mgc
// has a run in progress, so that a test starts its runs from a known state.
func (e *env) idle() {
	e.t.Helper()
	s := e.secondary()
	inst := e.h.inst("SQLB1")
	for i := 0; inst.JobRunning(s.CopyJob.Name) || inst.JobRunning(s.RestoreJob.Name); i++ {
		if i == 10 {
			e.t.Fatal("the copy or restore job is still running after 10 s")
		}
		e.h.advance(time.Second)
	}
}

type stepOut struct {
	res []controller.StepResult
	err error
}

// runFrozen runs a step in the background with the clock frozen, waits until
// the runbook has polled the job table n more times (it is waiting, not
// failing), asserts it has not returned, then lets time move until it ends.
func (e *env) runFrozen(kind controller.ActionKind, s controller.Step, polls int) stepOut {
	e.t.Helper()
	c := e.conns["SQLB1"]
	base := c.count(stmtJob) + c.count(stmtJobOutcome)
	done := make(chan stepOut, 1)
	go func() {
		res, err := e.ex.Execute(context.Background(), e.req(kind, s))
		done <- stepOut{res, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for c.count(stmtJob)+c.count(stmtJobOutcome) < base+polls {
		select {
		case o := <-done:
			e.t.Fatalf("%s returned while a job run was in progress: %+v %v", s, o.res, o.err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s did not poll the running job", s)
		}
	}
	stop := e.h.advancing()
	defer stop()
	select {
	case o := <-done:
		return o
	case <-time.After(20 * time.Second):
		e.t.Fatalf("%s did not finish after the job run ended", s)
	}
	return stepOut{}
}

func mustDone(t *testing.T, s controller.Step, o stepOut) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("%s: %v", s, o.err)
	}
	if end := o.res[len(o.res)-1]; end.Outcome != controller.OutcomeDone {
		t.Fatalf("%s: %s %s", s, end.Outcome, end.Err)
	}
}

// finishPromotion runs the remaining steps and checks the promotion landed
// with every copied log restored.
func (e *env) finishPromotion(from controller.Step) {
	e.t.Helper()
	i := 0
	for i < len(controller.Runbook) && controller.Runbook[i] != from {
		i++
	}
	for _, s := range controller.Runbook[i:] {
		e.mustStep(s)
		if s == controller.StepFinalRestore {
			// No copied log is lost: everything in the copy folder is restored.
			pending, _, err := e.ex.pendingLogs(context.Background(), e.h.dbs["SQLB1"], "mgc")
			if err != nil {
				e.t.Fatal(err)
			}
			if len(pending) != 0 {
				e.t.Fatalf("%d copied log(s) not restored after final_restore, first %s", len(pending), pending[0].path)
			}
		}
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		e.t.Fatalf("not writable after the promotion: %v", err)
	}
	if c, r := e.jobEnabled("mgc"); c || r {
		e.t.Fatal("jobs enabled after the promotion")
	}
}

// Bug (a): the copy job's schedule fires right after the run final_copy
// started has ended, before the step's postcondition is checked. The run in
// progress is harmless; the step must succeed.
func TestScheduledCopyRunRightAfterOurs(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	for _, s := range controller.Runbook[:3] {
		e.mustStep(s)
	}
	e.idle()
	s := e.secondary()
	inst := e.h.inst("SQLB1")
	c := e.conns["SQLB1"]
	var fired atomic.Bool
	c.setBefore(func(q string) {
		// Our run has ended (the runbook is about to read its outcome): the
		// schedule starts the next run now.
		if q != stmtJobOutcome || fired.Load() || c.count(stmtStartJob) == 0 || inst.JobRunning(s.CopyJob.Name) {
			return
		}
		fired.Store(true) // first: the test stops moving time
		if _, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", s.CopyJob.ID)); err != nil {
			t.Errorf("scheduled start: %v", err)
		}
	})
	done := make(chan stepOut, 1)
	go func() {
		res, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepFinalCopy))
		done <- stepOut{res, err}
	}()
	// Time moves until the scheduled run has started, then stops: that run
	// is still in progress when the step checks its postcondition.
	var o stepOut
	deadline := time.Now().Add(20 * time.Second)
wait:
	for {
		select {
		case o = <-done:
			break wait
		case <-time.After(time.Millisecond):
		}
		// Frozen until our run is started (no scheduled run before it).
		if !fired.Load() && c.count(stmtStartJob) > 0 {
			e.h.advance(time.Second)
		}
		if time.Now().After(deadline) {
			t.Fatal("final_copy did not finish")
		}
	}
	c.setBefore(nil)
	if !fired.Load() {
		t.Fatal("the scheduled run never fired after ours")
	}
	mustDone(t, controller.StepFinalCopy, o)
	if !inst.JobRunning(s.CopyJob.Name) {
		t.Fatal("the scheduled copy run is not in progress: the race was not exercised")
	}
	if n := c.count(stmtStartJob); n != 1 {
		t.Fatalf("final_copy sent sp_start_job %d times, want 1", n)
	}
	e.assertAllCopied()
	// A check of the step (as after a restart) agrees while the run goes on.
	res, err := e.ex.Execute(context.Background(), e.req(controller.ActionCheckStep, controller.StepFinalCopy))
	if err != nil || res[0].Outcome != controller.OutcomeCheckedDone {
		t.Fatalf("check final_copy with a scheduled run in progress: %+v %v", res, err)
	}
	e.finishPromotion(controller.StepFinalRestore)
}

// Bug (b): sp_start_job is refused with 22022 because a run started just
// before ours (a schedule). The step waits for that run and takes it as ours.
func TestStartJobRefusedAlreadyRunning(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	for _, s := range controller.Runbook[:3] {
		e.mustStep(s)
	}
	e.idle()
	s := e.secondary()
	c := e.conns["SQLB1"]
	var fired atomic.Bool
	c.setBefore(func(q string) {
		if q == stmtStartJob && !fired.Swap(true) {
			if _, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", s.CopyJob.ID)); err != nil {
				t.Errorf("scheduled start: %v", err)
			}
		}
	})
	// The clock stays frozen until the start is refused (TestLabRefusesSecondStart),
	// so no scheduled run can make the start unnecessary.
	done := make(chan stepOut, 1)
	go func() {
		res, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepFinalCopy))
		done <- stepOut{res, err}
	}()
	var o stepOut
	deadline := time.Now().Add(20 * time.Second)
wait:
	for {
		select {
		case o = <-done:
			break wait
		case <-time.After(time.Millisecond):
		}
		if fired.Load() {
			e.h.advance(time.Second)
		}
		if time.Now().After(deadline) {
			t.Fatal("final_copy did not finish")
		}
	}
	c.setBefore(nil)
	mustDone(t, controller.StepFinalCopy, o)
	if n := c.count(stmtStartJob); n != 1 {
		t.Fatalf("final_copy sent sp_start_job %d times, want 1 (the refused start's run is ours)", n)
	}
	if !fired.Load() {
		t.Fatal("the runbook never started the copy job")
	}
	e.assertAllCopied()
	e.finishPromotion(controller.StepFinalRestore)
}

// The lab refuses sp_start_job of a running job with 22022: the premise of
// the tests above.
func TestLabRefusesSecondStart(t *testing.T) {
	e := newEnv(t, envOption{})
	s := e.secondary()
	e.startJob(s.CopyJob.ID)
	_, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", s.CopyJob.ID))
	if errNumber(err) != errJobAlreadyRunning || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second sp_start_job: %v, want %d", err, errJobAlreadyRunning)
	}
}

// A restart in the middle of final_copy, with the run it started still in
// progress: the re-run waits for that run (no 22022 failure, no second start).
func TestRestartInFinalCopyWhileCopyRuns(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	for _, s := range controller.Runbook[:3] {
		e.mustStep(s)
	}
	e.idle()
	s := e.secondary()
	e.ex.interrupt = func(st controller.Step, where string) bool {
		return st == controller.StepFinalCopy && where == "statement 1"
	}
	// Frozen clock: the run started just before the crash stays in progress.
	_, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepFinalCopy))
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("final_copy before the crash: %v", err)
	}
	if !e.h.inst("SQLB1").JobRunning(s.CopyJob.Name) {
		t.Fatal("the copy job is not running after the crash")
	}
	e.open() // restart
	mustDone(t, controller.StepFinalCopy, e.runFrozen(controller.ActionRunStep, controller.StepFinalCopy, 20))
	if n := e.sent(stmtStartJob); n != 1 {
		t.Fatalf("sp_start_job sent %d times, want 1 (the run before the crash is ours)", n)
	}
	e.assertAllCopied()
	e.finishPromotion(controller.StepFinalRestore)
}

// A restart in the middle of final_restore while a restore job run is in
// progress (started by its schedule): the re-run waits for that run, then
// restores what is left, never the same log twice.
func TestRestartInFinalRestoreWhileRestoreRuns(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	for _, s := range controller.Runbook[:4] {
		e.mustStep(s)
	}
	e.idle()
	s := e.secondary()
	e.ex.interrupt = func(st controller.Step, where string) bool {
		return st == controller.StepFinalRestore && where == "statement 1"
	}
	_, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepFinalRestore))
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("final_restore before the crash: %v", err)
	}
	e.startJob(s.RestoreJob.ID) // the restore job's schedule fires (frozen clock: it stays running)
	if !e.h.inst("SQLB1").JobRunning(s.RestoreJob.Name) {
		t.Fatal("the restore job is not running")
	}
	e.open() // restart
	mustDone(t, controller.StepFinalRestore, e.runFrozen(controller.ActionRunStep, controller.StepFinalRestore, 20))
	restores := map[string]int{}
	for _, c := range e.conns {
		for _, q := range c.sent {
			if strings.HasPrefix(q, "RESTORE LOG") {
				if restores[q]++; restores[q] > 1 {
					t.Fatalf("sent twice: %s", q)
				}
			}
		}
	}
	if len(restores) == 0 {
		t.Fatal("no RESTORE LOG sent")
	}
	e.finishPromotion(controller.StepDisableJobs)
}

// record_config waits for the runs in progress when it starts, not for an
// instant with no run: a run that the schedule starts after them is left
// running and the step succeeds.
func TestRecordConfigWaitsForRunsInProgressOnly(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	e.mustStep(controller.StepRecheck)
	e.mustStep(controller.StepPreHooks)
	e.idle()
	s := e.secondary()
	e.startJob(s.RestoreJob.ID)
	inst := e.h.inst("SQLB1")
	c := e.conns["SQLB1"]
	var fired atomic.Bool
	c.setBefore(func(q string) {
		// Once the first run has ended, the copy job's schedule fires.
		if (q == stmtJobOutcome || q == stmtJob) && !fired.Load() && !inst.JobRunning(s.RestoreJob.Name) {
			fired.Store(true) // first: the test stops moving time
			if _, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", s.CopyJob.ID)); err != nil {
				t.Errorf("scheduled start: %v", err)
			}
		}
	})
	base := c.count(stmtJobOutcome)
	done := make(chan stepOut, 1)
	go func() {
		res, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepRecordConfig))
		done <- stepOut{res, err}
	}()
	var o stepOut
	deadline := time.Now().Add(20 * time.Second)
wait:
	for {
		select {
		case o = <-done:
			break wait
		case <-time.After(time.Millisecond):
		}
		// Time moves once the runbook is waiting for the restore run, and
		// stops when the copy job's schedule fires.
		if !fired.Load() && c.count(stmtJobOutcome) > base {
			e.h.advance(time.Second)
		}
		if time.Now().After(deadline) {
			t.Fatal("record_config did not finish")
		}
	}
	c.setBefore(nil)
	mustDone(t, controller.StepRecordConfig, o)
	if !fired.Load() || !inst.JobRunning(s.CopyJob.Name) {
		t.Fatalf("the copy run that started after the restore run is not in progress (started %v): the race was not exercised", fired.Load())
	}
	e.finishPromotion(controller.StepFinalCopy)
}

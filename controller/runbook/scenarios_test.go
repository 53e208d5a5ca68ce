package runbook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/sqlerr"
)

// runUntil runs the runbook steps in order up to and including last; it
// returns the last step's end record.
func (e *env) runUntil(last controller.Step) controller.StepResult {
	e.t.Helper()
	var end controller.StepResult
	for _, s := range controller.Runbook {
		res, err := e.exec(e.req(controller.ActionRunStep, s))
		if err != nil {
			e.t.Fatalf("step %s: %v", s, err)
		}
		end = res[len(res)-1]
		if s == last || end.Outcome != controller.OutcomeDone {
			return end
		}
	}
	return end
}

func effectful(e *env) int {
	return e.sent("RESTORE LOG") + e.sent("RESTORE DATABASE") + e.sent("ALTER") + e.sent("EXEC msdb.dbo.sp_")
}

func TestBrokenChainStopsBeforeRecovery(t *testing.T) {
	e := newEnv(t, envOption{})
	e.h.advance(3*time.Minute + 30*time.Second)
	e.h.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "secondary", Job: "restore"})
	// A log backup outside log shipping: the next shipped file starts after a gap.
	e.h.inject(lab.Fault{Kind: lab.FaultRogueBackup, Target: "principal", Database: "mgc"})
	e.h.advance(3 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.h.advance(5 * time.Second)
	e.h.waitRefused("SQLA1", "SQLA2")

	end := e.runUntil(controller.StepPostHooks)
	if end.Step != controller.StepFinalRestore || end.Outcome != controller.OutcomeFailed {
		t.Fatalf("want final_restore failed, got %+v", end)
	}
	for _, want := range []string{"log chain gap in mgc", "an earlier log backup is missing (nothing was recovered)", "[sql error 4305, restore_chain]"} {
		if !strings.Contains(end.Err, want) {
			t.Fatalf("diagnosis %q lacks %q", end.Err, want)
		}
	}
	if n := e.sent("RESTORE DATABASE"); n != 0 {
		t.Fatalf("%d RESTORE DATABASE sent after a broken chain", n)
	}
	if d := e.h.database("SQLB1", "mgc"); d.State != lab.StateRestoring {
		t.Fatalf("mgc is %s", d.State)
	}
	if err := e.h.insert("SQLB1", "mgc"); err == nil {
		t.Fatal("mgc writable after a broken chain")
	}
	// The controller asks for an undo: the jobs were not disabled yet, so it holds already.
	res, err := e.exec(e.req(controller.ActionUndo, controller.StepNone))
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone || res[len(res)-1].Step != controller.StepUndo {
		t.Fatalf("undo: %+v %v", res, err)
	}
	if c, r := e.jobEnabled("mgc"); !c || !r {
		t.Fatalf("jobs after undo: copy %v restore %v", c, r)
	}
}

func TestUndoReenablesDisabledJobs(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	// Someone had disabled mgccomp's copy job; it is outside the group and stays as it is.
	if end := e.runUntil(controller.StepDisableJobs); end.Outcome != controller.OutcomeDone {
		t.Fatalf("disable_jobs: %+v", end)
	}
	if c, r := e.jobEnabled("mgc"); c || r {
		t.Fatalf("jobs not disabled: %v %v", c, r)
	}
	before := e.sent("EXEC msdb.dbo.sp_update_job")
	res, err := e.exec(e.req(controller.ActionUndo, controller.StepNone))
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone {
		t.Fatalf("undo: %+v %v", res, err)
	}
	if c, r := e.jobEnabled("mgc"); !c || !r {
		t.Fatalf("jobs after undo: copy %v restore %v", c, r)
	}
	if n := e.sent("EXEC msdb.dbo.sp_update_job") - before; n != 2 {
		t.Fatalf("undo sent %d sp_update_job, want 2", n)
	}
	// After a recovery, undo is refused.
	e.mustStep(controller.StepDisableJobs)
	e.mustStep(controller.StepRecover)
	res, err = e.exec(e.req(controller.ActionUndo, controller.StepNone))
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeFailed || !strings.Contains(res[len(res)-1].Err, "undo refused: database mgc is already recovered") {
		t.Fatalf("undo after recovery: %+v %v", res, err)
	}
}

func TestStandbySecondaryWithReader(t *testing.T) {
	e := newEnv(t, envOption{lab: func(c *lab.Config) { c.RestoreMode = "standby" }})
	e.shipThenLoseSiteA()
	d := e.h.database("SQLB1", "mgc")
	if !d.Standby || d.State != lab.StateOnline {
		t.Fatalf("setup: mgc is not in STANDBY: %+v", d)
	}
	// A reader connected to the STANDBY database.
	srv, err := e.h.lab.Server("SQLB1")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := sql.Open("sqlserver", lab.DSN(srv.Addr(), "sa", saPassword, "mgc"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Close() }()
	ctx := context.Background()
	conn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	defer func() { _ = conn.Close() }()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.messages").Scan(&n); err != nil || n == 0 {
		t.Fatalf("reader query: %d %v", n, err)
	}
	// With the reader there, RESTORE is refused (3101): this is what the runbook must get past.
	_, err = e.h.dbs["SQLB1"].ExecContext(ctx, "RESTORE DATABASE [mgc] WITH RECOVERY")
	if num, _ := sqlerr.Number(err); num != 3101 {
		t.Fatalf("RESTORE with a reader connected: %v", err)
	}
	for _, s := range controller.Runbook {
		e.mustStep(s)
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatalf("INSERT after promotion: %v", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.messages").Scan(&n); err == nil {
		t.Fatal("the reader's session survived SINGLE_USER WITH ROLLBACK IMMEDIATE")
	}
	if d := e.h.database("SQLB1", "mgc"); d.Access != lab.MultiUser {
		t.Fatalf("mgc left %s", d.Access)
	}
	if e.sent("ALTER DATABASE [mgc] SET SINGLE_USER") == 0 {
		t.Fatal("no SINGLE_USER sent")
	}
}

func TestCopyJobRunningAtStart(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	e.mustStep(controller.StepRecheck)
	e.mustStep(controller.StepPreHooks)
	// A copy run in progress when record_config starts; the clock is frozen, so it stays running.
	s, err := readSecondary(context.Background(), e.h.dbs["SQLB1"], "mgc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.dbs["SQLB1"].ExecContext(context.Background(), stmtStartJob, sql.Named("p1", s.CopyJob.ID)); err != nil {
		t.Fatal(err)
	}
	polls := func() int { return e.conns["SQLB1"].count(stmtJob) }
	base := polls()
	type out struct {
		res []controller.StepResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := e.ex.Execute(context.Background(), e.req(controller.ActionRunStep, controller.StepRecordConfig))
		done <- out{res, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for polls() < base+20 {
		select {
		case o := <-done:
			t.Fatalf("record_config returned while the copy job was running: %+v %v", o.res, o.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("record_config did not poll the running job")
		}
		time.Sleep(time.Millisecond)
	}
	if !e.h.inst("SQLB1").JobRunning(s.CopyJob.Name) {
		t.Fatal("the copy job is not running")
	}
	e.h.advance(3 * time.Second) // the copy run ends
	select {
	case o := <-done:
		if o.err != nil || o.res[len(o.res)-1].Outcome != controller.OutcomeDone {
			t.Fatalf("record_config: %+v %v", o.res, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("record_config did not finish after the copy job ended")
	}
	// The configuration was journaled before anything changed.
	e.open()
	var found bool
	for _, r := range e.store.Records() {
		if r.Kind == JournalKindLogShipping {
			var l LogShippingRecord
			if err := r.Decode(&l); err != nil {
				t.Fatal(err)
			}
			found = l.Plan == planID && len(l.Databases) == 1 && l.Databases[0].CopyJob.ID == s.CopyJob.ID &&
				l.Databases[0].CopyJob.Running && l.Databases[0].BackupSourceDirectory == `\\labshare\logship\mgc` && len(l.Databases[0].History) > 0
		}
	}
	if !found {
		t.Fatal("no log-shipping record with the running copy job")
	}
	for _, s := range controller.Runbook[3:] {
		e.mustStep(s)
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatal(err)
	}
}

func TestPrePromoteHookVetoes(t *testing.T) {
	veto, _ := filepath.Abs(filepath.Join("testdata", "veto-hook.sh"))
	e := newEnv(t, envOption{opts: func(o *Options, e *env) {
		o.PrePromote = append(o.PrePromote, hook.Spec{Name: "pchat-ready", Command: veto, Timeout: 5 * time.Second})
	}})
	e.shipThenLoseSiteA()
	end := e.runUntil(controller.StepPostHooks)
	if end.Step != controller.StepPreHooks || end.Outcome != controller.OutcomeFailed {
		t.Fatalf("want pre_promote_hooks failed, got %+v", end)
	}
	want := `vetoed by pre-promote hook: hook "pchat-ready" (` + veto + `) exited with code 2: the Persistent Chat pool is not ready for failover`
	if end.Err != want {
		t.Fatalf("err\n got %q\nwant %q", end.Err, want)
	}
	if n := effectful(e); n != 0 {
		t.Fatalf("%d effectful statements after a veto", n)
	}
	if err := e.h.insert("SQLB1", "mgc"); err == nil {
		t.Fatal("writable after a veto")
	}
	// The first hook succeeded and is not run again on a retry.
	e.open()
	e.exec(e.req(controller.ActionRunStep, controller.StepPreHooks)) //nolint:errcheck // the veto repeats; only the runs are counted
	if runs := e.hookRuns(); len(runs) != 1 {
		t.Fatalf("pre hook runs %q", runs)
	}
}

func TestRecheckAbortsWhenSiteAAnswers(t *testing.T) {
	e := newEnv(t, envOption{})
	e.h.advance(time.Minute)
	end := e.runUntil(controller.StepRecheck)
	if end.Outcome != controller.OutcomeFailed || !strings.Contains(end.Err, "promotion aborted: site A answers: SQLA1 (up), SQLA2 (up)") {
		t.Fatalf("recheck: %+v", end)
	}
}

func TestOutOfGroupDatabaseRefused(t *testing.T) {
	e := newEnv(t, envOption{})
	r := e.req(controller.ActionRunStep, controller.StepRecover)
	r.Action.Databases = []string{"mgc", "mgccomp"}
	_, err := e.exec(r)
	if err == nil || err.Error() != `runbook: database "mgccomp" is not in failover group mgc: it is never restored, recovered or fenced` {
		t.Fatalf("got %v", err)
	}
	if n := effectful(e); n != 0 {
		t.Fatalf("%d statements sent", n)
	}
	if _, err := e.exec(Request{Action: controller.Action{Kind: controller.ActionPublishPlan}}); err == nil {
		t.Fatal("publish_plan accepted")
	}
}

func TestFenceReturningPrincipal(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	for _, s := range controller.Runbook {
		e.mustStep(s)
	}
	// Site A returns: the old principal serves mgc again, still mirrored.
	e.h.topo.HealAll()
	e.h.advance(5 * time.Second)
	// The lab reopens the listener asynchronously: wait for it, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for err := e.h.insert("SQLA1", "mgc"); err != nil; err = e.h.insert("SQLA1", "mgc") {
		if time.Now().After(deadline) {
			t.Fatalf("setup: the returning principal is not writable: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := e.h.database("SQLA1", "mgc"); d.Mirroring == nil {
		t.Fatal("setup: the returning principal is not mirrored")
	}
	fence := Request{Action: controller.Action{Kind: controller.ActionFence, Plan: planID, Instance: "SQLA1", Databases: []string{"mgc", "mgccomp"}}, Plan: e.plan}
	res, err := e.exec(fence)
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone || res[len(res)-1].Step != controller.StepFence {
		t.Fatalf("fence: %+v %v", res, err)
	}
	d := e.h.database("SQLA1", "mgc")
	if d.State != lab.StateOffline || d.Mirroring != nil {
		t.Fatalf("fenced mgc: %s mirroring %+v", d.State, d.Mirroring)
	}
	if err := e.h.insert("SQLA1", "mgc"); err == nil {
		t.Fatal("the fenced database still takes writes")
	}
	// The PARTNER OFF came first, then OFFLINE.
	sent := e.conns["SQLA1"].sent
	off, offline := slices.Index(sent, sqlPartnerOff("mgc")), slices.Index(sent, sqlOffline("mgc"))
	if off < 0 || offline < off {
		t.Fatalf("statement order: %q", sent)
	}
	// mgccomp is outside the group: never fenced.
	if err := e.h.insert("SQLA1", "mgccomp"); err != nil {
		t.Fatalf("mgccomp was touched: %v", err)
	}
	if e.conns["SQLA1"].count("ALTER DATABASE [mgccomp]") != 0 {
		t.Fatal("a statement was sent for mgccomp")
	}
	// Fencing again finds it done.
	before := effectful(e)
	res, err = e.exec(fence)
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone || effectful(e) != before {
		t.Fatalf("second fence: %+v %v", res, err)
	}
	// The promoted secondary still takes writes.
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatal(err)
	}
}

func TestFenceSingleUserAfterWritableFault(t *testing.T) {
	e := newEnv(t, envOption{opts: func(o *Options, _ *env) { o.FenceMethod = config.FenceSingleUser }})
	e.h.advance(time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultWritable, Target: "mirror"})
	e.h.advance(time.Second)
	if err := e.h.insert("SQLA2", "mgc"); err != nil {
		t.Fatalf("setup: %v", err)
	}
	res, err := e.exec(Request{Action: controller.Action{Kind: controller.ActionFence, Instance: "SQLA2", Databases: []string{"mgc"}}})
	if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone {
		t.Fatalf("fence: %+v %v", res, err)
	}
	if d := e.h.database("SQLA2", "mgc"); d.Access != lab.SingleUser {
		t.Fatalf("mgc on SQLA2 is %s", d.Access)
	}
}

// TestCrashAndResume interrupts the runbook at every step boundary, after
// every effectful statement before its record, and after a step's work before
// its end record; a new executor (reopened journal) resumes through
// controller.Restore and CheckStep. No step's work is done twice.
func TestCrashAndResume(t *testing.T) {
	type point struct {
		step    controller.Step
		where   string
		standby bool
	}
	var points []point
	for _, s := range controller.Runbook {
		points = append(points, point{s, "started", false}, point{s, "executed", false})
	}
	points = append(points,
		point{controller.StepFinalCopy, "statement 1", false},    // sp_start_job sent, job not finished
		point{controller.StepFinalRestore, "statement 1", false}, // first RESTORE LOG applied
		point{controller.StepFinalRestore, "statement 2", false},
		point{controller.StepDisableJobs, "statement 1", false}, // copy job disabled, restore job not
		point{controller.StepRecover, "statement 1", false},     // RESTORE WITH RECOVERY ran, no record
		point{controller.StepFinalRestore, "statement 1", true}, // STANDBY: SINGLE_USER sent
		point{controller.StepRecover, "statement 1", true},      // recovered, still SINGLE_USER
		point{controller.StepRecover, "statement 2", true},      // MULTI_USER sent, no record
	)
	for _, p := range points {
		name := fmt.Sprintf("%s/%s", p.step, strings.ReplaceAll(p.where, " ", "_"))
		if p.standby {
			name += "/standby"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOption{lab: func(c *lab.Config) {
				if p.standby {
					c.RestoreMode = "standby"
				}
			}})
			e.shipThenLoseSiteA()
			crashed := false
			e.ex.interrupt = func(s controller.Step, where string) bool {
				if !crashed && s == p.step && where == p.where {
					crashed = true
					return true
				}
				return false
			}
			for _, s := range controller.Runbook {
				res, err := e.exec(e.req(controller.ActionRunStep, s))
				if errors.Is(err, ErrInterrupted) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if end := res[len(res)-1]; end.Outcome != controller.OutcomeDone {
					t.Fatalf("step %s before the crash: %s %s", s, end.Outcome, end.Err)
				}
			}
			if !crashed {
				t.Fatalf("the runbook never reached %s %s", p.step, p.where)
			}
			// Restart: reopen the journal, replay it as the controller does.
			e.open()
			recs, err := controller.StepRecords(e.store.Records())
			if err != nil {
				t.Fatal(err)
			}
			st := controller.Restore(controller.Status{Group: "mgc", State: controller.StatePromoting, Plan: clonePlan(e.plan)}, recs)
			checks := 0
			for i := range st.Plan.Steps {
				sp := st.Plan.Steps[i]
				switch sp.Phase {
				case controller.PhaseDone:
					continue
				case controller.PhaseNeedsCheck:
					checks++
					res, err := e.exec(e.req(controller.ActionCheckStep, sp.Step))
					if err != nil {
						t.Fatal(err)
					}
					if res[0].Outcome == controller.OutcomeCheckedDone {
						continue
					}
				case controller.PhasePending:
				default:
					t.Fatalf("replayed step %s is %s", sp.Step, sp.Phase)
				}
				e.mustStep(sp.Step)
			}
			if checks != 1 {
				t.Fatalf("%d steps needed a check after the crash, want 1", checks)
			}
			if err := e.h.insert("SQLB1", "mgc"); err != nil {
				t.Fatalf("not writable after resuming: %v", err)
			}
			// Nothing ran twice.
			if n := e.sent("RESTORE DATABASE"); n != 1 {
				t.Fatalf("%d RESTORE DATABASE", n)
			}
			if n := e.sent("EXEC msdb.dbo.sp_start_job"); n != 1 {
				t.Fatalf("%d sp_start_job", n)
			}
			if n := e.sent(stmtSetJobEnabled); n != 2 {
				t.Fatalf("%d sp_update_job", n)
			}
			if n := e.sent("ALTER DATABASE [mgc] SET MULTI_USER"); n > 1 {
				t.Fatalf("%d MULTI_USER", n)
			}
			restores := map[string]int{}
			for _, c := range e.conns {
				for _, q := range c.sent {
					if strings.HasPrefix(q, "RESTORE LOG") {
						restores[q]++
						if restores[q] > 1 {
							t.Fatalf("sent twice: %s", q)
						}
					}
				}
			}
			if len(restores) == 0 {
				t.Fatal("no RESTORE LOG sent")
			}
			if runs := e.hookRuns(); len(runs) != 2 {
				t.Fatalf("hook runs %q", runs)
			}
			if c, r := e.jobEnabled("mgc"); c || r {
				t.Fatal("jobs enabled after the promotion")
			}
		})
	}
}

func clonePlan(p *controller.Plan) *controller.Plan {
	c := *p
	c.Steps = slices.Clone(p.Steps)
	return &c
}

func TestFromConfig(t *testing.T) {
	c, err := config.Load("../../pkg/config/testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	o := FromConfig(c)
	if o.Group != "pchat" || o.Target != "SQLB1" || !slices.Equal(o.Databases, []string{"mgc"}) || o.FenceMethod != config.FenceHook ||
		o.PollInterval != 500*time.Millisecond || o.Timeouts[controller.StepFinalRestore] != time.Hour ||
		o.Timeouts[controller.StepRecheck] != time.Minute || len(o.Timeouts) != len(config.RunbookSteps) || len(o.PostPromote) != 1 {
		t.Fatalf("options %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestForkMismatchStopsBeforeRecovery(t *testing.T) {
	// SAFETY OFF: the mirror trails; forced service on it starts a new recovery
	// fork while the secondary already restored past the fork point, so the new
	// principal's logs are on a path inconsistent with the secondary (4330).
	e := newEnv(t, envOption{lab: func(c *lab.Config) {
		c.Safety = "OFF"
		c.AsyncDelay = 30 * time.Second
	}})
	e.h.inject(lab.Fault{Kind: lab.FaultCut, Target: "principal", Peer: "mirror"})
	e.h.advance(3 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultDown, Target: "principal"})
	e.h.advance(time.Second)
	if _, err := e.h.dbs["SQLA2"].ExecContext(context.Background(), "ALTER DATABASE [mgc] SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS"); err != nil {
		t.Fatalf("force service: %v", err)
	}
	e.h.advance(4 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.h.advance(5 * time.Second)
	e.h.waitRefused("SQLA1", "SQLA2")

	end := e.runUntil(controller.StepPostHooks)
	if end.Step != controller.StepFinalRestore || end.Outcome != controller.OutcomeFailed {
		t.Fatalf("want final_restore failed, got %+v", end)
	}
	for _, want := range []string{"recovery fork mismatch in mgc", "(nothing was recovered)", "[sql error 4330, restore_chain]"} {
		if !strings.Contains(end.Err, want) {
			t.Fatalf("diagnosis %q lacks %q", end.Err, want)
		}
	}
	if n := e.sent("RESTORE DATABASE"); n != 0 {
		t.Fatalf("%d RESTORE DATABASE after a fork mismatch", n)
	}
	if err := e.h.insert("SQLB1", "mgc"); err == nil {
		t.Fatal("mgc writable after a fork mismatch")
	}
}

func TestShutdownLeavesTheStepToBeChecked(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	e.runUntil(controller.StepRecordConfig)
	// The clock is frozen: the copy job started by the final copy never ends, and the daemon shuts down.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.ex.Execute(ctx, e.req(controller.ActionRunStep, controller.StepFinalCopy))
		done <- err
	}()
	cfg, err := readSecondary(context.Background(), e.h.dbs["SQLB1"], "mgc")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !e.h.inst("SQLB1").JobRunning(cfg.CopyJob.Name) {
		if time.Now().After(deadline) {
			t.Fatal("the final copy did not start the copy job")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the step ignored the shutdown")
	}
	e.open()
	recs, err := controller.StepRecords(e.store.Records())
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Step != controller.StepFinalCopy || last.Outcome != controller.OutcomeStarted {
		t.Fatalf("last record %+v: a shutdown must leave only the start record", last)
	}
	st := controller.Restore(controller.Status{Group: "mgc", State: controller.StatePromoting, Plan: clonePlan(e.plan)}, recs)
	for _, sp := range st.Plan.Steps {
		if sp.Step == controller.StepFinalCopy && sp.Phase != controller.PhaseNeedsCheck {
			t.Fatalf("final_copy replayed as %s", sp.Phase)
		}
	}
	// Resumed: the copy run that was in flight is waited for, not started again.
	for _, s := range controller.Runbook[3:] {
		e.mustStep(s)
	}
	if n := e.sent("EXEC msdb.dbo.sp_start_job"); n != 1 {
		t.Fatalf("%d sp_start_job", n)
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatal(err)
	}
}

func TestStandbyReaderWithNothingLeftToRestore(t *testing.T) {
	e := newEnv(t, envOption{lab: func(c *lab.Config) { c.RestoreMode = "standby" }})
	e.h.advance(4 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.h.advance(3 * time.Minute) // the secondary's jobs catch up with the share
	e.h.waitRefused("SQLA1", "SQLA2")
	srv, err := e.h.lab.Server("SQLB1")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := sql.Open("sqlserver", lab.DSN(srv.Addr(), "sa", saPassword, "mgc"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Close() }()
	conn, err := reader.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	for _, s := range controller.Runbook {
		e.mustStep(s)
	}
	if n := e.sent("RESTORE LOG"); n != 0 {
		t.Fatalf("setup: %d logs were still pending", n)
	}
	// The recover step itself ended the reader's session.
	if e.sent("ALTER DATABASE [mgc] SET SINGLE_USER") != 1 {
		t.Fatal("the recover step did not end the STANDBY sessions")
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatal(err)
	}
}

// TestTwoDatabaseGroup: every database of the group is restored before any
// is recovered, and a crash between the two recoveries resumes with the
// first reported recovered and the second recovered once.
func TestTwoDatabaseGroup(t *testing.T) {
	both := []string{"mgc", "mgccomp"}
	e := newEnv(t, envOption{opts: func(o *Options, _ *env) { o.Databases = both }})
	e.plan.Databases = both
	e.shipThenLoseSiteA()
	crashed := false
	e.ex.interrupt = func(s controller.Step, where string) bool {
		if !crashed && s == controller.StepRecover && where == "statement 1" {
			crashed = true
			return true
		}
		return false
	}
	req := func(kind controller.ActionKind, s controller.Step) Request {
		r := e.req(kind, s)
		r.Action.Databases = both
		return r
	}
	for _, s := range controller.Runbook {
		res, err := e.exec(req(controller.ActionRunStep, s))
		if errors.Is(err, ErrInterrupted) {
			break
		}
		if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone {
			t.Fatalf("step %s: %+v %v", s, res, err)
		}
	}
	if !crashed {
		t.Fatal("no crash")
	}
	e.open()
	res, err := e.exec(req(controller.ActionCheckStep, controller.StepRecover))
	if err != nil || res[0].Outcome != controller.OutcomeCheckedNotDone || !slices.Equal(res[0].Recovered, []string{"mgc"}) {
		t.Fatalf("check after the crash: %+v %v", res, err)
	}
	for _, s := range []controller.Step{controller.StepRecover, controller.StepPostHooks} {
		if res, err := e.exec(req(controller.ActionRunStep, s)); err != nil || res[len(res)-1].Outcome != controller.OutcomeDone {
			t.Fatalf("step %s: %+v %v", s, res, err)
		} else if s == controller.StepRecover && !slices.Equal(res[len(res)-1].Recovered, both) {
			t.Fatalf("recovered %v", res[len(res)-1].Recovered)
		}
	}
	for _, db := range both {
		if err := e.h.insert("SQLB1", db); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		if n := e.sent(sqlRecover(db)); n != 1 {
			t.Fatalf("%d recoveries of %s", n, db)
		}
	}
	// Order: no RESTORE LOG after the first RESTORE DATABASE.
	sent := e.conns["SQLB1"].sent
	first := slices.IndexFunc(sent, func(q string) bool { return strings.HasPrefix(q, "RESTORE DATABASE") })
	for _, q := range sent[first:] {
		if strings.HasPrefix(q, "RESTORE LOG") {
			t.Fatalf("a log was restored after a recovery: %s", q)
		}
	}
	for _, db := range both {
		if !slices.ContainsFunc(sent[:first], func(q string) bool { return strings.HasPrefix(q, "RESTORE LOG "+quoteName(db)) }) {
			t.Fatalf("no log restored into %s before the recoveries", db)
		}
	}
}

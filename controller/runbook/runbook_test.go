package runbook

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/probes"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

const planID = "mgc-1"

// env is a lab, a state directory and an executor wired to them.
type env struct {
	t       testing.TB
	h       *harness
	dir     string
	store   *journal.Store
	conns   map[string]*counting
	prober  *probes.Prober
	hookLog string
	opts    Options
	ex      *Executor
	plan    *controller.Plan
}

type envOption struct {
	lab  func(*lab.Config)
	opts func(o *Options, e *env)
}

func newEnv(t testing.TB, o envOption) *env {
	t.Helper()
	h := newHarness(t, o.lab)
	e := &env{t: t, h: h, dir: t.TempDir(), conns: map[string]*counting{}}
	e.hookLog = filepath.Join(e.dir, "hooks.log")
	var targets []probes.Target
	for _, inst := range h.topo.Instances() {
		dsn, err := h.lab.DSN(inst.Name())
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(e.dir, inst.Name()+".dsn")
		if err := os.WriteFile(f, []byte(dsn), 0o600); err != nil {
			t.Fatal(err)
		}
		role := probes.RolePartner
		if inst.Role() == lab.ConfigRoleSecondary {
			role = probes.RoleSecondary
		}
		targets = append(targets, probes.Target{Name: inst.Name(), Site: probes.Site(inst.Site()), Role: role, DSNFile: f,
			ConnectTimeout: 5 * time.Second, QueryTimeout: 10 * time.Second})
		e.conns[inst.Name()] = &counting{db: h.dbs[inst.Name()]}
	}
	p, err := probes.New(zaptest.NewLogger(t), probes.Options{Targets: targets, Databases: []string{"mgc", "mgccomp"}}, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	e.prober = p
	t.Cleanup(func() { _ = p.Close() })
	rec := filepath.Join("testdata", "record-hook.sh")
	abs, _ := filepath.Abs(rec)
	e.opts = Options{Group: "mgc", Databases: []string{"mgc"}, Target: "SQLB1", FenceMethod: config.FenceOffline,
		PrePromote:   []hook.Spec{{Name: "pre", Command: abs, Args: []string{e.hookLog}, Timeout: 10 * time.Second}},
		PostPromote:  []hook.Spec{{Name: "pchat-failover", Command: abs, Args: []string{e.hookLog}, Timeout: 10 * time.Second}},
		PollInterval: 2 * time.Millisecond,
		Timeouts:     map[controller.Step]time.Duration{}}
	for _, s := range append(slices.Clone(controller.Runbook), controller.StepUndo, controller.StepFence) {
		e.opts.Timeouts[s] = 30 * time.Second // a hang fails the test, not the CI job
	}
	if o.opts != nil {
		o.opts(&e.opts, e)
	}
	e.plan = &controller.Plan{ID: planID, Group: "mgc", Databases: []string{"mgc"}, Target: "SQLB1",
		DataLoss: controller.DataLoss{Known: true, Window: 42 * time.Second, Uncertainty: 3 * time.Second}}
	for _, s := range controller.Runbook {
		e.plan.Steps = append(e.plan.Steps, controller.StepProgress{Step: s})
	}
	e.open()
	t.Cleanup(func() { _ = e.store.Close() })
	return e
}

// open (re)opens the state directory and builds a new executor from its
// journal, as a restarted daemon does.
func (e *env) open() {
	e.t.Helper()
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	st, err := journal.Open(zaptest.NewLogger(e.t), journal.Options{Dir: e.dir})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	ex, err := New(zaptest.NewLogger(e.t), e.opts, Deps{
		Clock:   clock.RealClock{},
		Journal: st,
		Conn:    func(inst string) (DB, error) { return e.conns[inst], nil },
		Prober:  e.prober,
		Hooks:   hook.NewRunner(zaptest.NewLogger(e.t), hook.Options{}),
		History: st.Records(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.ex = ex
}

// ship runs log shipping for a while, then leaves share files not copied
// and copied files not restored, and takes site A down.
func (e *env) shipThenLoseSiteA() {
	e.h.advance(3*time.Minute + 30*time.Second)
	e.h.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "secondary", Job: "restore"})
	e.h.advance(2 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "secondary", Job: "copy"})
	e.h.advance(2 * time.Minute)
	e.h.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.h.advance(5 * time.Second)
	e.h.waitRefused("SQLA1", "SQLA2")
}

func (e *env) req(kind controller.ActionKind, s controller.Step) Request {
	return Request{Action: controller.Action{Kind: kind, Plan: planID, Step: s, Attempt: 1, Instance: "SQLB1", Databases: []string{"mgc"}},
		Plan: e.plan, OldPrimary: "SQLA1"}
}

func (e *env) exec(r Request) ([]controller.StepResult, error) {
	stop := e.h.advancing() // simulated time moves while the runbook waits for jobs
	defer stop()
	return e.ex.Execute(context.Background(), r)
}

func (e *env) mustStep(s controller.Step) controller.StepResult {
	e.t.Helper()
	res, err := e.exec(e.req(controller.ActionRunStep, s))
	if err != nil {
		e.t.Fatalf("step %s: %v", s, err)
	}
	end := res[len(res)-1]
	if end.Outcome != controller.OutcomeDone {
		e.t.Fatalf("step %s: %s %s", s, end.Outcome, end.Err)
	}
	return end
}

func (e *env) sent(prefix string) int {
	n := 0
	for _, c := range e.conns {
		n += c.count(prefix)
	}
	return n
}

func (e *env) hookRuns() []string {
	b, err := os.ReadFile(e.hookLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (e *env) jobEnabled(db string) (copyOn, restoreOn bool) {
	e.t.Helper()
	s, err := readSecondary(context.Background(), e.h.dbs["SQLB1"], db)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.CopyJob.Enabled, s.RestoreJob.Enabled
}

func newestShareLSN(h *harness, db string) lab.LSN {
	var last lab.LSN
	for _, f := range h.topo.ShareFiles() {
		if f.Database == db && f.Type == "L" && (last.IsZero() || f.LastLSN.Cmp(last) > 0) {
			last = f.LastLSN
		}
	}
	return last
}

func TestFullPromotion(t *testing.T) {
	e := newEnv(t, envOption{})
	e.shipThenLoseSiteA()
	want := newestShareLSN(e.h, "mgc")
	compBefore := e.h.database("SQLB1", "mgccomp")
	if e.h.database("SQLB1", "mgc").RedoStartLSN.Cmp(want) >= 0 {
		t.Fatal("setup: the secondary already has every log; the final copy and restore would have nothing to do")
	}
	if err := e.h.insert("SQLB1", "mgc"); err == nil {
		t.Fatal("setup: the secondary is writable before the promotion")
	}
	var recovered []string
	for _, s := range controller.Runbook {
		end := e.mustStep(s)
		if s == controller.StepFinalRestore {
			if got := e.h.database("SQLB1", "mgc").RedoStartLSN; got.Cmp(want) != 0 {
				t.Fatalf("after the final restore the redo point is %s, want the newest share file's last LSN %s", got, want)
			}
		}
		if s == controller.StepRecover {
			recovered = end.Recovered
		}
	}
	if !slices.Equal(recovered, []string{"mgc"}) {
		t.Fatalf("recovered %v", recovered)
	}
	if err := e.h.insert("SQLB1", "mgc"); err != nil {
		t.Fatalf("the promoted database does not take an INSERT: %v", err)
	}
	// mgccomp is outside the group: untouched, still restoring, its jobs enabled.
	comp := e.h.database("SQLB1", "mgccomp")
	if comp.State != lab.StateRestoring || comp.RedoStartLSN.Cmp(compBefore.RedoStartLSN) != 0 {
		t.Fatalf("mgccomp changed: %+v", comp)
	}
	if err := e.h.insert("SQLB1", "mgccomp"); err == nil {
		t.Fatal("mgccomp became writable")
	}
	if c, r := e.jobEnabled("mgccomp"); !c || !r {
		t.Fatalf("mgccomp jobs disabled: copy %v restore %v", c, r)
	}
	if c, r := e.jobEnabled("mgc"); c || r {
		t.Fatalf("mgc jobs still enabled: copy %v restore %v", c, r)
	}
	if n := e.sent("RESTORE DATABASE"); n != 1 {
		t.Fatalf("%d RESTORE DATABASE statements, want 1", n)
	}
	if n := e.sent("EXEC msdb.dbo.sp_start_job"); n != 1 {
		t.Fatalf("%d sp_start_job, want 1 (the final copy)", n)
	}
	runs := e.hookRuns()
	wantRuns := []string{
		"pre_promote mgc-1 mgc old=SQLA1 new=SQLB1 loss=42±3 fence=",
		"post_promote mgc-1 mgc old=SQLA1 new=SQLB1 loss=42±3 fence=",
	}
	if !slices.Equal(runs, wantRuns) {
		t.Fatalf("hook runs %q, want %q", runs, wantRuns)
	}
	// The journal holds a start and an end record per step, in order, as the controller replays them.
	e.open()
	recs, err := controller.StepRecords(e.store.Records())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2*len(controller.Runbook) {
		t.Fatalf("%d step records, want %d", len(recs), 2*len(controller.Runbook))
	}
	for i, s := range controller.Runbook {
		if recs[2*i].Step != s || recs[2*i].Outcome != controller.OutcomeStarted || recs[2*i+1].Step != s || recs[2*i+1].Outcome != controller.OutcomeDone {
			t.Fatalf("records %d,%d: %+v %+v", 2*i, 2*i+1, recs[2*i], recs[2*i+1])
		}
	}
	st := controller.Restore(controller.Status{Group: "mgc", State: controller.StatePromoting, Plan: e.plan}, recs)
	for _, sp := range st.Plan.Steps {
		if sp.Phase != controller.PhaseDone {
			t.Fatalf("replayed step %s is %s", sp.Step, sp.Phase)
		}
	}
	// Every step now finds its postcondition holding: a CheckStep says done and a RunStep sends nothing effectful.
	before := e.sent("RESTORE") + e.sent("ALTER") + e.sent("EXEC msdb")
	// Once recovered, the final restore cannot be re-checked: it answers not done, conservatively.
	if res, err := e.exec(e.req(controller.ActionCheckStep, controller.StepFinalRestore)); err != nil ||
		res[0].Outcome != controller.OutcomeCheckedNotDone || !strings.Contains(res[0].Err, "database mgc is already recovered") {
		t.Fatalf("check final_restore after recovery: %+v %v", res, err)
	}
	for _, s := range controller.Runbook[2:] {
		if s == controller.StepFinalRestore {
			continue
		}
		res, err := e.exec(e.req(controller.ActionCheckStep, s))
		if err != nil || res[0].Outcome != controller.OutcomeCheckedDone {
			t.Fatalf("check %s: %+v %v", s, res, err)
		}
		e.mustStep(s)
	}
	if after := e.sent("RESTORE") + e.sent("ALTER") + e.sent("EXEC msdb"); after != before {
		t.Fatalf("re-running finished steps sent %d effectful statements", after-before)
	}
}

package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/metrics"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func zaptestNop() *zap.Logger { return zap.NewNop() }

var t0 = time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)

// siteADown is a snapshot in which neither site-A partner answers and the secondary is restoring.
func siteADown(now time.Time) *probes.Snapshot {
	return &probes.Snapshot{Time: now, Instances: []probes.InstanceSnapshot{
		{Name: "SQLA1", Site: probes.SiteA, Role: probes.RolePartner, Reachability: probes.ReachUnreachable, Err: "refused", Started: now, Received: now},
		{Name: "SQLA2", Site: probes.SiteA, Role: probes.RolePartner, Reachability: probes.ReachUnreachable, Err: "refused", Started: now, Received: now},
		{Name: "SQLB1", Site: probes.SiteB, Role: probes.RoleSecondary, Reachability: probes.ReachUp, Started: now, Received: now,
			ServerUTC: now, Databases: []probes.DatabaseSnapshot{{Name: "mgc", Exists: true, State: probes.DBRestoring}}},
	}}
}

type fakeProber struct {
	clk   *clocktesting.FakeClock
	mu    sync.Mutex
	calls int
}

func (p *fakeProber) Probe(context.Context) *probes.Snapshot {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return siteADown(p.clk.Now())
}

type fakeObservers struct{}

func (fakeObservers) Check(context.Context) observer.Result {
	return observer.Result{Verdict: observer.VerdictDown, Detail: "every site-A instance unreachable", Quorum: 1}
}

// fakeSignals approves whatever plan is pending, when approve is set.
type fakeSignals struct {
	mu      sync.Mutex
	approve bool
	scans   int
}

func (s *fakeSignals) Scan(now time.Time, exp signal.Expect) (signal.Scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans++
	if s.approve && exp.PendingPlan != "" {
		return signal.Scan{Accepted: []signal.Signal{{Kind: signal.KindApprove, Plan: exp.PendingPlan, ModTime: now}}}, nil
	}
	return signal.Scan{}, nil
}

// fakeExecutor records each action and what the status file said when it was called.
type fakeExecutor struct {
	stateDir string
	mu       sync.Mutex
	actions  []controller.Action
	onDisk   []string
}

func (x *fakeExecutor) Execute(_ context.Context, req runbook.Request) ([]controller.StepResult, error) {
	b, err := os.ReadFile(filepath.Join(x.stateDir, journal.StatusFile))
	x.mu.Lock()
	defer x.mu.Unlock()
	x.actions = append(x.actions, req.Action)
	x.onDisk = append(x.onDisk, string(b))
	if err != nil {
		return nil, err
	}
	// The step "fails" so that the test stays at one action.
	return []controller.StepResult{{Plan: req.Action.Plan, Step: req.Action.Step, Attempt: req.Action.Attempt,
		Outcome: controller.OutcomeFailed, Err: "fake"}}, nil
}

type fixture struct {
	clk  *clocktesting.FakeClock
	dir  string
	pr   *fakeProber
	sig  *fakeSignals
	ex   *fakeExecutor
	reg  *prometheus.Registry
	loop *Loop
}

func newFixture(t *testing.T, trusted bool) *fixture {
	t.Helper()
	f := &fixture{clk: clocktesting.NewFakeClock(t0), dir: t.TempDir(), sig: &fakeSignals{}, reg: prometheus.NewRegistry()}
	f.pr = &fakeProber{clk: f.clk}
	f.ex = &fakeExecutor{stateDir: f.dir}
	opts := controller.DefaultOptions()
	opts.Target = "SQLB1"
	opts.ConfirmAfter = 30 * time.Second
	opts.MinFailedProbes = 2
	ctrl, err := controller.New(zaptest.NewLogger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	met, err := metrics.New(f.reg, metrics.Options{Groups: []metrics.Group{{Name: "mgc", DataLossBudget: 5 * time.Minute}},
		Databases: []metrics.Database{{Name: "mgc", Mirrored: true, BackupThreshold: time.Hour, RestoreThreshold: time.Hour}},
		Instances: []metrics.Instance{{Name: "SQLA1", Site: "A", Role: metrics.RolePrincipal}, {Name: "SQLA2", Site: "A", Role: metrics.RoleMirror},
			{Name: "SQLB1", Site: "B", Role: metrics.RoleSecondary}}})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Clock: f.clk, Controller: ctrl, Prober: f.pr, Observers: fakeObservers{}, Signals: f.sig, Executor: f.ex, Metrics: met}
	if trusted {
		st, err := journal.Open(zaptest.NewLogger(t), journal.Options{Dir: f.dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		d.Store = st
	} else {
		d.StoreErr = errors.New("journal ends with a torn record at line 7")
	}
	f.loop, err = New(zaptest.NewLogger(t), Options{Interval: 10 * time.Second, Databases: []string{"mgc"},
		MirroringInstances: []string{"SQLA1", "SQLA2"}, ApproveFlags: "--config /etc/sqldr.yml"}, d)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) cycle(t *testing.T) Result {
	t.Helper()
	res, err := f.loop.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	f.clk.Step(10 * time.Second)
	return res
}

// TestPersistsBeforeActing: the status file already says Promoting with the approved plan when the
// executor runs the first step; the approve command in /status names the configured flags.
func TestPersistsBeforeActing(t *testing.T) {
	f := newFixture(t, true)
	for range 10 {
		f.cycle(t)
		if f.loop.Status().State == controller.StateAwaitingApproval {
			break
		}
	}
	v := f.loop.View()
	if v.State != controller.StateAwaitingApproval || v.Plan == nil {
		t.Fatalf("state %s", v.State)
	}
	if want := "sqldr approve --plan " + v.Plan.ID + " --config /etc/sqldr.yml"; v.ApproveCommand != want {
		t.Fatalf("approve command %q, want %q", v.ApproveCommand, want)
	}
	if len(f.ex.actions) != 0 {
		t.Fatalf("acted before approval: %v", f.ex.actions)
	}
	f.sig.mu.Lock()
	f.sig.approve = true
	f.sig.mu.Unlock()
	res := f.cycle(t)
	if len(f.ex.actions) != 1 || f.ex.actions[0].Kind != controller.ActionRunStep || f.ex.actions[0].Step != controller.StepRecheck {
		t.Fatalf("actions %v", f.ex.actions)
	}
	if !strings.Contains(f.ex.onDisk[0], `"state":"Promoting"`) || !strings.Contains(f.ex.onDisk[0], v.Plan.ID) {
		t.Fatalf("status file when the step ran: %s", f.ex.onDisk[0])
	}
	if !res.Acted || res.RequeueAfter != 0 {
		t.Fatalf("a cycle that acted requeues at once: %+v", res)
	}
	f.cycle(t) // the failed step's report reaches Decide
	if s := f.loop.Status().State; s != controller.StatePromotionFailed {
		t.Fatalf("state %s after a failed step", s)
	}
}

// TestUntrustedNeverActs: with an untrusted state directory the loop probes and reports why, but
// never reads signals or acts; /status, /readyz and the read-only rule.
func TestUntrustedNeverActs(t *testing.T) {
	f := newFixture(t, false)
	h := f.loop.Handler(f.reg)
	get := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	if code, _ := get(http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before any reconcile: %d", code)
	}
	f.sig.approve = true
	for range 8 {
		f.cycle(t)
	}
	if len(f.ex.actions) != 0 || f.sig.scans != 0 {
		t.Fatalf("untrusted loop acted %v / scanned signals %d times", f.ex.actions, f.sig.scans)
	}
	if f.pr.calls != 8 {
		t.Fatalf("probed %d times", f.pr.calls)
	}
	code, body := get(http.MethodGet, "/status")
	var v View
	if err := json.Unmarshal([]byte(body), &v); err != nil || code != http.StatusOK {
		t.Fatalf("/status %d %v: %s", code, err, body)
	}
	if v.Trusted || !strings.Contains(v.UntrustedReason, "torn record") || v.State != controller.StateUnknown || len(v.Instances) != 3 {
		t.Fatalf("view %+v", v)
	}
	if v.Corroboration.Verdict != observer.VerdictDown {
		t.Fatalf("corroboration %s", v.Corroboration.Verdict)
	}
	// The last cycle finished 10s ago on the loop's clock: ready; much later: not.
	if code, _ := get(http.MethodGet, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after reconciles: %d", code)
	}
	f.clk.Step(time.Hour)
	if code, _ := get(http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz an hour after the last reconcile: %d", code)
	}
	if code, _ := get(http.MethodPost, "/status"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /status: %d", code)
	}
	if code, body := get(http.MethodGet, "/metrics"); code != http.StatusOK || !strings.Contains(body, `sqldr_probe_up{role="secondary",site="B",sql_instance="SQLB1"} 1`) {
		t.Fatalf("/metrics %d: %.500s", code, body)
	}
}

// TestRunWaitsOnTheClockAndStops: Run reconciles once per interval of its clock and returns nil
// when cancelled.
func TestRunWaitsOnTheClockAndStops(t *testing.T) {
	f := newFixture(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.loop.Run(ctx) }()
	waitUntil := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			tm := time.NewTimer(time.Millisecond)
			<-tm.C
		}
	}
	calls := func() int { f.pr.mu.Lock(); defer f.pr.mu.Unlock(); return f.pr.calls }
	for i := 1; i <= 3; i++ {
		waitUntil("the loop to wait on its clock", f.clk.HasWaiters)
		if got := calls(); got != i {
			t.Fatalf("%d probes before %d intervals passed", got, i-1)
		}
		f.clk.Step(10 * time.Second)
		waitUntil("the next cycle", func() bool { return calls() == i+1 })
	}
	waitUntil("the loop to wait on its clock", f.clk.HasWaiters)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if f.loop.View().Cycles != 4 {
		t.Fatalf("cycles %d", f.loop.View().Cycles)
	}
}

func TestNewRejectsMissingDeps(t *testing.T) {
	_, err := New(zaptest.NewLogger(t), Options{}, Deps{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"clock is nil", "controller is nil", "prober is nil", "signal reader is nil", "executor is nil", "neither a store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCorroborationMapsEveryVerdict(t *testing.T) {
	want := map[observer.Verdict]controller.CorroborationVerdict{
		observer.VerdictNone: controller.CorroborationNone, observer.VerdictNotConfigured: controller.CorroborationNotConfigured,
		observer.VerdictDown: controller.CorroborationDown, observer.VerdictVetoed: controller.CorroborationVetoed,
	}
	for _, v := range observer.Verdicts {
		got := Corroboration(observer.Result{Verdict: v, Detail: "d"})
		if got.Verdict != want[v] || got.Detail != "d" || got.Verdict.String() != v.String() {
			t.Errorf("%s → %s", v, got.Verdict)
		}
	}
}

// blockingExecutor holds every action until released, as a long RESTORE would.
type blockingExecutor struct {
	started chan controller.Action
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (x *blockingExecutor) Execute(_ context.Context, req runbook.Request) ([]controller.StepResult, error) {
	x.mu.Lock()
	x.n++
	x.mu.Unlock()
	x.started <- req.Action
	<-x.release
	return []controller.StepResult{
		{Plan: req.Action.Plan, Step: req.Action.Step, Attempt: req.Action.Attempt, Outcome: controller.OutcomeStarted},
		{Plan: req.Action.Plan, Step: req.Action.Step, Attempt: req.Action.Attempt, Outcome: controller.OutcomeDone}}, nil
}

// TestShutdownLetsTheRunningStepComplete: a shutdown requested while a step runs waits for it;
// its result is kept, and no further step starts.
func TestShutdownLetsTheRunningStepComplete(t *testing.T) {
	f := newFixture(t, true)
	bx := &blockingExecutor{started: make(chan controller.Action, 4), release: make(chan struct{})}
	f.loop.d.Executor = bx
	for range 10 {
		f.cycle(t)
		if f.loop.Status().State == controller.StateAwaitingApproval {
			break
		}
	}
	f.sig.mu.Lock()
	f.sig.approve = true
	f.sig.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.loop.Run(ctx) }()
	a := <-bx.started
	if a.Step != controller.StepRecheck {
		t.Fatalf("first step %s", a.Step)
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned while a step was running: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(bx.release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	bx.mu.Lock()
	n := bx.n
	bx.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d steps ran after the shutdown request", n)
	}
	f.loop.mu.Lock()
	pending := len(f.loop.pending)
	f.loop.mu.Unlock()
	if pending != 2 {
		t.Fatalf("the running step's records were not kept for the next Decide: %d", pending)
	}
}

// BenchmarkReconcile measures one cycle's own cost (decide, persist with fsync, metrics) with
// instant fakes for the prober, observers and signals.
func BenchmarkReconcile(b *testing.B) {
	clk := clocktesting.NewFakeClock(t0)
	dir := b.TempDir()
	opts := controller.DefaultOptions()
	opts.Target = "SQLB1"
	ctrl, err := controller.New(zaptestNop(), opts)
	if err != nil {
		b.Fatal(err)
	}
	st, err := journal.Open(zaptestNop(), journal.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	loop, err := New(zaptestNop(), Options{Interval: 10 * time.Second, Databases: []string{"mgc"}},
		Deps{Clock: clk, Controller: ctrl, Store: st, Prober: &fakeProber{clk: clk}, Observers: fakeObservers{},
			Signals: &fakeSignals{}, Executor: &fakeExecutor{stateDir: dir}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loop.Reconcile(context.Background()); err != nil {
			b.Fatal(err)
		}
		clk.Step(time.Second)
	}
}

// BenchmarkView measures building the /status document.
func BenchmarkView(b *testing.B) {
	clk := clocktesting.NewFakeClock(t0)
	opts := controller.DefaultOptions()
	ctrl, err := controller.New(zaptestNop(), opts)
	if err != nil {
		b.Fatal(err)
	}
	loop, err := New(zaptestNop(), Options{Databases: []string{"mgc"}}, Deps{Clock: clk, Controller: ctrl, StoreErr: errors.New("x"),
		Prober: &fakeProber{clk: clk}, Signals: &fakeSignals{}, Executor: &fakeExecutor{}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := loop.Reconcile(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(loop.View()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBlockReasonsAreDistinctAndPrecreated(t *testing.T) {
	seen := map[string]controller.Gate{}
	for _, g := range controller.Gates {
		r := BlockReason(g)
		if prev, dup := seen[r]; dup {
			t.Fatalf("gates %s and %s share reason %s", prev, g, r)
		}
		seen[r] = g
	}
	for _, r := range metrics.DefaultBlockReasons {
		if _, ok := seen[r]; !ok {
			t.Errorf("metrics reason %s has no gate", r)
		}
	}
}

// TestCancelledCycleDecidesNothing: a cycle whose context ends during the probe (a shutdown)
// concludes nothing about site A.
func TestCancelledCycleDecidesNothing(t *testing.T) {
	f := newFixture(t, true)
	f.cycle(t)
	before := f.loop.View()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, err := f.loop.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		f.clk.Step(time.Minute)
	}
	after := f.loop.View()
	if after.Cycles != before.Cycles || after.State != before.State || after.Outage.Failures != before.Outage.Failures {
		t.Fatalf("cancelled cycles decided: before %d %s %d, after %d %s %d", before.Cycles, before.State,
			before.Outage.Failures, after.Cycles, after.State, after.Outage.Failures)
	}
}

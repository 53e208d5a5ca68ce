package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/signal"
)

// e2e is the demo world (lab, observer, daemon on one accelerated simulated clock) under test.
type e2e struct {
	t    *testing.T
	log  *zap.Logger
	w    *demoWorld
	d    *reconcile.Daemon
	addr string
	stop func() error
}

// demoCheckLeaks verifies, after every other cleanup of the test, that no goroutine it started is left.
func demoCheckLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func newE2E(t *testing.T, o demoOptions, oo reconcile.OpenOptions) *e2e {
	t.Helper()
	demoCheckLeaks(t)
	if o.start.IsZero() {
		// A day in the past: signal files, stamped by the real clock, are newer than any plan.
		o.start = time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	}
	if o.speed == 0 {
		o.speed = 60
	}
	if o.mode == "" {
		o.mode = "auto"
	}
	if o.timing == (demoTiming{}) {
		o.timing = defaultDemoTiming()
		// Generous on a loaded machine: an observation counts for 3 simulated minutes.
		o.timing.observerMaxAge = 3 * time.Minute
	}
	e := &e2e{t: t, log: zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))}
	w, err := startDemoWorld(e.log, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	t.Cleanup(w.close)
	e.startDaemon(oo)
	return e
}

func (e *e2e) startDaemon(oo reconcile.OpenOptions) {
	e.t.Helper()
	d, err := e.w.openDaemon(oo)
	if err != nil {
		e.t.Fatalf("open daemon: %v", err)
	}
	addr, stop, err := e.w.runDaemon(d)
	if err != nil {
		e.t.Fatal(err)
	}
	e.d, e.addr, e.stop = d, addr, stop
	e.t.Cleanup(func() {
		if err := stop(); err != nil {
			e.t.Errorf("stop daemon: %v", err)
		}
	})
}

// restart stops the daemon (as a kill would leave it: nothing more is written once it stopped
// acting) and starts a new one on the same state directory.
func (e *e2e) restart(oo reconcile.OpenOptions) {
	e.t.Helper()
	if err := e.stop(); err != nil {
		e.t.Fatalf("stop daemon: %v", err)
	}
	e.startDaemon(oo)
}

// waitFor waits (real time, bounded) until the daemon's /status view satisfies cond.
func (e *e2e) waitFor(what string, cond func(reconcile.View) bool) reconcile.View {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := e.d.Loop.View()
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; state %s (%s), verdict %q, plan %+v, last error %q",
				what, v.State, v.Reason, v.VerdictText, v.Plan, v.LastError)
		}
		tm := time.NewTimer(10 * time.Millisecond)
		<-tm.C
	}
}

func inState(s ...controller.State) func(reconcile.View) bool {
	return func(v reconcile.View) bool {
		for _, x := range s {
			if v.State == x {
				return true
			}
		}
		return false
	}
}

// shipping waits until site A is healthy, logs were shipped for three simulated minutes and the
// data-loss window is known.
func (e *e2e) shipping() {
	e.t.Helper()
	start := e.w.clk.Now()
	e.waitFor("healthy shipping", func(v reconcile.View) bool {
		return v.State == controller.StateHealthy && v.DataLoss.Known && e.w.clk.Now().Sub(start) >= 3*time.Minute
	})
}

func (e *e2e) inject(f lab.Fault) int {
	e.t.Helper()
	id, err := e.w.topo.Inject(f)
	if err != nil {
		e.t.Fatalf("inject %+v: %v", f, err)
	}
	return id
}

func (e *e2e) heal(id int) {
	e.t.Helper()
	if err := e.w.topo.Heal(id); err != nil {
		e.t.Fatalf("heal %d: %v", id, err)
	}
}

func (e *e2e) insert(inst string) error {
	return e.w.insert(context.Background(), inst, "mgc")
}

func (e *e2e) mustWrite(inst string) {
	e.t.Helper()
	if err := e.insert(inst); err != nil {
		e.t.Fatalf("%s.mgc does not take an INSERT: %v", inst, err)
	}
}

func (e *e2e) mustNotWrite(inst string) {
	e.t.Helper()
	if err := e.insert(inst); err == nil {
		e.t.Fatalf("%s.mgc took an INSERT", inst)
	}
}

func (e *e2e) signalDir() string { return filepath.Join(e.w.stateDir, "signals") }

// writeSignal writes a signal file as `sqldr approve|ack|retry|pause` would; a non-zero mtime
// stamps it at that instant.
func (e *e2e) writeSignal(k signal.Kind, plan string, mtime time.Time) {
	e.t.Helper()
	dir, err := signalDir(e.w.stateDir)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := signal.Write(dir, k, plan); err != nil {
		e.t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(filepath.Join(dir, k.String()), mtime, mtime); err != nil {
			e.t.Fatal(err)
		}
	}
}

// signalFiles lists the signal directory's file names matching a prefix.
func (e *e2e) signalFiles(prefix string) []string {
	ents, err := os.ReadDir(e.signalDir())
	if err != nil {
		return nil
	}
	var out []string
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), prefix) {
			out = append(out, en.Name())
		}
	}
	return out
}

func (e *e2e) dbState(inst string) lab.DatabaseInfo {
	e.t.Helper()
	in, err := e.w.topo.Instance(inst)
	if err != nil {
		e.t.Fatal(err)
	}
	d, ok := in.Database("mgc")
	if !ok {
		e.t.Fatalf("no mgc on %s", inst)
	}
	return d
}

// journalRecords reads the state directory's journal (the daemon must be stopped).
func (e *e2e) journalRecords() []journal.Record {
	e.t.Helper()
	st, err := journal.Open(zap.NewNop(), journal.Options{Dir: e.w.stateDir})
	if err != nil {
		e.t.Fatalf("open journal: %v", err)
	}
	defer func() { _ = st.Close() }()
	return st.Records()
}

func (e *e2e) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get("http://" + e.addr + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestE2EAutomaticPromotion: site A lost, the observer corroborates, the daemon promotes unattended;
// /status, /readyz, /metrics and `sqldr status` tell the story; the secondary takes an INSERT.
func TestE2EAutomaticPromotion(t *testing.T) {
	e := newE2E(t, demoOptions{observer: true}, reconcile.OpenOptions{})
	e.shipping()
	if code, body := e.get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, _ := e.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	e.mustNotWrite("SQLB1")
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed, controller.StateAwaitingApproval))
	if v.State != controller.StatePromoted {
		t.Fatalf("state %s (%s), verdict %s", v.State, v.Reason, v.VerdictText)
	}
	if v.Plan == nil || v.Plan.Approval == nil || v.Plan.Approval.By != "auto" {
		t.Fatalf("plan not approved automatically: %+v", v.Plan)
	}
	if v.Corroboration.Verdict.String() != "corroborated_down" {
		t.Fatalf("corroboration %s", v.Corroboration.Verdict)
	}
	e.mustWrite("SQLB1")
	if d := e.dbState("SQLB1"); d.State != lab.StateOnline || d.ReadOnly || d.Standby {
		t.Fatalf("SQLB1.mgc %+v", d)
	}
	if d, _ := func() (lab.DatabaseInfo, bool) {
		in, _ := e.w.topo.Instance("SQLB1")
		return in.Database("mgccomp")
	}(); d.State != lab.StateRestoring {
		t.Fatalf("mgccomp (outside the group) was recovered: %s", d.State)
	}
	var seq []string
	for _, tr := range v.Transitions {
		seq = append(seq, tr.To.String())
	}
	if got := strings.Join(seq, ","); !strings.Contains(got, "SiteSuspect,SiteDown,Promoting,Promoted") {
		t.Fatalf("transitions %s", got)
	}
	_, metrics := e.get("/metrics")
	for _, want := range []string{`sqldr_state{group="mgc",state="Promoted"} 1`, `sqldr_promotions_total{group="mgc",result="promoted"} 1`,
		`sqldr_transitions_total{from="SiteDown",group="mgc",to="Promoting"} 1`, `sqldr_probe_up{role="secondary",site="B",sql_instance="SQLB1"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	out := runCLI(t, "status", "--addr", e.addr)
	for _, want := range []string{"Group mgc: Promoted", "SQLB1", "Recent transitions:", "SiteDown → Promoting"} {
		if !strings.Contains(out, want) {
			t.Errorf("sqldr status lacks %q:\n%s", want, out)
		}
	}
	if code, _ := func() (int, string) {
		resp, err := http.Post("http://"+e.addr+"/status", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, ""
	}(); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /status: %d", code)
	}
}

// TestE2EApprovalFlow: malformed, wrong-plan and stale approvals are rejected (renamed aside,
// nothing promoted); a valid one promotes.
func TestE2EApprovalFlow(t *testing.T) {
	e := newE2E(t, demoOptions{mode: "approval", observer: true}, reconcile.OpenOptions{})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("a pending plan", inState(controller.StateAwaitingApproval))
	plan := v.Plan.ID
	if !strings.Contains(v.ApproveCommand, "sqldr approve --plan "+plan+" --state-dir ") {
		t.Fatalf("approve command %q", v.ApproveCommand)
	}
	dir, err := signalDir(e.w.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, reason string
		write        func()
	}{
		{"malformed", "malformed", func() {
			if err := os.WriteFile(filepath.Join(dir, "approve"), []byte("yes please\n"), 0o640); err != nil {
				t.Fatal(err)
			}
		}},
		{"wrong plan", "wrong_plan", func() { e.writeSignal(signal.KindApprove, "mgc-other-9", time.Time{}) }},
		{"stale", "stale", func() { e.writeSignal(signal.KindApprove, plan, e.w.clk.Now().Add(-20*time.Minute)) }},
	}
	for _, c := range cases {
		c.write()
		e.waitFor(c.name+" approval rejected", func(reconcile.View) bool {
			return len(e.signalFiles("approve.rejected."+c.reason+".")) == 1
		})
		if v := e.d.Loop.View(); v.State != controller.StateAwaitingApproval || v.Plan.ID != plan {
			t.Fatalf("after a %s approval: state %s plan %s", c.name, v.State, v.Plan.ID)
		}
		e.mustNotWrite("SQLB1")
	}
	// The operator's command, as the demo prints it.
	out := runCLI(t, "approve", "--plan", plan, "--state-dir", e.w.stateDir)
	if !strings.Contains(out, "wrote ") {
		t.Fatalf("approve printed %q", out)
	}
	v = e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed))
	if v.State != controller.StatePromoted || v.Plan.Approval == nil || v.Plan.Approval.By != "operator" {
		t.Fatalf("state %s approval %+v", v.State, v.Plan.Approval)
	}
	if n := len(e.signalFiles("approve.consumed." + plan)); n != 1 {
		t.Fatalf("%d consumed approvals", n)
	}
	e.mustWrite("SQLB1")
	_, m := e.get("/metrics")
	for _, r := range []string{"malformed", "wrong_plan", "stale"} {
		if !strings.Contains(m, `sqldr_signals_rejected_total{reason="`+r+`"} 1`) {
			t.Errorf("rejection %s not counted", r)
		}
	}
}

// TestE2EPause: a pause holds a confirmed-down site at SiteDown (no plan, the gate says why);
// resume lets the promotion start.
func TestE2EPause(t *testing.T) {
	e := newE2E(t, demoOptions{observer: true}, reconcile.OpenOptions{})
	e.shipping()
	runCLI(t, "pause", "--state-dir", e.w.stateDir)
	e.waitFor("the pause flag", func(v reconcile.View) bool { return v.Paused })
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("site confirmed down", inState(controller.StateSiteDown, controller.StatePromoting, controller.StatePromoted))
	if v.State != controller.StateSiteDown {
		t.Fatalf("paused daemon went to %s", v.State)
	}
	// Held for a while of simulated time: still no plan, the paused gate blocks.
	held := e.w.clk.Now()
	v = e.waitFor("time to pass", func(reconcile.View) bool { return e.w.clk.Now().Sub(held) > 2*time.Minute })
	if v.State != controller.StateSiteDown || v.Plan != nil && v.State == controller.StatePromoting {
		t.Fatalf("state %s while paused", v.State)
	}
	if !v.Verdict.Blocks(controller.GatePaused) {
		t.Fatalf("verdict %s does not name the pause", v.VerdictText)
	}
	if _, m := e.get("/metrics"); !strings.Contains(m, `sqldr_promotion_blocked{group="mgc",reason="paused"} 1`) {
		t.Errorf("the paused gate is not exported")
	}
	e.mustNotWrite("SQLB1")
	runCLI(t, "resume", "--state-dir", e.w.stateDir)
	v = e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed))
	if v.State != controller.StatePromoted {
		t.Fatalf("state %s", v.State)
	}
	e.mustWrite("SQLB1")
}

// TestE2EHookVeto: a pre-promote hook exits non-zero: the runbook stops before anything changed,
// nothing is recovered.
func TestE2EHookVeto(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "veto.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho vetoed by the change board >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, demoOptions{observer: true, extraYAML: "hooks:\n  pre_promote:\n    - name: change-board\n      command: " + script + "\n      timeout: 30s\n"},
		reconcile.OpenOptions{})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("the promotion to stop", inState(controller.StatePromotionFailed, controller.StatePromoted))
	if v.State != controller.StatePromotionFailed || v.Plan.FailedStep != controller.StepPreHooks {
		t.Fatalf("state %s failed step %s (%s)", v.State, v.Plan.FailedStep, v.Plan.FailReason)
	}
	if len(v.Plan.Recovered) != 0 {
		t.Fatalf("recovered %v after a veto", v.Plan.Recovered)
	}
	if d := e.dbState("SQLB1"); d.State != lab.StateRestoring {
		t.Fatalf("SQLB1.mgc %s after a veto", d.State)
	}
	e.mustNotWrite("SQLB1")
	_, m := e.get("/metrics")
	if !strings.Contains(m, `sqldr_promotions_total{group="mgc",result="aborted"} 1`) {
		t.Errorf("the vetoed promotion is not counted as aborted")
	}
}

// TestE2EBrokenChain: a log backup taken outside log shipping leaves a gap; the final restore meets
// 4305 and the promotion fails with nothing recovered.
func TestE2EBrokenChain(t *testing.T) {
	e := newE2E(t, demoOptions{mode: "approval", observer: true}, reconcile.OpenOptions{})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "secondary", Job: "restore"})
	e.inject(lab.Fault{Kind: lab.FaultRogueBackup, Target: "principal", Database: "mgc"})
	start := e.w.clk.Now()
	e.waitFor("shipping past the gap", func(reconcile.View) bool { return e.w.clk.Now().Sub(start) > 3*time.Minute })
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("a pending plan", inState(controller.StateAwaitingApproval))
	e.writeSignal(signal.KindApprove, v.Plan.ID, time.Time{})
	v = e.waitFor("the promotion to stop", inState(controller.StatePromotionFailed, controller.StatePromoted))
	if v.State != controller.StatePromotionFailed || v.Plan.FailedStep != controller.StepFinalRestore {
		t.Fatalf("state %s failed step %s (%s)", v.State, v.Plan.FailedStep, v.Plan.FailReason)
	}
	if !strings.Contains(v.Plan.FailReason, "4305") {
		t.Fatalf("fail reason %q does not name 4305", v.Plan.FailReason)
	}
	if len(v.Plan.Recovered) != 0 || e.dbState("SQLB1").State != lab.StateRestoring {
		t.Fatalf("recovered %v, SQLB1.mgc %s", v.Plan.Recovered, e.dbState("SQLB1").State)
	}
	e.mustNotWrite("SQLB1")
}

// TestE2ESiteReturnsBeforeApproval: site A comes back while the plan waits: the plan is cancelled
// and nothing is recovered.
func TestE2ESiteReturnsBeforeApproval(t *testing.T) {
	e := newE2E(t, demoOptions{mode: "approval", observer: true}, reconcile.OpenOptions{})
	e.shipping()
	id := e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("a pending plan", inState(controller.StateAwaitingApproval))
	plan := v.Plan.ID
	e.heal(id)
	v = e.waitFor("site A back", inState(controller.StateHealthy, controller.StateDegraded))
	if v.Plan != nil && v.Plan.ID == plan && v.State == controller.StateAwaitingApproval {
		t.Fatalf("plan %s still pending", plan)
	}
	// A late approval of the cancelled plan is refused.
	e.writeSignal(signal.KindApprove, plan, time.Time{})
	e.waitFor("the late approval rejected", func(reconcile.View) bool { return len(e.signalFiles("approve.rejected.")) == 1 })
	if v := e.d.Loop.View(); v.State == controller.StatePromoting || v.State == controller.StatePromoted {
		t.Fatalf("state %s after a late approval", v.State)
	}
	if d := e.dbState("SQLB1"); d.State != lab.StateRestoring {
		t.Fatalf("SQLB1.mgc %s", d.State)
	}
	e.mustNotWrite("SQLB1")
	e.mustWrite("SQLA1")
}

// TestE2EOldPrincipalReturns: after promotion the old principal comes back ONLINE and writable:
// SplitBrainRisk, fenced, back to Promoted; only the secondary takes writes.
func TestE2EOldPrincipalReturns(t *testing.T) {
	e := newE2E(t, demoOptions{observer: true}, reconcile.OpenOptions{})
	e.shipping()
	id := e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.waitFor("promotion", inState(controller.StatePromoted))
	e.heal(id)
	e.inject(lab.Fault{Kind: lab.FaultWritable, Target: "SQLA1"})
	e.waitFor("split-brain risk", func(v reconcile.View) bool {
		for _, tr := range v.Transitions {
			if tr.To == controller.StateSplitBrainRisk {
				return true
			}
		}
		return false
	})
	v := e.waitFor("fenced", func(v reconcile.View) bool {
		n := len(v.Transitions)
		return v.State == controller.StatePromoted && n > 0 && v.Transitions[n-1].From == controller.StateSplitBrainRisk
	})
	if d := e.dbState("SQLA1"); d.State == lab.StateOnline && !d.ReadOnly && d.Access == lab.MultiUser {
		t.Fatalf("SQLA1.mgc still writable after the fence: %+v (state %s)", d, v.State)
	}
	e.mustNotWrite("SQLA1")
	e.mustWrite("SQLB1")
}

// crashes injects simulated crashes of the daemon: after a step's end record (a step boundary) or
// instead of a step's end record (the statement ran; the journal never heard of it).
type crashes struct {
	mu       sync.Mutex
	boundary map[controller.Step]bool
	midStep  map[controller.Step]bool
	crashed  int
}

var errSimulatedCrash = errors.New("simulated crash")

type crashExecutor struct {
	c    *crashes
	next reconcile.Executor
}

func (x crashExecutor) Execute(ctx context.Context, req runbook.Request) ([]controller.StepResult, error) {
	res, err := x.next.Execute(ctx, req)
	if err != nil || req.Action.Kind != controller.ActionRunStep {
		return res, err
	}
	x.c.mu.Lock()
	defer x.c.mu.Unlock()
	if x.c.boundary[req.Action.Step] {
		delete(x.c.boundary, req.Action.Step)
		x.c.crashed++
		return res, fmt.Errorf("after %s: %w", req.Action.Step, errSimulatedCrash)
	}
	return res, nil
}

type crashJournal struct {
	c    *crashes
	next runbook.Journal
}

func (j crashJournal) Append(kind string, at time.Time, data any) (journal.Record, error) {
	if r, ok := data.(controller.StepResult); ok && kind == controller.JournalKindStep && r.Outcome == controller.OutcomeDone {
		j.c.mu.Lock()
		hit := j.c.midStep[r.Step]
		if hit {
			delete(j.c.midStep, r.Step)
			j.c.crashed++
		}
		j.c.mu.Unlock()
		if hit {
			return journal.Record{}, fmt.Errorf("end of %s: %w", r.Step, errSimulatedCrash)
		}
	}
	return j.next.Append(kind, at, data)
}

func (c *crashes) options() reconcile.OpenOptions {
	return reconcile.OpenOptions{
		WrapExecutor: func(x reconcile.Executor) reconcile.Executor { return crashExecutor{c: c, next: x} },
		WrapJournal:  func(j runbook.Journal) runbook.Journal { return crashJournal{c: c, next: j} },
	}
}

// TestE2EDaemonKilledAtEveryStep kills the daemon at every step boundary and, in a second run,
// between every step's effect and its journal record, restarting it each time on the same state
// directory: the promotion completes, every step started once, and each hook ran once.
func TestE2EDaemonKilledAtEveryStep(t *testing.T) {
	for _, mode := range []string{"boundary", "mid-step"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			hookLog := filepath.Join(dir, "hooks.log")
			script := filepath.Join(dir, "hook.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $SQLDR_PLAN_ID\" >> "+hookLog+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := &crashes{boundary: map[controller.Step]bool{}, midStep: map[controller.Step]bool{}}
			for _, s := range controller.Runbook {
				if mode == "boundary" {
					c.boundary[s] = true
				} else {
					c.midStep[s] = true
				}
			}
			e := newE2E(t, demoOptions{observer: true, extraYAML: "hooks:\n  pre_promote:\n    - name: pre\n      command: " + script +
				"\n      args: [pre]\n  post_promote:\n    - name: post\n      command: " + script + "\n      args: [post]\n"}, c.options())
			e.shipping()
			e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
			e.waitFor("promoting", inState(controller.StatePromoting, controller.StatePromoted))
			for restarts := 0; ; restarts++ {
				if restarts > 2*len(controller.Runbook) {
					t.Fatalf("more restarts than steps")
				}
				v := e.waitFor("a crash or the end", func(v reconcile.View) bool {
					return !v.Trusted || v.State == controller.StatePromoted || v.State == controller.StatePromotionFailed
				})
				if v.Trusted {
					if v.State != controller.StatePromoted {
						t.Fatalf("state %s: %s", v.State, planFailure(v.Plan))
					}
					break
				}
				if !strings.Contains(v.UntrustedReason, errSimulatedCrash.Error()) {
					t.Fatalf("untrusted for another reason: %s", v.UntrustedReason)
				}
				e.restart(c.options())
			}
			c.mu.Lock()
			crashed := c.crashed
			c.mu.Unlock()
			if crashed != len(controller.Runbook) {
				t.Fatalf("%d crashes, want %d", crashed, len(controller.Runbook))
			}
			e.mustWrite("SQLB1")
			v := e.d.Loop.View()
			var seq []string
			for _, tr := range v.Transitions {
				seq = append(seq, tr.To.String())
			}
			// The restarted daemon's /status still shows the transitions made before the crashes.
			if got := strings.Join(seq, ","); !strings.Contains(got, "SiteSuspect,SiteDown,Promoting,Promoted") {
				t.Errorf("transitions after restarts: %s", got)
			}
			if err := e.stop(); err != nil {
				t.Fatal(err)
			}
			started := map[controller.Step]int{}
			for _, r := range e.journalRecords() {
				if r.Kind != controller.JournalKindStep {
					continue
				}
				var sr controller.StepResult
				if err := r.Decode(&sr); err != nil {
					t.Fatal(err)
				}
				if sr.Plan == v.Plan.ID && sr.Outcome == controller.OutcomeStarted {
					started[sr.Step]++
				}
			}
			for _, s := range controller.Runbook {
				if started[s] != 1 {
					t.Errorf("step %s started %d times", s, started[s])
				}
			}
			b, err := os.ReadFile(hookLog)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(b), "pre "); got != 1 {
				t.Errorf("pre-promote hook ran %d times:\n%s", got, b)
			}
			if got := strings.Count(string(b), "post "); got != 1 {
				t.Errorf("post-promote hook ran %d times:\n%s", got, b)
			}
		})
	}
}

// TestE2ESecondDaemonAndUntrustedJournal: a second daemon on the same state directory refuses to
// start; a daemon on a corrupt journal observes and says why, and never acts.
func TestE2ESecondDaemonAndUntrustedJournal(t *testing.T) {
	e := newE2E(t, demoOptions{mode: "auto", observer: true}, reconcile.OpenOptions{})
	e.waitFor("a first reconcile", func(v reconcile.View) bool { return v.Cycles > 0 })
	if _, err := e.w.openDaemon(reconcile.OpenOptions{}); !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("second daemon: %v", err)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	jf := filepath.Join(e.w.stateDir, journal.JournalFile)
	f, err := os.OpenFile(jf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("{\"seq\":999,\"kind\":\"transition\",\"da"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	e.startDaemon(reconcile.OpenOptions{})
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	start := e.w.clk.Now()
	v := e.waitFor("time to pass", func(v reconcile.View) bool { return e.w.clk.Now().Sub(start) > 3*time.Minute && v.Cycles > 3 })
	if v.Trusted || !strings.Contains(v.UntrustedReason, "cannot be trusted") {
		t.Fatalf("trusted %v reason %q", v.Trusted, v.UntrustedReason)
	}
	if v.State != controller.StateUnknown || v.Plan != nil {
		t.Fatalf("an untrusted daemon moved: %s %+v", v.State, v.Plan)
	}
	e.mustNotWrite("SQLB1")
	out := runCLI(t, "status", "--addr", e.addr)
	if !strings.Contains(out, "NOT ACTING") {
		t.Fatalf("sqldr status does not say it is not acting:\n%s", out)
	}
}

var approveLine = regexp.MustCompile(`go run \./cmd/sqldr (approve --plan \S+ --state-dir \S+)`)

// TestDemoCommand runs `sqldr demo` in both modes as a user would; in approval mode the test plays
// the operator in the other terminal.
func TestDemoCommand(t *testing.T) {
	for _, mode := range []string{"auto", "approval"} {
		t.Run(mode, func(t *testing.T) {
			demoCheckLeaks(t)
			out := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run([]string{"demo", "--mode", mode, "--speed", "60", "--timeout", "3m"}, out, out) }()
			if mode == "approval" {
				deadline := time.Now().Add(90 * time.Second)
				var m []string
				for m == nil {
					if time.Now().After(deadline) {
						t.Fatalf("no approve command printed:\n%s", out)
					}
					tm := time.NewTimer(20 * time.Millisecond)
					<-tm.C
					m = approveLine.FindStringSubmatch(out.String())
				}
				if code := run(strings.Fields(m[1]), io.Discard, io.Discard); code != exitOK {
					t.Fatalf("approve exited %d", code)
				}
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(3 * time.Minute):
				t.Fatalf("demo did not finish:\n%s", out)
			}
			text := out.String()
			if code != exitOK {
				t.Fatalf("demo exited %d:\n%s", code, text)
			}
			for _, want := range []string{"WAN LINK CUT", "no automatic promotion: vetoed by an observer", "site A returned before the plan started: plan cancelled", "SITE A LOST", "Healthy → SiteSuspect", "SiteSuspect → SiteDown", "step recover", "Promoting → Promoted",
				"detection:", "promotion:", "predicted window", "rows actually lost", "SQLB1  site B  up    mgc ONLINE", "INSERT INTO mgc.dbo.messages on SQLB1 succeeded"} {
				if !strings.Contains(text, want) {
					t.Errorf("demo output lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// TestE2ECooldown: a promotion that was vetoed and acknowledged while nothing was recovered still
// holds the cooldown: the next loss of site A is not promoted automatically (the gate says why),
// only after an operator approves the new plan.
func TestE2ECooldown(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "vetoed-once")
	script := filepath.Join(dir, "veto-once.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nif [ -f "+marker+" ]; then exit 0; fi\ntouch "+marker+"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, demoOptions{observer: true, extraYAML: "hooks:\n  pre_promote:\n    - name: veto-once\n      command: " + script + "\n"},
		reconcile.OpenOptions{})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("the vetoed promotion", inState(controller.StatePromotionFailed, controller.StatePromoted))
	if v.State != controller.StatePromotionFailed {
		t.Fatalf("state %s", v.State)
	}
	first := v.Plan.ID
	runCLI(t, "ack", "--plan", first, "--state-dir", e.w.stateDir)
	v = e.waitFor("a new plan", func(v reconcile.View) bool {
		return v.Plan != nil && v.Plan.ID != first && v.State != controller.StatePromotionFailed &&
			(v.State == controller.StateAwaitingApproval || v.State == controller.StatePromoting || v.State == controller.StatePromoted)
	})
	if v.State != controller.StateAwaitingApproval {
		t.Fatalf("promoted automatically within the cooldown: %s", v.State)
	}
	if !v.Verdict.Blocks(controller.GateCooldown) || !strings.Contains(v.VerdictText, first) {
		t.Fatalf("verdict %q does not name the cooldown of %s", v.VerdictText, first)
	}
	e.mustNotWrite("SQLB1")
	runCLI(t, "approve", "--plan", v.Plan.ID, "--state-dir", e.w.stateDir)
	v = e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed))
	if v.State != controller.StatePromoted {
		t.Fatalf("state %s: %s", v.State, planFailure(v.Plan))
	}
	e.mustWrite("SQLB1")
}

// TestE2EStandbyWithReader: the secondary restores WITH STANDBY and a reader is connected to it
// when site A is lost: the promotion ends the reader's session and the database takes writes.
func TestE2EStandbyWithReader(t *testing.T) {
	e := newE2E(t, demoOptions{observer: true, labConfig: func(c *lab.Config) { c.RestoreMode = "standby" }}, reconcile.OpenOptions{})
	e.shipping()
	dsn, err := e.w.saDSN("SQLB1", "mgc")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	var before int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.messages").Scan(&before); err != nil || before == 0 {
		t.Fatalf("the reader cannot read the STANDBY secondary: %d rows, %v", before, err)
	}
	if d := e.dbState("SQLB1"); !d.Standby {
		t.Fatalf("SQLB1.mgc not in STANDBY: %+v", d)
	}
	e.mustNotWrite("SQLB1")
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed, controller.StateAwaitingApproval))
	if v.State != controller.StatePromoted {
		t.Fatalf("state %s: %s / %s", v.State, planFailure(v.Plan), v.VerdictText)
	}
	if d := e.dbState("SQLB1"); d.Standby || d.State != lab.StateOnline || d.Access != lab.MultiUser {
		t.Fatalf("SQLB1.mgc after promotion: %+v", d)
	}
	e.mustWrite("SQLB1")
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.messages").Scan(&n); err == nil {
		t.Fatalf("the reader's session survived the promotion (read %d rows)", n)
	}
}

// beforeStep runs a function before the executor runs a given step (the test's hand in the world).
type beforeStep struct {
	step controller.Step
	fn   func() error
	next reconcile.Executor
}

func (b beforeStep) Execute(ctx context.Context, req runbook.Request) ([]controller.StepResult, error) {
	if req.Action.Kind == controller.ActionRunStep && req.Action.Step == b.step {
		if err := b.fn(); err != nil {
			return nil, err
		}
	}
	return b.next.Execute(ctx, req)
}

// TestE2ECopyJobRunning: the copy job's schedule fires just as the runbook begins recording the
// configuration: the runbook records it running, waits for it, copies and restores the rest, and
// promotes.
func TestE2ECopyJobRunning(t *testing.T) {
	var e *e2e
	started := false
	startCopy := func() error {
		// Real time for a moment: the 2s copy run is still going when record_config reads msdb.
		e.w.setSpeed(1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := e.w.sa["SQLB1"].ExecContext(ctx, "EXEC msdb.dbo.sp_start_job @job_name = N'LSCopy_SQLA1_mgc'")
		started = err == nil
		return nil // an Agent that refuses is the runbook's business, not this test's
	}
	e = newE2E(t, demoOptions{observer: true}, reconcile.OpenOptions{WrapExecutor: func(x reconcile.Executor) reconcile.Executor {
		return beforeStep{step: controller.StepRecordConfig, fn: func() error { return startCopy() }, next: x}
	}})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.waitFor("record_config", func(v reconcile.View) bool {
		return v.Plan != nil && len(v.Plan.Steps) > 2 && v.Plan.Steps[2].Phase == controller.PhaseDone
	})
	e.w.setSpeed(60)
	v := e.waitFor("promotion", inState(controller.StatePromoted, controller.StatePromotionFailed, controller.StateAwaitingApproval))
	if v.State != controller.StatePromoted {
		t.Fatalf("state %s: %s / %s", v.State, planFailure(v.Plan), v.VerdictText)
	}
	e.mustWrite("SQLB1")
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if !started {
		t.Fatal("the copy job could not be started before record_config")
	}
	running := false
	for _, r := range e.journalRecords() {
		if r.Kind != runbook.JournalKindLogShipping {
			continue
		}
		var rec runbook.LogShippingRecord
		if err := r.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		for _, d := range rec.Databases {
			running = running || d.CopyJob.Running
		}
	}
	if !running {
		t.Fatal("the runbook did not record the copy job running")
	}
}

// TestE2ERetry: a promotion stopped by a hook's veto is re-run from its failed step by
// `sqldr retry --plan ID`, and completes.
func TestE2ERetry(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "vetoed-once")
	script := filepath.Join(dir, "veto-once.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nif [ -f "+marker+" ]; then exit 0; fi\ntouch "+marker+"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, demoOptions{observer: true, extraYAML: "hooks:\n  pre_promote:\n    - name: veto-once\n      command: " + script + "\n"},
		reconcile.OpenOptions{})
	e.shipping()
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	v := e.waitFor("the vetoed promotion", inState(controller.StatePromotionFailed, controller.StatePromoted))
	if v.State != controller.StatePromotionFailed {
		t.Fatalf("state %s", v.State)
	}
	plan := v.Plan.ID
	e.mustNotWrite("SQLB1")
	runCLI(t, "retry", "--plan", plan, "--state-dir", e.w.stateDir)
	v = e.waitFor("promotion", func(v reconcile.View) bool {
		return v.State == controller.StatePromoted || v.State == controller.StatePromotionFailed && v.Plan.ID == plan && len(e.signalFiles("retry.consumed.")) == 1 && v.Plan.FailedStep != controller.StepPreHooks
	})
	if v.State != controller.StatePromoted || v.Plan.ID != plan {
		t.Fatalf("state %s plan %s: %s", v.State, v.Plan.ID, planFailure(v.Plan))
	}
	e.mustWrite("SQLB1")
}

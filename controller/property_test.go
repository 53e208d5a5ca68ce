package controller

import (
	"flag"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

// The safety properties checked after every reconcile of a random history.
const (
	propConfirmWindow = "P1 no promotion while site A answered within confirm_after"
	propRecoverAlive  = "P1b no RECOVERY while site A answers"
	propAutoGates     = "P2 automatic promotion only with every gate passing"
	propAutoCooldown  = "P2c no automatic promotion within cooldown of an unacknowledged one"
	propApproval      = "P3 approved promotion only with a valid approval of that very plan"
	propConsumedOnce  = "P4 an approval or retry signal counts at most once"
	propPause         = "P5 nothing new starts while paused"
	propNoRepeat      = "P6 a finished step is never run again after a crash"
	propMonitor       = "P7 monitor mode never acts"
	propConfirmHold   = "P8 site A confirmed down only after confirm_after and min_failed_probes"
)

// sigKey identifies a signal file (one write of it).
type sigKey struct {
	kind signal.Kind
	plan string
	mod  time.Time
}

// model is the test's own bookkeeping of what happened, independent of the
// controller's status.
type model struct {
	opts       Options
	aliveAt    []time.Time           // times at which a site-A partner answered
	validAppr  map[string][]sigKey   // plan → approvals that were valid when delivered
	used       map[sigKey]bool       // signals that already justified a transition
	delivered  []signal.Signal       // every signal delivered (for replays)
	promo      *PromotionRecord      // latest promotion started
	promoPlans map[string]*time.Time // plan → promotion start
	trace      []string              // one line per reconcile, printed on failure
	streak     int                   // consecutive snapshots without any site-A partner answering
	streakFrom time.Time             // time of the first of them
}

// tracingT adds the recent history to a property failure.
type tracingT struct {
	*rapid.T
	m *model
}

func (t tracingT) Fatalf(format string, args ...any) {
	tr := t.m.trace
	if len(tr) > 20 {
		tr = tr[len(tr)-20:]
	}
	t.T.Fatalf(format+"\nrecent reconciles:\n%s", append(args, strings.Join(tr, "\n"))...)
}

func drawSignalPlan(rt *rapid.T, s *sim, label string) string {
	switch rapid.IntRange(0, 9).Draw(rt, label) {
	case 0:
		return "mgc-19990101T000000Z-9"
	case 1:
		if s.st.LastPromotion != nil {
			return s.st.LastPromotion.Plan
		}
	}
	if id := s.planID(); id != "" {
		return id
	}
	return "mgc-none-1"
}

// runHistory drives one random history and fails rt on the first violated
// property.
func runHistory(rt *rapid.T, k knobs) {
	opts := DefaultOptions()
	opts.Mode = rapid.SampledFrom([]Mode{ModeAuto, ModeAuto, ModeApproval, ModeMonitor}).Draw(rt, "mode")
	opts.ConfirmAfter = 30 * time.Second
	opts.MinFailedProbes = rapid.IntRange(1, 4).Draw(rt, "min_failed_probes")
	opts.Cooldown = rapid.SampledFrom([]time.Duration{10 * time.Minute, time.Hour}).Draw(rt, "cooldown")
	opts.ApprovalTTL = 5 * time.Minute
	s := newSim(rt, opts, k)
	m := &model{opts: opts, validAppr: map[string][]sigKey{}, used: map[sigKey]bool{}, promoPlans: map[string]*time.Time{}}

	steps := rapid.IntRange(5, 120).Draw(rt, "steps")
	for i := 0; i < steps; i++ {
		s.now = s.now.Add(time.Duration(rapid.IntRange(1, 90).Draw(rt, "dt_seconds")) * time.Second)
		if s.crashed {
			if err := s.restart(); err != nil {
				rt.Fatalf("restart: %v", err)
			}
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_world") < 15 {
			s.w.siteA = rapid.SampledFrom([]string{"down", "down", "down", "up", "refusing", "fenced"}).Draw(rt, "siteA")
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_secondary") < 5 {
			s.w.secondary = rapid.SampledFrom([]string{"restoring", "writable", "down"}).Draw(rt, "secondary")
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_mirror") < 10 {
			s.w.principal = rapid.SampledFrom([]string{"a1", "a2"}).Draw(rt, "principal")
			s.w.mirror = rapid.SampledFrom([]string{"sync", "disconnected"}).Draw(rt, "mirror")
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_loss") < 20 {
			switch rapid.IntRange(0, 3).Draw(rt, "loss") {
			case 0:
				s.loss = DataLoss{}
			case 1:
				s.loss = DataLoss{Known: true, Window: 12 * time.Minute, Uncertainty: time.Minute}
			default:
				s.loss = DataLoss{Known: true, Window: 90 * time.Second, Uncertainty: 10 * time.Second}
			}
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_corr") < 20 {
			s.corr = Corroboration{Verdict: rapid.SampledFrom([]CorroborationVerdict{CorroborationDown, CorroborationDown,
				CorroborationNone, CorroborationNotConfigured, CorroborationVetoed}).Draw(rt, "corr")}
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_pause") < 10 {
			s.paused = !s.paused
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_signal") < 30 {
			kind := rapid.SampledFrom([]signal.Kind{signal.KindApprove, signal.KindApprove, signal.KindAck, signal.KindRetry}).Draw(rt, "signal")
			age := rapid.SampledFrom([]time.Duration{0, time.Second, 30 * time.Second, 4 * time.Minute, 10 * time.Minute}).Draw(rt, "age")
			s.signal(kind, drawSignalPlan(rt, s, "signal_plan"), age)
		}
		if len(m.delivered) > 0 && rapid.IntRange(0, 99).Draw(rt, "p_replay") < 15 {
			// The same file delivered again (e.g. its rename failed).
			s.signals = append(s.signals, m.delivered[rapid.IntRange(0, len(m.delivered)-1).Draw(rt, "replay")])
		}
		if rapid.IntRange(0, 99).Draw(rt, "p_fail") < 10 {
			s.failAt = rapid.SampledFrom(append([]Step{StepNone, StepNone}, Runbook...)).Draw(rt, "fail_at")
		}
		switch rapid.IntRange(0, 19).Draw(rt, "p_crash") {
		case 0, 1:
			s.crashAt = rapid.SampledFrom(Runbook).Draw(rt, "crash_at")
		case 2:
			s.crashEarly = true
		case 3:
			if err := s.restart(); err != nil { // a clean restart
				rt.Fatalf("restart: %v", err)
			}
		}
		prev := s.st.clone()
		in, res, err := s.cycle()
		if err != nil {
			rt.Fatalf("decide: %v", err)
		}
		m.check(rt, s, prev, in, res)
	}
}

// check verifies every property for one reconcile.
func (m *model) check(rt0 *rapid.T, s *sim, prev Status, in Input, res Result) {
	now := s.now
	var acts, trs []string
	for _, a := range res.Actions {
		acts = append(acts, a.String())
	}
	for _, tr := range res.Transitions {
		trs = append(trs, tr.From.String()+"→"+tr.To.String())
	}
	var results []string
	for _, r := range in.StepResults {
		results = append(results, r.Step.String()+":"+r.Outcome.String())
	}
	m.trace = append(m.trace, fmt.Sprintf("%s siteA=%s paused=%v results=%v signals=%v → %s %v actions=%v crashed=%v",
		stamp(now), s.w.siteA, in.Signals.Paused, results, in.Signals.Accepted, res.Status.State, trs, acts, s.crashed))
	rt := tracingT{rt0, m}
	alive := in.Snapshot.AnyAlive(probes.SiteA)
	if alive {
		m.aliveAt = append(m.aliveAt, now)
		m.streak = 0
	} else {
		if m.streak == 0 {
			m.streakFrom = now
		}
		m.streak++
	}
	// Record which approvals were valid when delivered, judged by the model
	// from the plan the status showed before the call.
	for _, sig := range in.Signals.Accepted {
		m.delivered = append(m.delivered, sig)
		if sig.Kind == signal.KindApprove && prev.State == StateAwaitingApproval && prev.Plan != nil &&
			sig.Plan == prev.Plan.ID && sig.ModTime.After(prev.Plan.Created) && now.Sub(sig.ModTime) <= m.opts.ApprovalTTL {
			m.validAppr[sig.Plan] = append(m.validAppr[sig.Plan], sigKey{sig.Kind, sig.Plan, sig.ModTime})
		}
		// An ack of a promotion outside PromotionFailed acknowledges it.
		if sig.Kind == signal.KindAck && m.promo != nil && sig.Plan == m.promo.Plan && prev.State != StatePromotionFailed {
			m.promo.Acked = true
		}
	}

	if m.opts.Mode == ModeMonitor && len(res.Actions) > 0 {
		rt.Fatalf("%s: actions %v", propMonitor, res.Actions)
	}
	if in.Signals.Paused {
		for _, a := range res.Actions {
			switch a.Kind {
			case ActionRunStep, ActionCheckStep, ActionFence, ActionUndo, ActionPublishPlan:
				rt.Fatalf("%s: %s emitted while paused", propPause, a)
			}
		}
	}
	for _, a := range res.Actions {
		if a.Kind == ActionRunStep && a.Step == StepRecover && alive {
			rt.Fatalf("%s: run_step recover while site A answers", propRecoverAlive)
		}
	}
	if len(s.repeated) > 0 {
		rt.Fatalf("%s: %v", propNoRepeat, s.repeated)
	}

	for _, tr := range res.Transitions {
		coverage.add(tr.Event)
		if tr.To == StateAwaitingApproval && tr.Event == EventPlanPublished {
			continue
		}
		if tr.Event == EventSiteConfirmedDown {
			if held := now.Sub(m.streakFrom); m.streak < m.opts.MinFailedProbes || held < m.opts.ConfirmAfter {
				rt.Fatalf("%s: confirmed after %d failed probes held %s", propConfirmHold, m.streak, held)
			}
		}
		switch tr.Event {
		case EventAutoPromote, EventApproved:
			if in.Signals.Paused {
				rt.Fatalf("%s: %s while paused", propPause, tr.Event)
			}
			if m.opts.Mode == ModeMonitor {
				rt.Fatalf("%s: %s in monitor mode", propMonitor, tr.Event)
			}
			for _, at := range m.aliveAt {
				if !at.Before(now.Add(-m.opts.ConfirmAfter)) {
					rt.Fatalf("%s: %s at %s, site A answered at %s", propConfirmWindow, tr.Event, now, at)
				}
			}
		}
		switch tr.Event {
		case EventAutoPromote:
			c, d := in.Corroboration.Verdict, in.DataLoss
			switch {
			case m.opts.Mode != ModeAuto:
				rt.Fatalf("%s: automatic promotion in mode %s", propAutoGates, m.opts.Mode)
			case c != CorroborationDown:
				rt.Fatalf("%s: automatic promotion with corroboration %s", propAutoGates, c)
			case !d.Known:
				rt.Fatalf("%s: automatic promotion with an unknown data-loss window", propAutoGates)
			case d.Window > m.opts.MaxDataLoss:
				rt.Fatalf("%s: automatic promotion with window %s > budget %s", propAutoGates, d.Window, m.opts.MaxDataLoss)
			}
			if p := m.promo; p != nil && !p.Acked && now.Sub(p.Started) < m.opts.Cooldown {
				rt.Fatalf("%s: previous promotion of %s started %s earlier, not acknowledged", propAutoCooldown, p.Plan, now.Sub(p.Started))
			}
		case EventApproved:
			found := false
			for _, key := range m.validAppr[tr.Plan] {
				if !m.used[key] {
					m.used[key], found = true, true
					break
				}
			}
			if !found {
				rt.Fatalf("%s: plan %s promoted without an unused valid approval (valid: %v)", propApproval, tr.Plan, m.validAppr[tr.Plan])
			}
		case EventRetry:
			found := false
			for _, sig := range in.Signals.Accepted {
				key := sigKey{sig.Kind, sig.Plan, sig.ModTime}
				if sig.Kind == signal.KindRetry && sig.Plan == tr.Plan && !m.used[key] {
					m.used[key], found = true, true
					break
				}
			}
			if !found {
				rt.Fatalf("%s: retry of plan %s without an unused retry signal for it (signals %v, used %v)", propConsumedOnce, tr.Plan, in.Signals.Accepted, m.used)
			}
		case EventAckPromoted:
			if m.promo != nil && m.promo.Plan == tr.Plan {
				m.promo.Acked = true
			}
		}
		if tr.To == StatePromoting && (tr.Event == EventAutoPromote || tr.Event == EventApproved) {
			m.promo = &PromotionRecord{Plan: tr.Plan, Started: now}
		}
	}
}

// TestSafetyProperties checks the safety invariants over random histories
// of snapshots, signals, clock steps, step results, failures and crashes.
func TestSafetyProperties(t *testing.T) {
	coverage.reset()
	rapid.Check(t, func(rt *rapid.T) { runHistory(rt, knobs{}) })
	t.Logf("transitions exercised: %s", &coverage)
	// The histories must reach the interesting parts of the machine, or the
	// properties above prove little.
	for _, e := range []Event{EventAutoPromote, EventApproved, EventRunbookDone, EventStepFailed, EventRetry,
		EventAckDegraded, EventOldPrimaryWritable, EventFenced, EventPlanPublished} {
		if coverage.get(e) == 0 {
			t.Errorf("no random history raised %s", e)
		}
	}
}

// coverage counts the events raised across random histories.
var coverage eventCounts

type eventCounts struct {
	mu sync.Mutex
	n  map[Event]int
}

func (c *eventCounts) reset() { c.mu.Lock(); c.n = map[Event]int{}; c.mu.Unlock() }
func (c *eventCounts) add(e Event) {
	c.mu.Lock()
	if c.n != nil {
		c.n[e]++
	}
	c.mu.Unlock()
}
func (c *eventCounts) get(e Event) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[e] }
func (c *eventCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, e := range Events() {
		parts = append(parts, fmt.Sprintf("%s=%d", e, c.n[e]))
	}
	return strings.Join(parts, " ")
}

// recordingTB lets a test run rapid.Check and inspect the failure instead
// of failing itself.
type recordingTB struct {
	mu     sync.Mutex
	name   string
	failed bool
	msgs   []string
}

func (r *recordingTB) add(s string) { r.mu.Lock(); r.msgs = append(r.msgs, s); r.mu.Unlock() }
func (r *recordingTB) Helper()      {}
func (r *recordingTB) Name() string { return r.name }
func (r *recordingTB) Logf(f string, a ...any) {
	r.add(fmt.Sprintf(f, a...))
}
func (r *recordingTB) Log(a ...any)              { r.add(fmt.Sprint(a...)) }
func (r *recordingTB) Skipf(string, ...any)      { runtime.Goexit() }
func (r *recordingTB) Skip(...any)               { runtime.Goexit() }
func (r *recordingTB) SkipNow()                  { runtime.Goexit() }
func (r *recordingTB) Errorf(f string, a ...any) { r.Fail(); r.add(fmt.Sprintf(f, a...)) }
func (r *recordingTB) Error(a ...any)            { r.Fail(); r.add(fmt.Sprint(a...)) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.Errorf(f, a...); r.FailNow() }
func (r *recordingTB) Fatal(a ...any)            { r.Error(a...); r.FailNow() }
func (r *recordingTB) FailNow()                  { r.Fail(); runtime.Goexit() }
func (r *recordingTB) Fail()                     { r.mu.Lock(); r.failed = true; r.mu.Unlock() }
func (r *recordingTB) Failed() bool              { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

// checkWith runs the property check with knobs and returns the failure
// text ("" when every property held).
func checkWith(name string, k knobs) string {
	rec := &recordingTB{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rapid.Check(rec, func(rt *rapid.T) { runHistory(rt, k) })
	}()
	<-done
	if !rec.Failed() {
		return ""
	}
	return strings.Join(rec.msgs, "\n")
}

// TestPropertiesHaveTeeth removes one gate at a time and requires the
// property check to find a violation of the property that gate protects.
func TestPropertiesHaveTeeth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the property check once per removed gate")
	}
	cases := []struct {
		gate string
		k    knobs
		want string
	}{
		{"data-loss budget", knobs{skipBudget: true}, propAutoGates},
		{"unknown data-loss window", knobs{skipUnknownBudget: true}, propAutoGates},
		{"corroboration", knobs{skipCorroboration: true}, propAutoGates},
		{"cooldown", knobs{skipCooldown: true}, propAutoCooldown},
		{"pause", knobs{skipPause: true}, propPause},
		{"plan-ID check", knobs{skipPlanIDCheck: true}, propApproval},
		{"consumed-signal check", knobs{skipConsumedCheck: true}, propConsumedOnce},
		{"check before re-run after a crash", knobs{blindRerun: true}, propNoRepeat},
		{"site confirmed down (hold timer)", knobs{skipConfirmHold: true}, propConfirmHold},
	}
	// A counterexample is all this test needs: shrink briefly, write no fail files.
	setFlag(t, "rapid.shrinktime", "2s")
	setFlag(t, "rapid.nofailfile", "true")
	for _, tc := range cases {
		t.Run(tc.gate, func(t *testing.T) {
			out := checkWith(t.Name(), tc.k)
			if out == "" {
				t.Fatalf("with the %s gate removed every property still held: the properties have no teeth here", tc.gate)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("with the %s gate removed, want a violation of %q; got:\n%s", tc.gate, tc.want, firstLines(out, 8))
			}
			t.Logf("removing the %s gate violates %q", tc.gate, tc.want)
		})
	}
}

// setFlag sets a flag for the duration of the test.
func setFlag(t *testing.T, name, value string) {
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("no flag %s", name)
	}
	old := f.Value.String()
	if err := f.Value.Set(value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

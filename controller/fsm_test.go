package controller

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqldr/sqldr/pkg/journal"
)

// TestTransitionTableExhaustive walks every (state × event) pair: it is
// either exactly one row of the table, or Transition rejects it with an
// error and leaves the state alone.
func TestTransitionTableExhaustive(t *testing.T) {
	rows := map[[2]uint8]int{}
	for _, tr := range table {
		rows[[2]uint8{uint8(tr.From), uint8(tr.On)}]++
		if tr.Reason == "" {
			t.Errorf("%s on %s has no reason", tr.From, tr.On)
		}
		if tr.From >= numStates || tr.To >= numStates || tr.On == EventUnknown || tr.On >= numEvents {
			t.Errorf("row %+v uses an invalid state or event", tr)
		}
	}
	inTable, rejected := 0, 0
	for _, s := range States() {
		for e := EventUnknown; e < numEvents; e++ {
			to, reason, err := Transition(s, e)
			switch rows[[2]uint8{uint8(s), uint8(e)}] {
			case 0:
				var nt ErrNoTransition
				if !errors.As(err, &nt) || nt.From != s || nt.On != e || to != s || reason != "" {
					t.Errorf("(%s, %s) is not in the table but Transition = %s, %q, %v", s, e, to, reason, err)
				}
				rejected++
			case 1:
				if err != nil || reason == "" {
					t.Errorf("(%s, %s) is in the table but Transition = %s, %q, %v", s, e, to, reason, err)
				}
				inTable++
			default:
				t.Errorf("(%s, %s) appears more than once", s, e)
			}
		}
	}
	if inTable != len(table) || inTable+rejected != int(numStates)*int(numEvents) {
		t.Fatalf("walked %d rows and %d rejected pairs; table has %d rows", inTable, rejected, len(table))
	}
}

// TestTableCoversDesign checks the transitions DESIGN.md's table requires.
func TestTableCoversDesign(t *testing.T) {
	want := map[State][]State{
		StateUnknown:          {StateHealthy, StateDegraded, StateSiteSuspect},
		StateHealthy:          {StateDegraded, StateSiteSuspect},
		StateDegraded:         {StateHealthy, StateSiteSuspect},
		StateSiteSuspect:      {StateHealthy, StateDegraded, StateSiteDown},
		StateSiteDown:         {StateHealthy, StateDegraded, StateAwaitingApproval, StatePromoting},
		StateAwaitingApproval: {StatePromoting, StateHealthy, StateDegraded},
		StatePromoting:        {StatePromoted, StatePromotionFailed},
		StatePromoted:         {StateSplitBrainRisk, StateHealthy},
		StatePromotionFailed:  {StatePromoting, StateHealthy, StateDegraded, StatePromoted},
		StateSplitBrainRisk:   {StatePromoted},
	}
	for from, tos := range want {
		for _, to := range tos {
			found := false
			for _, tr := range table {
				found = found || (tr.From == from && tr.To == to)
			}
			if !found {
				t.Errorf("DESIGN.md requires %s → %s; the table has no such row", from, to)
			}
		}
	}
	// Every state is reachable from Unknown.
	seen := map[State]bool{StateUnknown: true}
	for changed := true; changed; {
		changed = false
		for _, tr := range table {
			if seen[tr.From] && !seen[tr.To] {
				seen[tr.To], changed = true, true
			}
		}
	}
	for _, s := range States() {
		if !seen[s] {
			t.Errorf("%s is unreachable", s)
		}
	}
}

func TestNamesRoundTrip(t *testing.T) {
	for _, s := range States() {
		var got State
		b, err := s.MarshalText()
		if err != nil || got.UnmarshalText(b) != nil || got != s {
			t.Errorf("state %s does not round-trip", s)
		}
	}
	if _, err := numStates.MarshalText(); err == nil {
		t.Error("invalid state marshals")
	}
	for _, e := range Events() {
		var got Event
		b, _ := e.MarshalText()
		if got.UnmarshalText(b) != nil || got != e {
			t.Errorf("event %s does not round-trip", e)
		}
	}
	for s := StepNone; s < numSteps; s++ {
		var got Step
		if got.UnmarshalText([]byte(s.String())) != nil || got != s {
			t.Errorf("step %s does not round-trip", s)
		}
	}
	var st State
	if st.UnmarshalText([]byte("Bogus")) == nil {
		t.Error("unknown state name accepted")
	}
	if State(200).String() != "State(200)" || Event(200).String() != "Event(200)" {
		t.Error("out-of-range names")
	}
}

// TestMermaidInREADME fails when the README's diagram is stale; run
// `go test ./controller -run TestMermaidInREADME -update` to regenerate it.
func TestMermaidInREADME(t *testing.T) {
	const path = "../README.md"
	const begin, end = "<!-- fsm:begin -->", "<!-- fsm:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %s … %s markers", begin, end)
	}
	want := "\n" + Mermaid()
	got := readme[i+len(begin) : j]
	if *update {
		if got != want {
			if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if got != want {
		t.Fatalf("the state diagram in README.md is stale: run go test ./controller -run TestMermaidInREADME -update")
	}
	for _, tr := range table {
		if !strings.Contains(want, tr.From.String()+" --> "+tr.To.String()+": "+tr.On.String()) {
			t.Errorf("diagram lacks %s → %s", tr.From, tr.To)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	o := DefaultOptions()
	o.Group = "bad group"
	o.Databases = []string{"mgc", "MGC", ""}
	o.Mode = ModeUnset
	o.ConfirmAfter = 0
	o.MinFailedProbes = 0
	o.MaxDataLoss = -time.Second
	o.Cooldown = -time.Second
	o.ApprovalTTL = 0
	o.HistorySize = 0
	err := o.Validate()
	if err == nil {
		t.Fatal("bad options accepted")
	}
	for _, key := range []string{"group", "listed twice", "empty database", "mode", "confirm_after", "min_failed_probes",
		"max_data_loss", "cooldown", "approval_ttl", "history_size"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %q:\n%v", key, err)
		}
	}
	if _, err := New(zap.NewNop(), o); err == nil {
		t.Error("New accepted bad options")
	}
	for _, m := range []string{"monitor", "approval", "auto"} {
		if got, err := ParseMode(m); err != nil || got.String() != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("yolo"); err == nil {
		t.Error("ParseMode accepted yolo")
	}
}

func TestHistoryIsBoundedAndLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	opts := DefaultOptions()
	opts.HistorySize = 3
	opts.MinFailedProbes = 1
	opts.ConfirmAfter = time.Second
	c, err := New(zap.New(core), opts)
	if err != nil {
		t.Fatal(err)
	}
	st := c.NewStatus()
	now := simStart
	w := healthyWorld()
	for i := 0; i < 6; i++ { // Healthy, SiteSuspect, Healthy, SiteSuspect, …
		if i%2 == 1 {
			w.siteA = "down"
		} else {
			w.siteA = "up"
		}
		res, err := c.Decide(st, Input{Snapshot: w.snapshot(now), DataLoss: DataLoss{Known: true}}, now)
		if err != nil {
			t.Fatal(err)
		}
		st = res.Status
		now = now.Add(100 * time.Millisecond)
	}
	h := c.History()
	if len(h) != 3 {
		t.Fatalf("history has %d entries, want 3", len(h))
	}
	if h[0].To != StateSiteSuspect || h[1].To != StateHealthy || h[2].To != StateSiteSuspect || !h[0].At.Before(h[2].At) {
		t.Fatalf("history = %+v, want the last three oldest first", h)
	}
	entries := logs.FilterMessage("state_transition").All()
	if len(entries) != 6 {
		t.Fatalf("logged %d transitions, want 6", len(entries))
	}
	f := entries[1].ContextMap()
	if f["from_state"] != "Healthy" || f["to_state"] != "SiteSuspect" || f["reason"] == "" || f["evidence"] == "" {
		t.Fatalf("log fields = %v", f)
	}
}

func TestDecideDoesNotMutateItsArgument(t *testing.T) {
	s := newSim(t, DefaultOptions(), knobs{})
	s.w.siteA = "down"
	s.c.opts.ConfirmAfter = time.Second
	s.c.opts.MinFailedProbes = 1
	s.c.opts.Mode = ModeAuto
	for i := 0; i < 4; i++ {
		before := string(s.persisted)
		prev := s.st
		in := s.input()
		res, err := s.c.Decide(prev, in, s.now)
		if err != nil {
			t.Fatal(err)
		}
		s.persist(prev)
		if string(s.persisted) != before {
			t.Fatal("Decide mutated the status it was given")
		}
		res2, _ := s.c.Decide(prev, in, s.now)
		if len(res.Actions) != len(res2.Actions) || res.Status.State != res2.Status.State {
			t.Fatal("Decide is not deterministic")
		}
		s.st = res.Status
		s.persist(s.st)
		s.execute(res.Actions)
		s.now = s.now.Add(2 * time.Second)
	}
	if s.st.State != StatePromoting {
		t.Fatalf("state = %s, want Promoting", s.st.State)
	}
}

func TestUnknownEventIsAnError(t *testing.T) {
	r := &run{st: &Status{State: StateHealthy}, now: simStart}
	if err := r.fire(EventFenced, ""); err == nil || !strings.Contains(err.Error(), "no transition from Healthy on Fenced") {
		t.Fatalf("err = %v", err)
	}
}

// TestRestoreFromJournal: step records written through pkg/journal come
// back after a restart; a started step with no end is checked, not re-run.
func TestRestoreFromJournal(t *testing.T) {
	dir := t.TempDir()
	store, err := journal.Open(zap.NewNop(), journal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, DefaultOptions(), knobs{})
	s.c.opts.Mode = ModeAuto
	s.w.siteA = "down"
	for s.st.State != StatePromoting {
		if _, _, err := s.cycle(); err != nil {
			t.Fatal(err)
		}
		s.now = s.now.Add(30 * time.Second)
	}
	if err := store.WriteStatus(s.st); err != nil {
		t.Fatal(err)
	}
	plan := s.planID()
	for _, r := range []StepResult{
		{Plan: plan, Step: StepRecheck, Outcome: OutcomeStarted, At: s.now},
		{Plan: plan, Step: StepRecheck, Outcome: OutcomeDone, At: s.now},
		{Plan: plan, Step: StepPreHooks, Outcome: OutcomeStarted, At: s.now},
	} {
		if _, err := store.Append(JournalKindStep, s.now, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Append(JournalKindTransition, s.now, TransitionRecord{From: StateSiteDown, To: StatePromoting}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store, err = journal.Open(zap.NewNop(), journal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	var st Status
	found, seq, err := store.Status(&st)
	if !found || err != nil {
		t.Fatalf("status: %v %v", found, err)
	}
	recs, err := StepRecords(store.RecordsAfter(seq))
	if err != nil || len(recs) != 3 {
		t.Fatalf("step records = %v, %v", recs, err)
	}
	st = Restore(st, recs)
	if p := st.Plan; p.step(StepRecheck).Phase != PhaseDone || p.step(StepPreHooks).Phase != PhaseNeedsCheck {
		t.Fatalf("restored steps = %+v", p.Steps)
	}
	res, err := s.c.Decide(st, s.input(), s.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 1 || res.Actions[0].Kind != ActionCheckStep || res.Actions[0].Step != StepPreHooks {
		t.Fatalf("actions after restart = %v, want check_step pre_promote_hooks", res.Actions)
	}
}

func TestSignalExpect(t *testing.T) {
	p := &Plan{ID: "mgc-1", Created: simStart}
	st := Status{State: StateAwaitingApproval, Plan: p}
	if e := st.SignalExpect(); e.PendingPlan != "mgc-1" || e.RetryPlan != "" || e.AckPlan != "" {
		t.Fatalf("awaiting: %+v", e)
	}
	st = Status{State: StatePromotionFailed, Plan: p, LastPromotion: &PromotionRecord{Plan: "mgc-1", Started: simStart}}
	if e := st.SignalExpect(); e.PendingPlan != "" || e.RetryPlan != "mgc-1" || e.AckPlan != "mgc-1" {
		t.Fatalf("failed: %+v", e)
	}
	st = Status{State: StateHealthy, LastPromotion: &PromotionRecord{Plan: "mgc-0", Started: simStart}}
	if e := st.SignalExpect(); e.AckPlan != "mgc-0" || !e.AckPlanCreated.Equal(simStart) {
		t.Fatalf("cooldown ack: %+v", e)
	}
}

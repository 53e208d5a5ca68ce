package controller

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/journal"
)

func TestPersistAndLoad(t *testing.T) {
	dir := t.TempDir()
	store, err := journal.Open(zap.NewNop(), journal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Mode = ModeAuto
	c, st, now := confirmedDown(t, opts)
	if st2, err := Load(store, c); err != nil || st2.State != StateUnknown || st2.Group != "mgc" {
		t.Fatalf("first start: %+v %v", st2, err)
	}
	down := healthyWorld()
	down.siteA = "down"
	res, err := c.Decide(st, Input{Snapshot: down.snapshot(now), Corroboration: Corroboration{Verdict: CorroborationDown},
		DataLoss: DataLoss{Known: true, Window: time.Minute}}, now)
	if err != nil || res.Status.State != StatePromoting {
		t.Fatalf("%v %s", err, res.Status.State)
	}
	if err := Persist(store, res, now); err != nil {
		t.Fatal(err)
	}
	// The executor journals the start of recheck, then the daemon dies.
	if _, err := store.Append(JournalKindStep, now, StepResult{Plan: res.Status.Plan.ID, Step: StepRecheck,
		Outcome: OutcomeStarted, At: now}); err != nil {
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
	kinds := map[string]int{}
	for _, r := range store.Records() {
		kinds[r.Kind]++
	}
	if kinds[JournalKindTransition] != 1 || kinds[JournalKindPlan] != 1 || kinds[JournalKindStep] != 1 {
		t.Fatalf("journal kinds = %v", kinds)
	}
	st, err = Load(store, c)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StatePromoting || st.Plan.step(StepRecheck).Phase != PhaseNeedsCheck {
		t.Fatalf("loaded %s, recheck %s; want Promoting with recheck to be checked", st.State, st.Plan.step(StepRecheck).Phase)
	}
	c3, err := New(zap.NewNop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c3.RestoreHistory(store.Records()); err != nil {
		t.Fatal(err)
	}
	if h := c3.History(); len(h) != 1 || h[0].From != StateSiteDown || h[0].To != StatePromoting || h[0].Reason == "" {
		t.Fatalf("history after restart = %+v", h)
	}
	other := DefaultOptions()
	other.Group = "other"
	c2, err := New(zap.NewNop(), other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(store, c2); !errors.Is(err, ErrOtherGroup) {
		t.Fatalf("other group: err = %v", err)
	}
}

// failingStore fails its n-th write with a full disk.
type failingStore struct {
	n, calls int
	wrote    []string
}

func (f *failingStore) Append(kind string, _ time.Time, _ any) (journal.Record, error) {
	f.calls++
	if f.calls == f.n {
		return journal.Record{}, journal.ErrDiskFull
	}
	f.wrote = append(f.wrote, kind)
	return journal.Record{}, nil
}

func (f *failingStore) WriteStatus(any) error {
	f.calls++
	if f.calls == f.n {
		return journal.ErrDiskFull
	}
	f.wrote = append(f.wrote, "status")
	return nil
}

// TestPersistFailureStopsEverything: a write that fails (full disk) is
// reported, and the status is never written after a missing journal record.
func TestPersistFailureStopsEverything(t *testing.T) {
	res := Result{
		Status:      Status{State: StateAwaitingApproval, Plan: &Plan{ID: "mgc-1"}},
		Transitions: []TransitionRecord{{From: StateSiteSuspect, To: StateSiteDown}, {From: StateSiteDown, To: StateAwaitingApproval}},
		Actions:     []Action{{Kind: ActionPublishPlan, Plan: "mgc-1"}},
	}
	for n := 1; n <= 4; n++ {
		f := &failingStore{n: n}
		err := Persist(f, res, simStart)
		if !errors.Is(err, journal.ErrDiskFull) {
			t.Fatalf("failure at write %d: err = %v", n, err)
		}
		if len(f.wrote) != n-1 || (len(f.wrote) > 0 && f.wrote[len(f.wrote)-1] == "status") {
			t.Fatalf("failure at write %d: wrote %v", n, f.wrote)
		}
	}
	f := &failingStore{}
	if err := Persist(f, res, simStart); err != nil || len(f.wrote) != 4 || f.wrote[3] != "status" {
		t.Fatalf("success: %v %v", err, f.wrote)
	}
}

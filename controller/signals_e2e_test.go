package controller

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/signal"
)

// TestApprovalFileEndToEnd: the CLI writes an approval file, the reader
// validates it against what the status expects and consumes it, and
// Decide starts the promotion; the consumed file never counts again, and a
// stale or wrong-plan file is moved aside.
func TestApprovalFileEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "signals")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	reader, err := signal.NewReader(zap.NewNop(), signal.Options{Dir: dir, DaemonUID: uint32(os.Getuid()), ApprovalTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.ApprovalTTL = time.Hour
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	down := healthyWorld()
	down.siteA = "down"
	// The files carry the real clock's mtime, so the decision runs on it too.
	now := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	st := Status{Group: "mgc", State: StateSiteDown, Outage: Outage{FirstFailed: now.Add(-time.Minute), Failures: 5}}
	res, err := c.Decide(st, Input{Snapshot: down.snapshot(now), DataLoss: DataLoss{Known: true}}, now)
	if err != nil || res.Status.State != StateAwaitingApproval {
		t.Fatalf("%v %s", err, res.Status.State)
	}
	st = res.Status
	plan := st.Plan.ID

	reconcile := func() Result {
		t.Helper()
		now = time.Now().Add(time.Second)
		sc, err := reader.Scan(now, st.SignalExpect())
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Decide(st, Input{Snapshot: down.snapshot(now), Signals: Signals{Paused: sc.Paused, Accepted: sc.Accepted}}, now)
		if err != nil {
			t.Fatal(err)
		}
		st = res.Status
		return res
	}

	if err := signal.Write(dir, signal.KindApprove, "mgc-20000101T000000Z-1"); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(); st.State != StateAwaitingApproval || len(res.Actions) != 0 {
		t.Fatalf("wrong plan approved: %s %v", st.State, res.Actions)
	}
	if reader.RejectedCounts()[signal.ReasonWrongPlan] != 1 {
		t.Fatalf("rejections = %v", reader.RejectedCounts())
	}
	if err := signal.Write(dir, signal.KindApprove, plan); err != nil {
		t.Fatal(err)
	}
	res = reconcile()
	if st.State != StatePromoting || len(res.Actions) != 1 || res.Actions[0].Step != StepRecheck {
		t.Fatalf("approval of %s: %s %v", plan, st.State, res.Actions)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "approve.consumed."+plan+".*"))
	if len(matches) != 1 {
		t.Fatalf("consumed files = %v", matches)
	}
	if res := reconcile(); len(res.Actions) != 0 || reader.AcceptedCounts()[signal.KindApprove] != 1 {
		t.Fatalf("approval counted again: %v %v", res.Actions, reader.AcceptedCounts())
	}
}

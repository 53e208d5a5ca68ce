package controller

import (
	"errors"
	"fmt"
	"time"

	"github.com/sqldr/sqldr/pkg/journal"
)

// Store is the part of *journal.Store that Persist needs.
type Store interface {
	Append(kind string, at time.Time, data any) (journal.Record, error)
	WriteStatus(v any) error
}

// Persist makes a Decide result durable before anything acts on it: it
// journals the transitions and any newly published plan (one fsync each),
// then writes the status file atomically. The caller runs res.Actions only
// when Persist returns nil; on an error the state directory is not to be
// trusted (journal.ErrDiskFull, journal.ErrUntrusted) and nothing may act.
func Persist(store Store, res Result, now time.Time) error {
	for _, t := range res.Transitions {
		if _, err := store.Append(JournalKindTransition, t.At, t); err != nil {
			return fmt.Errorf("persist transition %s → %s: %w", t.From, t.To, err)
		}
	}
	for _, a := range res.Actions {
		if a.Kind == ActionPublishPlan && res.Status.Plan != nil && res.Status.Plan.ID == a.Plan {
			if _, err := store.Append(JournalKindPlan, now, res.Status.Plan); err != nil {
				return fmt.Errorf("persist plan %s: %w", a.Plan, err)
			}
		}
	}
	if err := store.WriteStatus(res.Status); err != nil {
		return fmt.Errorf("persist status: %w", err)
	}
	return nil
}

// ErrOtherGroup means the state directory holds the status of another failover group.
var ErrOtherGroup = errors.New("state directory belongs to another failover group")

// Load returns the status to resume from after a (re)start: the status file
// (or a new status on a first start) with the step records journaled after
// it applied by Restore, so that a step that started without an end record
// is checked, never blindly re-run. journal.Open has already refused a torn
// or corrupt state directory.
func Load(store *journal.Store, c *Controller) (Status, error) {
	var st Status
	found, seq, err := store.Status(&st)
	if err != nil {
		return Status{}, fmt.Errorf("load status: %w", err)
	}
	if !found {
		st = c.NewStatus()
	}
	if st.Group != c.opts.Group {
		return Status{}, fmt.Errorf("load status: %w: %q, configured %q", ErrOtherGroup, st.Group, c.opts.Group)
	}
	recs, err := StepRecords(store.RecordsAfter(seq))
	if err != nil {
		return Status{}, fmt.Errorf("load status: %w", err)
	}
	return Restore(st, recs), nil
}

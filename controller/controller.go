package controller

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/journal"
)

// Journal record kinds written by the daemon for the controller.
const (
	// JournalKindTransition records a TransitionRecord.
	JournalKindTransition = "transition"
	// JournalKindPlan records a published Plan.
	JournalKindPlan = "plan"
	// JournalKindStep records a StepResult (the executor writes one at the
	// start and one at the end of every step).
	JournalKindStep = "step"
)

// Controller wraps the pure decision with logging and a bounded in-memory
// transition history. It holds no other state: the caller persists Status.
type Controller struct {
	log   *zap.Logger
	opts  Options
	knobs knobs // zero in production; see knobs

	mu      sync.Mutex
	history []TransitionRecord // ring, oldest first after History()
	next    int
	full    bool
}

// New validates opts and returns a Controller.
func New(logger *zap.Logger, opts Options) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Controller{log: logger, opts: opts, history: make([]TransitionRecord, opts.HistorySize)}, nil
}

// Options returns the validated options.
func (c *Controller) Options() Options { return c.opts }

// NewStatus returns the status of a group never observed before.
func (c *Controller) NewStatus() Status { return Status{Group: c.opts.Group, State: StateUnknown} }

// Decide computes the next status and the actions to run from the current
// status, one input and `now`. It performs no I/O besides logging; the
// caller persists Result.Status (and journals Result.Transitions) before it
// runs Result.Actions. An error means a (state, event) pair missing from
// the transition table: a bug, never a reason to act.
func (c *Controller) Decide(st Status, in Input, now time.Time) (Result, error) {
	res, err := decide(c.opts, c.knobs, st, in, now)
	if err != nil {
		c.log.Error("decide_failed", zap.String("group", c.opts.Group), zap.String("from_state", st.State.String()), zap.Error(err))
		return Result{}, err
	}
	for _, t := range res.Transitions {
		c.log.Info("state_transition",
			zap.String("group", c.opts.Group),
			zap.String("from_state", t.From.String()),
			zap.String("to_state", t.To.String()),
			zap.String("event", t.Event.String()),
			zap.String("reason", t.Reason),
			zap.String("evidence", t.Evidence),
			zap.String("plan_id", t.Plan))
		c.remember(t)
	}
	if nv, ov := res.Status.Verdict.String(), st.Verdict.String(); nv != ov {
		c.log.Info("promotion_verdict", zap.String("group", c.opts.Group), zap.String("verdict", nv),
			zap.Bool("would_promote", res.Status.Verdict.WouldPromote))
	}
	for _, a := range res.Actions {
		c.log.Info("action_emitted", zap.String("group", c.opts.Group), zap.String("action", a.Kind.String()),
			zap.String("plan_id", a.Plan), zap.String("step", a.Step.String()), zap.String("instance", a.Instance))
	}
	for _, why := range res.Ignored {
		c.log.Warn("input_ignored", zap.String("group", c.opts.Group), zap.String("reason", why))
	}
	return res, nil
}

func (c *Controller) remember(t TransitionRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history[c.next] = t
	c.next = (c.next + 1) % len(c.history)
	if c.next == 0 {
		c.full = true
	}
}

// History returns the recent transitions, oldest first (at most
// Options.HistorySize of them).
func (c *Controller) History() []TransitionRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.full {
		return append([]TransitionRecord(nil), c.history[:c.next]...)
	}
	out := append([]TransitionRecord(nil), c.history[c.next:]...)
	return append(out, c.history[:c.next]...)
}

// RestoreHistory refills the in-memory transition history from journaled
// transition records (oldest first), so /status shows recent transitions
// after a restart. Only the last Options.HistorySize are kept.
func (c *Controller) RestoreHistory(recs []journal.Record) error {
	for _, r := range recs {
		if r.Kind != JournalKindTransition {
			continue
		}
		var t TransitionRecord
		if err := r.Decode(&t); err != nil {
			return fmt.Errorf("restore history: %w", err)
		}
		c.remember(t)
	}
	return nil
}

// Restore prepares a status loaded after a restart: it applies the step
// records journaled after the status was written, then marks every step
// that started (or was dispatched) without an end record as needing a
// check of its postcondition — never a blind re-run.
func Restore(st Status, records []StepResult) Status {
	return restore(st, records, knobs{})
}

func restore(st Status, records []StepResult, k knobs) Status {
	st = st.clone()
	p := st.Plan
	if p == nil {
		return st
	}
	for _, r := range records {
		_ = foldResult(p, r)
	}
	if p.UndoDispatched {
		// No end record: run the undo again (re-enabling jobs is idempotent).
		p.UndoDispatched, p.UndoPending = false, true
	}
	for i := range p.Steps {
		switch p.Steps[i].Phase {
		case PhaseDispatched, PhaseStarted, PhaseChecking:
			if k.blindRerun {
				p.Steps[i].Phase = PhasePending
			} else {
				p.Steps[i].Phase = PhaseNeedsCheck
			}
		}
	}
	return st
}

// StepRecords decodes the step records among journal records (e.g. those
// after the status's journal sequence), for Restore.
func StepRecords(recs []journal.Record) ([]StepResult, error) {
	var out []StepResult
	for _, r := range recs {
		if r.Kind != JournalKindStep {
			continue
		}
		var s StepResult
		if err := r.Decode(&s); err != nil {
			return nil, fmt.Errorf("step records: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

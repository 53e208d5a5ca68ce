// Package reconcile is sqldr's daemon loop (DESIGN.md, "The pipeline"), in the shape of
// controller-runtime's reconciler: every cycle re-reads everything (level-triggered) and
//
//  1. probes every instance once (one snapshot),
//  2. asks the third-site observers,
//  3. scans the signal files,
//  4. computes the data-loss window with the probes model,
//  5. calls controller.Decide with the persisted status and the clock's `now`,
//  6. persists the new status and its journal records (controller.Persist) BEFORE acting,
//  7. runs the actions through the runbook executor,
//  8. updates the metrics,
//
// and the next cycle observes the effect. A cycle that ran actions requeues at once; otherwise the
// loop waits for the interval on its clock (k8s.io/utils/clock: a fake one in tests).
//
// The loop never acts on a state directory it cannot trust: when the journal failed to open (torn
// or corrupt) or a write failed, it keeps observing and serving /status, which says why, and runs
// no action. Shutdown lets a running step complete (the executor journals its end) and starts no
// new one.
//
// The HTTP side (Handler) serves /metrics, /healthz, /readyz and /status, read-only.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/metrics"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

// DefaultInterval is the reconcile period when Options.Interval is zero.
const DefaultInterval = 15 * time.Second

// Prober takes one snapshot per cycle (a *probes.Prober).
type Prober interface {
	Probe(ctx context.Context) *probes.Snapshot
}

// Observers asks the third-site observers for their verdict (an *observer.Client).
type Observers interface {
	Check(ctx context.Context) observer.Result
}

// Executor runs the controller's actions (a *runbook.Executor).
type Executor interface {
	Execute(ctx context.Context, req runbook.Request) ([]controller.StepResult, error)
}

// Signals scans the signal directory (a *signal.Reader).
type Signals interface {
	Scan(now time.Time, exp signal.Expect) (signal.Scan, error)
}

// Options configure a Loop.
type Options struct {
	// Interval is the reconcile period (default DefaultInterval).
	Interval time.Duration
	// ReadyAfter is how recent the last finished reconcile must be for /readyz (default 3 × Interval).
	ReadyAfter time.Duration
	// Databases are every monitored database (the group's and the others), for the lag figures.
	Databases []string
	// MirroringInstances are the site-A partner instances whose mirroring state is exported.
	MirroringInstances []string
	// ApproveFlags are appended to the approve command shown in /status and the log
	// (e.g. "--config /etc/sqldr/sqldr.yml"), so that the operator can paste it as is.
	ApproveFlags string
}

// Deps are the loop's collaborators.
type Deps struct {
	// Clock paces the loop and gives `now` (clock.RealClock{} in production).
	Clock clock.WithTicker
	// Controller is the decision.
	Controller *controller.Controller
	// Store is the open, locked state directory. Nil means it could not be trusted (StoreErr says why):
	// the loop then observes and reports, and never acts.
	Store *journal.Store
	// StoreErr is why Store is nil.
	StoreErr error
	// Prober takes the snapshots.
	Prober Prober
	// Observers asks the observers; nil means none is configured.
	Observers Observers
	// Signals scans the signal directory.
	Signals Signals
	// Executor runs the actions.
	Executor Executor
	// Metrics receives the figures; nil means none.
	Metrics *metrics.Metrics
}

// Result says when the loop should reconcile next (controller-runtime's reconcile.Result).
type Result struct {
	// RequeueAfter is the wait before the next cycle; zero means at once.
	RequeueAfter time.Duration
	// Acted is true when the cycle ran at least one action.
	Acted bool
}

// Loop is the reconcile loop of one failover group.
type Loop struct {
	log  *zap.Logger
	opts Options
	d    Deps

	runMu sync.Mutex // serialises Reconcile

	mu            sync.Mutex // guards the fields below (read by /status)
	st            controller.Status
	pending       []controller.StepResult // executor reports not yet given to Decide
	snap          *probes.Snapshot
	corr          observer.Result
	untrusted     string
	lastReconcile time.Time
	cycles        uint64
	lastErr       string
	started       time.Time
	promStart     map[string]time.Time          // plan ID → when its promotion started (for the duration metric)
	history       []controller.TransitionRecord // recent transitions, oldest first, journaled ones included
}

// New validates the options and loads the status to resume from (controller.Load: a step that
// started without an end record is checked, never blindly re-run).
func New(logger *zap.Logger, opts Options, d Deps) (*Loop, error) {
	var errs []error
	if logger == nil {
		errs = append(errs, errors.New("reconcile: logger is nil"))
	}
	if d.Clock == nil {
		errs = append(errs, errors.New("reconcile: clock is nil"))
	}
	if d.Controller == nil {
		errs = append(errs, errors.New("reconcile: controller is nil"))
	}
	if d.Prober == nil {
		errs = append(errs, errors.New("reconcile: prober is nil"))
	}
	if d.Signals == nil {
		errs = append(errs, errors.New("reconcile: signal reader is nil"))
	}
	if d.Executor == nil {
		errs = append(errs, errors.New("reconcile: executor is nil"))
	}
	if d.Store == nil && d.StoreErr == nil {
		errs = append(errs, errors.New("reconcile: neither a store nor the reason it is missing"))
	}
	if opts.Interval < 0 || opts.ReadyAfter < 0 {
		errs = append(errs, errors.New("reconcile: negative interval"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.ReadyAfter == 0 {
		opts.ReadyAfter = 3 * opts.Interval
	}
	l := &Loop{log: logger.Named("reconcile"), opts: opts, d: d, started: d.Clock.Now(), promStart: map[string]time.Time{}}
	if d.Store == nil {
		l.st = d.Controller.NewStatus()
		l.untrusted = d.StoreErr.Error()
		l.log.Error("state_untrusted_refusing_to_act", zap.String("group", l.st.Group), zap.Error(d.StoreErr))
	} else {
		st, err := controller.Load(d.Store, d.Controller)
		if err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		l.st = st
		for _, r := range d.Store.Records() {
			if r.Kind != controller.JournalKindTransition {
				continue
			}
			var t controller.TransitionRecord
			if err := r.Decode(&t); err != nil {
				return nil, fmt.Errorf("reconcile: journal record %d: %w", r.Seq, err)
			}
			l.remember(t)
		}
		l.log.Info("status_loaded", zap.String("group", st.Group), zap.String("state", st.State.String()),
			zap.String("plan_id", planID(st.Plan)))
	}
	if d.Metrics != nil {
		if err := d.Metrics.SetState(l.st.Group, l.st.State.String()); err != nil {
			l.log.Warn("metrics_update_failed", zap.Error(err))
		}
	}
	return l, nil
}

// Run reconciles until ctx is cancelled, waiting on the clock between cycles. It returns nil on
// shutdown. A running step completes before Run returns (its end is journaled); no new one starts.
func (l *Loop) Run(ctx context.Context) error {
	for {
		res := l.cycle(ctx)
		if res.RequeueAfter <= 0 {
			select {
			case <-ctx.Done():
				l.log.Info("reconcile_loop_stopped", zap.String("state", l.Status().State.String()))
				return nil
			default:
				continue
			}
		}
		t := l.d.Clock.NewTimer(res.RequeueAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			l.log.Info("reconcile_loop_stopped", zap.String("state", l.Status().State.String()))
			return nil
		case <-t.C():
		}
	}
}

// cycle runs Reconcile and logs its error (the loop goes on: the next cycle observes again).
func (l *Loop) cycle(ctx context.Context) Result {
	res, err := l.Reconcile(ctx)
	if err != nil {
		l.log.Error("reconcile_failed", zap.Error(err))
	}
	return res
}

// Reconcile runs one cycle. An error is returned (after the cycle's observation was recorded) when
// the cycle could not decide or persist, or an action could not be journaled; the loop then stops
// acting until restarted on a trusted state directory.
func (l *Loop) Reconcile(ctx context.Context) (Result, error) {
	l.runMu.Lock()
	defer l.runMu.Unlock()

	now := l.d.Clock.Now()
	snap := l.d.Prober.Probe(ctx)
	corrRes := observer.Result{Verdict: observer.VerdictNotConfigured, Detail: "no observer is configured"}
	if l.d.Observers != nil {
		corrRes = l.d.Observers.Check(ctx)
	}
	if ctx.Err() != nil {
		// Shutting down: a probe cut short proves nothing about site A; decide nothing on it.
		return Result{}, nil
	}
	l.mu.Lock()
	st := l.st
	pending := l.pending
	untrusted := l.untrusted
	l.snap, l.corr = snap, corrRes
	l.mu.Unlock()

	var merr []error
	l.observeMetrics(snap, &merr)
	defer func() {
		if len(merr) > 0 {
			l.log.Warn("metrics_update_failed", zap.Error(errors.Join(merr...)))
		}
	}()

	if untrusted != "" {
		l.finish(now, "")
		return Result{RequeueAfter: l.opts.Interval}, nil
	}

	scan, serr := l.d.Signals.Scan(now, st.SignalExpect())
	if serr != nil {
		l.log.Warn("signal_scan_failed", zap.Error(serr))
	}
	for _, r := range scan.Rejected {
		l.log.Warn("signal_rejected", zap.String("signal", r.Kind.String()), zap.String("reason", string(r.Reason)),
			zap.String("plan_id", r.Plan), zap.String("detail", r.Detail))
		if l.d.Metrics != nil {
			if err := l.d.Metrics.SignalRejected(string(r.Reason)); err != nil {
				merr = append(merr, err)
			}
		}
	}

	loss, lossWhy := controller.ComputeDataLoss(l.d.Controller.Options(), st, snap)
	in := controller.Input{
		Snapshot:      snap,
		Signals:       controller.Signals{Paused: scan.Paused, Accepted: scan.Accepted},
		Corroboration: Corroboration(corrRes),
		DataLoss:      loss,
		StepResults:   pending,
	}
	res, err := l.d.Controller.Decide(st, in, now)
	if err != nil {
		l.finish(now, err.Error())
		return Result{RequeueAfter: l.opts.Interval}, fmt.Errorf("decide: %w", err)
	}
	if err := controller.Persist(l.d.Store, res, now); err != nil {
		l.refuse(fmt.Errorf("persist: %w", err))
		l.finish(now, err.Error())
		return Result{RequeueAfter: l.opts.Interval}, fmt.Errorf("reconcile: %w", err)
	}
	l.mu.Lock()
	l.st, l.pending = res.Status, nil
	for _, t := range res.Transitions {
		l.remember(t)
	}
	l.mu.Unlock()
	if !loss.Known && lossWhy != "" {
		l.log.Debug("data_loss_unknown", zap.String("detail", lossWhy))
	}
	l.decisionMetrics(res, now, &merr)

	results, aerr := l.act(ctx, res.Status, res.Actions)
	l.mu.Lock()
	l.pending = append(l.pending, results...)
	l.mu.Unlock()
	if aerr != nil {
		l.refuse(aerr)
		l.finish(now, aerr.Error())
		return Result{RequeueAfter: l.opts.Interval, Acted: true}, fmt.Errorf("reconcile: %w", aerr)
	}
	l.finish(now, "")
	if len(results) > 0 {
		return Result{RequeueAfter: 0, Acted: true}, nil
	}
	return Result{RequeueAfter: l.opts.Interval, Acted: len(res.Actions) > 0}, nil
}

// remember appends a transition to the bounded history (HistorySize of the controller's options).
func (l *Loop) remember(t controller.TransitionRecord) {
	l.history = append(l.history, t)
	if n := l.d.Controller.Options().HistorySize; n > 0 && len(l.history) > n {
		l.history = slices.Clone(l.history[len(l.history)-n:])
	}
}

// refuse marks the state directory untrusted: from now on the loop only observes.
func (l *Loop) refuse(err error) {
	l.mu.Lock()
	l.untrusted = err.Error()
	l.mu.Unlock()
	l.log.Error("state_untrusted_refusing_to_act", zap.String("group", l.st.Group), zap.Error(err))
}

// finish records the end of a cycle.
func (l *Loop) finish(now time.Time, errText string) {
	l.mu.Lock()
	l.lastReconcile = now
	l.cycles++
	l.lastErr = errText
	l.mu.Unlock()
	if l.d.Metrics != nil {
		l.d.Metrics.Reconciled(now)
	}
}

// act runs the actions in order. Plan publication and cancellation were made durable by Persist;
// they are only announced here. Once ctx is cancelled no new action starts; a running one completes
// (the executor's own step timeouts bound it).
func (l *Loop) act(ctx context.Context, st controller.Status, actions []controller.Action) ([]controller.StepResult, error) {
	var out []controller.StepResult
	for _, a := range actions {
		switch a.Kind {
		case controller.ActionPublishPlan:
			if st.Plan != nil {
				l.log.Info("plan_published", zap.String("group", st.Group), zap.String("plan_id", st.Plan.ID),
					zap.String("target", st.Plan.Target), zap.Strings("databases", st.Plan.Databases),
					zap.String("data_loss", st.Plan.DataLoss.String()), zap.String("approve_command", l.approveCommand(st.Plan)))
			}
			continue
		case controller.ActionCancelPlan:
			l.log.Info("plan_cancelled", zap.String("group", st.Group), zap.String("plan_id", a.Plan), zap.String("reason", a.Reason))
			continue
		}
		if ctx.Err() != nil {
			l.log.Info("action_not_started_shutdown", zap.String("action", a.String()))
			break
		}
		req := runbook.Request{Action: a, OldPrimary: oldPrimary(st)}
		if st.Plan != nil && (a.Plan == "" || a.Plan == st.Plan.ID) {
			req.Plan = st.Plan
		}
		res, err := l.d.Executor.Execute(context.WithoutCancel(ctx), req)
		out = append(out, res...)
		if err != nil {
			return out, fmt.Errorf("execute %s: %w", a, err)
		}
	}
	return out, nil
}

// approveCommand is the exact command an operator runs to approve the plan.
func (l *Loop) approveCommand(p *controller.Plan) string {
	c := p.ApproveCommand()
	if l.opts.ApproveFlags != "" {
		c += " " + l.opts.ApproveFlags
	}
	return c
}

// oldPrimary is the site-A partner that was principal of the group's first database.
func oldPrimary(st controller.Status) string {
	if st.Plan != nil {
		for _, db := range st.Plan.Databases {
			if p := st.Principals[db]; p != "" {
				return p
			}
		}
	}
	keys := make([]string, 0, len(st.Principals))
	for k := range st.Principals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		return st.Principals[keys[0]]
	}
	return ""
}

func planID(p *controller.Plan) string {
	if p == nil {
		return ""
	}
	return p.ID
}

// Corroboration maps the observers' result onto the controller's input. The verdicts correspond
// one to one; anything unrecognised is the conservative "none".
func Corroboration(r observer.Result) controller.Corroboration {
	var v controller.CorroborationVerdict
	switch r.Verdict {
	case observer.VerdictDown:
		v = controller.CorroborationDown
	case observer.VerdictVetoed:
		v = controller.CorroborationVetoed
	case observer.VerdictNotConfigured:
		v = controller.CorroborationNotConfigured
	default:
		v = controller.CorroborationNone
	}
	return controller.Corroboration{Verdict: v, Detail: r.Detail}
}

// observeMetrics exports what the snapshot shows.
func (l *Loop) observeMetrics(snap *probes.Snapshot, merr *[]error) {
	m := l.d.Metrics
	if m == nil || snap == nil {
		return
	}
	add := func(err error) {
		if err != nil {
			*merr = append(*merr, err)
		}
	}
	for i := range snap.Instances {
		in := &snap.Instances[i]
		add(m.ObserveProbe(in.Name, in.Up(), in.RTT))
		if !slices.Contains(l.opts.MirroringInstances, in.Name) {
			continue
		}
		for _, db := range l.opts.Databases {
			state := ""
			if d, ok := in.Database(db); ok && d.Mirroring.Visibility == probes.MirroringPresent {
				state = d.Mirroring.State.String()
			} else if ok && d.Mirroring.Visibility == probes.MirroringNotMirrored {
				continue
			}
			add(m.SetMirroringState(db, in.Name, state))
		}
	}
	for _, db := range l.opts.Databases {
		lag := probes.ComputeLag(snap, db)
		unres := metrics.Unknown
		if lag.UnrestoredKnown {
			unres = metrics.Count(lag.UnrestoredFiles)
		}
		add(m.SetLogShipping(db, metrics.LogShipping{BackupAge: figure(lag.BackupAge), CopyAge: figure(lag.CopyAge),
			RestoreAge: figure(lag.RestoreAge), RestoreLatency: figure(lag.RestoreLatency), UnrestoredFiles: unres}))
	}
}

func figure(f probes.Figure) metrics.Figure {
	if !f.Known {
		return metrics.Unknown
	}
	return metrics.Seconds(f.Value)
}

// decisionMetrics exports the decision: transitions, state, gates, pending approval, data loss and
// finished promotions.
func (l *Loop) decisionMetrics(res controller.Result, now time.Time, merr *[]error) {
	st := res.Status
	for _, t := range res.Transitions {
		if t.To == controller.StatePromoting && st.Plan != nil {
			l.mu.Lock()
			if _, ok := l.promStart[st.Plan.ID]; !ok {
				l.promStart[st.Plan.ID] = t.At
			}
			l.mu.Unlock()
		}
	}
	m := l.d.Metrics
	if m == nil {
		return
	}
	add := func(err error) {
		if err != nil {
			*merr = append(*merr, err)
		}
	}
	for _, t := range res.Transitions {
		add(m.Transition(st.Group, t.From.String(), t.To.String()))
		if t.From == controller.StatePromoting && st.Plan != nil {
			l.mu.Lock()
			began, ok := l.promStart[st.Plan.ID]
			delete(l.promStart, st.Plan.ID)
			l.mu.Unlock()
			if !ok {
				began = st.Plan.Created
			}
			result := metrics.ResultPromoted
			if t.To == controller.StatePromotionFailed {
				result = metrics.ResultFailed
				if !st.Plan.RecoveryStarted() {
					result = metrics.ResultAborted
				}
			}
			add(m.PromotionEnded(st.Group, result, now.Sub(began)))
		}
	}
	add(m.SetState(st.Group, st.State.String()))
	var gates []string
	for _, b := range st.Verdict.Blocked {
		gates = append(gates, BlockReason(b.Gate))
	}
	add(m.SetPromotionBlocked(st.Group, gates...))
	add(m.SetApprovalPending(st.Group, st.State == controller.StateAwaitingApproval))
	win, unc := metrics.Unknown, metrics.Unknown
	if st.DataLoss.Known {
		win, unc = metrics.Seconds(st.DataLoss.Window), metrics.Seconds(st.DataLoss.Uncertainty)
	}
	add(m.SetDataLoss(st.Group, win, unc))
}

// Status returns the current controller status (a copy of the top-level value; treat nested
// values as read-only).
func (l *Loop) Status() controller.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Untrusted returns why the loop refuses to act ("" when it trusts its state directory).
func (l *Loop) Untrusted() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.untrusted
}

// Ready reports whether a reconcile finished within ReadyAfter of now.
func (l *Loop) Ready(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cycles > 0 && now.Sub(l.lastReconcile) <= l.opts.ReadyAfter
}

// Package runbook executes the controller's actions: the eight steps of the
// unplanned promotion runbook (DESIGN.md "The unplanned promotion runbook"),
// the undo of a runbook that stopped before any RECOVERY, and the fence of a
// returning site-A partner.
//
// Every step is idempotent. Before running it the executor checks its
// postcondition (already done: it records that and moves on); after running
// it checks the postcondition again. Each step is journaled at start and at
// end through pkg/journal with the record the controller replays
// (controller.JournalKindStep carrying a controller.StepResult), runs under
// its own timeout, reports its duration, and classifies every SQL error with
// pkg/sqlerr (which scans every error of a batch). A CheckStep action answers
// from the postcondition alone. Databases outside the failover group are never
// restored, recovered or fenced.
//
// All T-SQL the runbook sends is in sql.go, each statement citing the
// SQLSERVER.md section it follows. Where the documentation is silent the
// executor takes the conservative reading:
//
//   - The share is listed with xp_dirtree (undocumented; what dbatools uses).
//     An empty listing means "unreachable": the final copy is skipped and the
//     step says so; a copy job that runs and fails fails the step (the plan's
//     data-loss estimate assumed the copy).
//   - The final restore restores the copied files explicitly, in FirstLSN
//     order (RESTORE HEADERONLY), those whose LastLSN is past the database's
//     redo_start_lsn; files whose names sort before the restore job's
//     last_restored_file are not read (log-shipping names embed the backup
//     time). 4326 (already applied, e.g. by a scheduled restore run) is
//     skipped; 4305 (gap) and 4330 (fork) stop with a diagnosis.
//   - A STANDBY database with files to restore is first set SINGLE_USER WITH
//     ROLLBACK IMMEDIATE and restored WITH NORECOVERY (it leaves STANDBY then);
//     the recover step ends STANDBY sessions the same way, retrying once if a
//     reader takes the single session back (3101), and returns the database to
//     MULTI_USER.
//   - A database found recovered when the final restore is checked is an
//     error, never "done": the executor did not recover it.
//   - Undo re-enables only the jobs the recorded configuration shows enabled
//     before the runbook, and refuses once a database of the group is
//     recovered.
//   - A fence touches only databases of the group, leaves the mirroring
//     session first (SET PARTNER OFF), then applies the method.
//   - Hooks that exited 0 are journaled and not run again for the same plan;
//     a crash between a hook's exit and its record runs it again, so hooks
//     must be idempotent.
package runbook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/sqlerr"
	"github.com/sqldr/sqldr/probes"
)

// Journal record kinds the executor writes besides controller.JournalKindStep.
const (
	// JournalKindHook records a hook that exited 0 (HookRecord), so that a
	// restarted executor does not run it again for the same plan.
	JournalKindHook = "runbook_hook"
	// JournalKindLogShipping records the secondary's log-shipping
	// configuration, jobs and recent history (LogShippingRecord), taken by
	// the record_config step before anything changes.
	JournalKindLogShipping = "runbook_log_shipping"
)

// ErrInterrupted is returned when a test-only interruption stopped the
// executor mid-step (simulating a crash: no end record was written).
var ErrInterrupted = errors.New("runbook: interrupted")

// Journal is where step records go (a *journal.Store).
type Journal interface {
	Append(kind string, at time.Time, data any) (journal.Record, error)
}

// Prober takes a fresh snapshot (a *probes.Prober).
type Prober interface {
	Probe(ctx context.Context) *probes.Snapshot
}

// HookRunner runs one hook (a *hook.Runner).
type HookRunner interface {
	Run(ctx context.Context, spec hook.Spec, hc hook.Context) (hook.Result, error)
}

// Options configures an Executor.
type Options struct {
	// Group is the failover group's name.
	Group string
	// Databases are the group's databases: the only ones ever restored, recovered or fenced.
	Databases []string
	// Target is the instance name of the log-shipping secondary to promote.
	Target string
	// FenceMethod is config.FenceOffline, FenceSingleUser or FenceHook.
	FenceMethod string
	// PrePromote, PostPromote and Fence are the hooks per event.
	PrePromote, PostPromote, Fence []hook.Spec
	// Timeouts bound each step; a missing step gets DefaultTimeout.
	Timeouts map[controller.Step]time.Duration
	// PollInterval is how often a job being waited for is polled (default 2s).
	PollInterval time.Duration
}

// DefaultTimeout bounds a step with no configured timeout.
const DefaultTimeout = 10 * time.Minute

// reportTimeout bounds the reading of each database's state after a failed recover step.
const reportTimeout = 30 * time.Second

// Validate reports every problem of the options.
func (o Options) Validate() error {
	var errs []error
	if o.Group == "" {
		errs = append(errs, errors.New("group: must not be empty"))
	}
	if len(o.Databases) == 0 {
		errs = append(errs, errors.New("databases: at least one database is required"))
	}
	for i, d := range o.Databases {
		if err := ValidateName(d); err != nil {
			errs = append(errs, fmt.Errorf("databases[%d]: %w", i, err))
		}
	}
	if o.Target == "" {
		errs = append(errs, errors.New("target: must not be empty"))
	}
	switch o.FenceMethod {
	case config.FenceOffline, config.FenceSingleUser:
	case config.FenceHook:
		if len(o.Fence) == 0 {
			errs = append(errs, errors.New("fence_method: hook needs at least one fence hook"))
		}
	default:
		errs = append(errs, fmt.Errorf("fence_method: %q is not offline, single_user or hook", o.FenceMethod))
	}
	if o.PollInterval < 0 {
		errs = append(errs, errors.New("poll_interval: must not be negative"))
	}
	return errors.Join(errs...)
}

// FromConfig maps the validated configuration onto Options.
func FromConfig(c *config.Config) Options {
	o := Options{Group: c.Group, Databases: slices.Clone(c.Databases), FenceMethod: c.Fence.Method,
		PrePromote: c.Hooks.PrePromote, PostPromote: c.Hooks.PostPromote, Fence: c.Hooks.Fence,
		PollInterval: c.Runbook.PollInterval, Timeouts: map[controller.Step]time.Duration{}}
	if s, ok := c.Secondary(); ok {
		o.Target = s.Name
	}
	for name, d := range c.Runbook.Timeouts {
		var s controller.Step
		if s.UnmarshalText([]byte(name)) == nil {
			o.Timeouts[s] = d
		}
	}
	return o
}

// Deps are the executor's collaborators.
type Deps struct {
	// Clock measures durations and paces polling (clock.RealClock{} in production).
	Clock clock.WithTicker
	// Journal receives the step, hook and log-shipping records.
	Journal Journal
	// Conn returns the pool of a configured instance (connected to master, as sysadmin).
	Conn func(instance string) (DB, error)
	// Prober takes the re-check's fresh snapshot.
	Prober Prober
	// Hooks runs hooks.
	Hooks HookRunner
	// History are the journal records loaded at start (journal.Store.Records):
	// the executor learns from them which hooks already succeeded and what
	// log-shipping configuration was recorded.
	History []journal.Record
}

// HookRecord is the payload of a JournalKindHook record.
type HookRecord struct {
	Plan     string     `json:"plan"`
	Event    hook.Event `json:"event"`
	Hook     string     `json:"hook"`
	Instance string     `json:"instance,omitempty"`
	ExitCode int        `json:"exit_code"`
	Duration string     `json:"duration"`
}

// LogShippingRecord is the payload of a JournalKindLogShipping record.
type LogShippingRecord struct {
	Plan      string           `json:"plan"`
	Instance  string           `json:"instance"`
	Databases []SecondaryState `json:"databases"`
}

// SecondaryState is one database's log-shipping configuration on the
// secondary, its jobs and recent history.
type SecondaryState struct {
	Database                   string   `json:"database"`
	SecondaryID                string   `json:"secondary_id"`
	PrimaryServer              string   `json:"primary_server"`
	PrimaryDatabase            string   `json:"primary_database"`
	BackupSourceDirectory      string   `json:"backup_source_directory"`
	BackupDestinationDirectory string   `json:"backup_destination_directory"`
	RestoreMode                bool     `json:"restore_mode_standby"`
	DisconnectUsers            bool     `json:"disconnect_users"`
	RestoreDelayMinutes        int64    `json:"restore_delay_minutes"`
	LastCopiedFile             string   `json:"last_copied_file"`
	LastRestoredFile           string   `json:"last_restored_file"`
	CopyJob                    JobState `json:"copy_job"`
	RestoreJob                 JobState `json:"restore_job"`
	History                    []string `json:"history,omitempty"`
}

// JobState is an Agent job as read from msdb.
type JobState struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Running bool   `json:"running"`
}

// Request is one action to execute, with what the executor needs to know
// about the plan.
type Request struct {
	// Action is the controller's action (RunStep, CheckStep, Undo or Fence).
	Action controller.Action
	// Plan is the current plan (its databases, target and data-loss estimate); nil for a fence outside a plan.
	Plan *controller.Plan
	// OldPrimary is the site-A instance that was principal (for hooks).
	OldPrimary string
	// DataLoss is the current estimate (Status.DataLoss) for the hooks'
	// environment; when it is unknown, the plan's estimate is used.
	DataLoss controller.DataLoss
}

// Executor runs actions. Execute calls are serialised.
type Executor struct {
	log  *zap.Logger
	opts Options
	deps Deps

	mu         sync.Mutex
	hooksDone  map[string]bool              // plan|event|hook|instance
	configs    map[string]LogShippingRecord // plan → recorded configuration
	interrupt  func(step controller.Step, point string) bool
	statements int // effectful statements sent in the current step (for interrupt)
}

// New validates the options and returns an executor.
func New(logger *zap.Logger, opts Options, deps Deps) (*Executor, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("runbook options: %w", err)
	}
	if deps.Clock == nil || deps.Journal == nil || deps.Conn == nil || deps.Prober == nil || deps.Hooks == nil {
		return nil, errors.New("runbook: Clock, Journal, Conn, Prober and Hooks are required")
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = config.DefaultPollInterval
	}
	e := &Executor{log: logger.Named("runbook"), opts: opts, deps: deps,
		hooksDone: map[string]bool{}, configs: map[string]LogShippingRecord{}}
	for _, r := range deps.History {
		switch r.Kind {
		case JournalKindHook:
			var h HookRecord
			if err := r.Decode(&h); err != nil {
				return nil, fmt.Errorf("runbook: journal record %d: %w", r.Seq, err)
			}
			e.hooksDone[hookKey(h.Plan, h.Event, h.Hook, h.Instance)] = true
		case JournalKindLogShipping:
			var l LogShippingRecord
			if err := r.Decode(&l); err != nil {
				return nil, fmt.Errorf("runbook: journal record %d: %w", r.Seq, err)
			}
			e.configs[l.Plan] = l
		}
	}
	return e, nil
}

func hookKey(plan string, ev hook.Event, name, instance string) string {
	return plan + "|" + string(ev) + "|" + name + "|" + instance
}

// outcome is what a step body or a postcondition check concluded.
type outcome struct {
	done      bool
	detail    string   // why not done, or what was found
	recovered []string // databases found recovered (recover step)
}

// Execute runs one action and returns the step records it journaled (start
// and end, or the check's result) for the controller's next Decide. A step
// that fails (including its own timeout) is a StepResult with OutcomeFailed,
// not an error. An error means: the journal could not be written (the daemon
// must stop acting); the action is not the executor's; or ctx was canceled
// (shutdown) while the step ran — then only the start record exists and the
// restarted daemon checks the step (controller.Load/Restore → CheckStep). To
// let a running step finish on shutdown instead, pass context.WithoutCancel.
func (e *Executor) Execute(ctx context.Context, req Request) ([]controller.StepResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := req.Action
	switch a.Kind {
	case controller.ActionRunStep, controller.ActionCheckStep:
		if !slices.Contains(controller.Runbook, a.Step) {
			return nil, fmt.Errorf("runbook: %s of step %s: not a runbook step", a.Kind, a.Step)
		}
	case controller.ActionUndo:
		a.Step = controller.StepUndo
	case controller.ActionFence:
		a.Step = controller.StepFence
	default:
		return nil, fmt.Errorf("runbook: action %s is not executed by the runbook", a.Kind)
	}
	req.Action = a
	if a.Kind != controller.ActionFence { // a fence skips databases outside the group itself
		if err := e.checkDatabases(a.Databases); err != nil {
			return nil, err
		}
	}
	if a.Kind == controller.ActionCheckStep {
		return e.check(ctx, req)
	}
	return e.run(ctx, req)
}

// checkDatabases refuses an action naming a database outside the group.
func (e *Executor) checkDatabases(dbs []string) error {
	for _, d := range dbs {
		if !e.inGroup(d) {
			return fmt.Errorf("runbook: database %q is not in failover group %s: it is never restored, recovered or fenced", d, e.opts.Group)
		}
	}
	return nil
}

func (e *Executor) inGroup(db string) bool {
	return slices.ContainsFunc(e.opts.Databases, func(g string) bool { return strings.EqualFold(g, db) })
}

func (e *Executor) timeout(s controller.Step) time.Duration {
	if d, ok := e.opts.Timeouts[s]; ok && d > 0 {
		return d
	}
	return DefaultTimeout
}

func (e *Executor) journal(r controller.StepResult) error {
	if _, err := e.deps.Journal.Append(controller.JournalKindStep, r.At, r); err != nil {
		return fmt.Errorf("runbook: journal %s %s of plan %s: %w", r.Step, r.Outcome, r.Plan, err)
	}
	return nil
}

func (e *Executor) interrupted(s controller.Step, point string) bool {
	return e.interrupt != nil && e.interrupt(s, point)
}

// run executes a step: start record, postcondition, body, postcondition, end record.
func (e *Executor) run(ctx context.Context, req Request) ([]controller.StepResult, error) {
	a := req.Action
	log := e.log.With(zap.String("plan_id", a.Plan), zap.String("step", a.Step.String()), zap.Int("attempt", a.Attempt))
	start := e.deps.Clock.Now()
	started := controller.StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt, Outcome: controller.OutcomeStarted, At: start}
	if err := e.journal(started); err != nil {
		return nil, err
	}
	log.Info("step_started", zap.String("instance", a.Instance))
	e.statements = 0
	if e.interrupted(a.Step, "started") {
		return nil, ErrInterrupted
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, e.timeout(a.Step))
	defer cancel()

	end := controller.StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt}
	before, err := e.postcondition(ctx, req)
	var after outcome
	switch {
	case err != nil:
	case before.done:
		after = before
		log.Info("step_already_done", zap.String("detail", before.detail))
	default:
		err = e.body(ctx, req)
		if errors.Is(err, ErrInterrupted) {
			return nil, err
		}
		if err == nil {
			after, err = e.postcondition(ctx, req)
			if err == nil && !after.done {
				err = fmt.Errorf("postcondition not reached: %s", after.detail)
			}
		}
	}
	if e.interrupted(a.Step, "executed") {
		return nil, ErrInterrupted
	}
	if err != nil && parent.Err() != nil {
		// Shutdown, not a failure: no end record, so that the restarted
		// daemon checks the step's postcondition and resumes it.
		log.Warn("step_interrupted_by_shutdown", zap.Error(err))
		return []controller.StepResult{started}, fmt.Errorf("runbook: step %s interrupted: %w", a.Step, parent.Err())
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("step timed out after %s: %w", e.timeout(a.Step), err)
	}
	end.At = e.deps.Clock.Now()
	end.Recovered = after.recovered
	dur := end.At.Sub(start)
	if err != nil {
		end.Outcome, end.Err = controller.OutcomeFailed, describe(err)
		if a.Step == controller.StepRecover {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
			end.Recovered = e.recoveredNow(rctx, req)
			rcancel()
		}
		log.Error("step_failed", zap.Duration("duration", dur), zap.String("error_class", sqlerr.Classify(err).String()),
			zap.Int32("sql_error_number", errNumber(err)), zap.Strings("recovered", end.Recovered), zap.Error(err))
	} else {
		end.Outcome = controller.OutcomeDone
		log.Info("step_done", zap.Duration("duration", dur), zap.String("detail", after.detail), zap.Strings("recovered", end.Recovered))
	}
	if err := e.journal(end); err != nil {
		return []controller.StepResult{started}, err
	}
	return []controller.StepResult{started, end}, nil
}

// check answers a CheckStep from the postcondition alone.
func (e *Executor) check(ctx context.Context, req Request) ([]controller.StepResult, error) {
	a := req.Action
	ctx, cancel := context.WithTimeout(ctx, e.timeout(a.Step))
	defer cancel()
	o, err := e.postcondition(ctx, req)
	r := controller.StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt, At: e.deps.Clock.Now(), Recovered: o.recovered}
	switch {
	case err != nil:
		// Unknown is not done: the step runs again, and it is idempotent.
		r.Outcome, r.Err = controller.OutcomeCheckedNotDone, "postcondition could not be checked: "+describe(err)
	case o.done:
		r.Outcome = controller.OutcomeCheckedDone
	default:
		r.Outcome, r.Err = controller.OutcomeCheckedNotDone, o.detail
	}
	e.log.Info("step_checked", zap.String("plan_id", a.Plan), zap.String("step", a.Step.String()),
		zap.String("outcome", r.Outcome.String()), zap.String("detail", r.Err), zap.Strings("recovered", r.Recovered))
	if err := e.journal(r); err != nil {
		return nil, err
	}
	return []controller.StepResult{r}, nil
}

// effect notes that an effectful statement ran (for the test-only interruption).
func (e *Executor) effect(s controller.Step) error {
	e.statements++
	if e.interrupted(s, fmt.Sprintf("statement %d", e.statements)) {
		return ErrInterrupted
	}
	return nil
}

// describe renders an error for a step record, with its SQL classification.
func describe(err error) string {
	if n, ok := sqlerr.Number(err); ok {
		return fmt.Sprintf("%v [sql error %d, %s]", err, n, sqlerr.Classify(err))
	}
	return err.Error()
}

func errNumber(err error) int32 {
	n, _ := sqlerr.Number(err)
	return n
}

func (e *Executor) conn(instance string) (DB, error) {
	db, err := e.deps.Conn(instance)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", instance, err)
	}
	return db, nil
}

// wait polls cond every PollInterval until it reports done or ctx ends.
func (e *Executor) wait(ctx context.Context, what string, cond func() (bool, string, error)) error {
	for {
		done, detail, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %s: %w", what, detail, ctx.Err())
		case <-e.deps.Clock.After(e.opts.PollInterval):
		}
	}
}

package controller

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

// Input is everything Decide looks at besides the status and `now`.
type Input struct {
	// Snapshot is this cycle's observation; nil when none was taken (then
	// nothing is concluded about site A, but signals and step results are).
	Snapshot *probes.Snapshot
	// Signals are the validated signal files (pkg/signal).
	Signals Signals
	// Corroboration is the third-site observers' verdict.
	Corroboration Corroboration
	// DataLoss is the failover group's data-loss window (its worst member's),
	// computed by the caller with the probes data-loss model from the
	// snapshot and Status.LastGood; Known false when any figure is unknown.
	DataLoss DataLoss
	// StepResults are the executor's reports since the last call.
	StepResults []StepResult
}

// Signals are the signal files accepted this cycle.
type Signals struct {
	// Paused is true while the pause file exists.
	Paused bool
	// Accepted are approve/ack/retry signals that passed pkg/signal's checks.
	// Decide checks the plan ID and times again and ignores one it has
	// already counted.
	Accepted []signal.Signal
}

// CorroborationVerdict is what the observers outside site B say.
type CorroborationVerdict uint8

// The verdicts. The zero value is the conservative one.
const (
	// CorroborationNone: observers are configured but none freshly corroborates.
	CorroborationNone CorroborationVerdict = iota
	// CorroborationNotConfigured: no observer is configured; auto behaves as approval.
	CorroborationNotConfigured
	// CorroborationDown: a quorum of fresh observers sees every site-A instance unreachable.
	CorroborationDown
	// CorroborationVetoed: a fresh observer sees a site-A instance serving.
	CorroborationVetoed
)

var corroborationNames = [...]string{"none", "not_configured", "corroborated_down", "vetoed"}

// String returns the verdict's snake_case name.
func (v CorroborationVerdict) String() string {
	if int(v) < len(corroborationNames) {
		return corroborationNames[v]
	}
	return "invalid"
}

// MarshalText writes the verdict's name.
func (v CorroborationVerdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a verdict name.
func (v *CorroborationVerdict) UnmarshalText(b []byte) error {
	for i, n := range corroborationNames {
		if n == string(b) {
			*v = CorroborationVerdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown corroboration verdict %q", b)
}

// Corroboration is the observers' verdict with a detail for people.
type Corroboration struct {
	Verdict CorroborationVerdict `json:"verdict"`
	Detail  string               `json:"detail,omitempty"`
}

// DataLoss is the data-loss window of the group.
type DataLoss struct {
	// Known is false when a figure it depends on is unknown (unknown blocks automatic promotion).
	Known bool `json:"known"`
	// Window is what would be lost if the secondary were promoted now.
	Window time.Duration `json:"window"`
	// Uncertainty is the gap between the last good and first failed probe plus clock skew.
	Uncertainty time.Duration `json:"uncertainty"`
}

// String renders "7m12s ± 30s" or "unknown".
func (d DataLoss) String() string {
	if !d.Known {
		return "unknown"
	}
	return fmt.Sprintf("%s ± %s", d.Window, d.Uncertainty)
}

// Step is one step of the unplanned promotion runbook (DESIGN.md).
type Step uint8

// The runbook steps in order, plus the undo and fence actions.
const (
	StepNone Step = iota
	// StepRecheck re-checks with a fresh snapshot; aborts if site A answers.
	StepRecheck
	// StepPreHooks runs the pre-promote hooks; a non-zero exit vetoes.
	StepPreHooks
	// StepRecordConfig records the log-shipping configuration and waits for running jobs.
	StepRecordConfig
	// StepFinalCopy runs the copy job once more if the share is reachable.
	StepFinalCopy
	// StepFinalRestore restores every copied log WITH NORECOVERY, every database of the group.
	StepFinalRestore
	// StepDisableJobs disables the copy and restore jobs.
	StepDisableJobs
	// StepRecover runs RESTORE … WITH RECOVERY per database and verifies it writable. Irreversible.
	StepRecover
	// StepPostHooks runs the post-promote hooks.
	StepPostHooks
	// StepUndo re-enables what the runbook disabled (only before any RECOVERY).
	StepUndo
	// StepFence takes a returning site-A partner out of service.
	StepFence
	numSteps
)

var stepNames = [...]string{"none", "recheck", "pre_promote_hooks", "record_config", "final_copy",
	"final_restore", "disable_jobs", "recover", "post_promote_hooks", "undo", "fence"}

// Runbook is the ordered list of promotion steps.
var Runbook = []Step{StepRecheck, StepPreHooks, StepRecordConfig, StepFinalCopy, StepFinalRestore,
	StepDisableJobs, StepRecover, StepPostHooks}

// String returns the step's snake_case name.
func (s Step) String() string {
	if s < numSteps {
		return stepNames[s]
	}
	return "step(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the step's name.
func (s Step) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a step name.
func (s *Step) UnmarshalText(b []byte) error {
	for i, n := range stepNames {
		if n == string(b) {
			*s = Step(i)
			return nil
		}
	}
	return fmt.Errorf("unknown step %q", b)
}

// Phase is where a runbook step stands.
type Phase uint8

// The phases.
const (
	// PhasePending: not started (or found not done by a check); RunStep is next.
	PhasePending Phase = iota
	// PhaseDispatched: RunStep was emitted; waiting for its result.
	PhaseDispatched
	// PhaseStarted: the executor journaled the start; waiting for the end.
	PhaseStarted
	// PhaseNeedsCheck: started before a restart with no end record; CheckStep is next.
	PhaseNeedsCheck
	// PhaseChecking: CheckStep was emitted; waiting for its result.
	PhaseChecking
	// PhaseDone: finished (or its postcondition was found to hold).
	PhaseDone
	// PhaseFailed: failed.
	PhaseFailed
	numPhases
)

var phaseNames = [...]string{"pending", "dispatched", "started", "needs_check", "checking", "done", "failed"}

// String returns the phase's name.
func (p Phase) String() string {
	if p < numPhases {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText writes the phase's name.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a phase name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if n == string(b) {
			*p = Phase(i)
			return nil
		}
	}
	return fmt.Errorf("unknown phase %q", b)
}

// Outcome is what an executor reports about a step.
type Outcome uint8

// The outcomes.
const (
	OutcomeUnknown Outcome = iota
	// OutcomeStarted: the step's start was journaled (it is running).
	OutcomeStarted
	// OutcomeDone: the step finished and its postcondition holds.
	OutcomeDone
	// OutcomeFailed: the step failed.
	OutcomeFailed
	// OutcomeCheckedDone: a CheckStep found the postcondition holding.
	OutcomeCheckedDone
	// OutcomeCheckedNotDone: a CheckStep found the postcondition not holding.
	OutcomeCheckedNotDone
	numOutcomes
)

var outcomeNames = [...]string{"unknown", "started", "done", "failed", "checked_done", "checked_not_done"}

// String returns the outcome's name.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText writes the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses an outcome name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q", b)
}

// StepResult is an executor's report on a step. It is also the payload of
// the journal's step records (kind JournalKindStep), so the same type
// replays the journal after a restart.
type StepResult struct {
	Plan    string    `json:"plan"`
	Step    Step      `json:"step"`
	Attempt int       `json:"attempt"`
	Outcome Outcome   `json:"outcome"`
	At      time.Time `json:"at"`
	Err     string    `json:"err,omitempty"`
	// Recovered lists the databases on which RESTORE … WITH RECOVERY
	// completed (StepRecover only), so far.
	Recovered []string `json:"recovered,omitempty"`
}

// ActionKind says what the executor must do.
type ActionKind uint8

// The actions.
const (
	ActionUnknown ActionKind = iota
	// ActionPublishPlan: journal and publish a new plan (status, metrics, the approve command).
	ActionPublishPlan
	// ActionCancelPlan: the pending plan was cancelled (site A returned before it started).
	ActionCancelPlan
	// ActionRunStep: run a runbook step (check its postcondition first; journal start and end).
	ActionRunStep
	// ActionCheckStep: check the postcondition of a step that started but has no end record.
	ActionCheckStep
	// ActionUndo: re-enable what the runbook disabled (it stopped before any RECOVERY).
	ActionUndo
	// ActionFence: take a returning site-A partner out of service (SET PARTNER OFF first).
	ActionFence
	numActions
)

var actionNames = [...]string{"unknown", "publish_plan", "cancel_plan", "run_step", "check_step", "undo", "fence"}

// String returns the action's name.
func (a ActionKind) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText writes the action's name.
func (a ActionKind) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Action is one thing for the executor to do.
type Action struct {
	Kind      ActionKind `json:"kind"`
	Plan      string     `json:"plan,omitempty"`
	Step      Step       `json:"step,omitempty"`
	Attempt   int        `json:"attempt,omitempty"`
	Instance  string     `json:"instance,omitempty"`
	Databases []string   `json:"databases,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

// String renders the action for logs and scenario transcripts.
func (a Action) String() string {
	var b strings.Builder
	b.WriteString(a.Kind.String())
	if a.Step != StepNone {
		fmt.Fprintf(&b, " %s", a.Step)
		if a.Attempt > 1 {
			fmt.Fprintf(&b, " (attempt %d)", a.Attempt)
		}
	}
	if a.Instance != "" {
		fmt.Fprintf(&b, " %s", a.Instance)
	}
	if a.Plan != "" {
		fmt.Fprintf(&b, " plan=%s", a.Plan)
	}
	return b.String()
}

// StepProgress is one runbook step of a plan.
type StepProgress struct {
	Step    Step      `json:"step"`
	Phase   Phase     `json:"phase"`
	Attempt int       `json:"attempt,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	Err     string    `json:"err,omitempty"`
}

// Approval records how a plan was approved.
type Approval struct {
	// By is "auto" or "operator".
	By string `json:"by"`
	// At is when Decide accepted it.
	At time.Time `json:"at"`
	// SignalTime is the approval file's modification time (operator only).
	SignalTime time.Time `json:"signal_time,omitzero"`
}

// Plan is a promotion plan: what would be done, to what, and at what cost.
type Plan struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`
	Databases []string  `json:"databases"`
	Target    string    `json:"target"`
	Created   time.Time `json:"created"`
	// DataLoss is the estimate when the plan was created.
	DataLoss DataLoss       `json:"data_loss"`
	Steps    []StepProgress `json:"steps"`
	Approval *Approval      `json:"approval,omitempty"`
	// Recovered lists the databases already recovered (irreversible).
	Recovered []string `json:"recovered,omitempty"`
	// FailedStep and FailReason say why the runbook stopped.
	FailedStep Step   `json:"failed_step,omitempty"`
	FailReason string `json:"fail_reason,omitempty"`
	// UndoPending is true while an undo is due (held back by pause),
	// UndoDispatched while it runs, Undone once it reported done.
	UndoPending    bool `json:"undo_pending,omitempty"`
	UndoDispatched bool `json:"undo_dispatched,omitempty"`
	Undone         bool `json:"undone,omitempty"`
	// UndoErr is the undo's error when it failed (the jobs may still be disabled).
	UndoErr string `json:"undo_err,omitempty"`
	// DatabaseStates is each database's state on the target when the runbook stopped.
	DatabaseStates map[string]string `json:"database_states,omitempty"`
}

// ApproveCommand is the exact command an operator runs to approve the plan.
func (p *Plan) ApproveCommand() string { return "sqldr approve --plan " + p.ID }

// step returns the progress entry of s.
func (p *Plan) step(s Step) *StepProgress {
	for i := range p.Steps {
		if p.Steps[i].Step == s {
			return &p.Steps[i]
		}
	}
	return nil
}

// RecoveryStarted reports whether any RESTORE … WITH RECOVERY may have run:
// the recover step left Pending, or a database was reported recovered.
func (p *Plan) RecoveryStarted() bool {
	if len(p.Recovered) > 0 {
		return true
	}
	s := p.step(StepRecover)
	return s != nil && s.Phase != PhasePending
}

// DiagnosisName names a finding.
type DiagnosisName string

// The diagnoses.
const (
	DiagPrimarySiteUnreachable DiagnosisName = "PrimarySiteUnreachable"
	DiagPrimarySiteDown        DiagnosisName = "PrimarySiteDown"
	DiagMirrorFailedOver       DiagnosisName = "MirrorFailedOver"
	DiagMirrorNotSynchronized  DiagnosisName = "MirrorNotSynchronized"
	DiagNoPrincipal            DiagnosisName = "NoPrincipal"
	DiagTwoPrincipals          DiagnosisName = "TwoPrincipals"
	DiagSecondaryUnreachable   DiagnosisName = "SecondaryUnreachable"
	DiagLogShippingStalled     DiagnosisName = "LogShippingStalled"
	DiagSecondaryBehindBudget  DiagnosisName = "SecondaryBehindBudget"
	DiagDataLossUnknown        DiagnosisName = "DataLossUnknown"
	DiagForkMismatch           DiagnosisName = "ForkMismatch"
	DiagOldPrimaryWritable     DiagnosisName = "OldPrimaryWritable"
	DiagTwoWritableCopies      DiagnosisName = "TwoWritableCopies"
)

// Diagnosis is one named finding with its evidence.
type Diagnosis struct {
	Name     DiagnosisName `json:"name"`
	Database string        `json:"database,omitempty"`
	Instance string        `json:"instance,omitempty"`
	Detail   string        `json:"detail"`
	// Degrading is true when the finding reduces protection (Healthy → Degraded).
	Degrading bool `json:"degrading"`
}

// String renders "Name(instance/database): detail".
func (d Diagnosis) String() string {
	var where []string
	if d.Instance != "" {
		where = append(where, d.Instance)
	}
	if d.Database != "" {
		where = append(where, d.Database)
	}
	s := string(d.Name)
	if len(where) > 0 {
		s += "(" + strings.Join(where, "/") + ")"
	}
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// Gate names a condition of automatic promotion.
type Gate string

// The gates, in the order they are reported.
const (
	GateMode            Gate = "mode"
	GateSiteConfirmed   Gate = "site_confirmed_down"
	GateCorroborated    Gate = "corroborated"
	GateDataLossKnown   Gate = "data_loss_known"
	GateDataLossBudget  Gate = "data_loss_budget"
	GateCooldown        Gate = "cooldown"
	GatePaused          Gate = "paused"
	GateNoPlanInFlight  Gate = "no_plan_in_flight"
	GateSecondaryTarget Gate = "target_reachable"
)

// Gates lists every gate, for pre-creating metric labels.
var Gates = []Gate{GateMode, GateSiteConfirmed, GateCorroborated, GateDataLossKnown, GateDataLossBudget,
	GateCooldown, GatePaused, GateNoPlanInFlight, GateSecondaryTarget}

// Blocker is a gate that blocks, with its figures.
type Blocker struct {
	Gate   Gate   `json:"gate"`
	Detail string `json:"detail"`
}

// Verdict is "would promote now", with every blocking gate.
type Verdict struct {
	WouldPromote bool      `json:"would_promote"`
	Blocked      []Blocker `json:"blocked,omitempty"`
}

// Blocks reports whether gate g blocks.
func (v Verdict) Blocks(g Gate) bool {
	for _, b := range v.Blocked {
		if b.Gate == g {
			return true
		}
	}
	return false
}

// String renders "would promote now: no — blocked by: …" with every blocker's figures.
func (v Verdict) String() string {
	if v.WouldPromote {
		return "would promote now: yes"
	}
	parts := make([]string, len(v.Blocked))
	for i, b := range v.Blocked {
		parts[i] = b.Detail
	}
	return "would promote now: no — blocked by: " + strings.Join(parts, "; ")
}

// Outage is the hold timer of a suspected site-A loss (like a Prometheus
// alert's `for:`, at explicit timestamps).
type Outage struct {
	// FirstFailed is the controller's time of the first failed probe of the outage.
	FirstFailed time.Time `json:"first_failed,omitzero"`
	// LastFailed is the time of the latest failed probe.
	LastFailed time.Time `json:"last_failed,omitzero"`
	// Failures counts consecutive failed probes; a good probe resets it.
	Failures int `json:"failures"`
}

// PromotionRecord remembers the latest promotion for the cooldown gate.
type PromotionRecord struct {
	Plan    string    `json:"plan"`
	Started time.Time `json:"started"`
	Acked   bool      `json:"acked"`
}

// ConsumedSignal is a signal Decide has counted; the same one is never counted twice.
type ConsumedSignal struct {
	Kind    signal.Kind `json:"kind"`
	Plan    string      `json:"plan"`
	ModTime time.Time   `json:"mod_time"`
}

// maxConsumed bounds Status.Consumed.
const maxConsumed = 32

// Status is the persisted state of a failover group: written (journal
// package, fsynced) before any action runs.
type Status struct {
	Group  string    `json:"group"`
	State  State     `json:"state"`
	Since  time.Time `json:"since,omitzero"`
	Reason string    `json:"reason,omitempty"`
	Paused bool      `json:"paused"`
	// Diagnoses are this cycle's findings.
	Diagnoses []Diagnosis `json:"diagnoses,omitempty"`
	// Verdict is "would promote now" with its blocking gates.
	Verdict Verdict `json:"verdict"`
	// Outage is the hold timer.
	Outage Outage `json:"outage"`
	// DataLoss is the latest data-loss figure.
	DataLoss DataLoss `json:"data_loss"`
	// Corroboration is the latest observers' verdict.
	Corroboration Corroboration `json:"corroboration"`
	// Plan is the current plan (pending, running, done or failed).
	Plan *Plan `json:"plan,omitempty"`
	// PlanSeq numbers plans so that IDs are unique.
	PlanSeq int `json:"plan_seq"`
	// LastPromotion drives the cooldown gate.
	LastPromotion *PromotionRecord `json:"last_promotion,omitempty"`
	// Consumed are the signals already counted.
	Consumed []ConsumedSignal `json:"consumed,omitempty"`
	// LastGood is the last good observation of site A, per database,
	// persisted so that a restart during an outage keeps the data-loss estimate.
	LastGood map[string]probes.LastGood `json:"last_good,omitempty"`
	// Principals is the partner that was principal, per database.
	Principals map[string]string `json:"principals,omitempty"`
	// Fenced are the instances a fence was emitted for in the current split-brain episode.
	Fenced map[string]time.Time `json:"fenced,omitempty"`
}

// SignalExpect tells pkg/signal which plan each signal may name now.
func (s *Status) SignalExpect() signal.Expect {
	var e signal.Expect
	if s.Plan != nil && s.State == StateAwaitingApproval {
		e.PendingPlan, e.PlanCreated = s.Plan.ID, s.Plan.Created
	}
	if s.Plan != nil && s.State == StatePromotionFailed {
		e.RetryPlan, e.RetryPlanCreated = s.Plan.ID, s.Plan.Created
		e.AckPlan, e.AckPlanCreated = s.Plan.ID, s.Plan.Created
	}
	if e.AckPlan == "" && s.LastPromotion != nil && !s.LastPromotion.Acked {
		e.AckPlan = s.LastPromotion.Plan
		if s.Plan != nil && s.Plan.ID == e.AckPlan {
			e.AckPlanCreated = s.Plan.Created
		} else {
			e.AckPlanCreated = s.LastPromotion.Started
		}
	}
	return e
}

// TransitionRecord is one transition, for the log, the journal and the history.
type TransitionRecord struct {
	At       time.Time `json:"at"`
	From     State     `json:"from"`
	To       State     `json:"to"`
	Event    Event     `json:"event"`
	Reason   string    `json:"reason"`
	Evidence string    `json:"evidence,omitempty"`
	Plan     string    `json:"plan,omitempty"`
}

// Result is what Decide returns.
type Result struct {
	// Status is the next status; persist it before running Actions.
	Status Status
	// Actions are to be run in order.
	Actions []Action
	// Transitions are the transitions made (journal them).
	Transitions []TransitionRecord
	// Ignored lists signals and step results Decide did not use, with why.
	Ignored []string
}

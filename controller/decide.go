package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

// knobs disable single safety checks. They exist only so that tests can show
// that the property tests catch the removal of each gate; production code
// always passes the zero value.
type knobs struct {
	skipBudget        bool // data-loss window over budget no longer blocks
	skipUnknownBudget bool // unknown data-loss window no longer blocks
	skipCorroboration bool // corroboration no longer required
	skipCooldown      bool // unacknowledged recent promotion no longer blocks
	skipPause         bool // pause no longer stops new actions
	skipPlanIDCheck   bool // any approval approves the pending plan
	skipConsumedCheck bool // a signal already counted counts again
	blindRerun        bool // after a restart, started steps are re-run without a check
	skipConfirmHold   bool // the first failed probe confirms site A down
}

// FenceRetryInterval is how long a fence action is given to take effect
// before it is emitted again for an old partner that is still writable.
const FenceRetryInterval = 2 * time.Minute

// maxChain bounds the transitions made in one Decide call (e.g. SiteSuspect
// → SiteDown → Promoting when the hold expires and every gate passes).
const maxChain = 6

// run is one Decide call in progress.
type run struct {
	o    Options
	k    knobs
	st   *Status
	in   Input
	now  time.Time
	ob   observation
	res  Result
	sigs struct {
		approve *signal.Signal
		ackPlan *signal.Signal // ack of the current (failed) plan; consumed when acted on
		retry   *signal.Signal // consumed when acted on
	}
}

// decide is the pure step function behind Controller.Decide.
func decide(o Options, k knobs, prev Status, in Input, now time.Time) (Result, error) {
	st := prev.clone()
	if st.Group == "" {
		st.Group = o.Group
	}
	r := &run{o: o, k: k, st: &st, in: in, now: now}
	st.Paused = in.Signals.Paused
	st.Corroboration = in.Corroboration
	r.ob = observe(o, &prev, in)
	r.bookkeeping()
	r.foldResults(in.StepResults)
	r.readSignals()

	for i := 0; i < maxChain; i++ {
		ev, evidence := r.handle()
		if ev == EventUnknown {
			break
		}
		if err := r.fire(ev, evidence); err != nil {
			return Result{}, err
		}
	}
	st.Diagnoses = r.ob.diagnoses(st.State, st.Plan)
	st.Verdict = r.gates()
	r.res.Status = st
	return r.res, nil
}

// fire applies one table transition.
func (r *run) fire(ev Event, evidence string) error {
	from := r.st.State
	to, reason, err := Transition(from, ev)
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	plan := ""
	if r.st.Plan != nil {
		plan = r.st.Plan.ID
	}
	r.st.State, r.st.Since, r.st.Reason = to, r.now, reason
	r.res.Transitions = append(r.res.Transitions, TransitionRecord{
		At: r.now, From: from, To: to, Event: ev, Reason: reason, Evidence: evidence, Plan: plan,
	})
	switch to {
	case StateHealthy, StateDegraded:
		r.st.Plan = nil
		r.st.Fenced = nil
	case StatePromoted:
		r.st.Fenced = nil
	}
	return nil
}

func (r *run) act(a Action) { r.res.Actions = append(r.res.Actions, a) }

func (r *run) ignore(format string, a ...any) {
	r.res.Ignored = append(r.res.Ignored, fmt.Sprintf(format, a...))
}

func (r *run) paused() bool { return r.st.Paused && !r.k.skipPause }

// bookkeeping updates the hold timer and the last good observation once per call.
func (r *run) bookkeeping() {
	if !r.ob.have {
		return
	}
	st := r.st
	for _, db := range r.o.Databases {
		prev := st.LastGood[db]
		if lg := probes.UpdateLastGood(prev, r.in.Snapshot, db); !lg.ObservedAt.Equal(prev.ObservedAt) {
			if st.LastGood == nil {
				st.LastGood = map[string]probes.LastGood{}
			}
			st.LastGood[db] = lg
		}
	}
	if r.ob.siteAAlive {
		st.Outage = Outage{}
		st.DataLoss = r.in.DataLoss
		for db, inst := range r.ob.principals {
			if st.Principals == nil {
				st.Principals = map[string]string{}
			}
			st.Principals[db] = inst
		}
		return
	}
	if st.Outage.Failures == 0 {
		st.Outage.FirstFailed = r.now
	}
	st.Outage.Failures++
	st.Outage.LastFailed = r.now
	st.DataLoss = r.in.DataLoss
}

// readSignals checks the accepted signals against the status.
func (r *run) readSignals() {
	st := r.st
	for i := range r.in.Signals.Accepted {
		s := r.in.Signals.Accepted[i]
		if !r.k.skipConsumedCheck && st.consumed(s) {
			r.ignore("%s for plan %s already counted", s.Kind, s.Plan)
			continue
		}
		used := false
		switch s.Kind {
		case signal.KindApprove:
			p := st.Plan
			switch {
			case st.State != StateAwaitingApproval || p == nil:
				r.ignore("approve for plan %s: no plan is waiting for approval", s.Plan)
			case !r.k.skipPlanIDCheck && s.Plan != p.ID:
				r.ignore("approve for plan %s: the pending plan is %s", s.Plan, p.ID)
			case !r.k.skipPlanIDCheck && !s.ModTime.After(p.Created):
				r.ignore("approve for plan %s: written before the plan was created", s.Plan)
			case r.now.Sub(s.ModTime) > r.o.ApprovalTTL:
				r.ignore("approve for plan %s: older than approval_ttl %s", s.Plan, r.o.ApprovalTTL)
			default:
				r.sigs.approve, used = &s, true
			}
		case signal.KindAck:
			if lp := st.LastPromotion; lp != nil && lp.Plan == s.Plan && !lp.Acked && st.State != StatePromotionFailed {
				lp.Acked, used = true, true
			}
			if st.State == StatePromotionFailed && st.Plan != nil && st.Plan.ID == s.Plan {
				if r.sigs.ackPlan == nil {
					r.sigs.ackPlan = &s
				}
				continue
			}
			if !used && st.LastPromotion != nil && st.LastPromotion.Plan == s.Plan && st.LastPromotion.Acked {
				used = true // a repeated ack is harmless
			}
			if !used {
				r.ignore("ack for plan %s: nothing to acknowledge for that plan", s.Plan)
			}
		case signal.KindRetry:
			if st.State == StatePromotionFailed && st.Plan != nil && st.Plan.ID == s.Plan {
				if r.sigs.retry == nil {
					r.sigs.retry = &s
				}
				continue
			}
			r.ignore("retry for plan %s: that plan has not failed", s.Plan)
		default:
			r.ignore("signal %s is not acted on by the controller", s.Kind)
		}
		if used {
			st.consume(s)
		}
	}
}

// foldResults applies executor reports to the current plan.
func (r *run) foldResults(results []StepResult) {
	for _, res := range results {
		if err := foldResult(r.st.Plan, res); err != "" {
			r.ignore("%s", err)
		}
	}
}

// foldResult applies one step report; it returns why it was ignored, or "".
func foldResult(p *Plan, res StepResult) string {
	if p == nil || res.Plan != p.ID {
		return fmt.Sprintf("step result %s %s for plan %s: not the current plan", res.Step, res.Outcome, res.Plan)
	}
	for _, db := range res.Recovered {
		if !slices.Contains(p.Recovered, db) {
			p.Recovered = append(p.Recovered, db)
		}
	}
	if res.Step == StepUndo {
		if res.Outcome == OutcomeFailed && p.UndoDispatched {
			// Reported, not retried automatically: the operator sees it and acks or retries.
			p.UndoDispatched, p.UndoErr = false, res.Err
		}
		if res.Outcome == OutcomeDone && p.UndoDispatched {
			// The jobs are enabled again: disable_jobs must run again on a retry.
			p.UndoDispatched, p.Undone = false, true
			if dj := p.step(StepDisableJobs); dj != nil && dj.Phase == PhaseDone {
				dj.Phase = PhasePending
			}
		}
		return ""
	}
	sp := p.step(res.Step)
	if sp == nil {
		return "" // fence reports carry no runbook progress
	}
	switch res.Outcome {
	case OutcomeStarted:
		if sp.Phase == PhasePending || sp.Phase == PhaseDispatched {
			sp.Phase, sp.Started = PhaseStarted, res.At
			if res.Attempt > sp.Attempt {
				sp.Attempt = res.Attempt
			}
		}
	case OutcomeDone, OutcomeCheckedDone:
		sp.Phase, sp.Ended, sp.Err = PhaseDone, res.At, ""
	case OutcomeFailed:
		if sp.Phase != PhaseDone {
			sp.Phase, sp.Ended, sp.Err = PhaseFailed, res.At, res.Err
		}
	case OutcomeCheckedNotDone:
		if sp.Phase == PhaseChecking || sp.Phase == PhaseNeedsCheck {
			sp.Phase = PhasePending
		}
	default:
		return fmt.Sprintf("step result %s for plan %s: unknown outcome", res.Step, res.Plan)
	}
	return ""
}

// handle looks at the current state and returns the event to fire, if any.
func (r *run) handle() (Event, string) {
	switch r.st.State {
	case StateUnknown, StateHealthy, StateDegraded:
		if !r.ob.have {
			return EventUnknown, ""
		}
		if r.ob.siteAAlive {
			ev := r.ob.servingEvent()
			if r.st.State == targetOf(ev) {
				return EventUnknown, ""
			}
			return ev, r.ob.servingEvidence()
		}
		return EventSiteUnreachable, r.ob.unreachableEvidence()
	case StateSiteSuspect:
		if !r.ob.have {
			return EventUnknown, ""
		}
		if r.ob.siteAAlive {
			return r.ob.servingEvent(), r.ob.servingEvidence()
		}
		held := r.now.Sub(r.st.Outage.FirstFailed)
		if (held >= r.o.ConfirmAfter && r.st.Outage.Failures >= r.o.MinFailedProbes) || r.k.skipConfirmHold {
			return EventSiteConfirmedDown, fmt.Sprintf("%d consecutive failed probes held %s (confirm_after %s, min_failed_probes %d)",
				r.st.Outage.Failures, held, r.o.ConfirmAfter, r.o.MinFailedProbes)
		}
		return EventUnknown, ""
	case StateSiteDown:
		return r.siteDown()
	case StateAwaitingApproval:
		return r.awaiting()
	case StatePromoting:
		return r.promoting()
	case StatePromoted:
		return r.promoted()
	case StatePromotionFailed:
		return r.promotionFailed()
	case StateSplitBrainRisk:
		return r.splitBrain()
	}
	return EventUnknown, ""
}

// targetOf returns the state a serving event leads to.
func targetOf(ev Event) State {
	if ev == EventSiteHealthy {
		return StateHealthy
	}
	return StateDegraded
}

func (r *run) siteDown() (Event, string) {
	if !r.ob.have {
		return EventUnknown, ""
	}
	if r.ob.siteAAlive {
		return r.ob.servingEvent(), "site A answered before any plan: " + strings.Join(r.ob.aliveA, ", ")
	}
	if r.paused() || r.o.Mode == ModeMonitor {
		return EventUnknown, "" // the verdict still says what would happen
	}
	p := r.newPlan()
	r.st.Plan = p
	r.act(Action{Kind: ActionPublishPlan, Plan: p.ID, Databases: p.Databases, Instance: p.Target,
		Reason: "site A confirmed down; data-loss estimate " + p.DataLoss.String()})
	if r.o.Mode == ModeAuto {
		if v := r.autoGates(); v.WouldPromote {
			return r.startPromotion("auto"), "every gate passes: " + r.gateEvidence()
		}
	}
	return EventPlanPublished, fmt.Sprintf("plan %s; approve with: %s; %s", p.ID, p.ApproveCommand(), r.autoGates())
}

func (r *run) awaiting() (Event, string) {
	p := r.st.Plan
	if r.ob.have && r.ob.siteAAlive {
		r.act(Action{Kind: ActionCancelPlan, Plan: p.ID, Reason: "site A returned before the plan started"})
		return r.ob.servingEvent(), "plan " + p.ID + " cancelled; site A answered: " + strings.Join(r.ob.aliveA, ", ")
	}
	if a := r.sigs.approve; a != nil && p.Approval == nil {
		p.Approval = &Approval{By: "operator", At: r.now, SignalTime: a.ModTime}
	}
	if !r.ob.have || r.paused() || r.o.Mode == ModeMonitor {
		return EventUnknown, ""
	}
	if p.Approval != nil && p.Approval.By == "operator" {
		return r.startPromotion(""), fmt.Sprintf("approval of plan %s written at %s", p.ID, p.Approval.SignalTime.UTC().Format(time.RFC3339))
	}
	if r.o.Mode == ModeAuto {
		if v := r.autoGates(); v.WouldPromote {
			return r.startPromotion("auto"), "every gate passes now: " + r.gateEvidence()
		}
	}
	return EventUnknown, ""
}

// startPromotion records the promotion for the cooldown gate and returns the event.
func (r *run) startPromotion(by string) Event {
	p := r.st.Plan
	if by == "auto" {
		p.Approval = &Approval{By: "auto", At: r.now}
	}
	r.st.LastPromotion = &PromotionRecord{Plan: p.ID, Started: r.now}
	if by == "auto" {
		return EventAutoPromote
	}
	return EventApproved
}

func (r *run) newPlan() *Plan {
	r.st.PlanSeq++
	p := &Plan{
		ID:        fmt.Sprintf("%s-%s-%d", r.o.Group, r.now.UTC().Format("20060102T150405Z"), r.st.PlanSeq),
		Group:     r.o.Group,
		Databases: slices.Clone(r.o.Databases),
		Target:    r.ob.targetName,
		Created:   r.now,
		DataLoss:  r.in.DataLoss,
	}
	for _, s := range Runbook {
		p.Steps = append(p.Steps, StepProgress{Step: s})
	}
	return p
}

func (r *run) promoting() (Event, string) {
	p := r.st.Plan
	if r.ob.have && r.ob.siteAAlive && !p.RecoveryStarted() {
		return r.failRunbook(r.currentStep(), "site A answered before any RECOVERY: promotion aborted ("+strings.Join(r.ob.aliveA, ", ")+")")
	}
	i := r.currentIndex()
	if i < 0 {
		return EventRunbookDone, "all " + fmt.Sprint(len(p.Steps)) + " steps done; recovered: " + strings.Join(p.Recovered, ", ")
	}
	sp := &p.Steps[i]
	switch sp.Phase {
	case PhaseFailed:
		return r.failRunbook(sp.Step, fmt.Sprintf("step %s failed: %s", sp.Step, sp.Err))
	case PhasePending:
		if r.paused() {
			return EventUnknown, ""
		}
		if sp.Step == StepRecover && (!r.ob.have || r.ob.siteAAlive) {
			return EventUnknown, "" // RECOVERY only on a fresh snapshot without site A
		}
		sp.Phase = PhaseDispatched
		sp.Attempt++
		r.act(Action{Kind: ActionRunStep, Plan: p.ID, Step: sp.Step, Attempt: sp.Attempt, Instance: p.Target,
			Databases: p.Databases})
	case PhaseNeedsCheck:
		if r.paused() {
			return EventUnknown, ""
		}
		sp.Phase = PhaseChecking
		r.act(Action{Kind: ActionCheckStep, Plan: p.ID, Step: sp.Step, Attempt: sp.Attempt, Instance: p.Target,
			Databases: p.Databases, Reason: "started before a restart with no end record: check its postcondition"})
	}
	return EventUnknown, ""
}

// currentIndex is the first step not done, or -1.
func (r *run) currentIndex() int {
	for i, s := range r.st.Plan.Steps {
		if s.Phase != PhaseDone {
			return i
		}
	}
	return -1
}

func (r *run) currentStep() Step {
	if i := r.currentIndex(); i >= 0 {
		return r.st.Plan.Steps[i].Step
	}
	return StepNone
}

// failRunbook stops the runbook. Before any RECOVERY it schedules an undo
// (re-enable the jobs; disable_jobs counts as not done once the undo
// reports done); after, it records each database's state.
func (r *run) failRunbook(step Step, reason string) (Event, string) {
	p := r.st.Plan
	p.FailedStep, p.FailReason = step, reason
	if !p.RecoveryStarted() {
		p.UndoPending, p.Undone = true, false
	}
	p.DatabaseStates = r.ob.databaseStates(p.Databases, p.Recovered)
	return EventStepFailed, reason
}

func (r *run) promotionFailed() (Event, string) {
	p := r.st.Plan
	if p.UndoPending && !r.paused() {
		p.UndoPending, p.UndoDispatched = false, true
		r.act(Action{Kind: ActionUndo, Plan: p.ID, Instance: p.Target, Databases: p.Databases,
			Reason: "the runbook stopped before any RECOVERY: re-enable the copy and restore jobs"})
	}
	if r.ob.have && len(r.ob.writableA) > 0 && p.RecoveryStarted() && r.ob.splitRisk() {
		return EventOldPrimaryWritable, r.ob.writableEvidence()
	}
	if r.sigs.retry != nil && (p.UndoPending || p.UndoDispatched) {
		r.ignore("retry for plan %s: the undo has not reported done yet", p.ID)
		r.sigs.retry = nil
	}
	if r.sigs.retry != nil {
		r.st.consume(*r.sigs.retry)
		r.sigs.retry = nil // counted once, even if the chain comes back here
		r.retry(p)
		return EventRetry, fmt.Sprintf("retry of plan %s from step %s", p.ID, r.currentStep())
	}
	if r.sigs.ackPlan != nil && (p.UndoPending || p.UndoDispatched) {
		r.ignore("ack for plan %s: the undo has not reported yet; acknowledge again once it has", p.ID)
		r.sigs.ackPlan = nil
	}
	if r.sigs.ackPlan != nil {
		r.st.consume(*r.sigs.ackPlan)
		r.sigs.ackPlan = nil
		secWritable := (r.ob.have && len(r.ob.secondaryWritable) > 0) || (!r.ob.have && len(p.Recovered) > 0)
		switch {
		case secWritable:
			if lp := r.st.LastPromotion; lp != nil && lp.Plan == p.ID {
				lp.Acked = true
			}
			return EventAckPromoted, "secondary writable: " + strings.Join(r.ob.secondaryWritable, ", ")
		case r.ob.have && r.ob.siteAAlive && r.ob.servingEvent() == EventSiteHealthy:
			return EventAckHealthy, r.ob.servingEvidence()
		case r.ob.have && r.ob.siteAAlive:
			return EventAckDegraded, r.ob.servingEvidence()
		default:
			return EventAckDegraded, "site A still unreachable and nothing recovered: re-evaluating from the start"
		}
	}
	return EventUnknown, ""
}

// retry makes the failed step runnable again; steps whose state is unsure
// are checked first, never blindly re-run.
func (r *run) retry(p *Plan) {
	for i := range p.Steps {
		switch p.Steps[i].Phase {
		case PhaseFailed:
			p.Steps[i].Phase, p.Steps[i].Err = PhasePending, ""
		case PhaseDispatched, PhaseStarted, PhaseChecking:
			p.Steps[i].Phase = PhaseNeedsCheck
		}
	}
	p.FailedStep, p.FailReason, p.Undone, p.DatabaseStates = StepNone, "", false, nil
}

func (r *run) promoted() (Event, string) {
	if !r.ob.have || len(r.ob.writableA) == 0 {
		return EventUnknown, ""
	}
	lp := r.st.LastPromotion
	acked := lp != nil && lp.Acked
	if acked && r.ob.secondaryUp && len(r.ob.secondaryWritable) == 0 {
		return EventReprotected, "site A serves again and the secondary is restoring: " + r.ob.servingEvidence()
	}
	if r.ob.splitRisk() {
		return EventOldPrimaryWritable, r.ob.writableEvidence()
	}
	return EventUnknown, ""
}

func (r *run) splitBrain() (Event, string) {
	if !r.ob.have {
		return EventUnknown, ""
	}
	if len(r.ob.writableA) == 0 {
		return EventFenced, "no site-A partner holds a writable copy"
	}
	if r.paused() {
		return EventUnknown, ""
	}
	for _, inst := range r.ob.writableAOrder {
		if at, done := r.st.Fenced[inst]; done && r.now.Sub(at) < FenceRetryInterval {
			continue
		}
		if r.st.Fenced == nil {
			r.st.Fenced = map[string]time.Time{}
		}
		r.st.Fenced[inst] = r.now
		plan := ""
		if r.st.Plan != nil {
			plan = r.st.Plan.ID
		}
		r.act(Action{Kind: ActionFence, Plan: plan, Instance: inst, Databases: r.ob.writableA[inst],
			Reason: "old site-A partner writable after promotion: leave mirroring, then take it out of service"})
	}
	return EventUnknown, ""
}

// autoGates evaluates the gates as if the mode were auto (used to decide
// an automatic promotion).
func (r *run) autoGates() Verdict {
	v := r.gates()
	var out []Blocker
	for _, b := range v.Blocked {
		if b.Gate != GateMode {
			out = append(out, b)
		}
	}
	if r.o.Mode != ModeAuto {
		return Verdict{Blocked: v.Blocked}
	}
	return Verdict{WouldPromote: len(out) == 0, Blocked: out}
}

func (r *run) gateEvidence() string {
	d := r.st.DataLoss
	return fmt.Sprintf("confirmed down, %s, data-loss window %s ≤ budget %s", r.in.Corroboration.Verdict, d, r.o.MaxDataLoss)
}

// gates evaluates every gate of automatic promotion and names each blocker
// with its figures.
func (r *run) gates() Verdict {
	st := r.st
	var b []Blocker
	block := func(g Gate, format string, a ...any) {
		b = append(b, Blocker{Gate: g, Detail: fmt.Sprintf(format, a...)})
	}
	switch r.o.Mode {
	case ModeMonitor:
		block(GateMode, "mode monitor: never acts")
	case ModeApproval:
		block(GateMode, "mode approval: waits for an approval of the plan")
	}
	switch st.State {
	case StateSiteDown, StateAwaitingApproval:
	case StateSiteSuspect:
		block(GateSiteConfirmed, "site A not confirmed down: %d failed probes (min %d), held %s of %s",
			st.Outage.Failures, r.o.MinFailedProbes, r.now.Sub(st.Outage.FirstFailed), r.o.ConfirmAfter)
	case StatePromoting, StatePromoted, StatePromotionFailed, StateSplitBrainRisk:
		block(GateNoPlanInFlight, "a promotion is under way or done (state %s)", st.State)
	default:
		block(GateSiteConfirmed, "site A not confirmed down (%s)", st.State)
	}
	if !r.k.skipCorroboration {
		c := r.in.Corroboration
		switch c.Verdict {
		case CorroborationDown:
		case CorroborationNotConfigured:
			block(GateCorroborated, "no observer configured: auto mode behaves as approval mode")
		case CorroborationVetoed:
			block(GateCorroborated, "vetoed by an observer outside site B: %s", c.Detail)
		default:
			block(GateCorroborated, "no fresh corroboration from outside site B %s", c.Detail)
		}
	}
	d := r.in.DataLoss
	switch {
	case !d.Known && !r.k.skipUnknownBudget:
		block(GateDataLossKnown, "data-loss window unknown")
	case d.Known && d.Window > r.o.MaxDataLoss && !r.k.skipBudget:
		block(GateDataLossBudget, "data-loss window %s > budget %s", d.Window, r.o.MaxDataLoss)
	}
	if lp := st.LastPromotion; lp != nil && !lp.Acked && !r.k.skipCooldown {
		if until := lp.Started.Add(r.o.Cooldown); r.now.Before(until) {
			block(GateCooldown, "unacknowledged promotion of plan %s, cooldown %s until %s",
				lp.Plan, r.o.Cooldown, until.UTC().Format(time.RFC3339))
		}
	}
	if r.paused() {
		block(GatePaused, "paused by the pause signal file")
	}
	if r.ob.have && !r.ob.secondaryUp {
		block(GateSecondaryTarget, "secondary %q not reachable", r.ob.targetName)
	}
	return Verdict{WouldPromote: len(b) == 0, Blocked: b}
}

// observation is what Decide concludes from one snapshot.
type observation struct {
	have              bool
	o                 Options
	siteAAlive        bool
	aliveA            []string
	writableA         map[string][]string // site-A instance → writable group databases
	writableAOrder    []string
	targetName        string
	target            *probes.InstanceSnapshot
	secondaryUp       bool
	secondaryWritable []string
	principals        map[string]string
	findings          []Diagnosis
}

func observe(o Options, prev *Status, in Input) observation {
	ob := observation{o: o, targetName: o.Target}
	snap := in.Snapshot
	if snap == nil {
		return ob
	}
	ob.have = true
	ob.writableA = map[string][]string{}
	for i := range snap.Instances {
		inst := &snap.Instances[i]
		if inst.Site != probes.SiteA || inst.Role != probes.RolePartner {
			continue
		}
		if inst.Alive() {
			ob.aliveA = append(ob.aliveA, inst.Name)
		}
		if !inst.Up() {
			continue
		}
		for _, db := range o.Databases {
			if d, ok := inst.Database(db); ok && d.Writable() {
				if len(ob.writableA[inst.Name]) == 0 {
					ob.writableAOrder = append(ob.writableAOrder, inst.Name)
				}
				ob.writableA[inst.Name] = append(ob.writableA[inst.Name], db)
			}
		}
	}
	ob.siteAAlive = len(ob.aliveA) > 0
	if o.Target != "" {
		ob.target, _ = snap.Instance(o.Target)
	} else if t, ok := snap.Secondary(); ok {
		ob.target, ob.targetName = t, t.Name
	}
	if ob.target != nil && ob.target.Up() {
		ob.secondaryUp = true
		for _, db := range o.Databases {
			if d, ok := ob.target.Database(db); ok && d.Writable() {
				ob.secondaryWritable = append(ob.secondaryWritable, db)
			}
		}
	}
	if len(ob.writableA) > 0 && len(ob.secondaryWritable) > 0 {
		ob.findings = append(ob.findings, Diagnosis{Name: DiagTwoWritableCopies, Degrading: true, Detail: ob.writableEvidence()})
	}
	if !ob.siteAAlive {
		return ob
	}
	ob.principals = map[string]string{}
	add := func(d Diagnosis) { ob.findings = append(ob.findings, d) }
	for _, db := range o.Databases {
		pi, pd, ok := snap.Principal(db)
		if !ok {
			add(Diagnosis{Name: DiagNoPrincipal, Database: db, Degrading: true,
				Detail: "site A answers but no partner reports itself principal"})
			continue
		}
		ob.principals[db] = pi.Name
		if was := prev.Principals[db]; was != "" && was != pi.Name {
			add(Diagnosis{Name: DiagMirrorFailedOver, Database: db, Instance: pi.Name,
				Detail: fmt.Sprintf("principal moved from %s to %s inside site A: not a disaster", was, pi.Name)})
		}
		if pd.Mirroring.Visibility == probes.MirroringPresent && pd.Mirroring.State != probes.MirroringSynchronized {
			add(Diagnosis{Name: DiagMirrorNotSynchronized, Database: db, Instance: pi.Name, Degrading: true,
				Detail: "mirroring state " + pd.Mirroring.State.String()})
		}
		if n := snap.PrincipalClaims(db); n > 1 {
			add(Diagnosis{Name: DiagTwoPrincipals, Database: db, Degrading: true,
				Detail: fmt.Sprintf("%d partners report themselves principal", n)})
		}
		if lp := pd.LSPrimary; lp != nil && lp.BackupThreshold > 0 && !lp.LastBackupUTC.IsZero() && !pi.ServerUTC.IsZero() {
			if age := pi.ServerUTC.Sub(lp.LastBackupUTC); age > lp.BackupThreshold {
				add(Diagnosis{Name: DiagLogShippingStalled, Database: db, Instance: pi.Name, Degrading: true,
					Detail: fmt.Sprintf("last log backup %s ago > threshold %s", age.Round(time.Second), lp.BackupThreshold)})
			}
		}
		if ob.secondaryUp {
			if sd, ok := ob.target.Database(db); ok && !sd.Writable() && probes.ForkMismatch(pd, sd) {
				add(Diagnosis{Name: DiagForkMismatch, Database: db, Instance: ob.targetName, Degrading: true,
					Detail: fmt.Sprintf("principal fork %s, secondary expects %s: the next restore would fail with 4330",
						pd.RecoveryForkGUID, sd.RedoStartForkGUID)})
			}
		}
	}
	if !ob.secondaryUp {
		add(Diagnosis{Name: DiagSecondaryUnreachable, Instance: ob.targetName, Degrading: true,
			Detail: "the log-shipping secondary does not answer"})
	} else {
		for _, db := range o.Databases {
			sd, ok := ob.target.Database(db)
			if !ok || sd.LSSecondary == nil {
				continue
			}
			ls := sd.LSSecondary
			if ls.RestoreThreshold > 0 && !ls.LastRestoredUTC.IsZero() && !ob.target.ServerUTC.IsZero() {
				if age := ob.target.ServerUTC.Sub(ls.LastRestoredUTC); age > ls.RestoreThreshold {
					add(Diagnosis{Name: DiagLogShippingStalled, Database: db, Instance: ob.targetName, Degrading: true,
						Detail: fmt.Sprintf("last restore %s ago > threshold %s", age.Round(time.Second), ls.RestoreThreshold)})
				}
			}
		}
	}
	switch d := in.DataLoss; {
	case !d.Known:
		add(Diagnosis{Name: DiagDataLossUnknown, Degrading: true, Detail: "a figure the data-loss window depends on is unknown"})
	case d.Window > o.MaxDataLoss:
		add(Diagnosis{Name: DiagSecondaryBehindBudget, Degrading: true,
			Detail: fmt.Sprintf("data-loss window %s > budget %s", d.Window, o.MaxDataLoss)})
	}
	return ob
}

// diagnoses returns this cycle's findings in the light of the final state.
func (ob *observation) diagnoses(s State, p *Plan) []Diagnosis {
	if !ob.have {
		return nil
	}
	out := slices.Clone(ob.findings)
	if !ob.siteAAlive {
		name, detail := DiagPrimarySiteUnreachable, "no site-A partner answers from here"
		switch s {
		case StateSiteDown, StateAwaitingApproval, StatePromoting, StatePromoted, StatePromotionFailed, StateSplitBrainRisk:
			name, detail = DiagPrimarySiteDown, "site A confirmed down"
		}
		out = append(out, Diagnosis{Name: name, Detail: detail})
	}
	if len(ob.writableA) > 0 && p != nil && p.RecoveryStarted() {
		out = append(out, Diagnosis{Name: DiagOldPrimaryWritable, Degrading: true, Detail: ob.writableEvidence()})
	}
	return out
}

// splitRisk: a site-A copy is writable and the secondary is writable too,
// or cannot be seen (assume the worst).
func (ob *observation) splitRisk() bool {
	return len(ob.writableA) > 0 && (len(ob.secondaryWritable) > 0 || !ob.secondaryUp)
}

func (ob *observation) servingEvent() Event {
	for _, d := range ob.findings {
		if d.Degrading {
			return EventSiteDegraded
		}
	}
	return EventSiteHealthy
}

func (ob *observation) servingEvidence() string {
	var parts []string
	for _, d := range ob.findings {
		parts = append(parts, d.String())
	}
	if len(parts) == 0 {
		return "site A answered (" + strings.Join(ob.aliveA, ", ") + "); no finding"
	}
	return "site A answered (" + strings.Join(ob.aliveA, ", ") + "); " + strings.Join(parts, "; ")
}

func (ob *observation) unreachableEvidence() string {
	return "no site-A partner answered the probe"
}

func (ob *observation) writableEvidence() string {
	var parts []string
	for _, inst := range ob.writableAOrder {
		parts = append(parts, fmt.Sprintf("%s writable (%s)", inst, strings.Join(ob.writableA[inst], ", ")))
	}
	if len(ob.secondaryWritable) > 0 {
		parts = append(parts, fmt.Sprintf("secondary %s writable (%s)", ob.targetName, strings.Join(ob.secondaryWritable, ", ")))
	} else if !ob.secondaryUp {
		parts = append(parts, "secondary "+ob.targetName+" not visible")
	}
	return strings.Join(parts, "; ")
}

// databaseStates describes each database on the target for a failed plan.
func (ob *observation) databaseStates(dbs, recovered []string) map[string]string {
	out := map[string]string{}
	for _, db := range dbs {
		s := "unknown (secondary not observed)"
		if ob.secondaryUp {
			if d, ok := ob.target.Database(db); ok {
				s = d.State.String()
				if d.Writable() {
					s += " read-write"
				} else if d.Standby {
					s += " standby"
				}
			}
		}
		if slices.Contains(recovered, db) {
			s += " (recovered)"
		}
		out[db] = s
	}
	return out
}

// consumed reports whether s was already counted.
func (s *Status) consumed(sig signal.Signal) bool {
	for _, c := range s.Consumed {
		if c.Kind == sig.Kind && c.Plan == sig.Plan && c.ModTime.Equal(sig.ModTime) {
			return true
		}
	}
	return false
}

func (s *Status) consume(sig signal.Signal) {
	s.Consumed = append(s.Consumed, ConsumedSignal{Kind: sig.Kind, Plan: sig.Plan, ModTime: sig.ModTime})
	if n := len(s.Consumed); n > maxConsumed {
		s.Consumed = slices.Clone(s.Consumed[n-maxConsumed:])
	}
}

// clone deep-copies the status so that Decide never mutates its argument.
func (s Status) clone() Status {
	c := s
	c.Diagnoses = slices.Clone(s.Diagnoses)
	c.Verdict.Blocked = slices.Clone(s.Verdict.Blocked)
	c.Consumed = slices.Clone(s.Consumed)
	if s.Plan != nil {
		p := *s.Plan
		p.Databases = slices.Clone(s.Plan.Databases)
		p.Steps = slices.Clone(s.Plan.Steps)
		p.Recovered = slices.Clone(s.Plan.Recovered)
		if s.Plan.Approval != nil {
			a := *s.Plan.Approval
			p.Approval = &a
		}
		if s.Plan.DatabaseStates != nil {
			p.DatabaseStates = map[string]string{}
			for k, v := range s.Plan.DatabaseStates {
				p.DatabaseStates[k] = v
			}
		}
		c.Plan = &p
	}
	if s.LastPromotion != nil {
		lp := *s.LastPromotion
		c.LastPromotion = &lp
	}
	if s.LastGood != nil {
		c.LastGood = make(map[string]probes.LastGood, len(s.LastGood))
		for k, v := range s.LastGood {
			c.LastGood[k] = v
		}
	}
	if s.Principals != nil {
		c.Principals = make(map[string]string, len(s.Principals))
		for k, v := range s.Principals {
			c.Principals[k] = v
		}
	}
	if s.Fenced != nil {
		c.Fenced = make(map[string]time.Time, len(s.Fenced))
		for k, v := range s.Fenced {
			c.Fenced[k] = v
		}
	}
	return c
}

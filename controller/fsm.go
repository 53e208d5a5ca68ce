// Package controller is sqldr's decision core: the failover state machine of
// one failover group, its gates, plans and the promotion runbook's
// progression. Decide is a pure function of the persisted status, one
// observation and `now`; it returns the next status and the actions to run.
// It performs no I/O. See DESIGN.md, "State machine" and "Safety model".
package controller

import (
	"fmt"
	"strconv"
	"strings"
)

// State is the state of a failover group (DESIGN.md, "State machine").
type State uint8

// The states. Each comment lists the legal next states (the table below is
// the authority; TestTableMatchesDocComments keeps them in sync by hand).
const (
	// StateUnknown: started, nothing observed yet. Next: Healthy, Degraded, SiteSuspect.
	StateUnknown State = iota
	// StateHealthy: site A serving; mirror and log shipping within thresholds. Next: Degraded, SiteSuspect.
	StateHealthy
	// StateDegraded: site A serving, protection reduced; alerts, no action. Next: Healthy, SiteSuspect.
	StateDegraded
	// StateSiteSuspect: no site-A partner answers; hold timer running. Next: Healthy, Degraded, SiteDown.
	StateSiteSuspect
	// StateSiteDown: confirmed down. Next: Healthy, Degraded, AwaitingApproval, Promoting.
	StateSiteDown
	// StateAwaitingApproval: a plan is published and waits for approval. Next: Promoting, Healthy, Degraded.
	StateAwaitingApproval
	// StatePromoting: the runbook runs step by step. Next: Promoted, PromotionFailed.
	StatePromoting
	// StatePromoted: the secondary is the writable primary. Next: SplitBrainRisk, Healthy.
	StatePromoted
	// StatePromotionFailed: a step failed; nothing more is tried automatically. Next: Promoting, Healthy, Degraded, Promoted, SplitBrainRisk.
	StatePromotionFailed
	// StateSplitBrainRisk: an old site-A partner is writable after promotion; fence. Next: Promoted.
	StateSplitBrainRisk
	numStates
)

var stateNames = [...]string{"Unknown", "Healthy", "Degraded", "SiteSuspect", "SiteDown",
	"AwaitingApproval", "Promoting", "Promoted", "PromotionFailed", "SplitBrainRisk"}

// States lists every state in order.
func States() []State {
	out := make([]State, 0, numStates)
	for s := StateUnknown; s < numStates; s++ {
		out = append(out, s)
	}
	return out
}

// String returns the state's name as DESIGN.md spells it.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state's name (status files stay readable).
func (s State) MarshalText() ([]byte, error) {
	if s >= numStates {
		return nil, fmt.Errorf("invalid state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// Event is what makes the state machine move.
type Event uint8

// The events. Each comment says when Decide raises it.
const (
	// EventUnknown is the zero value; it is never raised.
	EventUnknown Event = iota
	// EventSiteHealthy: a site-A partner answered and protection is within thresholds.
	EventSiteHealthy
	// EventSiteDegraded: a site-A partner answered but protection is reduced.
	EventSiteDegraded
	// EventSiteUnreachable: no site-A partner answered this probe.
	EventSiteUnreachable
	// EventSiteConfirmedDown: failures held for confirm_after and min_failed_probes.
	EventSiteConfirmedDown
	// EventPlanPublished: a plan was created and waits for an approval.
	EventPlanPublished
	// EventAutoPromote: mode auto and every gate passes.
	EventAutoPromote
	// EventApproved: a valid approval of the pending plan arrived.
	EventApproved
	// EventRunbookDone: the last runbook step succeeded.
	EventRunbookDone
	// EventStepFailed: a runbook step failed or the runbook was aborted.
	EventStepFailed
	// EventRetry: a valid retry signal for the failed plan.
	EventRetry
	// EventAckHealthy: a valid ack of the failed plan while site A serves healthily.
	EventAckHealthy
	// EventAckDegraded: a valid ack of the failed plan while site A serves with reduced protection or is still unreachable.
	EventAckDegraded
	// EventAckPromoted: a valid ack of the failed plan while the secondary is writable.
	EventAckPromoted
	// EventOldPrimaryWritable: a site-A partner holds a writable copy after databases were recovered on the secondary.
	EventOldPrimaryWritable
	// EventFenced: no site-A partner holds a writable copy any more.
	EventFenced
	// EventReprotected: the promotion was acknowledged and site A serves again with the secondary restoring.
	EventReprotected
	numEvents
)

var eventNames = [...]string{"Unknown", "SiteHealthy", "SiteDegraded", "SiteUnreachable",
	"SiteConfirmedDown", "PlanPublished", "AutoPromote", "Approved", "RunbookDone", "StepFailed",
	"Retry", "AckHealthy", "AckDegraded", "AckPromoted", "OldPrimaryWritable", "Fenced", "Reprotected"}

// Events lists every event except EventUnknown.
func Events() []Event {
	out := make([]Event, 0, numEvents)
	for e := EventUnknown + 1; e < numEvents; e++ {
		out = append(out, e)
	}
	return out
}

// String returns the event's name.
func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

// MarshalText writes the event's name.
func (e Event) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText parses an event name.
func (e *Event) UnmarshalText(b []byte) error {
	for i, n := range eventNames {
		if n == string(b) {
			*e = Event(i)
			return nil
		}
	}
	return fmt.Errorf("unknown event %q", b)
}

// transition is one row of the state machine.
type transition struct {
	From   State
	On     Event
	To     State
	Reason string // what the operator reads in the log and in `sqldr status`
}

// table is THE state machine. A (state, event) pair not listed here is an
// error, never a silent no-op.
var table = []transition{
	{StateUnknown, EventSiteHealthy, StateHealthy, "first observation: site A serving, protection within thresholds"},
	{StateUnknown, EventSiteDegraded, StateDegraded, "first observation: site A serving, protection reduced"},
	{StateUnknown, EventSiteUnreachable, StateSiteSuspect, "first observation: no site-A partner answers"},

	{StateHealthy, EventSiteDegraded, StateDegraded, "site A serving, protection reduced"},
	{StateHealthy, EventSiteUnreachable, StateSiteSuspect, "no site-A partner answers; hold timer started"},

	{StateDegraded, EventSiteHealthy, StateHealthy, "protection back within thresholds"},
	{StateDegraded, EventSiteUnreachable, StateSiteSuspect, "no site-A partner answers; hold timer started"},

	{StateSiteSuspect, EventSiteHealthy, StateHealthy, "site A answered again; hold timer reset"},
	{StateSiteSuspect, EventSiteDegraded, StateDegraded, "site A answered again (protection reduced); hold timer reset"},
	{StateSiteSuspect, EventSiteConfirmedDown, StateSiteDown, "site A unreachable for confirm_after and min_failed_probes: confirmed down"},

	{StateSiteDown, EventSiteHealthy, StateHealthy, "site A returned before any plan started"},
	{StateSiteDown, EventSiteDegraded, StateDegraded, "site A returned (protection reduced) before any plan started"},
	{StateSiteDown, EventPlanPublished, StateAwaitingApproval, "plan published; waiting for an approval of this plan"},
	{StateSiteDown, EventAutoPromote, StatePromoting, "mode auto and every gate passes: promoting"},

	{StateAwaitingApproval, EventApproved, StatePromoting, "plan approved by an operator: promoting"},
	{StateAwaitingApproval, EventAutoPromote, StatePromoting, "every automatic gate passes now: promoting"},
	{StateAwaitingApproval, EventSiteHealthy, StateHealthy, "site A returned before the plan started: plan cancelled"},
	{StateAwaitingApproval, EventSiteDegraded, StateDegraded, "site A returned (protection reduced) before the plan started: plan cancelled"},

	{StatePromoting, EventRunbookDone, StatePromoted, "runbook complete: the secondary is the writable primary"},
	{StatePromoting, EventStepFailed, StatePromotionFailed, "a runbook step failed; nothing more is tried automatically"},

	{StatePromoted, EventOldPrimaryWritable, StateSplitBrainRisk, "an old site-A partner is writable after promotion: fence and page"},
	{StatePromoted, EventReprotected, StateHealthy, "promotion acknowledged and site A re-protected"},

	{StatePromotionFailed, EventRetry, StatePromoting, "retry of the failed step requested by an operator"},
	{StatePromotionFailed, EventAckHealthy, StateHealthy, "failure acknowledged; site A serving"},
	{StatePromotionFailed, EventAckDegraded, StateDegraded, "failure acknowledged; site A not serving normally: re-evaluating"},
	{StatePromotionFailed, EventAckPromoted, StatePromoted, "failure acknowledged; the secondary is writable"},
	{StatePromotionFailed, EventOldPrimaryWritable, StateSplitBrainRisk, "an old site-A partner is writable while databases were recovered on the secondary: fence and page"},

	{StateSplitBrainRisk, EventFenced, StatePromoted, "no old site-A partner is writable any more: fenced"},
}

// ErrNoTransition is returned for a (state, event) pair not in the table.
type ErrNoTransition struct {
	From State
	On   Event
}

// Error names the state and the event.
func (e ErrNoTransition) Error() string {
	return fmt.Sprintf("no transition from %s on %s", e.From, e.On)
}

// Transition looks up the table. A pair that is not in it is an error.
func Transition(from State, on Event) (to State, reason string, err error) {
	for _, t := range table {
		if t.From == from && t.On == on {
			return t.To, t.Reason, nil
		}
	}
	return from, "", ErrNoTransition{From: from, On: on}
}

// Mermaid renders the transition table as a Mermaid state diagram. The
// README carries its output between the fsm markers; a test fails when the
// checked-in copy is stale.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("```mermaid\nstateDiagram-v2\n")
	b.WriteString("    [*] --> Unknown\n")
	for _, t := range table {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", t.From, t.To, t.On)
	}
	b.WriteString("```\n")
	return b.String()
}

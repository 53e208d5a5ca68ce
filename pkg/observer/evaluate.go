package observer

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxAge is the default bound on an observation's age (Rule.MaxAge).
const DefaultMaxAge = 30 * time.Second

// Verdict is what the observers outside site B say about site A. Its values and names match
// controller.CorroborationVerdict one to one (the daemon maps one onto the other).
type Verdict uint8

// The verdicts. The zero value is the conservative one.
const (
	// VerdictNone: observers are configured but none freshly corroborates.
	VerdictNone Verdict = iota
	// VerdictNotConfigured: no observer is configured; automatic promotion waits for an operator.
	VerdictNotConfigured
	// VerdictDown: a quorum of fresh observers sees every site-A instance unreachable.
	VerdictDown
	// VerdictVetoed: a fresh observer sees a site-A instance serving.
	VerdictVetoed
	numVerdicts
)

var verdictNames = [...]string{"none", "not_configured", "corroborated_down", "vetoed"}

// Verdicts lists every verdict, for pre-creating metric labels.
var Verdicts = []Verdict{VerdictNone, VerdictNotConfigured, VerdictDown, VerdictVetoed}

// String returns the verdict's snake_case name.
func (v Verdict) String() string {
	if v < numVerdicts {
		return verdictNames[v]
	}
	return "invalid"
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a verdict name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown corroboration verdict %q", b)
}

// State is an observer's standing this cycle.
type State uint8

// The states.
const (
	// StateUnknown: not asked yet.
	StateUnknown State = iota
	// StateFresh: answered with an observation that counts (see the package doc).
	StateFresh
	// StateStale: answered, but the observation is too old or its sequence was not seen advancing.
	StateStale
	// StateUnreachable: no valid answer (connection failed, timed out, non-200 status, malformed).
	StateUnreachable
	// StateUnauthorized: the observer rejected the token (HTTP 401).
	StateUnauthorized
	numStates
)

var stateNames = [...]string{"unknown", "fresh", "stale", "unreachable", "unauthorized"}

// States lists every state, for pre-creating metric labels.
var States = []State{StateUnknown, StateFresh, StateStale, StateUnreachable, StateUnauthorized}

// String returns the state's name.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// View is what a fresh observer says about site A.
type View uint8

// The views.
const (
	// ViewNone: the observer is not fresh; it says nothing.
	ViewNone View = iota
	// ViewDown: every site-A instance is unreachable (corroborates).
	ViewDown
	// ViewServing: a site-A instance is serving (vetoes).
	ViewServing
	// ViewAlive: a site-A instance answers but none serves (contradicts "down", does not veto).
	ViewAlive
	// ViewInconclusive: some instance's outcome is unknown or missing from the report.
	ViewInconclusive
	numViews
)

var viewNames = [...]string{"none", "down", "serving", "alive", "inconclusive"}

// String returns the view's name.
func (v View) String() string {
	if v < numViews {
		return viewNames[v]
	}
	return "view(" + strconv.Itoa(int(v)) + ")"
}

// MarshalText writes the view's name.
func (v View) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Outcome is how the latest request to an observer ended.
type Outcome uint8

// The outcomes.
const (
	// OutcomeNone: never asked.
	OutcomeNone Outcome = iota
	// OutcomeAnswered: a valid report arrived.
	OutcomeAnswered
	// OutcomeUnreachable: the request failed or timed out, or the status was not 200 or 401.
	OutcomeUnreachable
	// OutcomeUnauthorized: HTTP 401.
	OutcomeUnauthorized
	// OutcomeInvalid: a 200 answer that is not a valid report.
	OutcomeInvalid
)

// Tracked is what the client knows about one observer: the input of Evaluate.
type Tracked struct {
	// Name is the observer's configured name (on the daemon's side).
	Name string
	// Outcome is how the latest request ended.
	Outcome Outcome
	// Err describes a failed latest request.
	Err string
	// Report is the latest valid report (kept after a failed request, for status).
	Report *Report
	// Received is the controller's clock when Report arrived.
	Received time.Time
	// Advanced is the controller's clock when Report's sequence was last seen moving past an earlier
	// one of the same boot ID (zero: never).
	Advanced time.Time
}

// Rule parameterises Evaluate.
type Rule struct {
	// Quorum is how many fresh observers must report site A down. 0 means all configured observers.
	Quorum int
	// MaxAge bounds an observation's age and the time since its sequence last advanced. Default 30s.
	MaxAge time.Duration
	// Instances are the site-A instance names every report must cover to corroborate; empty means
	// the instances the report lists.
	Instances []string
}

// ObserverStatus is one observer's standing, for /status, the log and the metrics.
type ObserverStatus struct {
	// Observer is the observer's configured name.
	Observer string `json:"observer"`
	// State is its standing this cycle.
	State State `json:"state"`
	// View is what the observer says about site A (only when fresh).
	View View `json:"view"`
	// Detail explains the state (why stale or unreachable) or the view (which instance serves).
	Detail string `json:"detail,omitempty"`
	// BootID and Sequence identify the latest report.
	BootID   string `json:"boot_id,omitempty"`
	Sequence uint64 `json:"sequence,omitempty"`
	// Age is the latest report's age on the controller's clock: its reported age plus the time
	// since it was received (0 when there is none). AgeSeconds is the same in seconds, for JSON.
	Age        time.Duration `json:"-"`
	AgeSeconds float64       `json:"age_seconds"`
	// Instances is the latest report's view of site A.
	Instances []Instance `json:"instances,omitempty"`
}

// Result is the verdict with every observer's standing.
type Result struct {
	// Verdict is the corroboration verdict.
	Verdict Verdict `json:"verdict"`
	// Detail says why, for people (/status, the log, the blocked gate).
	Detail string `json:"detail,omitempty"`
	// Quorum is the quorum that applied.
	Quorum int `json:"quorum"`
	// Observers is every configured observer's standing, in configuration order.
	Observers []ObserverStatus `json:"observers,omitempty"`
}

// Evaluate computes the corroboration verdict from every configured observer's standing at `now`
// (the controller's clock). It is pure. The rule is in the package documentation.
func Evaluate(observers []Tracked, rule Rule, now time.Time) Result {
	maxAge := rule.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	quorum := rule.Quorum
	if quorum <= 0 {
		quorum = len(observers)
	}
	if len(observers) == 0 {
		return Result{Verdict: VerdictNotConfigured, Detail: "no observer configured"}
	}
	res := Result{Quorum: quorum, Observers: make([]ObserverStatus, len(observers))}
	var vetoes, contradictions, others []string
	downBoots := map[string]bool{}
	for k, o := range observers {
		st := judge(o, rule.Instances, maxAge, now)
		res.Observers[k] = st
		switch {
		case st.State != StateFresh:
			others = append(others, fmt.Sprintf("%s %s (%s)", o.Name, st.State, st.Detail))
		case st.View == ViewServing:
			vetoes = append(vetoes, fmt.Sprintf("%s sees %s", o.Name, st.Detail))
		case st.View == ViewAlive:
			contradictions = append(contradictions, fmt.Sprintf("%s sees %s", o.Name, st.Detail))
		case st.View == ViewDown:
			downBoots[st.BootID] = true
		default:
			others = append(others, fmt.Sprintf("%s inconclusive (%s)", o.Name, st.Detail))
		}
	}
	down := len(downBoots)
	switch {
	case len(vetoes) > 0:
		res.Verdict = VerdictVetoed
		res.Detail = strings.Join(vetoes, "; ")
	case down >= quorum && len(contradictions) == 0:
		res.Verdict = VerdictDown
		res.Detail = fmt.Sprintf("%d of %d observers (quorum %d) freshly see every site-A instance unreachable",
			down, len(observers), quorum)
	default:
		res.Verdict = VerdictNone
		parts := []string{fmt.Sprintf("%d of %d observers (quorum %d) freshly see site A down", down, len(observers), quorum)}
		parts = append(parts, contradictions...)
		parts = append(parts, others...)
		res.Detail = strings.Join(parts, "; ")
	}
	return res
}

// judge derives one observer's state and view.
func judge(o Tracked, instances []string, maxAge time.Duration, now time.Time) ObserverStatus {
	st := ObserverStatus{Observer: o.Name}
	if r := o.Report; r != nil {
		st.BootID, st.Sequence, st.Instances = r.BootID, r.Sequence, r.Instances
		st.Age = r.Age() + now.Sub(o.Received)
		st.AgeSeconds = st.Age.Seconds()
	}
	switch o.Outcome {
	case OutcomeNone:
		st.State, st.Detail = StateUnknown, "not asked yet"
		return st
	case OutcomeUnauthorized:
		st.State, st.Detail = StateUnauthorized, "the observer rejected the token (HTTP 401)"
		return st
	case OutcomeUnreachable, OutcomeInvalid:
		st.State, st.Detail = StateUnreachable, o.Err
		if st.Detail == "" {
			st.Detail = "no valid answer"
		}
		return st
	case OutcomeAnswered:
	default:
		st.State, st.Detail = StateUnreachable, "unknown outcome"
		return st
	}
	r := o.Report
	switch {
	case r == nil:
		st.State, st.Detail = StateUnreachable, "no report"
		return st
	case o.Advanced.IsZero():
		st.State, st.Detail = StateStale, "sequence not yet seen advancing"
		return st
	case now.Sub(o.Advanced) > maxAge:
		st.State, st.Detail = StateStale, fmt.Sprintf("sequence %d has not advanced for %s (max age %s)",
			r.Sequence, now.Sub(o.Advanced).Round(time.Millisecond), maxAge)
		return st
	case st.Age > maxAge:
		st.State, st.Detail = StateStale, fmt.Sprintf("observation is %s old (max age %s)", st.Age.Round(time.Millisecond), maxAge)
		return st
	case st.Age < 0 || now.Before(o.Advanced):
		// The controller's clock went backwards or the input is inconsistent: trust nothing.
		st.State, st.Detail = StateStale, "receipt time is in the future"
		return st
	}
	st.State = StateFresh
	st.View, st.Detail = view(r, instances)
	return st
}

// view says what a fresh report means for site A, and why.
func view(r *Report, instances []string) (View, string) {
	var serving, alive, unsure []string
	for k := range r.Instances {
		in := &r.Instances[k]
		switch {
		case in.Serving():
			serving = append(serving, in.describe())
		case in.Alive():
			alive = append(alive, in.describe())
		case in.Reachability != ReachUnreachable:
			unsure = append(unsure, in.describe())
		}
	}
	for _, n := range instances {
		if _, ok := r.instance(n); !ok {
			unsure = append(unsure, n+" not observed")
		}
	}
	switch {
	case len(serving) > 0:
		return ViewServing, strings.Join(serving, ", ")
	case len(alive) > 0:
		return ViewAlive, strings.Join(alive, ", ")
	case len(unsure) > 0:
		return ViewInconclusive, strings.Join(unsure, ", ")
	}
	names := make([]string, len(r.Instances))
	for k, in := range r.Instances {
		names[k] = in.Name
	}
	return ViewDown, "every site-A instance unreachable (" + strings.Join(names, ", ") + ")"
}

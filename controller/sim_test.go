package controller

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/signal"
)

var simStart = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// sim drives a Controller against the world model with a simulated
// executor, a simulated status file and journal, and crashes.
type sim struct {
	c   *Controller
	now time.Time
	w   world

	st        Status       // the daemon's in-memory status (lost on a crash)
	persisted []byte       // the status file
	pending   []StepResult // step records journaled since the status was written

	signals []signal.Signal
	paused  bool
	loss    DataLoss
	corr    Corroboration

	// executor behaviour
	manual     bool // results are given by hand (scenarios)
	failAt     Step // the step that fails (once per attempt while set)
	crashAt    Step // crash after this step's effect, before its end record
	crashEarly bool // crash after persisting the status, before running any action
	crashed    bool

	// effects[plan][step]: the step's effect really happened in the world
	effects map[string]map[Step]bool
	// repeated lists steps run again although their effect had happened
	repeated []string
}

// fataler is the part of testing.TB and *rapid.T that newSim needs.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func newSim(tb fataler, opts Options, k knobs) *sim {
	tb.Helper()
	c, err := New(zap.NewNop(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	c.knobs = k
	s := &sim{c: c, now: simStart, w: healthyWorld(), st: c.NewStatus(),
		loss:    DataLoss{Known: true, Window: time.Minute, Uncertainty: 5 * time.Second},
		corr:    Corroboration{Verdict: CorroborationDown},
		effects: map[string]map[Step]bool{}}
	s.persist(s.st)
	return s
}

func (s *sim) persist(st Status) {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	s.persisted = b
}

func (s *sim) input() Input {
	return Input{
		Snapshot:      s.w.snapshot(s.now),
		Signals:       Signals{Paused: s.paused, Accepted: s.signals},
		Corroboration: s.corr,
		DataLoss:      s.loss,
		StepResults:   s.pending,
	}
}

// cycle runs one reconcile: decide, persist, execute.
func (s *sim) cycle() (Input, Result, error) {
	in := s.input()
	res, err := s.c.Decide(s.st, in, s.now)
	if err != nil {
		return in, res, err
	}
	s.signals, s.pending = nil, nil
	s.st = res.Status
	s.persist(res.Status)
	if s.crashEarly {
		s.crashed = true
		return in, res, nil
	}
	s.execute(res.Actions)
	return in, res, nil
}

func (s *sim) effect(plan string) map[Step]bool {
	if s.effects[plan] == nil {
		s.effects[plan] = map[Step]bool{}
	}
	return s.effects[plan]
}

func (s *sim) execute(actions []Action) {
	for _, a := range actions {
		if s.crashed || s.manual {
			return
		}
		at := s.now.Add(time.Second)
		switch a.Kind {
		case ActionRunStep:
			eff := s.effect(a.Plan)
			if eff[a.Step] {
				s.repeated = append(s.repeated, fmt.Sprintf("%s %s", a.Plan, a.Step))
			}
			start := StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt, Outcome: OutcomeStarted, At: s.now}
			s.pending = append(s.pending, start)
			if a.Step == s.failAt {
				s.pending = append(s.pending, StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt,
					Outcome: OutcomeFailed, At: at, Err: "injected failure"})
				continue
			}
			eff[a.Step] = true
			var rec []string
			if a.Step == StepRecover {
				s.w.secondary = "writable"
				rec = slices.Clone(a.Databases)
			}
			if a.Step == s.crashAt {
				s.crashed = true // the statement ran; the end record was never written
				return
			}
			s.pending = append(s.pending, StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt,
				Outcome: OutcomeDone, At: at, Recovered: rec})
		case ActionCheckStep:
			out := OutcomeCheckedNotDone
			if s.effect(a.Plan)[a.Step] {
				out = OutcomeCheckedDone
			}
			s.pending = append(s.pending, StepResult{Plan: a.Plan, Step: a.Step, Attempt: a.Attempt, Outcome: out, At: at})
		case ActionUndo:
			delete(s.effect(a.Plan), StepDisableJobs)
			s.pending = append(s.pending, StepResult{Plan: a.Plan, Step: StepUndo, Outcome: OutcomeDone, At: at})
		case ActionFence:
			if s.w.siteA == "up" {
				s.w.siteA = "fenced"
			}
		}
	}
}

// restart simulates a crash and restart: the in-memory status is lost, the
// status file and the journal records written after it are read back.
func (s *sim) restart() error {
	var st Status
	if err := json.Unmarshal(s.persisted, &st); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	s.st = restore(st, s.pending, s.c.knobs)
	s.pending = nil
	s.crashed, s.crashEarly, s.crashAt = false, false, StepNone
	return nil
}

// signal queues an approve/ack/retry for the next cycle, written `age` ago.
func (s *sim) signal(k signal.Kind, plan string, age time.Duration) signal.Signal {
	sig := signal.Signal{Kind: k, Plan: plan, ModTime: s.now.Add(-age)}
	s.signals = append(s.signals, sig)
	return sig
}

func (s *sim) planID() string {
	if s.st.Plan == nil {
		return ""
	}
	return s.st.Plan.ID
}

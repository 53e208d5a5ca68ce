package controller

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/signal"
)

var update = flag.Bool("update", false, "rewrite golden files (scenarios and the README diagram)")

// TestScenarios runs controller/testdata/scenarios/*.txt and compares the
// transcript (states, reasons, actions, verdicts) with the .golden file.
//
// Script language, one command per line (# starts a comment):
//
//	set <option> <value>   mode, confirm_after, min_failed_probes, max_data_loss, cooldown, approval_ttl
//	world k=v …            siteA=up|down|refusing|fenced principal=a1|a2 mirror=sync|disconnected
//	                       secondary=restoring|writable|down
//	loss <dur>|unknown     the data-loss window the caller computed
//	corr down|none|vetoed|not_configured
//	approve|ack|retry [plan=<id>|current] [age=<dur>]   queue a signal for the next cycle
//	pause | resume
//	executor auto|manual   the simulated executor answers RunStep/CheckStep (auto) or not
//	fail <step> | crash-at <step> | crash-early   inject executor faults
//	result <step> <outcome> [text]   queue a step result by hand
//	cycle [n] [every <dur>]          run n reconciles (default 1, 10s apart)
//	wait <dur>              advance the clock
//	restart                 crash and restart: reload status file + journal
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			got := runScenario(t, f)
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("transcript differs from %s (run with -update after review):\n%s", golden, diffLines(string(want), got))
			}
		})
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("first difference at line %d:\nwant: %s\ngot:  %s", i+1, a, b)
		}
	}
	return ""
}

func runScenario(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	opts := DefaultOptions()
	opts.ConfirmAfter = 30 * time.Second
	var s *sim
	var out strings.Builder
	lastVerdict := ""
	ensure := func() {
		if s == nil {
			s = newSim(t, opts, knobs{})
		}
	}
	sc := bufio.NewScanner(f)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "#") {
				fmt.Fprintf(&out, "%s\n", line)
			}
			continue
		}
		fail := func(format string, a ...any) {
			t.Fatalf("%s:%d: %s: %s", path, lineNo, line, fmt.Sprintf(format, a...))
		}
		f := strings.Fields(line)
		cmd, args := f[0], f[1:]
		if cmd == "set" {
			if s != nil {
				fail("set must come before the first cycle")
			}
			if len(args) != 2 {
				fail("want: set <option> <value>")
			}
			if err := setOption(&opts, args[0], args[1]); err != nil {
				fail("%v", err)
			}
			continue
		}
		ensure()
		switch cmd {
		case "world":
			for _, kv := range args {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "siteA":
					s.w.siteA = v
				case "principal":
					s.w.principal = v
				case "mirror":
					s.w.mirror = v
				case "secondary":
					s.w.secondary = v
				default:
					fail("unknown world key %q", k)
				}
			}
		case "loss":
			if len(args) != 1 {
				fail("want: loss <dur>|unknown")
			}
			if args[0] == "unknown" {
				s.loss = DataLoss{}
			} else {
				d, err := time.ParseDuration(args[0])
				if err != nil {
					fail("%v", err)
				}
				s.loss = DataLoss{Known: true, Window: d, Uncertainty: 5 * time.Second}
			}
		case "corr":
			var v CorroborationVerdict
			if err := v.UnmarshalText([]byte(strings.Join(args, ""))); err != nil {
				if args[0] == "down" {
					v = CorroborationDown
				} else {
					fail("%v", err)
				}
			}
			s.corr = Corroboration{Verdict: v}
			if v == CorroborationVetoed {
				s.corr.Detail = "observer-1 sees a1 serving"
			}
		case "approve", "ack", "retry":
			kind := map[string]signal.Kind{"approve": signal.KindApprove, "ack": signal.KindAck, "retry": signal.KindRetry}[cmd]
			plan, age := s.planID(), time.Second
			for _, kv := range args {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "plan":
					if v != "current" {
						plan = v
					}
				case "age":
					d, err := time.ParseDuration(v)
					if err != nil {
						fail("%v", err)
					}
					age = d
				default:
					fail("unknown key %q", k)
				}
			}
			s.signal(kind, plan, age)
			fmt.Fprintf(&out, "%-7s signal %s plan=%s written %s ago\n", stamp(s.now), cmd, plan, age)
		case "pause":
			s.paused = true
		case "resume":
			s.paused = false
		case "executor":
			s.manual = len(args) == 1 && args[0] == "manual"
		case "fail", "crash-at":
			var st Step
			if len(args) != 1 || st.UnmarshalText([]byte(args[0])) != nil {
				fail("want a step name")
			}
			if cmd == "fail" {
				s.failAt = st
			} else {
				s.crashAt = st
			}
		case "crash-early":
			s.crashEarly = true
		case "result":
			if len(args) < 2 {
				fail("want: result <step> <outcome> [text]")
			}
			var st Step
			var oc Outcome
			if st.UnmarshalText([]byte(args[0])) != nil || oc.UnmarshalText([]byte(args[1])) != nil {
				fail("bad step or outcome")
			}
			r := StepResult{Plan: s.planID(), Step: st, Outcome: oc, At: s.now, Err: strings.Join(args[2:], " ")}
			if st == StepRecover && oc == OutcomeDone {
				r.Recovered = []string{testDB}
			}
			s.pending = append(s.pending, r)
		case "wait":
			d, err := time.ParseDuration(args[0])
			if err != nil {
				fail("%v", err)
			}
			s.now = s.now.Add(d)
		case "restart":
			if err := s.restart(); err != nil {
				fail("%v", err)
			}
			fmt.Fprintf(&out, "%-7s RESTART: status reloaded (%s), journal replayed\n", stamp(s.now), s.st.State)
			if p := s.st.Plan; p != nil {
				for _, sp := range p.Steps {
					if sp.Phase != PhaseDone && sp.Phase != PhasePending {
						fmt.Fprintf(&out, "        step %s: %s\n", sp.Step, sp.Phase)
					}
				}
			}
		case "cycle":
			n, every := 1, 10*time.Second
			if len(args) >= 1 {
				if n, err = strconv.Atoi(args[0]); err != nil {
					fail("%v", err)
				}
			}
			if len(args) == 3 && args[1] == "every" {
				if every, err = time.ParseDuration(args[2]); err != nil {
					fail("%v", err)
				}
			}
			for i := 0; i < n; i++ {
				before := s.w
				in, res, err := s.cycle()
				if err != nil {
					fail("decide: %v", err)
				}
				writeCycle(&out, s.now, before, in, res, &lastVerdict)
				s.now = s.now.Add(every)
			}
		default:
			fail("unknown command")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func setOption(o *Options, key, val string) error {
	dur := func() (time.Duration, error) { return time.ParseDuration(val) }
	var err error
	switch key {
	case "mode":
		o.Mode, err = ParseMode(val)
	case "confirm_after":
		o.ConfirmAfter, err = dur()
	case "min_failed_probes":
		o.MinFailedProbes, err = strconv.Atoi(val)
	case "max_data_loss":
		o.MaxDataLoss, err = dur()
	case "cooldown":
		o.Cooldown, err = dur()
	case "approval_ttl":
		o.ApprovalTTL, err = dur()
	default:
		err = fmt.Errorf("unknown option %q", key)
	}
	return err
}

func stamp(t time.Time) string { return "+" + t.Sub(simStart).String() }

func writeCycle(out *strings.Builder, now time.Time, w world, in Input, res Result, lastVerdict *string) {
	pause := ""
	if in.Signals.Paused {
		pause = " PAUSED"
	}
	fmt.Fprintf(out, "%-7s observe siteA=%s secondary=%s loss=%s corr=%s%s → %s\n",
		stamp(now), w.siteA, w.secondary, in.DataLoss, in.Corroboration.Verdict, pause, res.Status.State)
	for _, tr := range res.Transitions {
		fmt.Fprintf(out, "        %s → %s [%s] %s\n", tr.From, tr.To, tr.Event, tr.Reason)
		if tr.Evidence != "" {
			fmt.Fprintf(out, "          evidence: %s\n", tr.Evidence)
		}
		if p := res.Status.Plan; tr.To == StatePromotionFailed && p != nil {
			var dbs []string
			for db, state := range p.DatabaseStates {
				dbs = append(dbs, db+"="+state)
			}
			sort.Strings(dbs)
			undo := "none (RECOVERY may have run)"
			switch {
			case p.UndoPending:
				undo = "due (held by pause)"
			case p.UndoDispatched:
				undo = "emitted"
			}
			fmt.Fprintf(out, "          databases: %s; undo: %s\n", strings.Join(dbs, ", "), undo)
		}
	}
	for _, a := range res.Actions {
		fmt.Fprintf(out, "        action: %s\n", a)
	}
	for _, why := range res.Ignored {
		fmt.Fprintf(out, "        ignored: %s\n", why)
	}
	if v := res.Status.Verdict.String(); v != *lastVerdict {
		fmt.Fprintf(out, "        %s\n", v)
		*lastVerdict = v
	}
}

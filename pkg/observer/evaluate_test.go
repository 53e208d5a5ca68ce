package observer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)

func unreachable(name string) Instance {
	return Instance{Name: name, Reachability: ReachUnreachable, Error: "dial tcp: connection refused"}
}

func serving(name string) Instance {
	return Instance{Name: name, Reachability: ReachUp, Databases: []Database{
		{Name: "mgc", Exists: true, State: "ONLINE", MirroringRole: "principal", Writable: true},
		{Name: "mgccomp", Exists: true, State: "ONLINE", MirroringRole: "principal", Writable: true},
	}}
}

func mirrorOnly(name string) Instance {
	return Instance{Name: name, Reachability: ReachUp, Databases: []Database{
		{Name: "mgc", Exists: true, State: "RESTORING", MirroringRole: "mirror"},
	}}
}

func refusing(name string) Instance {
	return Instance{Name: name, Reachability: ReachRefusing, SQLErrorNumber: 18456, Error: "login failed"}
}

// fresh is an observer that answered at t0 with a sequence that advanced at t0 and an observation 1s old.
func fresh(name string, instances ...Instance) Tracked {
	return Tracked{Name: name, Outcome: OutcomeAnswered, Received: t0, Advanced: t0,
		Report: &Report{Observer: name, BootID: "boot-" + name, Sequence: 7, AgeSeconds: 1, Instances: instances}}
}

func with(o Tracked, f func(*Tracked)) Tracked {
	r := *o.Report
	o.Report = &r
	f(&o)
	return o
}

func TestEvaluate(t *testing.T) {
	siteDown := []Instance{unreachable("SQLA1"), unreachable("SQLA2")}
	tests := []struct {
		name       string
		observers  []Tracked
		rule       Rule
		now        time.Time
		want       Verdict
		wantStates []State
		wantViews  []View
		detail     string // a substring of Result.Detail
	}{
		{name: "no observer configured", want: VerdictNotConfigured, detail: "no observer configured"},
		{name: "one fresh observer sees site A down", observers: []Tracked{fresh("o1", siteDown...)},
			want: VerdictDown, wantStates: []State{StateFresh}, wantViews: []View{ViewDown}, detail: "1 of 1 observers (quorum 1)"},
		{name: "one fresh observer sees the principal serving", observers: []Tracked{fresh("o1", serving("SQLA1"), unreachable("SQLA2"))},
			want: VerdictVetoed, wantViews: []View{ViewServing}, detail: "o1 sees SQLA1 serving (mgc, mgccomp writable)"},
		{name: "default quorum is all: one of two down, other stale", observers: []Tracked{
			fresh("o1", siteDown...), with(fresh("o2", siteDown...), func(o *Tracked) { o.Advanced = t0.Add(-time.Minute) })},
			want: VerdictNone, wantStates: []State{StateFresh, StateStale}, detail: "1 of 2 observers (quorum 2)"},
		{name: "quorum 1 of 2: down and unreachable", rule: Rule{Quorum: 1}, observers: []Tracked{
			fresh("o1", siteDown...), {Name: "o2", Outcome: OutcomeUnreachable, Err: "dial tcp: i/o timeout"}},
			want: VerdictDown, wantStates: []State{StateFresh, StateUnreachable}},
		{name: "quorum 2 of 3: two down", rule: Rule{Quorum: 2}, observers: []Tracked{
			fresh("o1", siteDown...), fresh("o2", siteDown...), {Name: "o3", Outcome: OutcomeUnauthorized}},
			want: VerdictDown, wantStates: []State{StateFresh, StateFresh, StateUnauthorized}},
		{name: "quorum 1 of 2: one down, one fresh veto", rule: Rule{Quorum: 1}, observers: []Tracked{
			fresh("o1", siteDown...), fresh("o2", serving("SQLA2"), unreachable("SQLA1"))},
			want: VerdictVetoed, detail: "o2 sees SQLA2 serving"},
		{name: "a stale observer's serving view does not veto", rule: Rule{Quorum: 1}, observers: []Tracked{
			fresh("o1", siteDown...), with(fresh("o2", serving("SQLA1")), func(o *Tracked) { o.Report.AgeSeconds = 45 })},
			want: VerdictDown, wantStates: []State{StateFresh, StateStale}, wantViews: []View{ViewDown, ViewNone}},
		{name: "an unreachable observer's last report does not veto", rule: Rule{Quorum: 1}, observers: []Tracked{
			fresh("o1", siteDown...), with(fresh("o2", serving("SQLA1")), func(o *Tracked) { o.Outcome = OutcomeUnreachable })},
			want: VerdictDown, wantStates: []State{StateFresh, StateUnreachable}},
		{name: "alive but not serving contradicts down, no veto", rule: Rule{Quorum: 1}, observers: []Tracked{
			fresh("o1", siteDown...), fresh("o2", unreachable("SQLA1"), refusing("SQLA2"))},
			want: VerdictNone, wantViews: []View{ViewDown, ViewAlive}, detail: "o2 sees SQLA2 alive (refusing, error 18456)"},
		{name: "mirror up, principal gone: alive, not down", observers: []Tracked{fresh("o1", unreachable("SQLA1"), mirrorOnly("SQLA2"))},
			want: VerdictNone, wantViews: []View{ViewAlive}, detail: "SQLA2 alive (up, no protected database writable)"},
		{name: "unknown reachability is inconclusive", observers: []Tracked{fresh("o1", unreachable("SQLA1"), Instance{Name: "SQLA2", Reachability: ReachUnknown})},
			want: VerdictNone, wantViews: []View{ViewInconclusive}, detail: "SQLA2 unknown"},
		{name: "report missing a required instance is inconclusive", rule: Rule{Instances: []string{"SQLA1", "sqla2"}},
			observers: []Tracked{fresh("o1", unreachable("SQLA1"))},
			want:      VerdictNone, wantViews: []View{ViewInconclusive}, detail: "sqla2 not observed"},
		{name: "required instances matched case-insensitively", rule: Rule{Instances: []string{"sqla1", "SQLA2"}},
			observers: []Tracked{fresh("o1", siteDown...)}, want: VerdictDown},
		{name: "same boot ID configured twice counts once", observers: []Tracked{
			fresh("o1", siteDown...), with(fresh("o1-again", siteDown...), func(o *Tracked) { o.Report.BootID = "boot-o1" })},
			want: VerdictNone, detail: "1 of 2 observers (quorum 2)"},
		{name: "sequence never seen advancing is stale", observers: []Tracked{with(fresh("o1", siteDown...), func(o *Tracked) { o.Advanced = time.Time{} })},
			want: VerdictNone, wantStates: []State{StateStale}, detail: "sequence not yet seen advancing"},
		{name: "sequence advanced just within max age", rule: Rule{MaxAge: 10 * time.Second}, now: t0.Add(9 * time.Second),
			observers: []Tracked{with(fresh("o1", siteDown...), func(o *Tracked) { o.Received = t0.Add(8 * time.Second); o.Report.AgeSeconds = 0.5 })},
			want:      VerdictDown, wantStates: []State{StateFresh}},
		{name: "sequence stuck longer than max age", rule: Rule{MaxAge: 10 * time.Second}, now: t0.Add(11 * time.Second),
			observers: []Tracked{with(fresh("o1", siteDown...), func(o *Tracked) { o.Received = t0.Add(11 * time.Second); o.Report.AgeSeconds = 0 })},
			want:      VerdictNone, wantStates: []State{StateStale}, detail: "has not advanced for 11s"},
		{name: "reported age plus time since receipt over max age", rule: Rule{MaxAge: 10 * time.Second}, now: t0.Add(4 * time.Second),
			observers: []Tracked{with(fresh("o1", siteDown...), func(o *Tracked) { o.Report.AgeSeconds = 7 })},
			want:      VerdictNone, wantStates: []State{StateStale}, detail: "observation is 11s old"},
		{name: "receipt in the future is not trusted", now: t0.Add(-time.Second), observers: []Tracked{fresh("o1", siteDown...)},
			want: VerdictNone, wantStates: []State{StateStale}},
		{name: "unauthorized never corroborates", observers: []Tracked{with(fresh("o1", siteDown...), func(o *Tracked) { o.Outcome = OutcomeUnauthorized })},
			want: VerdictNone, wantStates: []State{StateUnauthorized}, detail: "o1 unauthorized"},
		{name: "invalid answer is unreachable", observers: []Tracked{{Name: "o1", Outcome: OutcomeInvalid, Err: "decode report: unexpected EOF"}},
			want: VerdictNone, wantStates: []State{StateUnreachable}, detail: "decode report: unexpected EOF"},
		{name: "never asked", observers: []Tracked{{Name: "o1"}}, want: VerdictNone, wantStates: []State{StateUnknown}},
		{name: "quorum larger than the observers is never met", rule: Rule{Quorum: 3}, observers: []Tracked{fresh("o1", siteDown...), fresh("o2", siteDown...)},
			want: VerdictNone, detail: "2 of 2 observers (quorum 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			got := Evaluate(tt.observers, tt.rule, now)
			if got.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (detail %q)", got.Verdict, tt.want, got.Detail)
			}
			if !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", got.Detail, tt.detail)
			}
			if len(got.Observers) != len(tt.observers) {
				t.Fatalf("%d observer states, want %d", len(got.Observers), len(tt.observers))
			}
			for k, s := range tt.wantStates {
				if got.Observers[k].State != s {
					t.Errorf("observer %d state %s, want %s (%s)", k, got.Observers[k].State, s, got.Observers[k].Detail)
				}
			}
			for k, v := range tt.wantViews {
				if got.Observers[k].View != v {
					t.Errorf("observer %d view %s, want %s (%s)", k, got.Observers[k].View, v, got.Observers[k].Detail)
				}
			}
		})
	}
}

func TestEvaluateReportsAgeAndSequence(t *testing.T) {
	o := fresh("o1", unreachable("SQLA1"))
	o.Report.AgeSeconds = 2.5
	got := Evaluate([]Tracked{o}, Rule{}, t0.Add(3*time.Second))
	st := got.Observers[0]
	if st.Age != 5500*time.Millisecond || st.Sequence != 7 || st.BootID != "boot-o1" || len(st.Instances) != 1 {
		t.Fatalf("status %+v: want age 5.5s, sequence 7, boot-o1, one instance", st)
	}
	if got.Quorum != 1 {
		t.Fatalf("quorum %d, want 1 (all of one)", got.Quorum)
	}
}

func TestVerdictNames(t *testing.T) {
	want := map[Verdict]string{VerdictNone: "none", VerdictNotConfigured: "not_configured", VerdictDown: "corroborated_down", VerdictVetoed: "vetoed"}
	for _, v := range Verdicts {
		b, err := v.MarshalText()
		if err != nil || string(b) != want[v] {
			t.Fatalf("%d marshals to %q, %v; want %q", v, b, err, want[v])
		}
		var back Verdict
		if err := back.UnmarshalText(b); err != nil || back != v {
			t.Fatalf("round trip of %s: %v, %v", v, back, err)
		}
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("maybe")); err == nil {
		t.Fatal("unknown verdict name accepted")
	}
	if Verdict(9).String() != "invalid" || State(9).String() != "state(9)" || View(9).String() != "view(9)" {
		t.Fatal("out-of-range names")
	}
}

func TestReportValidate(t *testing.T) {
	good := Report{Observer: "o1", BootID: "b", Sequence: 1, Instances: []Instance{unreachable("SQLA1")}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid report rejected: %v", err)
	}
	bad := Report{AgeSeconds: -1, Instances: []Instance{{Name: "X", Reachability: "maybe"}, {Name: "x", Reachability: ReachUp,
		Databases: []Database{{}}}, {Reachability: ReachUp}}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid report accepted")
	}
	for _, want := range []string{"observer: must not be empty", "boot_id", "sequence: must be at least 1", "age_seconds",
		`instances[0].reachability: unknown value "maybe"`, `instances[1].name: duplicate instance "x"`,
		"instances[1].databases[0].name", "instances[2].name: must not be empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := (&Report{Observer: "o", BootID: "b", Sequence: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "instances: at least one") {
		t.Errorf("report without instances: %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	o := fresh("o1", unreachable("SQLA1"))
	o.Report.AgeSeconds = 1.5
	b, err := json.Marshal(Evaluate([]Tracked{o}, Rule{}, t0.Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verdict":"corroborated_down"`, `"quorum":1`, `"observer":"o1"`, `"state":"fresh"`,
		`"view":"down"`, `"sequence":7`, `"age_seconds":2.5`, `"reachability":"unreachable"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

package observer

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzReport feeds arbitrary answers through the client's decoding, validation, tracking and
// Evaluate: nothing panics, and an observer whose answer is not a valid report never corroborates
// or vetoes.
func FuzzReport(f *testing.F) {
	seed, _ := json.Marshal(Report{Observer: "o", BootID: "b", Sequence: 2, AgeSeconds: 1,
		Instances: []Instance{unreachable("SQLA1"), serving("SQLA2")}})
	f.Add(seed)
	f.Add([]byte(`{"observer":"o","boot_id":"b","sequence":3,"age_seconds":1e308,"instances":[{"name":"A","reachability":"unreachable"}]}`))
	f.Add([]byte(`{"observer":"o","boot_id":"b","sequence":3,"age_seconds":-0,"instances":[{"name":"A","reachability":"up","databases":[{"name":"d","writable":true}]}]}`))
	f.Add([]byte(`{"sequence":18446744073709551615}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Report
		valid := json.Unmarshal(b, &r) == nil && r.Validate() == nil
		c := &Client{rule: Rule{MaxAge: time.Minute}, tracked: []Tracked{{Name: "o"}}}
		p := &peer{}
		base := &Report{Observer: "o", BootID: "b", Sequence: 1, Instances: []Instance{unreachable("SQLA1")}}
		c.track(&c.tracked[0], p, answer{outcome: OutcomeAnswered, report: base, received: t0})
		a := answer{outcome: OutcomeInvalid, err: "invalid"}
		if valid {
			a = answer{outcome: OutcomeAnswered, report: &r, received: t0.Add(time.Second)}
		}
		c.track(&c.tracked[0], p, a)
		res := Evaluate(c.tracked, c.rule, t0.Add(2*time.Second))
		if !valid && res.Verdict != VerdictNone {
			t.Fatalf("an invalid answer gave verdict %s", res.Verdict)
		}
		if valid && res.Observers[0].State == StateFresh && (r.BootID != "b" || r.Sequence <= 1) {
			t.Fatalf("fresh without a sequence advance: %+v", r)
		}
		if r.Age() < 0 && valid {
			t.Fatalf("valid report with a negative age %v", r.AgeSeconds)
		}
	})
}

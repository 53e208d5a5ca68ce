package signal

import (
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts is a valid plan ID
// that a written signal file parses back to.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"plan: P-1\n", "plan:P-1", "", "plan: ", "plan: a/b", "\n\nplan: x\n\n", "plan: p\nplan: q",
		"plan: \x00", strings.Repeat("plan: ", 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := Parse(data)
		if err != nil {
			return
		}
		if !ValidPlanID(id) {
			t.Fatalf("Parse(%q) accepted invalid ID %q", data, id)
		}
		if again, err := Parse([]byte("plan: " + id + "\n")); err != nil || again != id {
			t.Fatalf("ID %q does not round-trip: %q, %v", id, again, err)
		}
	})
}

func TestKindText(t *testing.T) {
	for k := KindApprove; k <= KindPause; k++ {
		b, _ := k.MarshalText()
		var got Kind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Errorf("%s does not round-trip", k)
		}
	}
	var k Kind
	if k.UnmarshalText([]byte("nope")) == nil {
		t.Error("unknown kind accepted")
	}
}

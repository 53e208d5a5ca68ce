package engine

import "testing"

// TestThreeValuedConnectives walks the full AND / OR truth tables over TRUE, FALSE and UNKNOWN
// (a comparison with NULL), as SQL Server evaluates them.
func TestThreeValuedConnectives(t *testing.T) {
	s, _ := newTestSession(t, true)
	vals := map[string]string{"T": "1 = 1", "F": "1 = 0", "U": "NULL = 1"}
	and := map[[2]string]string{
		{"T", "T"}: "T", {"T", "F"}: "F", {"T", "U"}: "U",
		{"F", "T"}: "F", {"F", "F"}: "F", {"F", "U"}: "F",
		{"U", "T"}: "U", {"U", "F"}: "F", {"U", "U"}: "U",
	}
	or := map[[2]string]string{
		{"T", "T"}: "T", {"T", "F"}: "T", {"T", "U"}: "T",
		{"F", "T"}: "T", {"F", "F"}: "F", {"F", "U"}: "U",
		{"U", "T"}: "T", {"U", "F"}: "U", {"U", "U"}: "U",
	}
	for _, tc := range []struct {
		op    string
		table map[[2]string]string
	}{{"AND", and}, {"OR", or}} {
		for in, want := range tc.table {
			x := "(" + vals[in[0]] + ") " + tc.op + " (" + vals[in[1]] + ")"
			q := "SELECT CASE WHEN " + x + " THEN 'T' WHEN NOT (" + x + ") THEN 'F' ELSE 'U' END"
			if got := scalarText(t, s, q); got != want {
				t.Errorf("%s %s %s = %s, want %s", in[0], tc.op, in[1], got, want)
			}
		}
	}
}

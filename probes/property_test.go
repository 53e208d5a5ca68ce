package probes

import (
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// LSN comparison agrees with exact integer comparison for any numeric(25,0) values, leading zeros
// included.
func TestLSNCompareMatchesBigInt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.StringMatching(`0{0,3}[0-9]{1,25}`).Draw(t, "a")
		b := rapid.StringMatching(`0{0,3}[0-9]{1,25}`).Draw(t, "b")
		la, errA := ParseLSN(a)
		lb, errB := ParseLSN(b)
		ba, _ := new(big.Int).SetString(a, 10)
		bb, _ := new(big.Int).SetString(b, 10)
		limit, _ := new(big.Int).SetString("9999999999999999999999999", 10)
		if (errA != nil) != (ba.Cmp(limit) > 0) || (errB != nil) != (bb.Cmp(limit) > 0) {
			t.Fatalf("ParseLSN(%q)=%v, ParseLSN(%q)=%v", a, errA, b, errB)
		}
		if errA != nil || errB != nil {
			return
		}
		if got, want := la.Compare(lb), ba.Cmp(bb); got != want {
			t.Fatalf("Compare(%s, %s) = %d, big.Int says %d", a, b, got, want)
		}
		if la.String() != ba.String() {
			t.Fatalf("canonical %q, want %q", la, ba)
		}
	})
}

// The parser never panics, whatever values a server sends: it answers or returns an error.
func TestParseBatchNeverPanics(t *testing.T) {
	values := []any{nil, int64(0), int64(1), int64(-5), int64(127), true, false, "", "ONLINE", "x",
		[]byte("123"), []byte{1, 2, 3}, wireGUID(forkGUID), float64(1.5), time.Time{}, ts("2026-11-28 12:00:00")}
	rapid.Check(t, func(t *rapid.T) {
		sets := principalSets(ts("2026-11-28 12:12:00"))
		// Replace a few random cells with random values of random types.
		for n := rapid.IntRange(0, 8).Draw(t, "n"); n > 0; n-- {
			k := rapid.IntRange(0, len(sets)-1).Draw(t, "set")
			if len(sets[k].Rows) == 0 {
				continue
			}
			r := rapid.IntRange(0, len(sets[k].Rows)-1).Draw(t, "row")
			c := rapid.IntRange(0, len(sets[k].Rows[r])-1).Draw(t, "col")
			sets[k].Rows[r][c] = values[rapid.IntRange(0, len(values)-1).Draw(t, "value")]
		}
		if rapid.Bool().Draw(t, "truncate") {
			sets = sets[:rapid.IntRange(0, len(sets)).Draw(t, "sets")]
		}
		p, err := parseBatch(buildBatch(RolePartner, 1, 32), []string{"mgc"}, sets)
		if err == nil && len(p.databases) != 1 {
			t.Fatalf("parsed %d databases", len(p.databases))
		}
	})
}

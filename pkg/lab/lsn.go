package lab

import (
	"fmt"
	"math/big"
)

// LSN is a log sequence number: an immutable numeric(25,0) value. The zero LSN
// (no value) is used for "NULL". LSNs are compared, never subtracted
// (SQLSERVER.md §3.3); the lab only ever increments them.
type LSN struct {
	v *big.Int
}

// DefaultStartLSN is the first LSN of a lab database: above 2^63, so that a
// client squeezing numeric(25,0) into an int64 breaks at once.
func DefaultStartLSN() LSN {
	v := new(big.Int).Lsh(big.NewInt(1), 63)
	v.Add(v, big.NewInt(1_000_000_017))
	return LSN{v: v}
}

// ParseLSN parses the decimal digits of an LSN.
func ParseLSN(s string) (LSN, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() <= 0 || len(s) > 25 {
		return LSN{}, fmt.Errorf("lab: invalid LSN %q: want 1 to 25 decimal digits", s)
	}
	return LSN{v: v}, nil
}

// IsZero reports whether the LSN is unset (NULL).
func (l LSN) IsZero() bool { return l.v == nil }

// Big returns a copy of the value (nil for the zero LSN).
func (l LSN) Big() *big.Int {
	if l.v == nil {
		return nil
	}
	return new(big.Int).Set(l.v)
}

// Cmp compares two non-zero LSNs like big.Int.Cmp.
func (l LSN) Cmp(o LSN) int { return l.v.Cmp(o.v) }

// Add returns l+n. The lab uses it only to advance the end of a log.
func (l LSN) Add(n int64) LSN {
	return LSN{v: new(big.Int).Add(l.v, big.NewInt(n))}
}

// String prints the plain decimal digits, as SQL Server does in messages.
func (l LSN) String() string {
	if l.v == nil {
		return "NULL"
	}
	return l.v.String()
}

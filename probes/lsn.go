package probes

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// LSN is a SQL Server log sequence number, numeric(25,0), carried exactly as its decimal digits.
// LSNs may only be compared, never added or subtracted (SQLSERVER.md §3.3); values exceed int64, so
// LSN never converts to a machine integer. The zero value means "no LSN" (SQL NULL).
type LSN struct {
	digits string // canonical: no sign, no leading zeros, "0" for zero; "" for NULL
}

// ParseLSN parses the decimal text of a numeric(25,0) value ("39000000028900001"; a trailing ".0"
// fraction of zeros, as some drivers render numeric, is accepted). Anything else is an error.
func ParseLSN(s string) (LSN, error) {
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		if strings.Trim(t[i+1:], "0") != "" {
			return LSN{}, fmt.Errorf("parse lsn %q: has a fractional part", s)
		}
		t = t[:i]
	}
	if t == "" {
		return LSN{}, fmt.Errorf("parse lsn %q: empty", s)
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return LSN{}, fmt.Errorf("parse lsn %q: not a non-negative decimal integer", s)
		}
	}
	t = strings.TrimLeft(t, "0")
	if t == "" {
		t = "0"
	}
	if len(t) > 25 {
		return LSN{}, fmt.Errorf("parse lsn %q: more than 25 digits", s)
	}
	return LSN{digits: t}, nil
}

// MustParseLSN is ParseLSN for constants in tests and fixtures; it panics on bad input.
func MustParseLSN(s string) LSN {
	l, err := ParseLSN(s)
	if err != nil {
		panic(err)
	}
	return l
}

// IsZero reports whether the LSN is absent (NULL).
func (l LSN) IsZero() bool { return l.digits == "" }

// String returns the decimal digits, or "" for an absent LSN.
func (l LSN) String() string { return l.digits }

// Compare returns -1, 0 or +1 as l is less than, equal to or greater than m. An absent LSN sorts
// before every present one; callers should check IsZero first when absence matters.
func (l LSN) Compare(m LSN) int {
	switch {
	case len(l.digits) < len(m.digits):
		return -1
	case len(l.digits) > len(m.digits):
		return 1
	}
	return strings.Compare(l.digits, m.digits)
}

// Less reports whether l < m.
func (l LSN) Less(m LSN) bool { return l.Compare(m) < 0 }

// MarshalText implements encoding.TextMarshaler (JSON carries an LSN as a string, never a number).
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.digits), nil }

// UnmarshalText implements encoding.TextUnmarshaler; empty text is the absent LSN.
func (l *LSN) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = LSN{}
		return nil
	}
	v, err := ParseLSN(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// GUID is a uniqueidentifier in its canonical byte order (the order of the printed form). The zero
// value means "no GUID" (SQL NULL).
type GUID [16]byte

// IsZero reports whether the GUID is absent.
func (g GUID) IsZero() bool { return g == GUID{} }

// String returns the upper-case 8-4-4-4-12 form SQL Server prints, or "" when absent.
func (g GUID) String() string {
	if g.IsZero() {
		return ""
	}
	var b [36]byte
	hex.Encode(b[0:8], g[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], g[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], g[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], g[8:10])
	b[23] = '-'
	hex.Encode(b[24:], g[10:])
	return strings.ToUpper(string(b[:]))
}

// ParseGUID parses the 8-4-4-4-12 form (optionally in braces, any case).
func ParseGUID(s string) (GUID, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return GUID{}, fmt.Errorf("parse guid %q: not in 8-4-4-4-12 form", s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	var g GUID
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return GUID{}, fmt.Errorf("parse guid %q: %w", s, err)
	}
	return g, nil
}

// MarshalText implements encoding.TextMarshaler.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; empty text is the absent GUID.
func (g *GUID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*g = GUID{}
		return nil
	}
	v, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

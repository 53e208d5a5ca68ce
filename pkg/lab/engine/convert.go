package engine

import (
	"cmp"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	minDateTime = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDateTime = time.Date(9999, 12, 31, 23, 59, 59, 997_000_000, time.UTC)
	intRange    = map[Kind][2]int64{
		KindBit:      {0, 1},
		KindTinyInt:  {0, 255},
		KindSmallInt: {math.MinInt16, math.MaxInt16},
		KindInt:      {math.MinInt32, math.MaxInt32},
		KindBigInt:   {math.MinInt64, math.MaxInt64},
	}
)

// Convert converts v to type to as CAST does, with SQL Server's errors (245, 8114, 8115, 241, 8169, 529).
func Convert(v Value, to Type) (Value, error) {
	if v.Null {
		return Null(to), nil
	}
	from := v.T
	if from == to && from.Kind != KindUnknown {
		if to.IsString() && to.Length > 0 && len(v.s) > to.Length && utf8.RuneCountInString(v.s) > to.Length {
			return stringTo(to, v.s), nil // a value longer than its declared type is cut, never sent as is
		}
		return v, nil
	}
	switch {
	case to.IsString():
		s := v.Text()
		if from.Kind == KindFloat {
			s = floatToString(v.f)
		}
		return stringTo(to, s), nil
	case to.Kind == KindBit:
		if from.IsString() {
			s := strings.TrimSpace(v.s)
			switch strings.ToLower(s) {
			case "true":
				return Bit(true), nil
			case "false":
				return Bit(false), nil
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Value{}, ErrConversion(from, v.s, to)
			}
			return Bit(n != 0), nil
		}
		r, err := toRat(v)
		if err != nil {
			return Value{}, err
		}
		return Bit(r.Sign() != 0), nil
	case to.IsInteger():
		var n *big.Int
		switch {
		case from.IsString():
			s := strings.TrimSpace(v.s)
			i, ok := new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
			if !ok {
				return Value{}, ErrConversion(from, v.s, to)
			}
			n = i
		case from.IsInteger():
			n = big.NewInt(v.i)
		case from.Kind == KindNumeric:
			n = new(big.Int).Quo(v.Unscaled(), pow10(from.Scale))
		case from.Kind == KindFloat:
			if math.IsNaN(v.f) || math.Abs(v.f) > 9.3e18 {
				return Value{}, ErrOverflow(to)
			}
			n = big.NewInt(int64(v.f))
		default:
			return Value{}, errNotAllowed(from, to)
		}
		r := intRange[to.Kind]
		if !n.IsInt64() || n.Int64() < r[0] || n.Int64() > r[1] {
			return Value{}, ErrOverflow(to)
		}
		return Value{T: to, i: n.Int64()}, nil
	case to.Kind == KindNumeric:
		var r *big.Rat
		switch {
		case from.IsString():
			s := strings.TrimSpace(v.s)
			rr, ok := new(big.Rat).SetString(s)
			if !ok || s == "" || strings.ContainsAny(s, "/eE") {
				return Value{}, ErrConvertType(from, to)
			}
			r = rr
		case from.IsNumber():
			var err error
			if r, err = toRat(v); err != nil {
				return Value{}, err
			}
		default:
			return Value{}, errNotAllowed(from, to)
		}
		n := roundRat(r, to.Scale)
		if digits(n) > to.Precision || (n.Sign() != 0 && to.Precision-to.Scale <= 0 && new(big.Int).Abs(n).Cmp(pow10(to.Scale)) >= 0) {
			return Value{}, ErrOverflow(to)
		}
		return Value{T: to, d: n}, nil
	case to.Kind == KindFloat:
		switch {
		case from.IsString():
			f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
			if err != nil {
				return Value{}, ErrConvertType(from, to)
			}
			return Float(f), nil
		case from.IsNumber():
			r, err := toRat(v)
			if err != nil {
				return Value{}, err
			}
			if from.Kind == KindFloat {
				return Float(v.f), nil
			}
			f, _ := r.Float64()
			return Float(f), nil
		}
		return Value{}, errNotAllowed(from, to)
	case to.IsTime():
		var t time.Time
		off := 0
		switch {
		case from.IsString():
			pt, poff, ok := parseDateTime(v.s)
			if !ok {
				return Value{}, NewError(241, 16, 1, "Conversion failed when converting date and/or time from character string.")
			}
			t, off = pt, poff
		case from.IsTime():
			t, off = v.t, v.off
			if from.Kind == KindDateTimeOffset {
				t = v.Time()
				t = wall(t)
			}
		case from.IsNumber() && to.Kind == KindDateTime && from.Kind != KindFloat:
			r, err := toRat(v)
			if err != nil {
				return Value{}, err
			}
			days, _ := r.Float64()
			t = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(days * 24 * float64(time.Hour)))
		default:
			return Value{}, errNotAllowed(from, to)
		}
		switch to.Kind {
		case KindDate:
			return Date(t), nil
		case KindDateTime:
			rt := roundDateTime(t)
			if rt.Before(minDateTime) || rt.After(maxDateTime) {
				return Value{}, NewError(242, 16, 3, "The conversion of a %s data type to a datetime data type resulted in an out-of-range value.", from.typeName())
			}
			return Value{T: to, t: rt}, nil
		case KindDateTime2:
			return Value{T: to, t: roundScale(t, to.Scale)}, nil
		default:
			if from.Kind == KindDateTimeOffset {
				return Value{T: to, t: roundScale(v.t, to.Scale), off: v.off}, nil
			}
			// a wall-clock time with offset off: the instant is wall - off
			return Value{T: to, t: roundScale(t.Add(-time.Duration(off)*time.Minute), to.Scale), off: off}, nil
		}
	case to.Kind == KindUniqueIdentifier:
		if from.IsString() {
			b, ok := parseGUIDText(v.s)
			if !ok {
				return Value{}, NewError(8169, 16, 2, "Conversion failed when converting from a character string to uniqueidentifier.")
			}
			return GUID(b), nil
		}
		return Value{}, errNotAllowed(from, to)
	case to.Kind == KindUnknown:
		return v, nil
	}
	return Value{}, errNotAllowed(from, to)
}

func errNotAllowed(from, to Type) *Error {
	return NewError(529, 16, 2, "Explicit conversion from data type %s to %s is not allowed.", from.typeName(), to.typeName())
}

// stringTo makes a string value of type t from s: truncated to the length, char padded.
func stringTo(t Type, s string) Value {
	if t.Length != MaxLength && t.Length > 0 && utf8.RuneCountInString(s) > t.Length {
		s = string([]rune(s)[:t.Length])
	}
	if (t.Kind == KindChar || t.Kind == KindNChar) && t.Length > 0 {
		if n := utf8.RuneCountInString(s); n < t.Length {
			s += strings.Repeat(" ", t.Length-n)
		}
	}
	return Value{T: t, s: s}
}

func floatToString(f float64) string {
	// CAST(float AS varchar) shows up to 6 significant digits, scientific when large (sql-docs cast-and-convert, style 0).
	if f == math.Trunc(f) && math.Abs(f) < 1e6 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'g', 6, 64)
	return strings.Replace(s, "e+", "e+", 1)
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// toRat returns an exact number as a rational.
func toRat(v Value) (*big.Rat, error) {
	switch {
	case v.T.IsInteger():
		return new(big.Rat).SetInt64(v.i), nil
	case v.T.Kind == KindNumeric:
		return new(big.Rat).SetFrac(v.Unscaled(), pow10(v.T.Scale)), nil
	case v.T.Kind == KindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return nil, NewError(8115, 16, 2, "Arithmetic overflow error converting float to data type numeric.")
		}
		return new(big.Rat).SetFloat64(v.f), nil
	}
	return nil, ErrConvertType(v.T, TypeFloat)
}

// roundRat rounds r to scale decimals, half away from zero, and returns the unscaled integer.
func roundRat(r *big.Rat, scale int) *big.Int {
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(pow10(scale)))
	num, den := scaled.Num(), scaled.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

var dateLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102 15:04:05.999999999",
	"20060102",
	"01/02/2006 15:04:05.999999999",
	"01/02/2006",
	"15:04:05.999999999",
	"15:04",
}

// parseDateTime parses the string forms SQL Server accepts most commonly (ISO 8601, ODBC canonical,
// unseparated, mdy), with an optional trailing offset (+hh:mm, Z). It returns the wall-clock time
// and the offset in minutes.
func parseDateTime(s string) (time.Time, int, bool) {
	s = strings.TrimSpace(s)
	off := 0
	if strings.HasSuffix(s, "Z") {
		s = strings.TrimSuffix(s, "Z")
	} else if n := len(s); n > 6 && (s[n-6] == '+' || s[n-6] == '-') && s[n-3] == ':' {
		h, err1 := strconv.Atoi(s[n-5 : n-3])
		m, err2 := strconv.Atoi(s[n-2:])
		if err1 == nil && err2 == nil && h <= 14 && m < 60 {
			off = h*60 + m
			if s[n-6] == '-' {
				off = -off
			}
			s = strings.TrimSpace(s[:n-6])
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if strings.HasPrefix(l, "15") {
				t = time.Date(1900, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			}
			return t, off, true
		}
	}
	return time.Time{}, 0, false
}

// ---- comparison ----

// foldString is the CI_AS comparison key: trailing spaces ignored, case folded, accents kept.
func foldString(s string) string {
	s = strings.TrimRightFunc(s, func(r rune) bool { return r == ' ' })
	return strings.ToLower(s)
}

// compareStrings compares under SQL_Latin1_General_CP1_CI_AS semantics (approximated: case-insensitive,
// accent-sensitive, trailing spaces ignored, ordinal order of the folded text).
func compareStrings(a, b string) int {
	return strings.Compare(foldString(a), foldString(b))
}

// commonType is the type both operands convert to for comparison or CASE/COALESCE: the higher
// precedence wins (sql-docs data-type-precedence-transact-sql.md).
func commonType(a, b Type) Type {
	if a.Kind == KindUnknown {
		return b
	}
	if b.Kind == KindUnknown {
		return a
	}
	if a.IsString() && b.IsString() {
		k := a
		if b.precedence() > a.precedence() {
			k = b
		}
		n := a.Length
		if b.Length == MaxLength || (n != MaxLength && b.Length > n) {
			n = b.Length
		}
		if k.Kind == KindChar || k.Kind == KindNChar {
			if k.Kind == KindChar {
				k.Kind = KindVarChar
			} else {
				k.Kind = KindNVarChar
			}
		}
		k.Length = n
		return k
	}
	if a.Kind == KindNumeric && b.Kind == KindNumeric {
		s := max(a.Scale, b.Scale)
		p := min(38, max(a.Precision-a.Scale, b.Precision-b.Scale)+s)
		return Numeric(p, s)
	}
	if a.precedence() >= b.precedence() {
		if a.Kind == KindNumeric && b.IsInteger() {
			return widenNumeric(a, b)
		}
		return a
	}
	if b.Kind == KindNumeric && a.IsInteger() {
		return widenNumeric(b, a)
	}
	return b
}

func widenNumeric(n, i Type) Type {
	d := map[Kind]int{KindBit: 1, KindTinyInt: 3, KindSmallInt: 5, KindInt: 10, KindBigInt: 19}[i.Kind]
	p := max(n.Precision, d+n.Scale)
	return Numeric(min(38, p), n.Scale)
}

// compatible reports whether values of the two types may be compared or combined implicitly.
func compatible(a, b Type) bool {
	if a.Kind == KindUnknown || b.Kind == KindUnknown || a.Kind == b.Kind {
		return true
	}
	switch {
	case a.IsString() || b.IsString():
		return true
	case a.IsNumber() && b.IsNumber():
		return true
	case a.IsTime() && b.IsTime():
		return true
	case (a.IsTime() && b.IsNumber() && b.Kind != KindFloat) || (b.IsTime() && a.IsNumber() && a.Kind != KindFloat):
		return a.Kind == KindDateTime || b.Kind == KindDateTime
	}
	return false
}

// Compare compares two non-NULL values under SQL Server rules (implicit conversion to the type of
// higher precedence, CI_AS strings). It fails with 206 for incompatible types or with the
// conversion error when a string does not convert.
func Compare(a, b Value) (int, error) {
	if !compatible(a.T, b.T) {
		return 0, ErrOperandClash(a.T, b.T)
	}
	if a.T.IsString() && b.T.IsString() {
		return compareStrings(a.s, b.s), nil
	}
	t := commonType(a.T, b.T)
	if t.IsString() {
		return compareStrings(a.Text(), b.Text()), nil
	}
	var err error
	if a.T.Kind != t.Kind {
		if a, err = Convert(a, t); err != nil {
			return 0, err
		}
	}
	if b.T.Kind != t.Kind {
		if b, err = Convert(b, t); err != nil {
			return 0, err
		}
	}
	switch {
	case t.IsInteger():
		return cmp.Compare(a.i, b.i), nil
	case t.Kind == KindFloat:
		return cmp.Compare(a.f, b.f), nil
	case t.Kind == KindNumeric:
		ra, _ := toRat(a)
		rb, _ := toRat(b)
		return ra.Cmp(rb), nil
	case t.Kind == KindDateTimeOffset:
		return a.t.Compare(b.t), nil
	case t.IsTime():
		return a.t.Compare(b.t), nil
	case t.Kind == KindUniqueIdentifier:
		return compareGUID(a.g, b.g), nil
	}
	return 0, ErrOperandClash(a.T, b.T)
}

// compareGUID orders uniqueidentifiers as SQL Server does: by byte groups 10-15, 8-9, 6-7, 4-5, 0-3.
func compareGUID(a, b [16]byte) int {
	order := []int{10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3}
	for _, i := range order {
		if n := cmp.Compare(a[i], b[i]); n != 0 {
			return n
		}
	}
	return 0
}

// ---- arithmetic ----

// arithType is the result type of a binary arithmetic operator.
func arithType(op string, a, b Type) (Type, error) {
	if a.Kind == KindUnknown && b.Kind == KindUnknown {
		return TypeInt, nil
	}
	if op == "+" && (a.IsString() || a.Kind == KindUnknown) && (b.IsString() || b.Kind == KindUnknown) {
		t := commonType(a, b)
		if t.Kind == KindUnknown {
			t = VarChar(1)
		}
		if a.Length == MaxLength || b.Length == MaxLength || a.Length+b.Length > 4000 {
			t.Length = MaxLength
		} else {
			t.Length = a.Length + b.Length
		}
		return t, nil
	}
	if (a.Kind == KindDateTime && (b.IsNumber() || b.Kind == KindUnknown)) && (op == "+" || op == "-") {
		return TypeDateTime, nil
	}
	if op == "&" || op == "|" || op == "^" {
		if (!a.IsInteger() && a.Kind != KindUnknown) || (!b.IsInteger() && b.Kind != KindUnknown) {
			return Type{}, NewError(402, 16, 1, "The data types %s and %s are incompatible in the '%s' operator.", a.typeName(), b.typeName(), op)
		}
		return commonType(a, b), nil
	}
	num := func(t Type) bool { return t.IsNumber() || t.Kind == KindUnknown || t.IsString() }
	if !num(a) || !num(b) || (a.IsString() && b.IsString()) {
		return Type{}, NewError(402, 16, 1, "The data types %s and %s are incompatible in the %s operator.", a.typeName(), b.typeName(), opName(op))
	}
	t := commonType(a, b)
	if t.IsString() {
		// string with number: the number's type wins
		if a.IsString() {
			t = b
		} else {
			t = a
		}
	}
	if t.Kind == KindBit {
		t = TypeInt
	}
	if t.Kind == KindNumeric {
		pa, sa := numericShape(a)
		pb, sb := numericShape(b)
		switch op {
		case "+", "-":
			s := max(sa, sb)
			p := max(pa-sa, pb-sb) + s + 1
			return clampNumeric(p, s), nil
		case "*":
			return clampNumeric(pa+pb+1, sa+sb), nil
		case "/":
			s := max(6, sa+pb+1)
			p := pa - sa + sb + s
			return clampNumeric(p, s), nil
		case "%":
			s := max(sa, sb)
			return clampNumeric(min(pa-sa, pb-sb)+s, s), nil
		}
	}
	return t, nil
}

func opName(op string) string {
	return map[string]string{"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}[op]
}

func numericShape(t Type) (int, int) {
	switch t.Kind {
	case KindNumeric:
		return t.Precision, t.Scale
	case KindBit:
		return 1, 0
	case KindTinyInt:
		return 3, 0
	case KindSmallInt:
		return 5, 0
	case KindInt:
		return 10, 0
	case KindBigInt:
		return 19, 0
	}
	return 18, 0
}

func clampNumeric(p, s int) Type {
	if p > 38 {
		// SQL Server keeps at least min(s, 6) scale digits when precision overflows
		keep := min(s, max(6, s-(p-38)))
		s = keep
		p = 38
	}
	return Numeric(p, s)
}

// arith evaluates a binary arithmetic operator on non-NULL values of result type t.
func arith(op string, t Type, a, b Value) (Value, error) {
	if t.IsString() {
		return stringTo(t, a.Text()+b.Text()), nil
	}
	if t.Kind == KindDateTime && a.T.Kind == KindDateTime {
		r, err := toRat(b)
		if err != nil {
			return Value{}, err
		}
		days, _ := r.Float64()
		if op == "-" {
			days = -days
		}
		return DateTime(a.t.Add(time.Duration(days * 24 * float64(time.Hour)))), nil
	}
	var err error
	if a, err = Convert(a, t); err != nil {
		return Value{}, err
	}
	if b, err = Convert(b, t); err != nil {
		return Value{}, err
	}
	switch {
	case t.IsInteger():
		x, y := a.i, b.i
		var r *big.Int
		switch op {
		case "+":
			r = new(big.Int).Add(big.NewInt(x), big.NewInt(y))
		case "-":
			r = new(big.Int).Sub(big.NewInt(x), big.NewInt(y))
		case "*":
			r = new(big.Int).Mul(big.NewInt(x), big.NewInt(y))
		case "/", "%":
			if y == 0 {
				return Value{}, ErrDivideByZero()
			}
			if op == "/" {
				r = new(big.Int).Quo(big.NewInt(x), big.NewInt(y))
			} else {
				r = new(big.Int).Rem(big.NewInt(x), big.NewInt(y))
			}
		case "&":
			r = big.NewInt(x & y)
		case "|":
			r = big.NewInt(x | y)
		case "^":
			r = big.NewInt(x ^ y)
		}
		rg := intRange[t.Kind]
		if !r.IsInt64() || r.Int64() < rg[0] || r.Int64() > rg[1] {
			return Value{}, NewError(8115, 16, 2, "Arithmetic overflow error converting expression to data type %s.", t.typeName())
		}
		return Value{T: t, i: r.Int64()}, nil
	case t.Kind == KindFloat:
		x, y := a.f, b.f
		switch op {
		case "+":
			return Float(x + y), nil
		case "-":
			return Float(x - y), nil
		case "*":
			return Float(x * y), nil
		case "/":
			if y == 0 {
				return Value{}, ErrDivideByZero()
			}
			return Float(x / y), nil
		case "%":
			if y == 0 {
				return Value{}, ErrDivideByZero()
			}
			return Float(math.Mod(x, y)), nil
		}
	case t.Kind == KindNumeric:
		x, _ := toRat(a)
		y, _ := toRat(b)
		var r *big.Rat
		switch op {
		case "+":
			r = new(big.Rat).Add(x, y)
		case "-":
			r = new(big.Rat).Sub(x, y)
		case "*":
			r = new(big.Rat).Mul(x, y)
		case "/", "%":
			if y.Sign() == 0 {
				return Value{}, ErrDivideByZero()
			}
			if op == "/" {
				r = new(big.Rat).Quo(x, y)
			} else {
				q := new(big.Rat).Quo(x, y)
				qi := new(big.Int).Quo(q.Num(), q.Denom())
				r = new(big.Rat).Sub(x, new(big.Rat).Mul(y, new(big.Rat).SetInt(qi)))
			}
		default:
			return Value{}, NewError(402, 16, 1, "The data types numeric and numeric are incompatible in the '%s' operator.", op)
		}
		n := roundRat(r, t.Scale)
		if digits(n) > t.Precision {
			return Value{}, NewError(8115, 16, 2, "Arithmetic overflow error converting expression to data type numeric.")
		}
		return Value{T: t, d: n}, nil
	}
	return Value{}, NewError(402, 16, 1, "The data types %s and %s are incompatible in the %s operator.", a.T.typeName(), b.T.typeName(), opName(op))
}

// ---- LIKE ----

// like matches s against a T-SQL LIKE pattern (%, _, [set], [^set], ranges), case-insensitively.
// It runs in O(len(s) * len(pattern)): a greedy match that backtracks only to the last %.
func like(s, pattern string, escape rune) bool {
	return likeTokens([]rune(foldString(s)), compileLike([]rune(strings.ToLower(pattern)), escape))
}

type likeTok struct {
	kind byte // 'c' literal, '_' any one, '[' set, '%' any run
	r    rune
	set  []rune
	neg  bool
}

func compileLike(p []rune, esc rune) []likeTok {
	var out []likeTok
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case esc != 0 && c == esc && i+1 < len(p):
			out = append(out, likeTok{kind: 'c', r: p[i+1]})
			i++
		case c == '%':
			if len(out) == 0 || out[len(out)-1].kind != '%' {
				out = append(out, likeTok{kind: '%'})
			}
		case c == '_':
			out = append(out, likeTok{kind: '_'})
		case c == '[':
			end := -1
			for j := i + 2; j < len(p); j++ {
				if p[j] == ']' {
					end = j
					break
				}
			}
			if end < 0 {
				out = append(out, likeTok{kind: 'c', r: c})
				continue
			}
			set := p[i+1 : end]
			tok := likeTok{kind: '['}
			if len(set) > 0 && set[0] == '^' {
				tok.neg, set = true, set[1:]
			}
			tok.set = set
			out = append(out, tok)
			i = end
		default:
			out = append(out, likeTok{kind: 'c', r: c})
		}
	}
	return out
}

func (t likeTok) matches(r rune) bool {
	switch t.kind {
	case 'c':
		return r == t.r
	case '_':
		return true
	}
	match := false
	for j := 0; j < len(t.set); j++ {
		if j+2 < len(t.set) && t.set[j+1] == '-' {
			if r >= t.set[j] && r <= t.set[j+2] {
				match = true
			}
			j += 2
			continue
		}
		if r == t.set[j] {
			match = true
		}
	}
	return match != t.neg
}

func likeTokens(s []rune, p []likeTok) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi].kind == '%':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi].matches(s[si]):
			si++
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].kind == '%' {
		pi++
	}
	return pi == len(p)
}

package engine

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Kind is a SQL Server data type family the engine supports.
type Kind uint8

// The supported kinds. KindUnknown is the type of an untyped NULL literal.
const (
	KindUnknown Kind = iota
	KindBit
	KindTinyInt
	KindSmallInt
	KindInt
	KindBigInt
	KindNumeric
	KindFloat
	KindChar
	KindVarChar
	KindNChar
	KindNVarChar
	KindDateTime
	KindDateTime2
	KindDateTimeOffset
	KindUniqueIdentifier
	KindDate
)

// MaxLength marks a (n)varchar(max) column in Type.Length.
const MaxLength = -1

// Type is a SQL type with its length (characters for strings; MaxLength for max),
// precision and scale (numeric: precision 1..38, scale 0..precision; datetime2: scale 0..7).
type Type struct {
	Kind      Kind
	Length    int
	Precision int
	Scale     int
}

// Convenience constructors for the types of the catalog.
var (
	TypeBit              = Type{Kind: KindBit}
	TypeTinyInt          = Type{Kind: KindTinyInt}
	TypeSmallInt         = Type{Kind: KindSmallInt}
	TypeInt              = Type{Kind: KindInt}
	TypeBigInt           = Type{Kind: KindBigInt}
	TypeFloat            = Type{Kind: KindFloat}
	TypeDateTime         = Type{Kind: KindDateTime}
	TypeUniqueIdentifier = Type{Kind: KindUniqueIdentifier}
	TypeDate             = Type{Kind: KindDate}
	// TypeSysname is sysname, which SQL Server defines as nvarchar(128).
	TypeSysname = NVarChar(128)
	// TypeLSN is numeric(25,0), the type of every LSN column.
	TypeLSN = Numeric(25, 0)
)

// NVarChar returns nvarchar(n); n = MaxLength gives nvarchar(max).
func NVarChar(n int) Type { return Type{Kind: KindNVarChar, Length: n} }

// VarChar returns varchar(n).
func VarChar(n int) Type { return Type{Kind: KindVarChar, Length: n} }

// Char returns char(n).
func Char(n int) Type { return Type{Kind: KindChar, Length: n} }

// NChar returns nchar(n).
func NChar(n int) Type { return Type{Kind: KindNChar, Length: n} }

// Numeric returns numeric(p,s).
func Numeric(p, s int) Type { return Type{Kind: KindNumeric, Precision: p, Scale: s} }

// DateTime2 returns datetime2(scale).
func DateTime2(scale int) Type { return Type{Kind: KindDateTime2, Scale: scale} }

// DateTimeOffset returns datetimeoffset(scale).
func DateTimeOffset(scale int) Type { return Type{Kind: KindDateTimeOffset, Scale: scale} }

// IsString reports whether the type is a character type.
func (t Type) IsString() bool {
	return t.Kind == KindChar || t.Kind == KindVarChar || t.Kind == KindNChar || t.Kind == KindNVarChar
}

// IsInteger reports whether the type is bit, tinyint, smallint, int or bigint.
func (t Type) IsInteger() bool { return t.Kind >= KindBit && t.Kind <= KindBigInt }

// IsNumber reports whether the type is an exact or approximate number (bit included).
func (t Type) IsNumber() bool { return t.Kind >= KindBit && t.Kind <= KindFloat }

// IsTime reports whether the type holds a date and time.
func (t Type) IsTime() bool {
	return t.Kind == KindDateTime || t.Kind == KindDateTime2 || t.Kind == KindDateTimeOffset || t.Kind == KindDate
}

// String renders the type as T-SQL spells it, e.g. "numeric(25,0)" or "nvarchar(max)".
func (t Type) String() string {
	switch t.Kind {
	case KindBit:
		return "bit"
	case KindTinyInt:
		return "tinyint"
	case KindSmallInt:
		return "smallint"
	case KindInt:
		return "int"
	case KindBigInt:
		return "bigint"
	case KindNumeric:
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case KindFloat:
		return "float"
	case KindChar, KindVarChar, KindNChar, KindNVarChar:
		name := map[Kind]string{KindChar: "char", KindVarChar: "varchar", KindNChar: "nchar", KindNVarChar: "nvarchar"}[t.Kind]
		if t.Length == MaxLength {
			return name + "(max)"
		}
		return fmt.Sprintf("%s(%d)", name, t.Length)
	case KindDateTime:
		return "datetime"
	case KindDateTime2:
		return fmt.Sprintf("datetime2(%d)", t.Scale)
	case KindDateTimeOffset:
		return fmt.Sprintf("datetimeoffset(%d)", t.Scale)
	case KindUniqueIdentifier:
		return "uniqueidentifier"
	case KindDate:
		return "date"
	}
	return "unknown"
}

// typeName is the bare type name used in conversion error messages ("int", "nvarchar").
func (t Type) typeName() string {
	s := t.String()
	if i := strings.IndexByte(s, '('); i >= 0 {
		return s[:i]
	}
	return s
}

// precedence is SQL Server's data type precedence: the higher wins in an expression.
func (t Type) precedence() int {
	switch t.Kind {
	case KindDateTimeOffset:
		return 20
	case KindDateTime2:
		return 19
	case KindDateTime:
		return 18
	case KindDate:
		return 17
	case KindFloat:
		return 15
	case KindNumeric:
		return 13
	case KindBigInt:
		return 11
	case KindInt:
		return 10
	case KindSmallInt:
		return 9
	case KindTinyInt:
		return 8
	case KindBit:
		return 7
	case KindUniqueIdentifier:
		return 5
	case KindNVarChar:
		return 4
	case KindNChar:
		return 3
	case KindVarChar:
		return 2
	case KindChar:
		return 1
	}
	return 0
}

// Value is one SQL value. The zero Value is an untyped NULL. Use the constructors.
type Value struct {
	T    Type
	Null bool
	i    int64     // integer kinds and bit
	f    float64   // float
	s    string    // strings
	t    time.Time // time kinds; datetime/datetime2 carry no zone (UTC location, wall clock)
	off  int       // datetimeoffset: offset in minutes
	d    *big.Int  // numeric: unscaled value
	g    [16]byte  // uniqueidentifier in canonical (display) byte order
}

// Null returns a NULL of type t.
func Null(t Type) Value { return Value{T: t, Null: true} }

// Int returns an int value.
func Int(v int32) Value { return Value{T: TypeInt, i: int64(v)} }

// BigInt returns a bigint value.
func BigInt(v int64) Value { return Value{T: TypeBigInt, i: v} }

// SmallInt returns a smallint value.
func SmallInt(v int16) Value { return Value{T: TypeSmallInt, i: int64(v)} }

// TinyInt returns a tinyint value.
func TinyInt(v uint8) Value { return Value{T: TypeTinyInt, i: int64(v)} }

// Bit returns a bit value.
func Bit(v bool) Value {
	if v {
		return Value{T: TypeBit, i: 1}
	}
	return Value{T: TypeBit}
}

// Float returns a float value.
func Float(v float64) Value { return Value{T: TypeFloat, f: v} }

// String returns a value of string type t (nvarchar(n), char(n)…), holding s as given.
func String(t Type, s string) Value { return Value{T: t, s: s} }

// NStr returns an nvarchar value sized to s (at least 1 character), the type of an N'…' literal.
func NStr(s string) Value {
	n := len([]rune(s))
	if n == 0 {
		n = 1
	}
	if n > 4000 {
		n = MaxLength
	}
	return Value{T: NVarChar(n), s: s}
}

// Sysname returns an nvarchar(128) value.
func Sysname(s string) Value { return Value{T: TypeSysname, s: s} }

// DecimalValue returns a numeric(p,s) value from its unscaled integer (value = unscaled / 10^s).
// It fails when the value needs more than p digits.
func DecimalValue(t Type, unscaled *big.Int) (Value, error) {
	if t.Kind != KindNumeric {
		return Value{}, fmt.Errorf("decimal value: type %s is not numeric", t)
	}
	if digits(unscaled) > t.Precision {
		return Value{}, fmt.Errorf("decimal value: %s needs more than %d digits", unscaled, t.Precision)
	}
	return Value{T: t, d: new(big.Int).Set(unscaled)}, nil
}

// LSN returns a numeric(25,0) value parsed from decimal digits, e.g. "9223372036854775808001".
func LSN(digitsText string) (Value, error) {
	n, ok := new(big.Int).SetString(digitsText, 10)
	if !ok || n.Sign() < 0 {
		return Value{}, fmt.Errorf("lsn %q: not a non-negative decimal integer", digitsText)
	}
	return DecimalValue(TypeLSN, n)
}

// MustLSN is LSN for constants in tests and fixtures; it panics on a malformed literal.
func MustLSN(digitsText string) Value {
	v, err := LSN(digitsText)
	if err != nil {
		panic(err)
	}
	return v
}

// DateTime returns a datetime value from the wall-clock fields of t (its zone is dropped),
// rounded to datetime's 1/300 s ticks (.000, .003, .007) as SQL Server does.
func DateTime(t time.Time) Value { return Value{T: TypeDateTime, t: roundDateTime(wall(t))} }

// DateTime2Value returns a datetime2(scale) value from the wall-clock fields of t.
func DateTime2Value(scale int, t time.Time) Value {
	return Value{T: DateTime2(scale), t: roundScale(wall(t), scale)}
}

// DateTimeOffsetValue returns a datetimeoffset(7) value: t's instant with t's zone offset.
func DateTimeOffsetValue(t time.Time) Value {
	_, off := t.Zone()
	return Value{T: DateTimeOffset(7), t: roundScale(t.UTC(), 7), off: off / 60}
}

// Date returns a date value: the calendar date of t's wall clock.
func Date(t time.Time) Value {
	return Value{T: TypeDate, t: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// GUID returns a uniqueidentifier value from its canonical 16 bytes (the order the text form shows).
func GUID(b [16]byte) Value { return Value{T: TypeUniqueIdentifier, g: b} }

// ParseGUID parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (braces allowed) into a uniqueidentifier.
func ParseGUID(s string) (Value, error) {
	b, ok := parseGUIDText(s)
	if !ok {
		return Value{}, fmt.Errorf("uniqueidentifier %q: malformed", s)
	}
	return GUID(b), nil
}

// MustGUID is ParseGUID for constants; it panics on a malformed literal.
func MustGUID(s string) Value {
	v, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Int64 returns the value of an integer kind (bit included).
func (v Value) Int64() int64 { return v.i }

// Float64 returns the value of a float.
func (v Value) Float64() float64 { return v.f }

// Str returns the value of a string kind.
func (v Value) Str() string { return v.s }

// Time returns the value of a time kind. datetime and datetime2 are wall-clock times in the UTC
// location; datetimeoffset carries its offset as a fixed zone.
func (v Value) Time() time.Time {
	if v.T.Kind == KindDateTimeOffset {
		return v.t.In(time.FixedZone("", v.off*60))
	}
	return v.t
}

// Unscaled returns the unscaled integer of a numeric (value = Unscaled / 10^Scale); a copy.
func (v Value) Unscaled() *big.Int {
	if v.d == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(v.d)
}

// GUIDBytes returns a uniqueidentifier's 16 bytes in canonical (display) order.
func (v Value) GUIDBytes() [16]byte { return v.g }

// Text renders a non-NULL value as SQL Server would convert it to nvarchar (style 121 for times);
// NULL renders as "NULL".
func (v Value) Text() string {
	if v.Null {
		return "NULL"
	}
	switch v.T.Kind {
	case KindBit, KindTinyInt, KindSmallInt, KindInt, KindBigInt:
		return fmt.Sprint(v.i)
	case KindNumeric:
		return formatDecimal(v.Unscaled(), v.T.Scale)
	case KindFloat:
		return formatFloat(v.f)
	case KindChar, KindVarChar, KindNChar, KindNVarChar:
		return v.s
	case KindDateTime:
		return v.t.Format("2006-01-02 15:04:05.000")
	case KindDateTime2:
		return formatFrac(v.t, v.T.Scale)
	case KindDateTimeOffset:
		t := v.Time()
		return formatFrac(t, v.T.Scale) + t.Format(" -07:00")
	case KindUniqueIdentifier:
		return guidText(v.g)
	case KindDate:
		return v.t.Format("2006-01-02")
	}
	return ""
}

func formatFrac(t time.Time, scale int) string {
	s := t.Format("2006-01-02 15:04:05")
	if scale > 0 {
		frac := fmt.Sprintf("%09d", t.Nanosecond())
		s += "." + frac[:scale]
	}
	return s
}

// wall drops the zone: the same wall-clock fields in UTC.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// roundDateTime rounds to the nearest 1/300 s, as datetime stores time.
func roundDateTime(t time.Time) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	ns := t.Sub(day).Nanoseconds()
	// ticks of 1/300 s = 10/3 ms; round half up like SQL Server, then show tick k as
	// round(k*10/3) ms: .000, .003, .007, .010 …
	ticks := (ns*3 + 5_000_000) / 10_000_000
	ms := (ticks*10 + 1) / 3
	return day.Add(time.Duration(ms) * time.Millisecond)
}

func roundScale(t time.Time, scale int) time.Time {
	unit := time.Duration(1)
	for i := scale; i < 9; i++ {
		unit *= 10
	}
	return t.Round(unit)
}

func digits(n *big.Int) int {
	if n.Sign() == 0 {
		return 1
	}
	return len(new(big.Int).Abs(n).String())
}

func formatDecimal(n *big.Int, scale int) string {
	neg := n.Sign() < 0
	s := new(big.Int).Abs(n).String()
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func formatFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%g", f), ".0"), "+00")
}

func parseGUIDText(s string) ([16]byte, bool) {
	var b [16]byte
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	hex := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	for i := 0; i < 16; i++ {
		hi, ok1 := hexVal(hex[2*i])
		lo, ok2 := hexVal(hex[2*i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func guidText(b [16]byte) string {
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

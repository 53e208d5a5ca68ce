package tds

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
)

// Wire type ids (MS-TDS 2.2.5.4).
const (
	typeNull       byte = 0x1F
	typeInt1       byte = 0x30
	typeBit        byte = 0x32
	typeInt2       byte = 0x34
	typeInt4       byte = 0x38
	typeDateTim4   byte = 0x3A
	typeFlt4       byte = 0x3B
	typeMoney      byte = 0x3C
	typeDateTime   byte = 0x3D
	typeFlt8       byte = 0x3E
	typeMoney4     byte = 0x7A
	typeInt8       byte = 0x7F
	typeGUID       byte = 0x24
	typeIntN       byte = 0x26
	typeDateN      byte = 0x28
	typeTimeN      byte = 0x29
	typeDateTime2N byte = 0x2A
	typeDTOffsetN  byte = 0x2B
	typeBitN       byte = 0x68
	typeDecimalN   byte = 0x6A
	typeNumericN   byte = 0x6C
	typeFltN       byte = 0x6D
	typeMoneyN     byte = 0x6E
	typeDateTimeN  byte = 0x6F
	typeBigVarBin  byte = 0xA5
	typeBigVarChar byte = 0xA7
	typeBigBinary  byte = 0xAD
	typeBigChar    byte = 0xAF
	typeNVarChar   byte = 0xE7
	typeNChar      byte = 0xEF
)

// collationLatin1 is SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, CI/AI-kana/width flags, SortId 52).
var collationLatin1 = [5]byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// maxSize marks nvarchar(max)/varbinary(max) in Type.size.
const maxSize = -1

// Type is a column or parameter type. Build column types with the constructors (Int, NVarChar, ...);
// the zero Type is invalid. Result columns always use the nullable wire variant (INTN, BITN, ...).
type Type struct {
	id    byte // wire type id
	size  int  // bytes for fixed-size numbers; characters for nvarchar/char; bytes for binary; maxSize for (max)
	prec  uint8
	scale uint8
	pad   bool // char(n): values are right-padded with spaces to size characters
}

// TinyInt is tinyint (0..255).
func TinyInt() Type { return Type{id: typeIntN, size: 1} }

// SmallInt is smallint.
func SmallInt() Type { return Type{id: typeIntN, size: 2} }

// Int is int.
func Int() Type { return Type{id: typeIntN, size: 4} }

// BigInt is bigint.
func BigInt() Type { return Type{id: typeIntN, size: 8} }

// Bit is bit.
func Bit() Type { return Type{id: typeBitN, size: 1} }

// Float is float (8-byte IEEE 754).
func Float() Type { return Type{id: typeFltN, size: 8} }

// Real is real (4-byte IEEE 754).
func Real() Type { return Type{id: typeFltN, size: 4} }

// NVarChar is nvarchar(n), 1 <= n <= 4000 characters (UTF-16 code units). sysname is NVarChar(128).
func NVarChar(n int) Type { return Type{id: typeNVarChar, size: n} }

// NVarCharMax is nvarchar(max), sent as a PLP value.
func NVarCharMax() Type { return Type{id: typeNVarChar, size: maxSize} }

// Char is char(n). It is sent as nvarchar(n) (see the package comment) with values right-padded with
// spaces to n characters.
func Char(n int) Type { return Type{id: typeNVarChar, size: n, pad: true} }

// VarBinary is varbinary(n), 1 <= n <= 8000 bytes.
func VarBinary(n int) Type { return Type{id: typeBigVarBin, size: n} }

// VarBinaryMax is varbinary(max), sent as a PLP value.
func VarBinaryMax() Type { return Type{id: typeBigVarBin, size: maxSize} }

// DateTime is datetime: 1753-01-01..9999-12-31, rounded to 1/300 s as SQL Server does.
func DateTime() Type { return Type{id: typeDateTimeN, size: 8} }

// DateTime2 is datetime2(p), 0 <= p <= 7 fractional digits.
func DateTime2(p int) Type { return Type{id: typeDateTime2N, scale: uint8(p)} }

// DateTimeOffset is datetimeoffset(p), 0 <= p <= 7 fractional digits.
func DateTimeOffset(p int) Type { return Type{id: typeDTOffsetN, scale: uint8(p)} }

// Date is date.
func Date() Type { return Type{id: typeDateN} }

// UniqueIdentifier is uniqueidentifier.
func UniqueIdentifier() Type { return Type{id: typeGUID, size: 16} }

// Numeric is numeric(p,s) (decimal), 1 <= p <= 38, 0 <= s <= p. LSNs are numeric(25,0).
func Numeric(p, s int) Type { return Type{id: typeNumericN, prec: uint8(p), scale: uint8(s)} }

// Name returns the SQL name of the type, e.g. "nvarchar(128)" or "numeric(25,0)".
func (t Type) Name() string {
	switch t.id {
	case typeIntN, typeInt1, typeInt2, typeInt4, typeInt8:
		switch t.size {
		case 1:
			return "tinyint"
		case 2:
			return "smallint"
		case 4:
			return "int"
		case 8:
			return "bigint"
		}
	case typeBitN, typeBit:
		return "bit"
	case typeFltN, typeFlt4, typeFlt8:
		if t.size == 4 {
			return "real"
		}
		return "float"
	case typeNVarChar, typeNChar, typeBigVarChar, typeBigChar:
		base := map[byte]string{typeNVarChar: "nvarchar", typeNChar: "nchar", typeBigVarChar: "varchar", typeBigChar: "char"}[t.id]
		if t.pad {
			base = "char"
		}
		if t.size == maxSize {
			return base + "(max)"
		}
		return fmt.Sprintf("%s(%d)", base, t.size)
	case typeBigVarBin, typeBigBinary:
		base := "varbinary"
		if t.id == typeBigBinary {
			base = "binary"
		}
		if t.size == maxSize {
			return base + "(max)"
		}
		return fmt.Sprintf("%s(%d)", base, t.size)
	case typeDateTimeN, typeDateTime, typeDateTim4:
		if t.size == 4 {
			return "smalldatetime"
		}
		return "datetime"
	case typeDateTime2N:
		return fmt.Sprintf("datetime2(%d)", t.scale)
	case typeDTOffsetN:
		return fmt.Sprintf("datetimeoffset(%d)", t.scale)
	case typeDateN:
		return "date"
	case typeTimeN:
		return fmt.Sprintf("time(%d)", t.scale)
	case typeGUID:
		return "uniqueidentifier"
	case typeNumericN, typeDecimalN:
		return fmt.Sprintf("numeric(%d,%d)", t.prec, t.scale)
	case typeMoneyN, typeMoney, typeMoney4:
		return "money"
	case typeNull:
		return "null"
	}
	return fmt.Sprintf("type(0x%02X)", t.id)
}

// Precision returns the precision of a numeric type (0 otherwise).
func (t Type) Precision() int { return int(t.prec) }

// Scale returns the scale of a numeric type or the fractional digits of a time type.
func (t Type) Scale() int { return int(t.scale) }

// Size returns the declared length: characters for strings, bytes for binary and fixed-size numbers,
// -1 for (max).
func (t Type) Size() int { return t.size }

// validate reports whether a column type built by a constructor has legal parameters.
func (t Type) validate() error {
	switch t.id {
	case typeIntN:
		if t.size != 1 && t.size != 2 && t.size != 4 && t.size != 8 {
			return fmt.Errorf("integer size %d is not 1, 2, 4 or 8", t.size)
		}
	case typeBitN, typeGUID, typeDateTimeN, typeDateN:
	case typeFltN:
		if t.size != 4 && t.size != 8 {
			return fmt.Errorf("float size %d is not 4 or 8", t.size)
		}
	case typeNVarChar:
		if t.size != maxSize && (t.size < 1 || t.size > 4000) {
			return fmt.Errorf("%s: length must be 1..4000", t.Name())
		}
		if t.pad && t.size == maxSize {
			return fmt.Errorf("char(max) does not exist")
		}
	case typeBigVarBin:
		if t.size != maxSize && (t.size < 1 || t.size > 8000) {
			return fmt.Errorf("%s: length must be 1..8000", t.Name())
		}
	case typeDateTime2N, typeDTOffsetN, typeTimeN:
		if t.scale > 7 {
			return fmt.Errorf("%s: fractional digits must be 0..7", t.Name())
		}
	case typeNumericN:
		if t.prec < 1 || t.prec > 38 || t.scale > t.prec {
			return fmt.Errorf("%s: precision must be 1..38 and scale 0..precision", t.Name())
		}
	default:
		return fmt.Errorf("type %s cannot be used for a result column", t.Name())
	}
	return nil
}

// numericLen is the value length of a numeric with the given precision (MS-TDS 2.2.5.5.1.6).
func numericLen(prec uint8) int {
	switch {
	case prec <= 9:
		return 5
	case prec <= 19:
		return 9
	case prec <= 28:
		return 13
	default:
		return 17
	}
}

func timeLen(scale uint8) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	default:
		return 5
	}
}

// appendTypeInfo appends the TYPE_INFO of a result column.
func appendTypeInfo(b []byte, t Type) []byte {
	b = append(b, t.id)
	switch t.id {
	case typeIntN, typeBitN, typeFltN, typeDateTimeN, typeGUID:
		b = append(b, byte(t.size))
	case typeDateN:
	case typeDateTime2N, typeDTOffsetN, typeTimeN:
		b = append(b, t.scale)
	case typeNumericN:
		b = append(b, byte(numericLen(t.prec)), t.prec, t.scale)
	case typeNVarChar:
		if t.size == maxSize {
			b = binary.LittleEndian.AppendUint16(b, 0xFFFF)
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(2*t.size))
		}
		b = append(b, collationLatin1[:]...)
	case typeBigVarBin:
		if t.size == maxSize {
			b = binary.LittleEndian.AppendUint16(b, 0xFFFF)
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(t.size))
		}
	}
	return b
}

// UUID is a uniqueidentifier in RFC 4122 byte order (the order of its text form). On the wire SQL
// Server stores the first three groups byte-reversed; the encoder and decoder convert.
type UUID [16]byte

// ParseUUID parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", optionally in braces.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	t := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return u, fmt.Errorf("parse uniqueidentifier %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("parse uniqueidentifier %q: %w", s, err)
	}
	return u, nil
}

// String returns the upper-case text form SQL Server prints.
func (u UUID) String() string {
	h := strings.ToUpper(hex.EncodeToString(u[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// swapGUID converts between RFC order and SQL Server's mixed-endian wire order (it is its own inverse).
func swapGUID(in [16]byte) [16]byte {
	out := in
	out[0], out[1], out[2], out[3] = in[3], in[2], in[1], in[0]
	out[4], out[5] = in[5], in[4]
	out[6], out[7] = in[7], in[6]
	return out
}

// Decimal is an exact numeric value: Unscaled / 10^Scale. A nil Unscaled means zero.
type Decimal struct {
	Unscaled *big.Int
	Scale    uint8
}

// ParseDecimal parses a decimal literal such as "-123.4500" or "49000000012300001".
func ParseDecimal(s string) (Decimal, error) {
	t := strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return Decimal{}, fmt.Errorf("parse decimal %q: no digits", s)
	}
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Decimal{}, fmt.Errorf("parse decimal %q: invalid character %q", s, c)
		}
	}
	if len(frac) > 38 || len(digits) > 80 {
		return Decimal{}, fmt.Errorf("parse decimal %q: too many digits", s)
	}
	if digits == "" {
		digits = "0"
	}
	v, _ := new(big.Int).SetString(digits, 10)
	if neg {
		v.Neg(v)
	}
	return Decimal{Unscaled: v, Scale: uint8(len(frac))}, nil
}

// String returns the value with exactly Scale fractional digits.
func (d Decimal) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	s := new(big.Int).Abs(u).String()
	if d.Scale > 0 {
		if len(s) <= int(d.Scale) {
			s = strings.Repeat("0", int(d.Scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(d.Scale)] + "." + s[len(s)-int(d.Scale):]
	}
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}

var bigTen = big.NewInt(10)

// rescale returns d's unscaled value at the given scale. It fails when digits would be lost.
func (d Decimal) rescale(scale uint8) (*big.Int, error) {
	u := new(big.Int)
	if d.Unscaled != nil {
		u.Set(d.Unscaled)
	}
	if scale >= d.Scale {
		return u.Mul(u, new(big.Int).Exp(bigTen, big.NewInt(int64(scale-d.Scale)), nil)), nil
	}
	q, r := new(big.Int).QuoRem(u, new(big.Int).Exp(bigTen, big.NewInt(int64(d.Scale-scale)), nil), new(big.Int))
	if r.Sign() != 0 {
		return nil, fmt.Errorf("value %s has more than %d fractional digits", d, scale)
	}
	return q, nil
}

// utf16Units returns the number of UTF-16 code units in s.
func utf16Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// appendUTF16 appends s as UTF-16LE.
func appendUTF16(b []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = binary.LittleEndian.AppendUint16(b, uint16(r1))
			b = binary.LittleEndian.AppendUint16(b, uint16(r2))
			continue
		}
		if r == 0xFFFD || (r >= 0xD800 && r < 0xE000) {
			r = 0xFFFD
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}

// decodeUTF16 decodes UTF-16LE bytes; an odd trailing byte is an error.
func decodeUTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("odd UTF-16 byte length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// Day numbers: days since 0001-01-01 of the Unix epoch (time.Time.Sub saturates at ~292 years, so day
// arithmetic goes through Unix seconds).
const (
	unixEpochDays      = 719162  // 0001-01-01 .. 1970-01-01
	datetimeEpochDays  = 693595  // 0001-01-01 .. 1900-01-01
	datetimeMinDays    = 639905  // 0001-01-01 .. 1753-01-01
	maxDays            = 3652058 // 9999-12-31
	nanosPerDay        = int64(86400) * 1e9
	datetimeTicksPerDy = 300 * 86400
)

// wallDays splits t's wall clock (in its own location) into days since 0001-01-01 and nanoseconds
// since midnight.
func wallDays(t time.Time) (days int64, nanos int64) {
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	days = midnight.Unix()/86400 + unixEpochDays
	nanos = int64(t.Hour())*3600e9 + int64(t.Minute())*60e9 + int64(t.Second())*1e9 + int64(t.Nanosecond())
	return days, nanos
}

// encodeDateTime returns datetime's (days since 1900, 1/300 s ticks), rounding as SQL Server does.
func encodeDateTime(t time.Time) (int32, uint32, error) {
	days, nanos := wallDays(t)
	ticks := (nanos*300 + 5e8) / 1e9 // round to the nearest 1/300 s
	if ticks >= datetimeTicksPerDy {
		ticks -= datetimeTicksPerDy
		days++
	}
	if days < datetimeMinDays || days > maxDays {
		return 0, 0, fmt.Errorf("datetime value %s is outside 1753-01-01..9999-12-31", t.Format(time.RFC3339Nano))
	}
	return int32(days - datetimeEpochDays), uint32(ticks), nil
}

// scaledTime returns the time of day in units of 10^-scale s, rounded half up, carrying into the day.
func scaledTime(days, nanos int64, scale uint8) (int64, uint64) {
	unit := int64(math.Pow10(9 - int(scale)))
	v := (nanos + unit/2) / unit
	perDay := nanosPerDay / unit
	if v >= perDay {
		v -= perDay
		days++
	}
	return days, uint64(v)
}

func appendTimeBytes(b []byte, v uint64, scale uint8) []byte {
	for i := 0; i < timeLen(scale); i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func appendDays(b []byte, days int64) []byte {
	return append(b, byte(days), byte(days>>8), byte(days>>16))
}

// appendValue appends the ROW encoding of v for a column of type t. It rejects values that do not fit.
func appendValue(b []byte, t Type, v any) ([]byte, error) {
	if v == nil {
		switch t.id {
		case typeNVarChar, typeBigVarBin:
			if t.size == maxSize {
				return binary.LittleEndian.AppendUint64(b, 0xFFFFFFFFFFFFFFFF), nil
			}
			return binary.LittleEndian.AppendUint16(b, 0xFFFF), nil
		default:
			return append(b, 0), nil
		}
	}
	switch t.id {
	case typeIntN:
		n, err := toInt64(v)
		if err != nil {
			return b, err
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch t.size {
		case 1:
			lo, hi = 0, 255
		case 2:
			lo, hi = math.MinInt16, math.MaxInt16
		case 4:
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if n < lo || n > hi {
			return b, fmt.Errorf("value %d out of range for %s", n, t.Name())
		}
		b = append(b, byte(t.size))
		for i := 0; i < t.size; i++ {
			b = append(b, byte(uint64(n)>>(8*i)))
		}
		return b, nil
	case typeBitN:
		x, ok := v.(bool)
		if !ok {
			n, err := toInt64(v)
			if err != nil {
				return b, fmt.Errorf("bit wants bool: %w", err)
			}
			x = n != 0
		}
		if x {
			return append(b, 1, 1), nil
		}
		return append(b, 1, 0), nil
	case typeFltN:
		f, err := toFloat64(v)
		if err != nil {
			return b, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("%s cannot hold %v", t.Name(), f)
		}
		if t.size == 4 {
			if math.Abs(f) > math.MaxFloat32 {
				return b, fmt.Errorf("value %g out of range for real", f)
			}
			return binary.LittleEndian.AppendUint32(append(b, 4), math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(append(b, 8), math.Float64bits(f)), nil
	case typeNVarChar:
		s, ok := v.(string)
		if !ok {
			if st, isStringer := v.(fmt.Stringer); isStringer {
				s = st.String()
			} else {
				return b, fmt.Errorf("%s wants a string, got %T", t.Name(), v)
			}
		}
		n := utf16Units(s)
		if t.size != maxSize {
			if n > t.size {
				return b, fmt.Errorf("string of %d characters does not fit %s", n, t.Name())
			}
			if t.pad && n < t.size {
				s += strings.Repeat(" ", t.size-n)
				n = t.size
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(2*n))
			return appendUTF16(b, s), nil
		}
		return appendPLP(b, appendUTF16(nil, s)), nil
	case typeBigVarBin:
		x, ok := v.([]byte)
		if !ok {
			return b, fmt.Errorf("%s wants []byte, got %T", t.Name(), v)
		}
		if t.size != maxSize {
			if len(x) > t.size {
				return b, fmt.Errorf("%d bytes do not fit %s", len(x), t.Name())
			}
			return append(binary.LittleEndian.AppendUint16(b, uint16(len(x))), x...), nil
		}
		return appendPLP(b, x), nil
	case typeDateTimeN:
		tm, ok := v.(time.Time)
		if !ok {
			return b, fmt.Errorf("datetime wants time.Time, got %T", v)
		}
		days, ticks, err := encodeDateTime(tm)
		if err != nil {
			return b, err
		}
		b = binary.LittleEndian.AppendUint32(append(b, 8), uint32(days))
		return binary.LittleEndian.AppendUint32(b, ticks), nil
	case typeDateTime2N, typeDTOffsetN, typeDateN:
		tm, ok := v.(time.Time)
		if !ok {
			return b, fmt.Errorf("%s wants time.Time, got %T", t.Name(), v)
		}
		_, off := tm.Zone()
		if t.id == typeDTOffsetN {
			tm = tm.UTC()
		}
		days, nanos := wallDays(tm)
		var units uint64
		if t.id != typeDateN {
			days, units = scaledTime(days, nanos, t.scale)
		}
		if days < 0 || days > maxDays {
			return b, fmt.Errorf("%s value %s is outside 0001-01-01..9999-12-31", t.Name(), tm.Format(time.RFC3339Nano))
		}
		switch t.id {
		case typeDateN:
			return appendDays(append(b, 3), days), nil
		case typeDateTime2N:
			b = append(b, byte(timeLen(t.scale)+3))
			return appendDays(appendTimeBytes(b, units, t.scale), days), nil
		default:
			b = append(b, byte(timeLen(t.scale)+5))
			b = appendDays(appendTimeBytes(b, units, t.scale), days)
			return binary.LittleEndian.AppendUint16(b, uint16(int16(off/60))), nil
		}
	case typeGUID:
		var u UUID
		switch x := v.(type) {
		case UUID:
			u = x
		case [16]byte:
			u = x
		case string:
			p, err := ParseUUID(x)
			if err != nil {
				return b, err
			}
			u = p
		default:
			return b, fmt.Errorf("uniqueidentifier wants tds.UUID, got %T", v)
		}
		w := swapGUID(u)
		return append(append(b, 16), w[:]...), nil
	case typeNumericN:
		d, err := toDecimal(v)
		if err != nil {
			return b, err
		}
		u, err := d.rescale(t.scale)
		if err != nil {
			return b, fmt.Errorf("%s: %w", t.Name(), err)
		}
		mag := new(big.Int).Abs(u)
		if len(mag.String()) > int(t.prec) && mag.Sign() != 0 {
			return b, fmt.Errorf("value %s does not fit %s", d, t.Name())
		}
		n := numericLen(t.prec)
		b = append(b, byte(n))
		if u.Sign() < 0 {
			b = append(b, 0)
		} else {
			b = append(b, 1)
		}
		le := make([]byte, n-1)
		mag.FillBytes(le) // big-endian
		for i := len(le) - 1; i >= 0; i-- {
			b = append(b, le[i])
		}
		return b, nil
	}
	return b, fmt.Errorf("cannot encode a value of column type %s", t.Name())
}

// appendPLP appends a PLP value with known length as one chunk (plus the terminator).
func appendPLP(b, data []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	if len(data) > 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	return binary.LittleEndian.AppendUint32(b, 0)
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, fmt.Errorf("value %d out of range for bigint", x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("value %d out of range for bigint", x)
		}
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("integer column wants an integer, got %T", v)
}

func toFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	}
	n, err := toInt64(v)
	if err != nil {
		return 0, fmt.Errorf("float column wants a number, got %T", v)
	}
	return float64(n), nil
}

func toDecimal(v any) (Decimal, error) {
	switch x := v.(type) {
	case Decimal:
		return x, nil
	case *Decimal:
		if x == nil {
			return Decimal{}, fmt.Errorf("numeric wants a value, got a nil *Decimal")
		}
		return *x, nil
	case *big.Int:
		return Decimal{Unscaled: x}, nil
	case string:
		return ParseDecimal(x)
	}
	n, err := toInt64(v)
	if err != nil {
		return Decimal{}, fmt.Errorf("numeric wants tds.Decimal, *big.Int, an integer or a decimal string, got %T", v)
	}
	return Decimal{Unscaled: big.NewInt(n)}, nil
}

package tds

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"
)

var procNames = map[uint16]string{
	ProcIDCursor: "sp_cursor", ProcIDCursorOpen: "sp_cursoropen", ProcIDCursorPrepare: "sp_cursorprepare",
	ProcIDCursorExecute: "sp_cursorexecute", ProcIDCursorPrepExec: "sp_cursorprepexec",
	ProcIDCursorUnprep: "sp_cursorunprepare", ProcIDCursorFetch: "sp_cursorfetch",
	ProcIDCursorOption: "sp_cursoroption", ProcIDCursorClose: "sp_cursorclose",
	ProcIDExecuteSQL: "sp_executesql", ProcIDPrepare: "sp_prepare", ProcIDExecute: "sp_execute",
	ProcIDPrepExec: "sp_prepexec", ProcIDPrepExecRPC: "sp_prepexecrpc", ProcIDUnprepare: "sp_unprepare",
}

const maxRPCParams = 2100 // SQL Server's limit

// parseRPC decodes an RPC request payload (after the packet layer). Only the first call of a batched
// RPC is returned; batch separators end the parameter list. withHeaders is false for TDS < 7.2.
func parseRPC(b []byte, withHeaders bool) (*RPCCall, error) {
	r := &reader{b: b}
	if withHeaders {
		r.skipAllHeaders()
	}
	call := &RPCCall{}
	n := r.u16()
	if n == 0xFFFF {
		call.ProcID = r.u16()
		name, ok := procNames[call.ProcID]
		if !ok {
			name = fmt.Sprintf("proc_id_%d", call.ProcID)
		}
		call.ProcName = name
	} else {
		s, err := decodeUTF16(r.bytes(2 * int(n)))
		if r.err == nil && err != nil {
			r.err = err
		}
		call.ProcName = s
	}
	call.OptionFlags = r.u16()
	for r.err == nil && r.remaining() > 0 {
		if c := r.b[r.off]; c == 0x80 || c == 0xFF || c == 0xFE {
			break
		}
		if len(call.Params) >= maxRPCParams {
			return nil, fmt.Errorf("rpc: more than %d parameters", maxRPCParams)
		}
		var p Param
		p.Name = r.bVarChar()
		st := r.u8()
		p.Output = st&0x01 != 0
		p.Default = st&0x02 != 0
		if st&0x08 != 0 {
			return nil, fmt.Errorf("rpc: parameter %q is encrypted (Always Encrypted is not supported)", p.Name)
		}
		p.Type = readTypeInfo(r)
		if r.err != nil {
			break
		}
		v, err := readValue(r, p.Type)
		if err != nil {
			return nil, fmt.Errorf("rpc %s parameter %d (%q, %s): %w", call.ProcName, len(call.Params)+1, p.Name, p.Type.Name(), err)
		}
		p.Value = v
		call.Params = append(call.Params, p)
	}
	if r.err != nil {
		return nil, fmt.Errorf("rpc %s: %w", call.ProcName, r.err)
	}
	return call, nil
}

// readTypeInfo decodes a TYPE_INFO. Type.size is the length byte/word as sent (bytes), except that
// character types are converted to characters and 0xFFFF becomes maxSize.
func readTypeInfo(r *reader) Type {
	t := Type{id: r.u8()}
	switch t.id {
	case typeNull:
	case typeInt1, typeBit:
		t.size = 1
	case typeInt2:
		t.size = 2
	case typeInt4, typeFlt4, typeDateTim4, typeMoney4:
		t.size = 4
	case typeInt8, typeFlt8, typeDateTime, typeMoney:
		t.size = 8
	case typeIntN, typeBitN, typeFltN, typeDateTimeN, typeGUID, typeMoneyN:
		t.size = int(r.u8())
	case typeDateN:
	case typeTimeN, typeDateTime2N, typeDTOffsetN:
		t.scale = r.u8()
		if t.scale > 7 {
			r.fail("time scale %d > 7", t.scale)
		}
	case typeDecimalN, typeNumericN:
		t.size = int(r.u8())
		t.prec = r.u8()
		t.scale = r.u8()
		if t.size < 1 || t.size > 17 || t.prec > 38 || t.scale > 38 {
			r.fail("numeric length %d precision %d scale %d out of range", t.size, t.prec, t.scale)
		}
	case typeBigVarBin, typeBigBinary:
		n := r.u16()
		t.size = int(n)
		if n == 0xFFFF {
			t.size = maxSize
		}
	case typeBigVarChar, typeBigChar, typeNVarChar, typeNChar:
		n := r.u16()
		r.bytes(5) // collation
		t.size = int(n)
		if n == 0xFFFF {
			t.size = maxSize
		} else if t.id == typeNVarChar || t.id == typeNChar {
			t.size = int(n) / 2
		}
	default:
		r.fail("unsupported parameter type 0x%02X", t.id)
	}
	return t
}

// readValue decodes one value of type t (parameter or row grammar).
func readValue(r *reader, t Type) (any, error) {
	le := binary.LittleEndian
	fixed := func(n int) []byte { return r.bytes(n) }
	var data []byte
	switch t.id {
	case typeNull:
		return nil, nil
	case typeInt1, typeBit, typeInt2, typeInt4, typeInt8, typeFlt4, typeFlt8, typeDateTime, typeDateTim4, typeMoney, typeMoney4:
		data = fixed(t.size)
	case typeDateN, typeTimeN, typeDateTime2N, typeDTOffsetN, typeIntN, typeBitN, typeFltN, typeDateTimeN, typeGUID, typeMoneyN, typeDecimalN, typeNumericN:
		n := int(r.u8())
		if r.err != nil {
			return nil, r.err
		}
		if n == 0 {
			return nil, nil
		}
		data = r.bytes(n)
	case typeBigVarBin, typeBigBinary, typeBigVarChar, typeBigChar, typeNVarChar, typeNChar:
		if t.size == maxSize {
			v, isNull, err := readPLP(r)
			if err != nil || isNull {
				return nil, err
			}
			data = v
		} else {
			n := r.u16()
			if n == 0xFFFF {
				return nil, nil
			}
			data = r.bytes(int(n))
		}
	default:
		return nil, fmt.Errorf("unsupported type 0x%02X", t.id)
	}
	if r.err != nil {
		return nil, r.err
	}
	switch t.id {
	case typeInt1:
		return int64(data[0]), nil
	case typeBit:
		return data[0] != 0, nil
	case typeInt2:
		return int64(int16(le.Uint16(data))), nil
	case typeInt4:
		return int64(int32(le.Uint32(data))), nil
	case typeInt8:
		return int64(le.Uint64(data)), nil
	case typeIntN:
		switch len(data) {
		case 1:
			return int64(data[0]), nil
		case 2:
			return int64(int16(le.Uint16(data))), nil
		case 4:
			return int64(int32(le.Uint32(data))), nil
		case 8:
			return int64(le.Uint64(data)), nil
		}
	case typeBitN:
		if len(data) == 1 {
			return data[0] != 0, nil
		}
	case typeFlt4:
		return float64(math.Float32frombits(le.Uint32(data))), nil
	case typeFlt8:
		return math.Float64frombits(le.Uint64(data)), nil
	case typeFltN:
		switch len(data) {
		case 4:
			return float64(math.Float32frombits(le.Uint32(data))), nil
		case 8:
			return math.Float64frombits(le.Uint64(data)), nil
		}
	case typeMoney, typeMoney4, typeMoneyN:
		var units int64
		switch len(data) {
		case 4:
			units = int64(int32(le.Uint32(data)))
		case 8:
			units = int64(int32(le.Uint32(data)))<<32 | int64(le.Uint32(data[4:]))
		default:
			return nil, fmt.Errorf("money value of %d bytes", len(data))
		}
		return Decimal{Unscaled: big.NewInt(units), Scale: 4}, nil
	case typeDateTime, typeDateTimeN, typeDateTim4:
		switch len(data) {
		case 8:
			days := int64(int32(le.Uint32(data)))
			ticks := int64(le.Uint32(data[4:]))
			if ticks >= datetimeTicksPerDy {
				return nil, fmt.Errorf("datetime ticks %d beyond one day", ticks)
			}
			// Ticks are 1/300 s; the fraction is shown in whole milliseconds (.000, .003, .007).
			ms := (ticks%300*10 + 1) / 3
			return dayTime(days+datetimeEpochDays, ticks/300*1e9+ms*1e6), nil
		case 4:
			days := int64(le.Uint16(data))
			mins := int64(le.Uint16(data[2:]))
			return dayTime(days+datetimeEpochDays, mins*60e9), nil
		}
	case typeGUID:
		if len(data) == 16 {
			var w [16]byte
			copy(w[:], data)
			return UUID(swapGUID(w)), nil
		}
	case typeDateN:
		if len(data) == 3 {
			return dayTime(days3(data), 0), nil
		}
	case typeTimeN, typeDateTime2N, typeDTOffsetN:
		tl := timeLen(t.scale)
		want := tl
		switch t.id {
		case typeDateTime2N:
			want += 3
		case typeDTOffsetN:
			want += 5
		}
		if len(data) != want {
			return nil, fmt.Errorf("%s value of %d bytes, want %d", t.Name(), len(data), want)
		}
		var units uint64
		for i := tl - 1; i >= 0; i-- {
			units = units<<8 | uint64(data[i])
		}
		ns := int64(units) * int64(math.Pow10(9-int(t.scale)))
		if ns >= nanosPerDay {
			return nil, fmt.Errorf("time of day %d ns beyond one day", ns)
		}
		if t.id == typeTimeN {
			return dayTime(0, ns), nil
		}
		v := dayTime(days3(data[tl:]), ns)
		if t.id == typeDTOffsetN {
			off := int(int16(le.Uint16(data[tl+3:])))
			if off < -840 || off > 840 {
				return nil, fmt.Errorf("time zone offset %d minutes out of range", off)
			}
			v = v.In(time.FixedZone("", off*60))
		}
		return v, nil
	case typeDecimalN, typeNumericN:
		if len(data) < 2 {
			return nil, fmt.Errorf("numeric value of %d bytes", len(data))
		}
		mag := make([]byte, len(data)-1)
		for i := range mag {
			mag[i] = data[len(data)-1-i]
		}
		u := new(big.Int).SetBytes(mag)
		if data[0] == 0 {
			u.Neg(u)
		}
		return Decimal{Unscaled: u, Scale: t.scale}, nil
	case typeBigVarBin, typeBigBinary:
		return append([]byte{}, data...), nil
	case typeNVarChar, typeNChar:
		return decodeUTF16(data)
	case typeBigVarChar, typeBigChar:
		// Code page 1252 is assumed; bytes >= 0x80 are mapped as Latin-1.
		rs := make([]rune, len(data))
		for i, c := range data {
			rs[i] = rune(c)
		}
		return string(rs), nil
	}
	return nil, fmt.Errorf("%s value of %d bytes", t.Name(), len(data))
}

func days3(b []byte) int64 { return int64(b[0]) | int64(b[1])<<8 | int64(b[2])<<16 }

// dayTime returns the UTC time days after 0001-01-01 plus ns nanoseconds.
func dayTime(days, ns int64) time.Time {
	return time.Unix((days-unixEpochDays)*86400, 0).UTC().Add(time.Duration(ns))
}

// readPLP reads a PLP value: u64 total length (all ones = NULL, all ones but one bit = unknown), then
// chunks of u32 length + data until a zero-length chunk.
func readPLP(r *reader) (data []byte, isNull bool, err error) {
	total := r.u64()
	if r.err != nil {
		return nil, false, r.err
	}
	if total == 0xFFFFFFFFFFFFFFFF {
		return nil, true, nil
	}
	if total != 0xFFFFFFFFFFFFFFFE && total > uint64(r.remaining()) {
		return nil, false, fmt.Errorf("PLP length %d beyond the %d bytes left", total, r.remaining())
	}
	data = []byte{}
	for {
		n := r.u32()
		if r.err != nil {
			return nil, false, r.err
		}
		if n == 0 {
			break
		}
		chunk := r.bytes(int(n))
		if r.err != nil {
			return nil, false, r.err
		}
		data = append(data, chunk...)
	}
	if total != 0xFFFFFFFFFFFFFFFE && uint64(len(data)) != total {
		return nil, false, fmt.Errorf("PLP chunks hold %d bytes, header said %d", len(data), total)
	}
	return data, false, nil
}

package tds

import (
	"encoding/binary"
	"strconv"
)

// Token types (MS-TDS 2.2.7).
const (
	tokenReturnStatus byte = 0x79
	tokenColMetadata  byte = 0x81
	tokenError        byte = 0xAA
	tokenInfo         byte = 0xAB
	tokenReturnValue  byte = 0xAC
	tokenLoginAck     byte = 0xAD
	tokenRow          byte = 0xD1
	tokenEnvChange    byte = 0xE3
	tokenDone         byte = 0xFD
	tokenDoneProc     byte = 0xFE
	tokenDoneInProc   byte = 0xFF
)

// Done status bits (MS-TDS 2.2.7.6).
const (
	doneMore     uint16 = 0x0001
	doneError    uint16 = 0x0002
	doneInXact   uint16 = 0x0004
	doneCount    uint16 = 0x0010
	doneAttn     uint16 = 0x0020
	doneSrvError uint16 = 0x0100
)

// CurCmd values for done tokens (informational; go-mssqldb looks only at CmdSelect).
const (
	// CmdSelect marks the end of a SELECT statement.
	CmdSelect uint16 = 0xC1
	// CmdInsert marks the end of an INSERT statement.
	CmdInsert uint16 = 0xC3
	// CmdDelete marks the end of a DELETE statement.
	CmdDelete uint16 = 0xC4
	// CmdUpdate marks the end of an UPDATE statement.
	CmdUpdate uint16 = 0xC5
	// CmdExecute marks the end of a procedure execution.
	CmdExecute uint16 = 0xE0
)

// ENVCHANGE types (MS-TDS 2.2.7.9).
const (
	envDatabase   byte = 1
	envLanguage   byte = 2
	envPacketSize byte = 4
	envCollation  byte = 7
	envBeginTran  byte = 8
	envCommitTran byte = 9
	envRollback   byte = 10
	envResetAck   byte = 18
)

// TDS versions.
const (
	verTDS73A uint32 = 0x730A0003
	verTDS74  uint32 = 0x74000004
	verTDS80  uint32 = 0x08000000
)

func appendBVarChar(b []byte, s string) []byte {
	u := utf16Units(s)
	if u > 255 {
		// Truncate to 255 code units; B_VARCHAR cannot hold more.
		r := []rune(s)
		for utf16Units(string(r)) > 255 {
			r = r[:len(r)-1]
		}
		s = string(r)
		u = utf16Units(s)
	}
	return appendUTF16(append(b, byte(u)), s)
}

func appendUSVarChar(b []byte, s string) []byte {
	u := utf16Units(s)
	if u > 65535 {
		r := []rune(s)
		s = string(r[:32767])
		u = utf16Units(s)
	}
	return appendUTF16(binary.LittleEndian.AppendUint16(b, uint16(u)), s)
}

// withLen16 appends a token whose body is built by body, prefixed with a u16 body length.
func withLen16(b []byte, tok byte, body func([]byte) []byte) []byte {
	b = append(b, tok, 0, 0)
	start := len(b)
	b = body(b)
	binary.LittleEndian.PutUint16(b[start-2:], uint16(len(b)-start))
	return b
}

// appendMessage appends an ERROR (class >= 11) or INFO token.
func appendMessage(b []byte, e *Error, server string) []byte {
	tok := tokenError
	if e.Class <= 10 {
		tok = tokenInfo
	}
	if e.ServerName != "" {
		server = e.ServerName
	}
	return withLen16(b, tok, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.Number))
		b = append(b, e.State, e.Class)
		b = appendUSVarChar(b, e.Message)
		b = appendBVarChar(b, server)
		b = appendBVarChar(b, e.ProcName)
		return binary.LittleEndian.AppendUint32(b, uint32(e.LineNo))
	})
}

func appendDone(b []byte, tok byte, status, curCmd uint16, rows uint64) []byte {
	b = append(b, tok)
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, curCmd)
	return binary.LittleEndian.AppendUint64(b, rows)
}

func appendEnvString(b []byte, typ byte, newV, oldV string) []byte {
	return withLen16(b, tokenEnvChange, func(b []byte) []byte {
		b = append(b, typ)
		b = appendBVarChar(b, newV)
		return appendBVarChar(b, oldV)
	})
}

func appendEnvBytes(b []byte, typ byte, newV, oldV []byte) []byte {
	return withLen16(b, tokenEnvChange, func(b []byte) []byte {
		b = append(b, typ, byte(len(newV)))
		b = append(b, newV...)
		b = append(b, byte(len(oldV)))
		return append(b, oldV...)
	})
}

func appendLoginAck(b []byte, tdsVersion uint32, progName string, v Version) []byte {
	return withLen16(b, tokenLoginAck, func(b []byte) []byte {
		b = append(b, 1) // interface SQL_TSQL
		b = binary.BigEndian.AppendUint32(b, tdsVersion)
		b = appendBVarChar(b, progName)
		return append(b, v.Major, v.Minor, byte(v.Build>>8), byte(v.Build))
	})
}

func appendColMetadata(b []byte, cols []Column) []byte {
	b = append(b, tokenColMetadata)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cols)))
	for _, c := range cols {
		b = binary.LittleEndian.AppendUint32(b, 0) // UserType
		flags := uint16(0x0008)                    // updateable: unknown
		if !c.NotNull {
			flags |= 0x0001
		}
		b = binary.LittleEndian.AppendUint16(b, flags)
		b = appendTypeInfo(b, c.Type)
		b = appendBVarChar(b, c.Name)
	}
	return b
}

// appendReturnValue appends a RETURNVALUE token for an output parameter (MS-TDS 2.2.7.18).
func appendReturnValue(b []byte, ordinal uint16, name string, t Type, v any) ([]byte, error) {
	start := len(b)
	b = append(b, tokenReturnValue)
	b = binary.LittleEndian.AppendUint16(b, ordinal)
	b = appendBVarChar(b, name)
	b = append(b, 0x01)                        // status: output parameter
	b = binary.LittleEndian.AppendUint32(b, 0) // UserType
	b = binary.LittleEndian.AppendUint16(b, 0x0001)
	b = appendTypeInfo(b, t)
	b, err := appendValue(b, t, v)
	if err != nil {
		return b[:start], err
	}
	return b, nil
}

// loginReply builds the successful login response (MS-TDS 4.4 order).
func loginReply(db string, packetSize int, tdsVersion uint32, opts *Options) []byte {
	var b []byte
	if db != "" {
		b = appendEnvString(b, envDatabase, db, "master")
		b = appendMessage(b, &Error{Number: 5701, State: 2, Class: 0,
			Message: "Changed database context to '" + db + "'."}, opts.ServerName)
	}
	b = appendEnvBytes(b, envCollation, collationLatin1[:], nil)
	b = appendEnvString(b, envLanguage, "us_english", "")
	ps := strconv.Itoa(packetSize)
	b = appendEnvString(b, envPacketSize, ps, ps)
	b = appendMessage(b, &Error{Number: 5703, State: 1, Class: 0,
		Message: "Changed language setting to us_english."}, opts.ServerName)
	b = appendLoginAck(b, tdsVersion, opts.ProgName, opts.Version)
	return appendDone(b, tokenDone, 0, 0, 0)
}

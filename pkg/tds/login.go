package tds

import (
	"encoding/binary"
	"fmt"
)

// login7 is a parsed LOGIN7 request (MS-TDS 2.2.6.4).
type login7 struct {
	tdsVersion    uint32
	packetSize    uint32
	optionFlags2  byte
	typeFlags     byte
	optionFlags3  byte
	hostName      string
	userName      string
	password      string
	appName       string
	serverName    string
	clientLibrary string
	language      string
	database      string
	sspiLen       int
	fedAuth       bool
}

const (
	login7FixedLen  = 94
	fIntSecurity    = 0x80 // OptionFlags2: integrated (SSPI) security
	fReadOnlyIntent = 0x20 // TypeFlags
	fExtension      = 0x10 // OptionFlags3
	featureFedAuth  = 0x02
	featureTerm     = 0xFF
)

// parseLogin7 parses a LOGIN7 payload, following every offset (clients place variable data in
// different orders) with bounds checks.
func parseLogin7(b []byte) (login7, error) {
	var l login7
	if len(b) < login7FixedLen {
		return l, fmt.Errorf("login7: %d bytes, want at least %d", len(b), login7FixedLen)
	}
	le := binary.LittleEndian
	total := int(le.Uint32(b[0:]))
	if total != len(b) {
		return l, fmt.Errorf("login7: length field %d does not match the %d-byte message", total, len(b))
	}
	l.tdsVersion = le.Uint32(b[4:])
	l.packetSize = le.Uint32(b[8:])
	l.optionFlags2 = b[25]
	l.typeFlags = b[26]
	l.optionFlags3 = b[27]
	str := func(pos int, name string, mangled bool) (string, error) {
		off, n := int(le.Uint16(b[pos:])), int(le.Uint16(b[pos+2:]))
		if n == 0 {
			return "", nil
		}
		if off+2*n > len(b) {
			return "", fmt.Errorf("login7: %s [%d,+%d chars) beyond the %d-byte message", name, off, n, len(b))
		}
		raw := b[off : off+2*n]
		if mangled {
			raw = append([]byte(nil), raw...)
			for i, c := range raw {
				c ^= 0xA5
				raw[i] = c<<4 | c>>4
			}
		}
		s, err := decodeUTF16(raw)
		if err != nil {
			return "", fmt.Errorf("login7: %s: %w", name, err)
		}
		return s, nil
	}
	fields := []struct {
		pos     int
		name    string
		mangled bool
		dst     *string
	}{
		{36, "HostName", false, &l.hostName},
		{40, "UserName", false, &l.userName},
		{44, "Password", true, &l.password},
		{48, "AppName", false, &l.appName},
		{52, "ServerName", false, &l.serverName},
		{60, "CltIntName", false, &l.clientLibrary},
		{64, "Language", false, &l.language},
		{68, "Database", false, &l.database},
	}
	for _, f := range fields {
		s, err := str(f.pos, f.name, f.mangled)
		if err != nil {
			return l, err
		}
		*f.dst = s
	}
	l.sspiLen = int(le.Uint16(b[80:]))
	if l.sspiLen == 0xFFFF {
		l.sspiLen = int(le.Uint32(b[90:]))
	}
	if l.optionFlags3&fExtension != 0 {
		off, n := int(le.Uint16(b[56:])), int(le.Uint16(b[58:]))
		if n >= 4 && off+4 <= len(b) {
			feat := int(le.Uint32(b[off:]))
			fed, err := scanFeatures(b, feat)
			if err != nil {
				return l, err
			}
			l.fedAuth = fed
		}
	}
	return l, nil
}

// scanFeatures walks the FeatureExt block at off and reports whether FEDAUTH was requested.
func scanFeatures(b []byte, off int) (fedAuth bool, err error) {
	for guard := 0; guard < 256; guard++ {
		if off < 0 || off >= len(b) {
			return fedAuth, fmt.Errorf("login7: FeatureExt offset %d beyond the %d-byte message", off, len(b))
		}
		id := b[off]
		if id == featureTerm {
			return fedAuth, nil
		}
		if off+5 > len(b) {
			return fedAuth, fmt.Errorf("login7: truncated feature 0x%02X", id)
		}
		n := int(binary.LittleEndian.Uint32(b[off+1:]))
		if n > len(b)-off-5 {
			return fedAuth, fmt.Errorf("login7: feature 0x%02X length %d beyond the message", id, n)
		}
		if id == featureFedAuth {
			fedAuth = true
		}
		off += 5 + n
	}
	return fedAuth, fmt.Errorf("login7: more than 256 features")
}

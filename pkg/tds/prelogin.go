package tds

import (
	"encoding/binary"
	"fmt"
)

// PRELOGIN option tokens (MS-TDS 2.2.6.5).
const (
	preVersion    byte = 0x00
	preEncryption byte = 0x01
	preInstOpt    byte = 0x02
	preThreadID   byte = 0x03
	preMARS       byte = 0x04
	preTraceID    byte = 0x05
	preFedAuth    byte = 0x06
	preTerminator byte = 0xFF
)

// Encryption option values.
const (
	encryptOff    byte = 0x00
	encryptOn     byte = 0x01
	encryptNotSup byte = 0x02
	encryptReq    byte = 0x03
)

const maxPreloginLength = 4096

// prelogin is a parsed PRELOGIN request.
type prelogin struct {
	version       []byte
	encryption    byte
	hasEncryption bool
	instance      string
	fedAuth       bool
	mars          byte
}

// parsePrelogin parses a PRELOGIN payload: an option table of {token u8, offset u16 BE, length u16
// BE} entries ended by 0xFF, then the option data. Unknown tokens are ignored.
func parsePrelogin(b []byte) (prelogin, error) {
	var p prelogin
	for i := 0; ; i += 5 {
		if i >= len(b) {
			return p, fmt.Errorf("prelogin: option table has no terminator")
		}
		tok := b[i]
		if tok == preTerminator {
			return p, nil
		}
		if i+5 > len(b) {
			return p, fmt.Errorf("prelogin: truncated option entry at offset %d", i)
		}
		off := int(binary.BigEndian.Uint16(b[i+1:]))
		n := int(binary.BigEndian.Uint16(b[i+3:]))
		if off+n > len(b) {
			return p, fmt.Errorf("prelogin: option 0x%02X data [%d,%d) beyond the %d-byte payload", tok, off, off+n, len(b))
		}
		data := b[off : off+n]
		switch tok {
		case preVersion:
			p.version = data
		case preEncryption:
			if n < 1 {
				return p, fmt.Errorf("prelogin: empty ENCRYPTION option")
			}
			p.encryption, p.hasEncryption = data[0], true
		case preInstOpt:
			for j, c := range data {
				if c == 0 {
					data = data[:j]
					break
				}
			}
			p.instance = string(data)
		case preMARS:
			if n >= 1 {
				p.mars = data[0]
			}
		case preFedAuth:
			p.fedAuth = true
		}
	}
}

// preloginReply builds the PRELOGIN response: VERSION, ENCRYPTION=NOT_SUP, INSTOPT=0, THREADID
// (empty, never last), MARS=0 and, only if the client sent it, FEDAUTHREQUIRED=0 (TDS.md §2.2).
func preloginReply(v Version, fedAuth bool) []byte {
	type opt struct {
		tok  byte
		data []byte
	}
	ver := []byte{v.Major, v.Minor, byte(v.Build >> 8), byte(v.Build), byte(v.SubBuild >> 8), byte(v.SubBuild)}
	opts := []opt{
		{preVersion, ver},
		{preEncryption, []byte{encryptNotSup}},
		{preInstOpt, []byte{0}},
		{preThreadID, nil},
		{preMARS, []byte{0}},
	}
	if fedAuth {
		opts = append(opts, opt{preFedAuth, []byte{0}})
	}
	off := len(opts)*5 + 1
	var table, data []byte
	for _, o := range opts {
		table = append(table, o.tok)
		table = binary.BigEndian.AppendUint16(table, uint16(off+len(data)))
		table = binary.BigEndian.AppendUint16(table, uint16(len(o.data)))
		data = append(data, o.data...)
	}
	table = append(table, preTerminator)
	return append(table, data...)
}

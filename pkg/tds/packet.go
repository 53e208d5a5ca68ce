package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Packet types (MS-TDS 2.2.3.1.1).
const (
	packetSQLBatch   byte = 0x01
	packetRPC        byte = 0x03
	packetReply      byte = 0x04
	packetAttention  byte = 0x06
	packetBulkLoad   byte = 0x07
	packetTransMgr   byte = 0x0E
	packetLogin7     byte = 0x10
	packetSSPI       byte = 0x11
	packetPrelogin   byte = 0x12
	tlsHandshakeByte byte = 0x16
)

// Packet status bits (MS-TDS 2.2.3.1.2).
const (
	statusEOM        byte = 0x01
	statusIgnore     byte = 0x02
	statusResetConn  byte = 0x08
	statusResetConnS byte = 0x10
)

const (
	headerLen      = 8
	minPacketSize  = 512
	maxPacketSize  = 32767
	maxLoginLength = 128*1024 - 1
)

// errTLSClientHello is returned when a connection starts with a TLS record instead of PRELOGIN.
var errTLSClientHello = errors.New("client started a TLS handshake (TDS 8.0 strict encryption or encrypt=true); " +
	"this server supports only unencrypted TDS: use encrypt=disable")

// message is one reassembled client message.
type message struct {
	typ    byte
	status byte // status of the first packet (RESETCONNECTION lives there)
	ignore bool // the final packet had IGNORE: the client aborted the message
	data   []byte
}

// readMessage reads packets until EOM and returns the reassembled message. The message payload may not
// exceed limit bytes; a packet longer than maxPkt, a header shorter than 8 bytes or a type change
// inside a message is an error. io.EOF is returned only when the connection ended between messages.
func readMessage(r io.Reader, maxPkt, limit int) (message, error) {
	var m message
	var hdr [headerLen]byte
	first := true
	for {
		if _, err := io.ReadFull(r, hdr[:1]); err != nil {
			if first && errors.Is(err, io.EOF) {
				return m, io.EOF
			}
			return m, fmt.Errorf("read packet header: %w", unexpectedEOF(err))
		}
		if first && hdr[0] == tlsHandshakeByte {
			return m, errTLSClientHello
		}
		if _, err := io.ReadFull(r, hdr[1:]); err != nil {
			return m, fmt.Errorf("read packet header: %w", unexpectedEOF(err))
		}
		typ, status := hdr[0], hdr[1]
		length := int(binary.BigEndian.Uint16(hdr[2:4]))
		if length < headerLen {
			return m, fmt.Errorf("packet length %d is shorter than the 8-byte header", length)
		}
		if length > maxPkt {
			return m, fmt.Errorf("packet length %d exceeds the packet size %d", length, maxPkt)
		}
		if first {
			m.typ, m.status = typ, status
			first = false
		} else if typ != m.typ {
			return m, fmt.Errorf("packet type 0x%02X inside a message of type 0x%02X", typ, m.typ)
		}
		n := length - headerLen
		if len(m.data)+n > limit {
			return m, fmt.Errorf("message of type 0x%02X exceeds the %d-byte limit", m.typ, limit)
		}
		start := len(m.data)
		m.data = append(m.data, make([]byte, n)...)
		if _, err := io.ReadFull(r, m.data[start:]); err != nil {
			return m, fmt.Errorf("read packet payload: %w", unexpectedEOF(err))
		}
		if status&statusEOM != 0 {
			m.ignore = status&statusIgnore != 0
			return m, nil
		}
	}
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// packetWriter splits one outgoing message into packets of at most size bytes (header included).
// Non-final packets carry status 0x00 and the last one 0x01 (go-mssqldb treats any non-zero status as
// final). Full packets are written as soon as more data follows, so large replies stream.
type packetWriter struct {
	w     io.Writer
	size  int
	spid  uint16
	typ   byte
	id    byte
	buf   []byte
	err   error
	wrote int64 // bytes written to w, for tests and logs
}

func newPacketWriter(w io.Writer, size int, spid uint16) *packetWriter {
	return &packetWriter{w: w, size: size, spid: spid}
}

// begin starts a new message of the given packet type.
func (p *packetWriter) begin(typ byte) {
	p.typ = typ
	p.id = 1
	if cap(p.buf) < p.size {
		p.buf = make([]byte, headerLen, p.size)
	}
	p.buf = p.buf[:headerLen]
}

// write appends message bytes, sending full packets when more bytes follow.
func (p *packetWriter) write(b []byte) error {
	for len(b) > 0 {
		if p.err != nil {
			return p.err
		}
		if len(p.buf) == p.size {
			p.flush(0)
		}
		n := min(p.size-len(p.buf), len(b))
		p.buf = append(p.buf, b[:n]...)
		b = b[n:]
	}
	return p.err
}

// end sends the final packet of the message with EOM.
func (p *packetWriter) end() error {
	if p.err != nil {
		return p.err
	}
	p.flush(statusEOM)
	return p.err
}

func (p *packetWriter) flush(status byte) {
	if p.err != nil {
		return
	}
	p.buf[0] = p.typ
	p.buf[1] = status
	binary.BigEndian.PutUint16(p.buf[2:4], uint16(len(p.buf)))
	binary.BigEndian.PutUint16(p.buf[4:6], p.spid)
	p.buf[6] = p.id
	p.buf[7] = 0
	p.id++
	n, err := p.w.Write(p.buf)
	p.wrote += int64(n)
	if err != nil {
		p.err = fmt.Errorf("write packet: %w", err)
	}
	p.buf = p.buf[:headerLen]
}

// reader is a bounds-checked little-endian decoder over a byte slice. The first failure is sticky.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("need %d bytes, %d left", n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() byte {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u16() uint16 {
	v := r.bytes(2)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(v)
}

func (r *reader) u32() uint32 {
	v := r.bytes(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.bytes(8)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

func (r *reader) remaining() int { return len(r.b) - r.off }

// bVarChar reads a B_VARCHAR (u8 character count + UTF-16LE).
func (r *reader) bVarChar() string {
	n := int(r.u8())
	s, err := decodeUTF16(r.bytes(2 * n))
	if err != nil && r.err == nil {
		r.err = err
	}
	return s
}

// skipAllHeaders skips the ALL_HEADERS block that starts SQLBatch, RPC and TransMgrReq payloads
// (TDS >= 7.2).
func (r *reader) skipAllHeaders() {
	if r.remaining() < 4 {
		r.fail("missing ALL_HEADERS")
		return
	}
	total := int(binary.LittleEndian.Uint32(r.b[r.off:]))
	if total < 4 || total > r.remaining() {
		r.fail("ALL_HEADERS length %d out of range", total)
		return
	}
	r.off += total
}

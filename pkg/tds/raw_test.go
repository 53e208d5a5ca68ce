package tds

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// rawClient speaks TDS at the packet level, to send what well-behaved drivers never send.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	// lenient ignores write errors: the server may close a connection while a broken message is
	// still being sent.
	lenient bool
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc}
}

// send writes payload as one message of packets of at most size bytes.
func (c *rawClient) send(typ, firstStatus byte, payload []byte, size int) {
	c.t.Helper()
	id := byte(1)
	for first := true; first || len(payload) > 0; first = false {
		n := min(len(payload), size-headerLen)
		st := byte(0)
		if first {
			st = firstStatus &^ statusEOM
		}
		if n == len(payload) {
			st |= statusEOM | firstStatus&statusIgnore
		}
		hdr := []byte{typ, st, 0, 0, 0, 0, id, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(headerLen+n))
		if _, err := c.nc.Write(append(hdr, payload[:n]...)); err != nil {
			if c.lenient {
				return
			}
			c.t.Fatalf("raw write: %v", err)
		}
		payload = payload[n:]
		id++
	}
}

func (c *rawClient) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil && !c.lenient {
		c.t.Fatalf("raw write: %v", err)
	}
}

func (c *rawClient) recv() message {
	c.t.Helper()
	m, err := readMessage(c.nc, maxPacketSize, 1<<22)
	if err != nil {
		c.t.Fatalf("raw read: %v", err)
	}
	return m
}

// expectClosed waits until the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<16)
	for {
		_, err := c.nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("server did not close the connection")
		}
		return
	}
}

func buildLogin7(user, password, db string, version uint32, packetSize uint32, optionFlags2 byte) []byte {
	fixed := make([]byte, login7FixedLen)
	le := binary.LittleEndian
	le.PutUint32(fixed[4:], version)
	le.PutUint32(fixed[8:], packetSize)
	fixed[24] = 0xA0
	fixed[25] = optionFlags2
	var data []byte
	put := func(pos int, s string, mangle bool) {
		b := appendUTF16(nil, s)
		if mangle {
			for i, x := range b {
				x = x<<4 | x>>4
				b[i] = x ^ 0xA5
			}
		}
		le.PutUint16(fixed[pos:], uint16(login7FixedLen+len(data)))
		le.PutUint16(fixed[pos+2:], uint16(utf16Units(s)))
		data = append(data, b...)
	}
	put(36, "host", false)
	put(40, user, false)
	put(44, password, true)
	put(48, "raw", false)
	put(52, "server", false)
	put(60, "rawlib", false)
	put(64, "", false)
	put(68, db, false)
	out := append(fixed, data...)
	le.PutUint32(out[0:], uint32(len(out)))
	return out
}

// login performs PRELOGIN and LOGIN7 and returns the login reply.
func (c *rawClient) login(user, password string, version uint32) message {
	c.t.Helper()
	c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
	if m := c.recv(); m.typ != packetReply {
		c.t.Fatalf("prelogin reply type 0x%02X", m.typ)
	}
	c.send(packetLogin7, statusEOM, buildLogin7(user, password, "", version, 4096, 0), 4096)
	return c.recv()
}

func allHeaders() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 22)
	b = binary.LittleEndian.AppendUint32(b, 18)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint64(b, 0)
	return binary.LittleEndian.AppendUint32(b, 1)
}

func batchPayload(text string) []byte { return appendUTF16(allHeaders(), text) }

var (
	doneFinalOK   = appendDone(nil, tokenDone, 0, 0, 0)
	doneFinalErr  = appendDone(nil, tokenDone, doneError, 0, 0)
	doneFinalAttn = appendDone(nil, tokenDone, doneAttn, 0, 0)
)

func TestPreloginReplyMatchesReference(t *testing.T) {
	// The reply from TDS.md §2.2, verified with go-mssqldb, tsql and pymssql.
	want := []byte{
		0x00, 0x00, 0x1A, 0x00, 0x06, 0x01, 0x00, 0x20, 0x00, 0x01, 0x02, 0x00, 0x21, 0x00, 0x01,
		0x03, 0x00, 0x22, 0x00, 0x00, 0x04, 0x00, 0x22, 0x00, 0x01, 0xFF,
		0x10, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x02, 0x00, 0x00,
	}
	if got := preloginReply(Version{Major: 16, Build: 1000}, false); !bytes.Equal(got, want) {
		t.Fatalf("prelogin reply\n got % X\nwant % X", got, want)
	}
	p, err := parsePrelogin(preloginReply(Version{Major: 16, Build: 1000}, true))
	if err != nil || !p.fedAuth || p.encryption != encryptNotSup || !p.hasEncryption {
		t.Fatalf("parse own reply: %+v %v", p, err)
	}
}

func TestRawProtocol(t *testing.T) {
	ts := startServer(t, Options{})
	t.Run("login reply and idle attention", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		m := c.login("sa", "pw", verTDS74)
		if !bytes.HasSuffix(m.data, doneFinalOK) || !bytes.Contains(m.data, []byte{tokenLoginAck}) {
			t.Fatalf("login reply % X", m.data)
		}
		c.send(packetAttention, statusEOM, nil, 4096)
		if m := c.recv(); !bytes.Equal(m.data, doneFinalAttn) {
			t.Fatalf("idle attention reply % X", m.data)
		}
		// The connection still serves requests, split over 512-byte packets.
		c.send(packetSQLBatch, statusEOM, batchPayload("select 3"+strings.Repeat(" ", 1000)), 512)
		m = c.recv()
		if !bytes.HasSuffix(m.data, appendDone(nil, tokenDone, doneCount, CmdSelect, 1)) {
			t.Fatalf("batch reply % X", m.data)
		}
		// IGNORE: the client aborted the message; the reply is a single DONE_ERROR.
		c.send(packetSQLBatch, statusEOM|statusIgnore, batchPayload("select 1"), 4096)
		if m := c.recv(); !bytes.Equal(m.data, doneFinalErr) {
			t.Fatalf("ignored batch reply % X", m.data)
		}
		c.send(packetRPC, statusEOM|statusIgnore, []byte{1, 2, 3}, 4096)
		if m := c.recv(); !bytes.Equal(m.data, doneFinalErr) {
			t.Fatalf("ignored RPC reply % X", m.data)
		}
	})
	t.Run("attention mid-request", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.login("sa", "pw", verTDS74)
		for i := 0; i < 3; i++ {
			c.send(packetSQLBatch, statusEOM, batchPayload("wait"), 4096)
			var hdr [headerLen]byte
			if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
				t.Fatal(err)
			}
			if hdr[1] != 0 {
				t.Fatalf("flushed packet has status %d, want 0 (not final)", hdr[1])
			}
			first := make([]byte, int(binary.BigEndian.Uint16(hdr[2:]))-headerLen)
			if _, err := io.ReadFull(c.nc, first); err != nil {
				t.Fatal(err)
			}
			c.send(packetAttention, statusEOM, nil, 4096)
			rest := c.recv().data
			if !bytes.HasSuffix(rest, doneFinalAttn) || bytes.Count(append(first, rest...), doneFinalAttn) != 1 {
				t.Fatalf("reply after attention: % X | % X", first, rest)
			}
			c.send(packetSQLBatch, statusEOM, batchPayload("select 4"), 4096)
			if m := c.recv(); !bytes.Contains(m.data, []byte{tokenRow, 4, 4, 0, 0, 0}) {
				t.Fatalf("request after attention: % X", m.data)
			}
		}
	})
	t.Run("TDS 7.1 refused", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		m := c.login("sa", "pw", 0x71000001)
		if !bytes.HasSuffix(m.data, doneFinalErr) || !bytes.Contains(m.data, binary.LittleEndian.AppendUint32(nil, 18456)) {
			t.Fatalf("reply % X", m.data)
		}
		c.expectClosed()
	})
	t.Run("SSPI refused", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
		c.recv()
		c.send(packetLogin7, statusEOM, buildLogin7("", "", "", verTDS74, 4096, fIntSecurity), 4096)
		m := c.recv()
		if !bytes.Contains(m.data, binary.LittleEndian.AppendUint32(nil, 18456)) {
			t.Fatalf("reply % X", m.data)
		}
		c.expectClosed()
	})
	t.Run("FEDAUTH refused", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, true), 4096)
		c.recv()
		l := buildLogin7("sa", "pw", "", verTDS74, 4096, 0)
		// fExtension: ibExtension points at a DWORD holding the FeatureExt offset.
		l[27] |= fExtension
		ext := len(l)
		binary.LittleEndian.PutUint16(l[56:], uint16(ext))
		binary.LittleEndian.PutUint16(l[58:], 4)
		l = binary.LittleEndian.AppendUint32(l, uint32(ext+4))
		l = append(l, featureFedAuth, 1, 0, 0, 0, 0x01, featureTerm)
		binary.LittleEndian.PutUint32(l[0:], uint32(len(l)))
		c.send(packetLogin7, statusEOM, l, 4096)
		m := c.recv()
		if !bytes.Contains(m.data, binary.LittleEndian.AppendUint32(nil, 18456)) || !bytes.HasSuffix(m.data, doneFinalErr) {
			t.Fatalf("reply % X", m.data)
		}
		c.expectClosed()
	})
	t.Run("malformed RPC gets an error and the connection lives", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.login("sa", "pw", verTDS74)
		bad := append(allHeaders(), 0xFF, 0xFF, 10, 0, 0, 0, 0, 0, 0x99) // param of unknown type 0x99
		c.send(packetRPC, statusEOM, bad, 4096)
		m := c.recv()
		if !bytes.Contains(m.data, binary.LittleEndian.AppendUint32(nil, 8009)) ||
			!bytes.HasSuffix(m.data, appendDone(nil, tokenDoneProc, doneError, CmdExecute, 0)) {
			t.Fatalf("reply % X", m.data)
		}
		c.send(packetSQLBatch, statusEOM, batchPayload("select 1"), 4096)
		if m := c.recv(); !bytes.Contains(m.data, []byte{tokenRow}) {
			t.Fatalf("batch after bad RPC: % X", m.data)
		}
	})
}

func TestLoginTimeout(t *testing.T) {
	ts := startServer(t, Options{LoginTimeout: 200 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	c.expectClosed() // a client that never sends PRELOGIN is dropped
	c2 := dialRaw(t, ts.addr)
	c2.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
	c2.recv()
	c2.expectClosed() // nor LOGIN7
}

func TestCloseDuringRequest(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	res := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "wait")
		res <- err
	}()
	select {
	case <-ts.h.waiting:
	case <-ctx.Done():
		t.Fatal("wait never started")
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err == nil {
		t.Fatal("request survived Close")
	}
	if n := len(ts.srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions after Close", n)
	}
	if ts.h.closed.Load() != 1 {
		t.Fatalf("session Close called %d times", ts.h.closed.Load())
	}
}

// TestMalformedInputIsolated sends broken input on many connections while a healthy go-mssqldb
// connection keeps working; each broken connection is closed with a log line.
func TestMalformedInputIsolated(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	ts := startServerLog(t, zap.New(core), Options{MaxMessageSize: 64 * 1024})
	db := ts.open(t, "")
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	healthy := make(chan error, 1)
	go func() {
		n := 0
		defer func() { healthy <- nil }()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				if n == 0 {
					healthy <- errors.New("no healthy query ran")
				}
				return
			default:
			}
			var got int
			if err := db.QueryRowContext(ctx, fmt.Sprintf("select %d", i)).Scan(&got); err != nil || got != i {
				healthy <- fmt.Errorf("healthy query %d: %d, %w", i, got, err)
				return
			}
			n++
		}
	}()
	hdr := func(typ, status byte, length uint16) []byte {
		b := []byte{typ, status, 0, 0, 0, 0, 1, 0}
		binary.BigEndian.PutUint16(b[2:], length)
		return b
	}
	cases := []struct {
		name   string
		script func(c *rawClient)
		log    string
	}{
		{"truncated header", func(c *rawClient) { c.writeRaw([]byte{0x12, 0x01, 0x00}); _ = c.nc.(*net.TCPConn).CloseWrite() }, "malformed_input_closing_connection"},
		{"length below header", func(c *rawClient) { c.writeRaw(hdr(0x12, 1, 4)) }, "malformed_input_closing_connection"},
		{"length above 32767", func(c *rawClient) { c.writeRaw(hdr(0x12, 1, 0xFFFF)) }, "malformed_input_closing_connection"},
		{"truncated payload", func(c *rawClient) {
			c.writeRaw(append(hdr(0x12, 1, 100), 1, 2, 3))
			_ = c.nc.(*net.TCPConn).CloseWrite()
		}, "malformed_input_closing_connection"},
		{"garbage prelogin", func(c *rawClient) { c.send(packetPrelogin, statusEOM, []byte{0, 0xFF, 0xFF, 0, 9}, 4096) }, "malformed_input_closing_connection"},
		{"login before prelogin", func(c *rawClient) {
			c.send(packetLogin7, statusEOM, buildLogin7("sa", "pw", "", verTDS74, 4096, 0), 4096)
		}, "malformed_input_closing_connection"},
		{"TLS client hello", func(c *rawClient) { c.writeRaw([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0}) }, "tls_client_hello_rejected"},
		{"truncated login7", func(c *rawClient) {
			c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
			c.recv()
			l := buildLogin7("sa", "pw", "", verTDS74, 4096, 0)
			c.send(packetLogin7, statusEOM, l[:len(l)-3], 4096)
		}, "malformed_input_closing_connection"},
		{"login7 offsets out of range", func(c *rawClient) {
			c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
			c.recv()
			l := buildLogin7("sa", "pw", "", verTDS74, 4096, 0)
			binary.LittleEndian.PutUint16(l[40:], 0xFFF0)
			c.send(packetLogin7, statusEOM, l, 4096)
		}, "malformed_input_closing_connection"},
		{"oversized message", func(c *rawClient) {
			c.login("sa", "pw", verTDS74)
			c.send(packetSQLBatch, statusEOM, batchPayload(strings.Repeat("x", 40000)), 4096)
		}, "malformed_input_closing_connection"},
		{"odd batch text", func(c *rawClient) {
			c.login("sa", "pw", verTDS74)
			c.send(packetSQLBatch, statusEOM, append(batchPayload("select 1"), 'x'), 4096)
		}, "connection_closed"},
		{"type change inside message", func(c *rawClient) {
			c.login("sa", "pw", verTDS74)
			c.writeRaw(append(hdr(packetSQLBatch, 0, 12), 1, 2, 3, 4))
			c.writeRaw(append(hdr(packetRPC, 1, 12), 1, 2, 3, 4))
		}, "malformed_input_closing_connection"},
		{"bulk load after login", func(c *rawClient) {
			c.login("sa", "pw", verTDS74)
			c.send(packetBulkLoad, statusEOM, []byte{1, 2, 3}, 4096)
		}, "connection_closed"},
		{"bad ALL_HEADERS", func(c *rawClient) {
			c.login("sa", "pw", verTDS74)
			c.send(packetSQLBatch, statusEOM, []byte{0xFF, 0xFF, 0, 0, 'a', 0}, 4096)
		}, "connection_closed"},
	}
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, ts.addr)
			c.lenient = true
			tc.script(c)
			c.expectClosed()
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-healthy; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one session left", func() bool { return len(ts.srv.Sessions()) == 1 })
	for _, tc := range cases {
		if logs.FilterMessage(tc.log).Len() == 0 {
			t.Errorf("%s: no %q log line", tc.name, tc.log)
		}
	}
	if n := logs.FilterMessage("malformed_input_closing_connection").Len(); n < 10 {
		t.Errorf("only %d malformed-input log lines", n)
	}
	_ = context.Background
	_ = io.EOF
}

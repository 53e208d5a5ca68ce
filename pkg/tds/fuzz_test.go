package tds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"

	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"go.uber.org/zap"
)

// The seed corpora in testdata/fuzz/<FuzzName>/ hold real bytes captured from go-mssqldb by
// TestCaptureSeeds (run with TDS_UPDATE_SEEDS=1 to regenerate) plus hand-made edge cases. `go test`
// runs every seed as a normal test; `go test -fuzz FuzzX` explores further.

func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x12, 0x01, 0x00, 0x08, 0, 0, 1, 0})
	f.Add([]byte{0x01, 0x00, 0x00, 0x0A, 0, 0, 1, 0, 'a', 0, 0x01, 0x01, 0x00, 0x09, 0, 0, 2, 0, 'b'})
	f.Add([]byte{0x16, 0x03, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		total := 0
		for i := 0; i < 1000; i++ {
			m, err := readMessage(r, 4096, 1<<16)
			if err != nil {
				return
			}
			if len(m.data) > 1<<16 {
				t.Fatalf("message of %d bytes exceeds the limit", len(m.data))
			}
			total += len(m.data)
			if total > len(data) {
				t.Fatalf("reassembled %d payload bytes from %d input bytes", total, len(data))
			}
		}
	})
}

func FuzzPrelogin(f *testing.F) {
	f.Add(preloginReply(Version{Major: 16, Build: 1000}, true))
	f.Add([]byte{0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePrelogin(data)
		if err != nil {
			return
		}
		if len(p.version) > len(data) || len(p.instance) > len(data) {
			t.Fatal("option data larger than the input")
		}
	})
}

func FuzzLogin7(f *testing.F) {
	f.Add(make([]byte, login7FixedLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseLogin7(data)
		if err != nil {
			return
		}
		if 2*(len(l.userName)+len(l.password)) > 4*len(data) {
			t.Fatal("decoded strings larger than the input")
		}
	})
}

func FuzzRPC(f *testing.F) {
	f.Add([]byte{4, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		call, err := parseRPC(data, true)
		if err != nil {
			return
		}
		if len(call.Params) > maxRPCParams {
			t.Fatalf("%d parameters", len(call.Params))
		}
		// Every decoded value can be described, and sp_executesql splitting never panics.
		for _, p := range call.Params {
			_ = p.Type.Name()
		}
		call.ExecuteSQL()
	})
}

// recordingListener keeps a copy of every byte clients send.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*bytes.Buffer
}

type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &bytes.Buffer{}
	l.conns = append(l.conns, b)
	return &recordingConn{Conn: c, mu: &l.mu, buf: b}, nil
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// captureClientTraffic runs a go-mssqldb session (login, batch, sp_executesql with many parameter
// types, procedure by name with output parameter, transaction) and returns the raw client bytes.
func captureClientTraffic(t *testing.T) []byte {
	t.Helper()
	h := newTestHandler()
	srv, err := NewServer(zap.NewNop(), h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &recordingListener{Listener: inner}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	ts := &testServer{srv: srv, h: h, addr: inner.Addr().String()}
	db, err := sql.Open("sqlserver", ts.dsn("database=db1"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	guid := mssql.UniqueIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if err := db.QueryRowContext(ctx, "echo;", int64(5), "s", "", true, 1.5, time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		[]byte{1}, nil, guid, int32(3), int16(2), int8(1), float32(2.5)).Scan(&n, new(any), new(any), new(any), new(any),
		new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	out := int64(4)
	if _, err := db.ExecContext(ctx, "dbo.sp_test", sql.Named("out", sql.Out{Dest: &out, In: true}), sql.Named("v", "x")); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) != 1 {
		t.Fatalf("%d connections recorded", len(l.conns))
	}
	return l.conns[0].Bytes()
}

func writeSeed(t *testing.T, fuzzName string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	name := filepath.Join(dir, "captured-"+hex.EncodeToString(sum[:8]))
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func zapNop() *zap.Logger { return zap.NewNop() }

// checkCaptured parses every message of a captured client stream and, with TDS_UPDATE_SEEDS=1,
// stores the PRELOGIN, LOGIN7 and RPC payloads and the stream itself as fuzz seeds.
func checkCaptured(t *testing.T, raw []byte, user, password, database string) []byte {
	t.Helper()
	update := os.Getenv("TDS_UPDATE_SEEDS") == "1"
	r := bytes.NewReader(raw)
	var types []byte
	for {
		m, err := readMessage(r, maxPacketSize, 1<<20)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.typ == packetAttention {
			continue // go-mssqldb's QueryRow sometimes sends an idle attention (TDS.md §5.5)
		}
		types = append(types, m.typ)
		switch m.typ {
		case packetPrelogin:
			if _, err := parsePrelogin(m.data); err != nil {
				t.Fatal(err)
			}
			if update {
				writeSeed(t, "FuzzPrelogin", m.data)
			}
		case packetLogin7:
			l, err := parseLogin7(m.data)
			if err != nil {
				t.Fatal(err)
			}
			if l.userName != user || l.password != password || l.database != database {
				t.Fatalf("captured login %+v", l)
			}
			if update {
				writeSeed(t, "FuzzLogin7", m.data)
			}
		case packetRPC:
			if _, err := parseRPC(m.data, true); err != nil {
				t.Fatal(err)
			}
			if update {
				writeSeed(t, "FuzzRPC", m.data)
			}
		}
	}
	if update {
		writeSeed(t, "FuzzReadMessage", raw)
		writeSeed(t, "FuzzReadMessage", raw[:min(len(raw), 600)])
	}
	return types
}

// TestCaptureSeeds checks that captured go-mssqldb traffic parses, and with TDS_UPDATE_SEEDS=1
// rewrites the seed corpora from it.
func TestCaptureSeeds(t *testing.T) {
	raw := captureClientTraffic(t)
	types := checkCaptured(t, raw, "sa", "pw", "db1")
	want := []byte{packetPrelogin, packetLogin7, packetSQLBatch, packetRPC, packetRPC, packetTransMgr, packetTransMgr}
	if !bytes.Equal(types, want) {
		t.Fatalf("captured message types % X, want % X", types, want)
	}
	// Replay everything after the login through the FuzzSession harness: all three requests (one
	// batch, two RPCs) must reach the session.
	r := bytes.NewReader(raw)
	for i := 0; i < 2; i++ {
		if _, err := readMessage(r, maxPacketSize, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	post := raw[len(raw)-r.Len():]
	if n := runSession(t, post); n != 3 {
		t.Fatalf("%d requests reached the session through the harness, want 3", n)
	}
	if os.Getenv("TDS_UPDATE_SEEDS") == "1" {
		writeSeed(t, "FuzzSession", post)
	}
}

func TestSeedCorporaPresent(t *testing.T) {
	for _, name := range []string{"FuzzReadMessage", "FuzzPrelogin", "FuzzLogin7", "FuzzRPC", "FuzzSession"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) == 0 {
			t.Errorf("no seed corpus for %s (run TDS_UPDATE_SEEDS=1 go test -run TestCaptureSeeds): %v", name, err)
		}
	}
}

// fuzzSession answers every request without blocking: a batch echoes its text, an RPC echoes its
// parameters (through the same typed encoders as real results).
type fuzzSession struct {
	ts       *testSession
	requests *atomic.Int64
}

func (s fuzzSession) Database() string            { return "master" }
func (s fuzzSession) Reset(context.Context) error { return nil }
func (s fuzzSession) Close() error                { return nil }

func (s fuzzSession) Batch(_ context.Context, w *ResultWriter, text string) error {
	s.requests.Add(1)
	if err := w.Columns(Column{Name: "text", Type: NVarCharMax()}); err != nil {
		return err
	}
	if err := w.Row(text); err != nil {
		return err
	}
	return w.Done()
}

func (s fuzzSession) RPC(_ context.Context, w *ResultWriter, call *RPCCall) error {
	s.requests.Add(1)
	if len(call.Params) == 0 {
		return w.Done()
	}
	if err := s.ts.echo(w, call.Params); err != nil {
		// A value the echo cannot type (e.g. a decimal scale beyond 38) is reported, not fatal.
		return &Error{Number: 8114, State: 1, Class: 16, Message: err.Error()}
	}
	return nil
}

type fuzzHandler struct{ requests *atomic.Int64 }

func (h fuzzHandler) Login(context.Context, LoginRequest) (Session, error) {
	return fuzzSession{ts: &testSession{h: newTestHandler()}, requests: h.requests}, nil
}

// fuzzLogin is a valid PRELOGIN + LOGIN7 exchange's client side.
func fuzzLogin(tb testing.TB) []byte {
	var b bytes.Buffer
	c := &rawClient{t: tb, nc: nopConn{w: &b}}
	c.send(packetPrelogin, statusEOM, preloginReply(Version{Major: 1}, false), 4096)
	c.send(packetLogin7, statusEOM, buildLogin7("sa", "pw", "", verTDS74, 512, 0), 4096)
	return b.Bytes()
}

// nopConn captures what a rawClient writes.
type nopConn struct {
	net.Conn
	w io.Writer
}

func (n nopConn) Write(p []byte) (int, error) { return n.w.Write(p) }

// FuzzSession feeds arbitrary bytes, after a valid login, to a live connection: the reader, the
// request decoders, the result writer and the attention logic. It must never panic or hang, and Close
// must always return.
func FuzzSession(f *testing.F) {
	f.Add(append([]byte(nil), func() []byte {
		var b bytes.Buffer
		c := &rawClient{t: f, nc: nopConn{w: &b}}
		c.send(packetSQLBatch, statusEOM|statusResetConn, batchPayload("select 1"), 512)
		c.send(packetAttention, statusEOM, nil, 512)
		c.send(packetTransMgr, statusEOM, append(allHeaders(), tmBegin, 0, 0, 0), 512)
		c.send(packetTransMgr, statusEOM, append(allHeaders(), tmCommit, 0, 0, 0), 512)
		return b.Bytes()
	}()...))
	f.Fuzz(func(t *testing.T, data []byte) { runSession(t, data) })
}

// runSession logs in over an in-memory pipe, sends data, closes, and returns how many requests
// reached the session.
func runSession(t *testing.T, data []byte) int64 {
	var requests atomic.Int64
	srv, err := NewServer(zap.NewNop(), fuzzHandler{requests: &requests}, Options{LoginTimeout: 5 * time.Second, MaxMessageSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	c, ok := srv.track(server)
	if !ok {
		t.Fatal("track failed")
	}
	go func() {
		defer srv.wg.Done()
		defer srv.untrack(c)
		c.serve()
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, client)
	}()
	_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write(append(fuzzLogin(t), data...)); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("server stopped reading")
		}
	}
	_ = client.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	<-drained
	return requests.Load()
}

package tds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb" // registers the "sqlserver" driver
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql's connection opener ends when the DB is closed; go-mssqldb keeps none.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

// testHandler is a tiny command interpreter used to drive the protocol layer. It is not SQL: each
// batch line is a command such as "rows 10", "error 208" or "use db1".
type testHandler struct {
	mu        sync.Mutex
	logins    []LoginRequest
	resets    atomic.Int64
	closed    atomic.Int64
	tranLog   []string
	databases map[string]bool
	waiting   chan struct{} // receives a value when a "wait" command starts waiting
}

func newTestHandler() *testHandler {
	return &testHandler{databases: map[string]bool{"master": true, "db1": true, "db2": true}, waiting: make(chan struct{}, 100)}
}

func (h *testHandler) Login(_ context.Context, req LoginRequest) (Session, error) {
	h.mu.Lock()
	h.logins = append(h.logins, req)
	h.mu.Unlock()
	if req.UserName != "sa" || req.Password != "pw" {
		return nil, &Error{Number: 18456, State: 8, Class: 14, Message: "Login failed for user '" + req.UserName + "'."}
	}
	db := req.Database
	if db == "" {
		db = "master"
	}
	if !h.databases[db] {
		return nil, Errors(
			&Error{Number: 4060, State: 1, Class: 11, Message: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", db)},
			&Error{Number: 18456, State: 1, Class: 14, Message: "Login failed for user 'sa'."},
		)
	}
	return &testSession{h: h, loginDB: db, db: db}, nil
}

func (h *testHandler) lastLogin() LoginRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logins[len(h.logins)-1]
}

type testSession struct {
	h       *testHandler
	loginDB string
	db      string
	setting string
}

func (s *testSession) Database() string { return s.db }

func (s *testSession) Reset(context.Context) error {
	s.h.resets.Add(1)
	s.db = s.loginDB
	s.setting = ""
	return nil
}

func (s *testSession) Close() error {
	s.h.closed.Add(1)
	return nil
}

func (s *testSession) BeginTransaction(context.Context) error {
	s.h.mu.Lock()
	s.h.tranLog = append(s.h.tranLog, "begin")
	s.h.mu.Unlock()
	return nil
}

func (s *testSession) EndTransaction(_ context.Context, commit bool) error {
	s.h.mu.Lock()
	s.h.tranLog = append(s.h.tranLog, map[bool]string{true: "commit", false: "rollback"}[commit])
	s.h.mu.Unlock()
	return nil
}

// typesCols and typesRow are the column set used by the "types" command and checked by tests.
var typesCols = []Column{
	{Name: "i", Type: Int()}, {Name: "bi", Type: BigInt()}, {Name: "si", Type: SmallInt()},
	{Name: "ti", Type: TinyInt()}, {Name: "b", Type: Bit()}, {Name: "nv", Type: NVarChar(20)},
	{Name: "nvmax", Type: NVarCharMax()}, {Name: "ch", Type: Char(5)}, {Name: "dt", Type: DateTime()},
	{Name: "dt2", Type: DateTime2(7)}, {Name: "dto", Type: DateTimeOffset(3)}, {Name: "g", Type: UniqueIdentifier()},
	{Name: "lsn", Type: Numeric(25, 0)}, {Name: "dec", Type: Numeric(38, 4)}, {Name: "f", Type: Float()},
	{Name: "r", Type: Real()}, {Name: "vb", Type: VarBinary(10)}, {Name: "vbmax", Type: VarBinaryMax()},
	{Name: "d", Type: Date()},
}

var (
	testGUID, _ = ParseUUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")
	testLSN, _  = new(big.Int).SetString("123456789012345678901234", 10) // 24 digits, beyond int64
	testDec, _  = ParseDecimal("-12345678901234567890123456789012.3456")
	testTime    = time.Date(2024, 2, 29, 13, 45, 30, 123456700, time.UTC)
	testDTO     = time.Date(2024, 2, 29, 13, 45, 30, 123000000, time.FixedZone("", 5*3600+30*60))
)

func typesRow() []any {
	return []any{
		int32(-2147483648), int64(9223372036854775807), int16(-32768), uint8(255), true, "héllo ✓",
		strings.Repeat("x", 5000), "ab", testTime, testTime, testDTO, testGUID,
		testLSN, testDec, 3.141592653589793, float32(1.5), []byte{1, 2, 3}, []byte{}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (s *testSession) Batch(ctx context.Context, w *ResultWriter, text string) error {
	for _, line := range strings.Split(text, "\n") {
		for _, stmt := range strings.Split(line, ";") {
			err := s.exec(ctx, w, strings.TrimSpace(stmt), nil)
			if errors.Is(err, errUnknownCommand) {
				return &Error{Number: 102, State: 1, Class: 15, Message: fmt.Sprintf("Incorrect syntax near '%s'.", stmt)}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *testSession) exec(ctx context.Context, w *ResultWriter, stmt string, params []Param) error {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return nil
	}
	arg := func(i int) int {
		if len(f) <= i {
			return 0
		}
		n, _ := strconv.Atoi(f[i])
		return n
	}
	switch strings.ToLower(f[0]) {
	case "select": // "select 1" from db.Ping, or "select N"
		if err := w.Columns(Column{Type: Int()}); err != nil {
			return err
		}
		if err := w.Row(arg(1)); err != nil {
			return err
		}
		return w.Done()
	case "types":
		if err := w.Columns(typesCols...); err != nil {
			return err
		}
		if err := w.Row(typesRow()...); err != nil {
			return err
		}
		if err := w.Row(make([]any, len(typesCols))...); err != nil {
			return err
		}
		return w.Done()
	case "rows":
		if err := w.Columns(Column{Name: "n", Type: Int()}, Column{Name: "s", Type: NVarChar(40)}); err != nil {
			return err
		}
		for i := 0; i < arg(1); i++ {
			if err := w.Row(i, fmt.Sprintf("row %d", i)); err != nil {
				return err
			}
		}
		return w.Done()
	case "big":
		if err := w.Columns(Column{Name: "v", Type: NVarCharMax()}); err != nil {
			return err
		}
		if err := w.Row(strings.Repeat("é", arg(1))); err != nil {
			return err
		}
		return w.Done()
	case "error":
		if err := w.Message(&Error{Number: int32(arg(1)), State: 1, Class: 16, Message: "test error " + f[1], LineNo: 1}); err != nil {
			return err
		}
		return w.Done()
	case "errors": // several errors in one statement, like a failed RESTORE
		for _, n := range f[1:] {
			num, _ := strconv.Atoi(n)
			if err := w.Message(&Error{Number: int32(num), State: 1, Class: 16, Message: "test error " + n}); err != nil {
				return err
			}
		}
		return w.Done()
	case "raise": // returned error instead of written one
		return &Error{Number: int32(arg(1)), State: 2, Class: 16, Message: "raised " + f[1]}
	case "info":
		if err := w.Message(&Error{Number: 5701, State: 1, Class: 0, Message: "info message"}); err != nil {
			return err
		}
		return w.Done()
	case "count":
		return w.DoneCount(CmdUpdate, int64(arg(1)))
	case "use":
		if !s.h.databases[f[1]] {
			return &Error{Number: 911, State: 1, Class: 16, Message: fmt.Sprintf("Database '%s' does not exist. Make sure that the name is entered correctly.", f[1])}
		}
		s.db = f[1]
		if err := w.ChangeDatabase(f[1]); err != nil {
			return err
		}
		return w.Done()
	case "db":
		if err := w.Columns(Column{Name: "db", Type: NVarChar(128)}); err != nil {
			return err
		}
		if err := w.Row(s.db); err != nil {
			return err
		}
		return w.Done()
	case "set":
		s.setting = f[1]
		return w.Done()
	case "setting":
		if err := w.Columns(Column{Name: "setting", Type: NVarChar(128)}); err != nil {
			return err
		}
		if err := w.Row(s.setting); err != nil {
			return err
		}
		return w.Done()
	case "exec": // a procedure in a batch: one row, return status arg
		if err := w.BeginProc(); err != nil {
			return err
		}
		if err := s.exec(ctx, w, "select 7", nil); err != nil {
			return err
		}
		return w.EndProc(int32(arg(1)))
	case "wait": // block until cancelled (bounded)
		if err := w.Columns(Column{Name: "n", Type: Int()}); err != nil {
			return err
		}
		if err := w.Row(1); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		select {
		case s.h.waiting <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("wait was not cancelled within 10s")
		}
	case "fail":
		return errors.New("boom")
	case "panic":
		panic("test panic")
	case "begin":
		if err := w.BeginTransaction(); err != nil {
			return err
		}
		return w.Done()
	case "commit":
		if err := w.EndTransaction(true); err != nil {
			return err
		}
		return w.Done()
	case "echo":
		return s.echo(w, params)
	}
	return errUnknownCommand
}

var errUnknownCommand = errors.New("unknown command")

// echo returns every parameter as one column of a single row, typed after its Go value.
func (s *testSession) echo(w *ResultWriter, params []Param) error {
	cols := make([]Column, len(params))
	vals := make([]any, len(params))
	for i, p := range params {
		var t Type
		switch v := p.Value.(type) {
		case nil:
			t = NVarChar(1)
		case int64:
			t = BigInt()
		case bool:
			t = Bit()
		case float64:
			t = Float()
		case string:
			t = NVarCharMax()
		case []byte:
			t = VarBinaryMax()
		case time.Time:
			t = DateTimeOffset(7)
		case UUID:
			t = UniqueIdentifier()
		case Decimal:
			t = Numeric(38, int(v.Scale))
		default:
			return fmt.Errorf("echo: unexpected %T", v)
		}
		cols[i] = Column{Name: p.Name, Type: t}
		vals[i] = p.Value
	}
	if err := w.Columns(cols...); err != nil {
		return err
	}
	if err := w.Row(vals...); err != nil {
		return err
	}
	return w.Done()
}

func (s *testSession) RPC(ctx context.Context, w *ResultWriter, call *RPCCall) error {
	if stmt, decl, params, ok := call.ExecuteSQL(); ok {
		stmt = strings.TrimRight(stmt, "; ")
		if stmt == "decl" {
			if err := w.Columns(Column{Name: "decl", Type: NVarCharMax()}); err != nil {
				return err
			}
			if err := w.Row(decl); err != nil {
				return err
			}
			return w.Done()
		}
		err := s.exec(ctx, w, stmt, params)
		if errors.Is(err, errUnknownCommand) {
			return &Error{Number: 102, State: 1, Class: 15, Message: fmt.Sprintf("Incorrect syntax near '%s'.", stmt)}
		}
		return err
	}
	switch strings.ToLower(call.ProcName) {
	case "dbo.sp_test":
		for _, p := range call.Params {
			if p.Output {
				n, _ := p.Value.(int64)
				if err := w.OutputParam(p.Name, BigInt(), n*2); err != nil {
					return err
				}
			}
		}
		if err := s.echo(w, call.Params); err != nil {
			return err
		}
		return w.ReturnStatus(7)
	case "dbo.sp_exec": // a session that runs a by-name call as EXEC in a proc block
		return s.exec(ctx, w, "exec 5", nil)
	case "dbo.sp_fail":
		if err := w.Message(&Error{Number: 14262, State: 1, Class: 16, Message: "The specified @job_name ('x') does not exist.", ProcName: "sp_verify_job_identifiers"}); err != nil {
			return err
		}
		return w.ReturnStatus(1)
	}
	err := s.exec(ctx, w, call.ProcName, call.Params)
	if !errors.Is(err, errUnknownCommand) {
		return err
	}
	return &Error{Number: 2812, State: 62, Class: 16, Message: fmt.Sprintf("Could not find stored procedure '%s'.", call.ProcName)}
}

type testServer struct {
	srv  *Server
	h    *testHandler
	addr string
	done chan error
}

func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	return startServerLog(t, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), opts)
}

func startServerLog(t testing.TB, log *zap.Logger, opts Options) *testServer {
	t.Helper()
	h := newTestHandler()
	srv, err := NewServer(log, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, h: h, addr: l.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

func (ts *testServer) dsn(extra string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	d := fmt.Sprintf("sqlserver://sa:pw@%s:%s?encrypt=disable&app+name=tdstest&dial+timeout=3&connection+timeout=10", host, port)
	if extra != "" {
		d += "&" + extra
	}
	return d
}

func (ts *testServer) open(t testing.TB, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", ts.dsn(extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Package server is the lab's TDS front end: it implements pkg/tds's Handler on top of the SQL
// engine and a Backend, so that real SQL Server clients (go-mssqldb, FreeTDS, …) can log in to a
// simulated instance and run queries against it.
//
// Login rules (SQLSERVER.md §8 Q1, Q15): an unknown login or a wrong password gets 18456 (class 14,
// state 1); an initial database that does not exist or cannot be opened (RESTORING, a mirror,
// OFFLINE, …) gets 4060 then 18456, with no 927/954/942 at login time; a login's default database
// that cannot be opened gets 4064 then 18456.
package server

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/pkg/lab/engine"
	"github.com/sqldr/sqldr/pkg/tds"
)

// Login is one SQL login of the instance.
type Login struct {
	// Name is the login name (case-insensitive, as SQL Server's default collation compares it).
	Name string
	// Password is compared exactly.
	Password string
	// Sysadmin makes the login a member of the sysadmin role (like sa). Other logins have the
	// monitoring-only permissions the backend gives them.
	Sysadmin bool
	// DefaultDatabase is used when the client names none; default "master".
	DefaultDatabase string
}

// Config configures a Server.
type Config struct {
	// Logins are the SQL logins; at least one.
	Logins []Login
	// Clock drives WAITFOR DELAY; nil means the real clock.
	Clock clock.Clock
	// Version is the product version announced in PRELOGIN/LOGINACK; zero means 15.0.4261.0.
	Version tds.Version
}

// Server is one simulated instance's TDS endpoint.
type Server struct {
	log     *zap.Logger
	eng     *engine.Engine
	backend engine.Backend
	logins  map[string]Login
	tds     *tds.Server
}

// New builds a server for backend. Serve it on one or more listeners.
func New(log *zap.Logger, backend engine.Backend, cfg Config) (*Server, error) {
	if log == nil {
		return nil, errors.New("lab server: nil logger")
	}
	if backend == nil {
		return nil, errors.New("lab server: nil backend")
	}
	if len(cfg.Logins) == 0 {
		return nil, errors.New("lab server: config has no logins")
	}
	s := &Server{log: log.Named("labserver"), backend: backend, logins: map[string]Login{}}
	for i, l := range cfg.Logins {
		if l.Name == "" {
			return nil, fmt.Errorf("lab server: logins[%d] has an empty name", i)
		}
		key := strings.ToLower(l.Name)
		if _, dup := s.logins[key]; dup {
			return nil, fmt.Errorf("lab server: logins[%d]: login %q is defined twice", i, l.Name)
		}
		if l.DefaultDatabase == "" {
			l.DefaultDatabase = "master"
		}
		s.logins[key] = l
	}
	s.eng = engine.New(log, backend, cfg.Clock)
	version := cfg.Version
	if version == (tds.Version{}) {
		version = tds.Version{Major: 15, Minor: 0, Build: 4261}
	}
	ts, err := tds.NewServer(log, s, tds.Options{ServerName: backend.Server(context.Background()).Name, Version: version})
	if err != nil {
		return nil, fmt.Errorf("lab server: %w", err)
	}
	s.tds = ts
	return s, nil
}

// Serve accepts connections on l until Close; it returns tds.ErrServerClosed after Close.
func (s *Server) Serve(l net.Listener) error { return s.tds.Serve(l) }

// Close stops all listeners and ends every connection.
func (s *Server) Close() error { return s.tds.Close() }

// TDS returns the underlying protocol server (sessions list, Disconnect).
func (s *Server) TDS() *tds.Server { return s.tds }

// Engine returns the SQL engine.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Login implements tds.Handler.
func (s *Server) Login(ctx context.Context, req tds.LoginRequest) (tds.Session, error) {
	l, ok := s.logins[strings.ToLower(req.UserName)]
	if !ok || l.Password != req.Password {
		s.log.Info("login failed", zap.String("login", req.UserName), zap.Int("state", 8), zap.Stringer("client", req.RemoteAddr))
		return nil, toTDS(engine.ErrLoginFailed(req.UserName))
	}
	db := req.Database
	explicit := db != ""
	if !explicit {
		db = l.DefaultDatabase
	}
	info, err := engine.CheckDatabase(s.backend.Databases(ctx), db)
	if err != nil {
		first := engine.ErrCannotOpenLoginDatabase(db)
		state := 38
		if !explicit {
			first = engine.NewError(4064, 11, 1, "Cannot open user default database. Login failed.")
			state = 40
		}
		s.log.Info("login failed", zap.String("login", req.UserName), zap.Int("state", state), zap.String("database", db),
			zap.Int32("sql_error_number", engine.Messages(err)[0].Number))
		return nil, tds.Errors(toTDS(first), toTDS(engine.ErrLoginFailed(req.UserName)))
	}
	addr := ""
	if req.RemoteAddr != nil {
		addr = req.RemoteAddr.String()
	}
	spid := req.SPID
	sess := s.eng.NewSession(engine.SessionInfo{
		SPID: int(spid), Login: l.Name, Sysadmin: l.Sysadmin, Database: info.Name,
		AppName: req.AppName, HostName: req.HostName, RemoteAddr: addr,
	}, func() { s.tds.Disconnect(spid) })
	return &session{s: sess, log: s.log}, nil
}

// session adapts an engine session to tds.Session.
type session struct {
	s   *engine.Session
	log *zap.Logger
}

func (x *session) Database() string { return x.s.Database() }

func (x *session) Batch(ctx context.Context, w *tds.ResultWriter, sql string) error {
	return x.result(ctx, x.s.Execute(ctx, sql, nil, &output{w: w}))
}

func (x *session) RPC(ctx context.Context, w *tds.ResultWriter, call *tds.RPCCall) error {
	out := &output{w: w, rpc: true}
	if stmt, decl, params, ok := call.ExecuteSQL(); ok {
		names := make([]string, len(params))
		vals := make([]engine.Value, len(params))
		for i, p := range params {
			names[i] = p.Name
			v, err := fromTDS(p)
			if err != nil {
				return toTDS(engine.NewError(8016, 16, 1, "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Parameter %d (\"%s\"): %s.", i+1, p.Name, err))
			}
			vals[i] = v
		}
		bound, err := engine.BindParams(decl, names, vals)
		if err != nil {
			return toTDSErr(err)
		}
		if bound == nil {
			bound = []engine.Param{}
		}
		return x.result(ctx, x.s.Execute(ctx, stmt, bound, out))
	}
	if call.ProcName == "" {
		return toTDS(engine.NewError(2812, 16, 62, "Could not find stored procedure 'procid %d'.", call.ProcID))
	}
	name, err := engine.ParseObjectName(call.ProcName)
	if err != nil {
		return toTDSErr(err)
	}
	exec := &engine.ExecStmt{Proc: name}
	for _, p := range call.Params {
		v := engine.Value{Null: true}
		if !p.Default {
			if v, err = fromTDS(p); err != nil {
				return toTDS(engine.NewError(8016, 16, 1, "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Parameter \"%s\": %s.", p.Name, err))
			}
		}
		exec.Args = append(exec.Args, engine.ProcArg{Name: p.Name, Value: v, Output: p.Output})
	}
	return x.result(ctx, x.s.ExecProc(ctx, exec, out))
}

// result turns the engine's outcome into what tds expects: ctx errors pass through (DONE_ATTN).
func (x *session) result(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("lab session %d: %w", x.s.Info().SPID, err)
}

func (x *session) Reset(context.Context) error {
	x.s.Reset()
	return nil
}

func (x *session) Close() error {
	x.s.Close()
	return nil
}

// output writes engine results to a tds.ResultWriter.
type output struct {
	w     *tds.ResultWriter
	rpc   bool
	depth int
	vals  []any
}

func (o *output) Columns(cols []engine.Column) error {
	tc := make([]tds.Column, len(cols))
	for i, c := range cols {
		tc[i] = tds.Column{Name: c.Name, Type: ToTDSType(c.Type)}
	}
	return o.w.Columns(tc...)
}

func (o *output) Row(row []engine.Value) error {
	o.vals = o.vals[:0]
	for _, v := range row {
		o.vals = append(o.vals, ToTDSValue(v))
	}
	return o.w.Row(o.vals...)
}

func (o *output) Message(m *engine.Error) error { return o.w.Message(toTDS(m)) }

func (o *output) Done(n int64) error {
	if n >= 0 {
		return o.w.DoneCount(tds.CmdInsert, n)
	}
	return o.w.Done()
}

func (o *output) ChangeDatabase(db string) error { return o.w.ChangeDatabase(db) }

func (o *output) BeginProc() error {
	o.depth++
	if o.rpc && o.depth == 1 {
		return nil
	}
	return o.w.BeginProc()
}

func (o *output) EndProc(status int32) error {
	o.depth--
	if o.rpc && o.depth == 0 {
		return o.w.ReturnStatus(status)
	}
	return o.w.EndProc(status)
}

// ToTDSType maps an engine type to its wire type. varchar/nchar are sent as nvarchar (the lab's
// single collation); strings longer than 4000 characters as nvarchar(max).
func ToTDSType(t engine.Type) tds.Type {
	switch t.Kind {
	case engine.KindBit:
		return tds.Bit()
	case engine.KindTinyInt:
		return tds.TinyInt()
	case engine.KindSmallInt:
		return tds.SmallInt()
	case engine.KindBigInt:
		return tds.BigInt()
	case engine.KindNumeric:
		return tds.Numeric(t.Precision, t.Scale)
	case engine.KindFloat:
		return tds.Float()
	case engine.KindChar, engine.KindNChar:
		if t.Length > 0 && t.Length <= 4000 {
			return tds.Char(t.Length)
		}
		return tds.NVarCharMax()
	case engine.KindVarChar, engine.KindNVarChar:
		if t.Length == engine.MaxLength || t.Length > 4000 {
			return tds.NVarCharMax()
		}
		return tds.NVarChar(max(t.Length, 1))
	case engine.KindDateTime:
		return tds.DateTime()
	case engine.KindDateTime2:
		return tds.DateTime2(t.Scale)
	case engine.KindDateTimeOffset:
		return tds.DateTimeOffset(t.Scale)
	case engine.KindUniqueIdentifier:
		return tds.UniqueIdentifier()
	case engine.KindDate:
		return tds.Date()
	}
	return tds.Int()
}

// ToTDSValue maps an engine value to the Go value tds encodes.
func ToTDSValue(v engine.Value) any {
	if v.Null {
		return nil
	}
	switch v.T.Kind {
	case engine.KindBit:
		return v.Int64() != 0
	case engine.KindTinyInt, engine.KindSmallInt, engine.KindInt, engine.KindBigInt:
		return v.Int64()
	case engine.KindNumeric:
		return tds.Decimal{Unscaled: v.Unscaled(), Scale: uint8(v.T.Scale)}
	case engine.KindFloat:
		return v.Float64()
	case engine.KindDateTime, engine.KindDateTime2, engine.KindDateTimeOffset, engine.KindDate:
		return v.Time()
	case engine.KindUniqueIdentifier:
		return tds.UUID(v.GUIDBytes())
	}
	return v.Str()
}

// fromTDS converts a decoded RPC parameter to an engine value of the declared wire type.
func fromTDS(p tds.Param) (engine.Value, error) {
	if p.Value == nil {
		return engine.Value{Null: true}, nil
	}
	switch v := p.Value.(type) {
	case int64:
		switch p.Type.Name() {
		case "tinyint":
			return engine.TinyInt(uint8(v)), nil
		case "smallint":
			return engine.SmallInt(int16(v)), nil
		case "int":
			return engine.Int(int32(v)), nil
		}
		return engine.BigInt(v), nil
	case bool:
		return engine.Bit(v), nil
	case float64:
		return engine.Float(v), nil
	case string:
		return engine.NStr(v), nil
	case time.Time:
		name := p.Type.Name()
		switch {
		case strings.HasPrefix(name, "datetimeoffset"):
			return engine.DateTimeOffsetValue(v), nil
		case name == "datetime" || name == "smalldatetime":
			return engine.DateTime(v), nil
		case name == "date":
			return engine.Date(v), nil
		}
		return engine.DateTime2Value(7, v), nil
	case tds.UUID:
		return engine.GUID(v), nil
	case tds.Decimal:
		u := v.Unscaled
		if u == nil {
			return engine.DecimalValue(engine.Numeric(1, 0), new(big.Int))
		}
		p := max(len(new(big.Int).Abs(u).String()), int(v.Scale), 1)
		if p > 38 {
			return engine.Value{}, fmt.Errorf("decimal with %d digits", p)
		}
		return engine.DecimalValue(engine.Numeric(p, int(v.Scale)), u)
	case []byte:
		return engine.Value{}, errors.New("varbinary parameters are not supported by the lab")
	}
	return engine.Value{}, fmt.Errorf("unsupported parameter value %T", p.Value)
}

func toTDS(e *engine.Error) *tds.Error {
	line := e.Line
	if line == 0 {
		line = 1
	}
	return &tds.Error{Number: e.Number, State: e.State, Class: e.Class, Message: e.Message, ProcName: e.Procedure, LineNo: line}
}

func toTDSErr(err error) error {
	msgs := engine.Messages(err)
	out := make([]*tds.Error, len(msgs))
	for i, m := range msgs {
		out[i] = toTDS(m)
	}
	return tds.Errors(out...)
}

package lab

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/lab/engine"
	"github.com/sqldr/sqldr/pkg/tds"
)

// Credentials are the SQL logins an instance accepts.
type Credentials struct {
	// SAPassword is the sa password (sysadmin).
	SAPassword string
	// MonitorLogin and MonitorPassword define the monitoring-only login
	// (VIEW SERVER STATE, VIEW ANY DATABASE, db_datareader in msdb). Empty
	// MonitorLogin disables it.
	MonitorLogin    string
	MonitorPassword string
}

// handler implements tds.Handler for one instance over the SQL engine.
type handler struct {
	srv   *InstanceServer
	eng   *engine.Engine
	creds Credentials
}

func loginFailed(user string) *tds.Error {
	return &tds.Error{Number: 18456, Class: 14, State: 1, Message: fmt.Sprintf("Login failed for user '%s'.", user), LineNo: 1}
}

// Login implements tds.Handler.
func (h *handler) Login(_ context.Context, req tds.LoginRequest) (tds.Session, error) {
	var login Login
	switch {
	case strings.EqualFold(req.UserName, "sa") && req.Password == h.creds.SAPassword:
		login = Login{Name: "sa", Sysadmin: true}
	case h.creds.MonitorLogin != "" && strings.EqualFold(req.UserName, h.creds.MonitorLogin) && req.Password == h.creds.MonitorPassword:
		login = Login{Name: h.creds.MonitorLogin}
	default:
		return nil, loginFailed(req.UserName)
	}
	db := req.Database
	if db == "" {
		db = "master"
	}
	backend := h.eng.Backend()
	info, err := engine.CheckDatabase(backend.Databases(context.Background()), db)
	if err != nil || info == nil {
		// SQLSERVER.md §8 Q1: 4060 then 18456, whatever the reason.
		return nil, tds.Errors(&tds.Error{Number: 4060, Class: 11, State: 1, LineNo: 1,
			Message: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", db)}, loginFailed(req.UserName))
	}
	remote := ""
	if req.RemoteAddr != nil {
		remote = req.RemoteAddr.String()
	}
	spid := req.SPID
	es := h.eng.NewSession(engine.SessionInfo{SPID: int(spid), Login: login.Name, Sysadmin: login.Sysadmin, Database: info.Name,
		AppName: req.AppName, HostName: req.HostName, RemoteAddr: remote}, func() { h.srv.disconnect(spid) })
	return &tdsSession{es: es}, nil
}

// tdsSession implements tds.Session over an engine session.
type tdsSession struct {
	es *engine.Session
}

// Database implements tds.Session.
func (s *tdsSession) Database() string { return s.es.Database() }

// Batch implements tds.Session.
func (s *tdsSession) Batch(ctx context.Context, w *tds.ResultWriter, sql string) error {
	return s.es.Execute(ctx, sql, nil, &output{w: w})
}

// RPC implements tds.Session: sp_executesql, or a procedure called by name.
func (s *tdsSession) RPC(ctx context.Context, w *tds.ResultWriter, call *tds.RPCCall) error {
	if stmt, decl, params, ok := call.ExecuteSQL(); ok {
		names := make([]string, len(params))
		vals := make([]engine.Value, len(params))
		for k, p := range params {
			names[k] = p.Name
			vals[k] = fromWire(p.Value)
		}
		bound, err := engine.BindParams(decl, names, vals)
		if err != nil {
			return toTDS(err)
		}
		return s.es.Execute(ctx, stmt, bound, &output{w: w})
	}
	// A procedure called by name: run it as EXEC with its parameters bound.
	var args []string
	var bound []engine.Param
	for k, p := range call.Params {
		v := fromWire(p.Value)
		name := p.Name
		if name == "" {
			name = fmt.Sprintf("@__p%d", k)
			args = append(args, name)
		} else {
			args = append(args, name+" = "+name)
		}
		bound = append(bound, engine.Param{Name: name, Type: v.T, Value: v})
	}
	return s.es.Execute(ctx, "EXEC "+call.ProcName+" "+strings.Join(args, ", "), bound, &output{w: w})
}

// Reset implements tds.Session.
func (s *tdsSession) Reset(context.Context) error {
	s.es.Reset()
	return nil
}

// Close implements tds.Session.
func (s *tdsSession) Close() error {
	s.es.Close()
	return nil
}

func toTDS(err error) error {
	msgs := engine.Messages(err)
	out := make([]*tds.Error, len(msgs))
	for k, m := range msgs {
		out[k] = &tds.Error{Number: m.Number, Class: m.Class, State: m.State, Message: m.Message, ProcName: m.Procedure, LineNo: m.Line}
	}
	return tds.Errors(out...)
}

// fromWire converts a decoded RPC parameter to an engine value.
func fromWire(v any) engine.Value {
	switch x := v.(type) {
	case nil:
		return engine.Null(engine.NVarChar(1))
	case int64:
		return engine.BigInt(x)
	case bool:
		return engine.Bit(x)
	case float64:
		return engine.Float(x)
	case string:
		return engine.NStr(x)
	case time.Time:
		return engine.DateTime2Value(7, x)
	case tds.UUID:
		return engine.GUID(x)
	case tds.Decimal:
		u := x.Unscaled
		if u == nil {
			u = new(big.Int)
		}
		p := len(u.String())
		if p < int(x.Scale)+1 {
			p = int(x.Scale) + 1
		}
		if p > 38 {
			p = 38
		}
		d, err := engine.DecimalValue(engine.Numeric(p, int(x.Scale)), u)
		if err == nil {
			return d
		}
	}
	return engine.NStr(fmt.Sprint(v))
}

// output adapts the engine's Output to a TDS result writer.
type output struct {
	w    *tds.ResultWriter
	cols []engine.Column
}

func wireType(t engine.Type) tds.Type {
	switch t.Kind {
	case engine.KindBit:
		return tds.Bit()
	case engine.KindTinyInt:
		return tds.TinyInt()
	case engine.KindSmallInt:
		return tds.SmallInt()
	case engine.KindInt:
		return tds.Int()
	case engine.KindBigInt:
		return tds.BigInt()
	case engine.KindNumeric:
		return tds.Numeric(t.Precision, t.Scale)
	case engine.KindFloat:
		return tds.Float()
	case engine.KindChar, engine.KindNChar:
		return tds.Char(t.Length)
	case engine.KindVarChar, engine.KindNVarChar:
		if t.Length == engine.MaxLength || t.Length > 4000 {
			return tds.NVarCharMax()
		}
		if t.Length < 1 {
			return tds.NVarChar(1)
		}
		return tds.NVarChar(t.Length)
	case engine.KindDateTime:
		return tds.DateTime()
	case engine.KindDateTime2:
		return tds.DateTime2(t.Scale)
	case engine.KindDateTimeOffset:
		return tds.DateTimeOffset(t.Scale)
	case engine.KindUniqueIdentifier:
		return tds.UniqueIdentifier()
	}
	return tds.NVarChar(1)
}

func wireValue(v engine.Value) any {
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
	case engine.KindChar, engine.KindNChar, engine.KindVarChar, engine.KindNVarChar:
		return v.Str()
	case engine.KindDateTime, engine.KindDateTime2, engine.KindDateTimeOffset:
		return v.Time()
	case engine.KindUniqueIdentifier:
		return tds.UUID(v.GUIDBytes())
	}
	return v.Text()
}

// Columns implements engine.Output.
func (o *output) Columns(cols []engine.Column) error {
	o.cols = cols
	wc := make([]tds.Column, len(cols))
	for k, c := range cols {
		wc[k] = tds.Column{Name: c.Name, Type: wireType(c.Type)}
	}
	return o.w.Columns(wc...)
}

// Row implements engine.Output.
func (o *output) Row(row []engine.Value) error {
	vals := make([]any, len(row))
	for k, v := range row {
		vals[k] = wireValue(v)
	}
	return o.w.Row(vals...)
}

// Message implements engine.Output.
func (o *output) Message(m *engine.Error) error {
	return o.w.Message(&tds.Error{Number: m.Number, Class: m.Class, State: m.State, Message: m.Message, ProcName: m.Procedure, LineNo: m.Line})
}

// Done implements engine.Output.
func (o *output) Done(rows int64) error {
	o.cols = nil
	if rows >= 0 {
		return o.w.DoneCount(tds.CmdInsert, rows)
	}
	return o.w.Done()
}

// ChangeDatabase implements engine.Output.
func (o *output) ChangeDatabase(db string) error { return o.w.ChangeDatabase(db) }

// BeginProc implements engine.Output.
func (o *output) BeginProc() error { return o.w.BeginProc() }

// EndProc implements engine.Output.
func (o *output) EndProc(status int32) error { return o.w.EndProc(status) }

// Package engine is the lab's SQL engine: a lexer, parser and evaluator for the T-SQL subset that
// monitoring tools and DR runbooks send to SQL Server, over catalog tables supplied by a Backend.
//
// SELECT is evaluated over the backend's rows (never matched against known query strings), with SQL
// Server's semantics: case-insensitive identifiers and string comparison (CI_AS), three-valued NULL
// logic, numeric(p,s) in math/big (LSNs beyond int64), datetime's 1/300 s rounding, DATEDIFF counting
// boundaries, and SQL Server's error numbers, severities and texts. Statements with effects
// (RESTORE, BACKUP, ALTER DATABASE, EXEC, KILL, INSERT) are parsed into typed values and handed to the
// Backend. docs/lab.md lists the subset and every behaviour the lab had to choose.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Engine executes T-SQL batches against one Backend (one simulated instance).
type Engine struct {
	log     *zap.Logger
	backend Backend
	clock   clock.Clock

	mu       sync.Mutex
	sessions map[int]liveSession // by SPID, for sys.dm_exec_sessions
}

// liveSession is the engine's snapshot of an open session.
type liveSession struct {
	info      SessionInfo
	loginTime time.Time // the instance's wall clock at login
}

// New returns an engine over backend. clk drives WAITFOR DELAY; nil means the real clock.
func New(log *zap.Logger, backend Backend, clk clock.Clock) *Engine {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Engine{log: log.Named("engine"), backend: backend, clock: clk, sessions: map[int]liveSession{}}
}

// Backend returns the engine's backend.
func (e *Engine) Backend() Backend { return e.backend }

// Output receives a batch's results in order. Each statement produces: optionally Columns and Rows,
// any Messages (info and errors), then one Done. Implementations map these to TDS tokens.
type Output interface {
	// Columns starts a result set.
	Columns(cols []Column) error
	// Row sends one row of the open result set.
	Row(row []Value) error
	// Message sends an informational message or an error (class > 10).
	Message(m *Error) error
	// Done ends a statement; rowsAffected ≥ 0 is reported as a count (INSERT), -1 means none (a
	// SELECT's count is the number of rows sent).
	Done(rowsAffected int64) error
	// ChangeDatabase announces a USE.
	ChangeDatabase(db string) error
	// BeginProc and EndProc bracket an EXEC's output; EndProc carries the return status.
	BeginProc() error
	EndProc(status int32) error
}

// Param is a parameter value for Session.Execute (sp_executesql @p1…).
type Param struct {
	Name  string // with '@'
	Type  Type
	Value Value
}

type variable struct {
	t Type
	v Value
}

// Session is one connection's state: login, current database, variables and SET options. It is
// used by one goroutine at a time.
type Session struct {
	eng       *Engine
	info      SessionInfo
	loginDB   string
	vars      map[string]*variable
	options   map[string]string
	rowcount  int64
	lastError int32
	trancount int
	lines     map[Statement]int // start line of each statement of the running batch
}

// NewSession starts a session for an authenticated login whose current database is info.Database.
// If the backend implements SessionTracker, it is told about the session (kill ends it).
func (e *Engine) NewSession(info SessionInfo, kill func()) *Session {
	s := &Session{eng: e, info: info, loginDB: info.Database, vars: map[string]*variable{}, options: map[string]string{}}
	login := e.backend.Server(context.Background()).Now
	e.mu.Lock()
	e.sessions[info.SPID] = liveSession{info: info, loginTime: login}
	e.mu.Unlock()
	if t, ok := e.backend.(SessionTracker); ok {
		if kill == nil {
			kill = func() {}
		}
		t.SessionOpened(info, kill)
	}
	return s
}

// Info returns the session's current facts.
func (s *Session) Info() SessionInfo { return s.info }

// Database returns the current database.
func (s *Session) Database() string { return s.info.Database }

// Option returns a SET option's value as last set ("ON", "OFF", …), or "".
func (s *Session) Option(name string) string { return s.options[strings.ToUpper(name)] }

// Reset returns the session to its state right after login (RESETCONNECTION).
func (s *Session) Reset() {
	s.vars = map[string]*variable{}
	s.options = map[string]string{}
	s.trancount = 0
	if s.info.Database != s.loginDB {
		s.info.Database = s.loginDB
		s.changed()
	}
}

// Close tells the backend the session ended.
func (s *Session) Close() {
	s.eng.mu.Lock()
	delete(s.eng.sessions, s.info.SPID)
	s.eng.mu.Unlock()
	if t, ok := s.eng.backend.(SessionTracker); ok {
		t.SessionClosed(s.info.SPID)
	}
}

func (s *Session) changed() {
	s.eng.mu.Lock()
	if l, ok := s.eng.sessions[s.info.SPID]; ok {
		l.info = s.info
		s.eng.sessions[s.info.SPID] = l
	}
	s.eng.mu.Unlock()
	if t, ok := s.eng.backend.(SessionTracker); ok {
		t.SessionChanged(s.info)
	}
}

// CheckDatabase applies SQL Server's rules for opening a database (USE, three-part names, login):
// 911 if it does not exist, 927 RESTORING, 954 a mirror, 942 OFFLINE, 922/926 recovering or suspect.
// It returns the database as the backend names it.
func CheckDatabase(dbs []DatabaseInfo, name string) (*DatabaseInfo, error) {
	for i := range dbs {
		db := &dbs[i]
		if !strings.EqualFold(db.Name, name) {
			continue
		}
		switch {
		case db.Mirror:
			return db, ErrDatabaseMirror(db.Name)
		case db.State == StateRestoring:
			return db, ErrDatabaseRestoring(db.Name)
		case db.State == StateOffline:
			return db, ErrDatabaseOffline(db.Name)
		case db.State == StateRecovering:
			return db, NewError(922, 14, 1, "Database '%s' is being recovered. Waiting until recovery is finished.", db.Name)
		case db.State == StateSuspect || db.State == StateRecoveryPending:
			return db, NewError(926, 14, 1, "Database '%s' cannot be opened. It has been marked SUSPECT by recovery. See the SQL Server errorlog for more information.", db.Name)
		}
		return db, nil
	}
	return nil, ErrDatabaseNotExist(name)
}

func (st *stmtCtx) findDB(name string) *DatabaseInfo {
	for i := range st.dbs {
		if strings.EqualFold(st.dbs[i].Name, name) {
			return &st.dbs[i]
		}
	}
	return nil
}

// resolve turns a written object name into a full name in the session's context.
func (st *stmtCtx) resolve(o ObjectName) TableName {
	db, schema := o.Database, o.Schema
	if db == "" {
		db = st.sess.info.Database
	}
	if schema == "" {
		schema = "dbo"
	}
	return TableName{Database: db, Schema: schema, Name: o.Name}
}

// table fetches a table for this statement (cached per statement), applying the database rules.
func (st *stmtCtx) table(o ObjectName) (*Relation, TableName, error) {
	if o.Server != "" && !strings.EqualFold(o.Server, st.server.Name) {
		return nil, TableName{}, NewError(7202, 11, 2, "Could not find server '%s' in sys.servers. Verify that the correct server name was specified.", o.Server)
	}
	ref := st.resolve(o)
	db := st.findDB(ref.Database)
	if db == nil {
		if o.Database != "" {
			return nil, ref, ErrInvalidObject(o.String())
		}
		return nil, ref, ErrDatabaseNotExist(ref.Database)
	}
	if _, err := CheckDatabase(st.dbs, ref.Database); err != nil {
		return nil, ref, err
	}
	ref.Database = db.Name
	key := strings.ToLower(ref.String())
	if rel, ok := st.tables[key]; ok {
		return rel, ref, nil
	}
	if ref.Is("sys", "dm_exec_sessions") {
		rel := st.execSessions()
		st.tables[key] = rel
		return rel, ref, nil
	}
	rel, err := st.sess.eng.backend.Table(st.ctx, &st.sess.info, ref)
	if err != nil {
		if errNoTable(err) {
			return nil, ref, ErrInvalidObject(o.String())
		}
		return nil, ref, fmt.Errorf("read %s: %w", ref, err)
	}
	if rel == nil {
		return nil, ref, fmt.Errorf("read %s: the backend returned no relation", ref)
	}
	for i, r := range rel.Rows {
		if len(r) != len(rel.Columns) {
			return nil, ref, fmt.Errorf("read %s: backend row %d has %d values for %d columns", ref, i, len(r), len(rel.Columns))
		}
	}
	st.tables[key] = rel
	return rel, ref, nil
}

// abortsBatch reports whether an error ends the whole batch (compile-time errors in SQL Server),
// rather than only the statement.
func abortsBatch(num int32) bool {
	switch num {
	case 102, 104, 105, 113, 116, 130, 131, 134, 137, 141, 147, 155, 156, 174, 189, 191, 195, 205, 206, 207,
		208, 209, 239, 241, 243, 245, 263, 402, 529, 911, 922, 926, 927, 942, 954, 1002, 1007, 1011, 1023,
		2750, 4104, 4108, 4112, 4145, 7202, 8114, 8115, 8116, 8117, 8120, 8155, 8158, 8169, 10741:
		return true
	}
	return false
}

// Execute runs a batch (or the statement of an sp_executesql call with params) and writes its results
// to out. SQL errors are written to out as messages; the returned error is non-nil only when out
// fails or ctx ends (the client sent an ATTENTION), in which case the batch stops at once.
func (s *Session) Execute(ctx context.Context, sql string, params []Param, out Output) error {
	stmts, lines, err := parseBatch(sql)
	if err != nil {
		return s.fail(out, err, 1)
	}
	savedLines := s.lines
	s.lines = lines
	defer func() { s.lines = savedLines }()
	if params != nil {
		saved := s.vars
		s.vars = map[string]*variable{}
		for _, p := range params {
			v, err := Convert(p.Value, p.Type)
			if err != nil {
				return s.fail(out, err, 1)
			}
			s.vars[strings.ToLower(p.Name)] = &variable{t: p.Type, v: v}
		}
		defer func() { s.vars = saved }()
	} else {
		// variables live for one batch
		defer func() { s.vars = map[string]*variable{} }()
	}
	db := s.info.Database
	_, err = s.runList(ctx, stmts, out)
	if params != nil && err == nil && s.info.Database != db {
		// A USE inside sp_executesql lasts until the call ends (sql-docs sp-executesql: the
		// database context changes only for the duration of the statement).
		s.info.Database = db
		s.changed()
		err = out.ChangeDatabase(db)
	}
	return err
}

// runList executes statements in order. stop is true when the batch must end (RETURN, or an error
// that aborts the batch); err is non-nil only for a cancelled context or a failed Output.
func (s *Session) runList(ctx context.Context, stmts []Statement, out Output) (stop bool, err error) {
	for _, st := range stmts {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		var serr error
		switch x := st.(type) {
		case *ReturnStmt:
			return true, nil
		case *BlockStmt:
			if stop, err := s.runList(ctx, x.Stmts, out); stop || err != nil {
				return stop, err
			}
			continue
		case *IfStmt:
			var cond tri
			if cond, serr = s.newStmt(ctx).condition(x.Cond); serr == nil {
				branch := x.Else
				if cond == triTrue {
					branch = x.Then
				}
				if stop, err := s.runList(ctx, branch, out); stop || err != nil {
					return stop, err
				}
				continue
			}
		default:
			serr = s.statement(ctx, st, out)
		}
		if serr == nil {
			s.lastError = 0
			continue
		}
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		var oe outputError
		if errors.As(serr, &oe) {
			return true, oe.err
		}
		msgs := Messages(serr)
		if len(msgs) == 1 && msgs[0].Number == 50000 {
			s.eng.log.Warn("statement failed", zap.Error(serr), zap.Int("spid", s.info.SPID))
		}
		if werr := s.fail(out, serr, s.lines[st]); werr != nil {
			return true, werr
		}
		if abortsBatch(msgs[0].Number) {
			return true, nil
		}
	}
	return false, nil
}

// condition evaluates an IF condition (subqueries allowed, no FROM).
func (st *stmtCtx) condition(e Expr) (tri, error) {
	c := &compiler{st: st, sc: &scope{}}
	x, err := c.compile(e)
	if err != nil {
		return triUnknown, err
	}
	return evalBool(&env{ctx: st.ctx, st: st}, x)
}

// outputError marks a failure of the Output (the connection), which ends the batch.
type outputError struct{ err error }

func (o outputError) Error() string { return o.err.Error() }

func wrapOut(err error) error {
	if err == nil {
		return nil
	}
	return outputError{err}
}

// fail writes a statement's error messages and its done. Messages without a line get the
// statement's line (1 when unknown).
func (s *Session) fail(out Output, err error, line int) error {
	for _, m := range Messages(err) {
		if !m.IsInfo() {
			s.lastError = m.Number
		}
		if werr := out.Message(withLine(m, line)); werr != nil {
			return werr
		}
	}
	return out.Done(-1)
}

// withLine returns m with Line set when it has none; m itself is never modified (messages may be
// shared values).
func withLine(m *Error, line int) *Error {
	if m.Line != 0 {
		return m
	}
	if line <= 0 {
		line = 1
	}
	c := *m
	c.Line = int32(line)
	return &c
}

func (s *Session) newStmt(ctx context.Context) *stmtCtx {
	be := s.eng.backend
	return &stmtCtx{ctx: ctx, sess: s, server: be.Server(ctx), dbs: be.Databases(ctx), tables: map[string]*Relation{}}
}

// statement executes one statement. SQL errors are returned; output failures come back as outputError.
func (s *Session) statement(ctx context.Context, stmt Statement, out Output) error {
	st := s.newStmt(ctx)
	switch stmt := stmt.(type) {
	case *SelectStmt:
		plan, err := compileSelect(st, stmt, nil)
		if err != nil {
			return err
		}
		rs, err := plan.run(nil)
		if err != nil {
			return err
		}
		if len(plan.assigns) > 0 {
			for _, row := range rs.Rows {
				for i, name := range plan.assigns {
					v := s.vars[strings.ToLower(name)]
					cv, err := Convert(row[i], v.t)
					if err != nil {
						return err
					}
					v.v = cv
				}
			}
			s.rowcount = int64(len(rs.Rows))
			return wrapOut(out.Done(-1))
		}
		s.rowcount = int64(len(rs.Rows))
		return writeResult(ctx, out, rs)
	case *UseStmt:
		db, err := CheckDatabase(st.dbs, stmt.Database)
		if err != nil {
			return err
		}
		s.info.Database = db.Name
		s.changed()
		if err := out.ChangeDatabase(db.Name); err != nil {
			return wrapOut(err)
		}
		return wrapOut(out.Done(-1))
	case *SetOptionStmt:
		for _, o := range strings.Split(stmt.Option, ",") {
			s.options[o] = stmt.Value
		}
		return wrapOut(out.Done(-1))
	case *DeclareStmt:
		for _, d := range stmt.Vars {
			key := strings.ToLower(d.Name)
			if _, dup := s.vars[key]; dup {
				return ErrVariableRedeclared(d.Name)
			}
			v := &variable{t: d.Type, v: Null(d.Type)}
			if d.Init != nil {
				val, err := st.scalar(d.Init)
				if err != nil {
					return err
				}
				if v.v, err = Convert(val, d.Type); err != nil {
					return err
				}
			}
			s.vars[key] = v
		}
		return wrapOut(out.Done(-1))
	case *SetVarStmt:
		v, ok := s.vars[strings.ToLower(stmt.Name)]
		if !ok {
			return ErrUndeclaredVariable(stmt.Name)
		}
		val, err := st.scalar(stmt.Expr)
		if err != nil {
			return err
		}
		if v.v, err = Convert(val, v.t); err != nil {
			return err
		}
		return wrapOut(out.Done(-1))
	case *PrintStmt:
		val, err := st.scalar(stmt.Expr)
		if err != nil {
			return err
		}
		text := val.Text()
		if val.Null {
			text = ""
		}
		if err := out.Message(withLine(&Error{Number: 0, Class: 0, State: 1, Message: text}, s.lines[stmt])); err != nil {
			return wrapOut(err)
		}
		return wrapOut(out.Done(-1))
	case *WaitForStmt:
		val, err := st.scalar(stmt.Delay)
		if err != nil {
			return err
		}
		d, err := parseDelay(val)
		if err != nil {
			return err
		}
		t := s.eng.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
		return wrapOut(out.Done(-1))
	case *TransactionStmt:
		switch stmt.Verb {
		case "BEGIN":
			s.trancount++
		case "COMMIT":
			if s.trancount == 0 {
				return NewError(3902, 16, 1, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
			}
			s.trancount--
		default:
			if s.trancount == 0 {
				return NewError(3903, 16, 1, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
			}
			s.trancount = 0
		}
		return wrapOut(out.Done(-1))
	case *InsertStmt:
		return s.insert(st, stmt, out)
	case Effect:
		return s.effect(st, stmt, out)
	}
	return ErrSyntax("?")
}

// scalar evaluates a standalone expression (no FROM).
func (st *stmtCtx) scalar(e Expr) (Value, error) {
	c := &compiler{st: st, sc: &scope{}}
	x, err := c.compile(e)
	if err != nil {
		return Value{}, err
	}
	return x.eval(&env{ctx: st.ctx, st: st})
}

func writeResult(ctx context.Context, out Output, rs *ResultSet) error {
	if err := out.Columns(rs.Columns); err != nil {
		return wrapOut(err)
	}
	for i, r := range rs.Rows {
		if i%128 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := out.Row(r); err != nil {
			return wrapOut(err)
		}
	}
	return wrapOut(out.Done(-1))
}

func parseDelay(v Value) (time.Duration, error) {
	bad := NewError(148, 15, 1, "Incorrect time syntax in time string '%s' used with WAITFOR.", v.Text())
	if v.Null {
		return 0, bad
	}
	t, err := time.Parse("15:04:05.999999999", v.Text())
	if err != nil {
		if t, err = time.Parse("15:04", v.Text()); err != nil {
			return 0, bad
		}
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond()), nil
}

func (s *Session) insert(st *stmtCtx, ins *InsertStmt, out Output) error {
	rel, ref, err := st.table(ins.Table)
	if err != nil {
		return err
	}
	cols := ins.Columns
	if len(cols) == 0 {
		for _, c := range rel.Columns {
			cols = append(cols, c.Name)
		}
	}
	types := make([]Type, len(cols))
	for i, name := range cols {
		found := false
		for _, c := range rel.Columns {
			if strings.EqualFold(c.Name, name) {
				types[i], cols[i], found = c.Type, c.Name, true
				break
			}
		}
		if !found {
			return ErrInvalidColumn(name)
		}
	}
	var rows [][]Value
	if ins.Select != nil {
		plan, err := compileSelect(st, ins.Select, nil)
		if err != nil {
			return err
		}
		if len(plan.outCols) != len(cols) {
			return ErrInsertColumnCount()
		}
		rs, err := plan.run(nil)
		if err != nil {
			return err
		}
		rows = rs.Rows
	} else {
		for _, r := range ins.Rows {
			if len(r) == 0 && len(ins.Columns) == 0 { // DEFAULT VALUES
				rows = append(rows, nil)
				continue
			}
			if len(r) != len(cols) {
				return ErrInsertColumnCount()
			}
			row := make([]Value, len(r))
			for i, e := range r {
				if row[i], err = st.scalar(e); err != nil {
					return err
				}
			}
			rows = append(rows, row)
		}
	}
	for _, row := range rows {
		for i := range row {
			if row[i], err = Convert(row[i], types[i]); err != nil {
				return err
			}
		}
	}
	if len(rows) == 1 && rows[0] == nil {
		cols, rows = nil, [][]Value{{}}
	}
	n, err := s.eng.backend.Insert(st.ctx, &s.info, ref, cols, rows)
	if err != nil {
		if errNoTable(err) {
			return ErrInvalidObject(ins.Table.String())
		}
		return err
	}
	s.rowcount = n
	if s.options["NOCOUNT"] == "ON" {
		return wrapOut(out.Done(-1))
	}
	return wrapOut(out.Done(n))
}

// effect evaluates an effect's arguments and hands it to the backend.
func (s *Session) effect(st *stmtCtx, eff Effect, out Output) error {
	evalOpts := func(exprs []optionExpr) ([]Option, error) {
		var opts []Option
		for _, o := range exprs {
			opt := Option{Name: o.name, Value: Null(TypeInt), To: Null(TypeInt)}
			var err error
			if o.value != nil {
				if opt.Value, err = st.scalar(o.value); err != nil {
					return nil, err
				}
			}
			if o.target != nil {
				if opt.To, err = st.scalar(o.target); err != nil {
					return nil, err
				}
			}
			opts = append(opts, opt)
		}
		return opts, nil
	}
	evalDisks := func(exprs []Expr) ([]string, error) {
		var disks []string
		for _, e := range exprs {
			v, err := st.scalar(e)
			if err != nil {
				return nil, err
			}
			disks = append(disks, v.Text())
		}
		return disks, nil
	}
	var err error
	isProc := false
	switch e := eff.(type) {
	case *RestoreStmt:
		if e.Options, err = evalOpts(e.optExprs); err != nil {
			return err
		}
		if e.Disks, err = evalDisks(e.diskExpr); err != nil {
			return err
		}
	case *BackupStmt:
		if e.Options, err = evalOpts(e.optExprs); err != nil {
			return err
		}
		if e.Disks, err = evalDisks(e.diskExpr); err != nil {
			return err
		}
	case *ExecStmt:
		isProc = true
		if strings.EqualFold(e.Proc.Name, "sp_executesql") && e.Proc.Database == "" {
			return s.execSQL(st, e, out)
		}
		for i := range e.Args {
			a := &e.Args[i]
			if a.expr == nil { // already evaluated (an RPC call)
				continue
			}
			if a.Value, err = st.scalar(a.expr); err != nil {
				return err
			}
		}
		if e.ReturnVar != "" {
			if _, ok := s.vars[strings.ToLower(e.ReturnVar)]; !ok {
				return ErrUndeclaredVariable(e.ReturnVar)
			}
		}
	}
	if isProc {
		if err := out.BeginProc(); err != nil {
			return wrapOut(err)
		}
	}
	res, err := s.eng.backend.Execute(st.ctx, &s.info, eff)
	if err == nil && res != nil {
		err = checkResultSets(res.ResultSets)
	}
	if err != nil {
		if st.ctx.Err() != nil {
			return st.ctx.Err()
		}
		if isProc {
			for _, m := range Messages(err) {
				if werr := out.Message(withLine(m, s.lines[eff])); werr != nil {
					return wrapOut(werr)
				}
			}
			if werr := out.Done(-1); werr != nil {
				return wrapOut(werr)
			}
			return wrapOut(out.EndProc(1))
		}
		return err
	}
	if res == nil {
		res = &EffectResult{RowsAffected: -1}
	}

	for _, m := range res.Messages {
		if err := out.Message(m); err != nil {
			return wrapOut(err)
		}
	}
	for _, rs := range res.ResultSets {
		if err := writeResult(st.ctx, out, rs); err != nil {
			return err
		}
	}
	if len(res.ResultSets) == 0 {
		if err := out.Done(res.RowsAffected); err != nil {
			return wrapOut(err)
		}
	}
	if isProc {
		status := int32(0)
		if res.ReturnStatus != nil {
			status = *res.ReturnStatus
		}
		if e := eff.(*ExecStmt); e.ReturnVar != "" {
			s.vars[strings.ToLower(e.ReturnVar)].v, _ = Convert(Int(status), s.vars[strings.ToLower(e.ReturnVar)].t)
		}
		return wrapOut(out.EndProc(status))
	}
	return nil
}

// ExecProc executes a procedure call whose arguments are already values (an RPC by name, e.g.
// go-mssqldb's mssql.StoredProcedure). Errors are written to out like Execute does.
func (s *Session) ExecProc(ctx context.Context, call *ExecStmt, out Output) error {
	st := s.newStmt(ctx)
	err := s.effect(st, call, out)
	if err == nil {
		s.lastError = 0
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var oe outputError
	if errors.As(err, &oe) {
		return oe.err
	}
	return s.fail(out, err, 1)
}

// ParseObjectName parses a one- to four-part name such as "msdb.dbo.sp_update_job" or "[msdb]..[x]".
func ParseObjectName(name string) (ObjectName, error) {
	toks, err := lex(name)
	if err != nil {
		return ObjectName{}, err
	}
	p := &parser{toks: toks}
	o, err := p.objectName()
	if err != nil {
		return ObjectName{}, err
	}
	if p.peek().kind != tokEOF {
		return ObjectName{}, p.errHere()
	}
	return o, nil
}

// execSQL runs EXEC sp_executesql N'stmt', N'@p int', @p = 1 inside a batch.
func (s *Session) execSQL(st *stmtCtx, e *ExecStmt, out Output) error {
	if len(e.Args) == 0 || e.Args[0].expr == nil {
		return ErrMissingParam("sp_executesql", "@statement")
	}
	stmtV, err := st.scalar(e.Args[0].expr)
	if err != nil {
		return err
	}
	var decl string
	rest := e.Args[1:]
	if len(rest) > 0 && (rest[0].Name == "" || strings.EqualFold(rest[0].Name, "@params")) {
		dv, err := st.scalar(rest[0].expr)
		if err != nil {
			return err
		}
		decl = dv.Text()
		rest = rest[1:]
	}
	var vals []Value
	var names []string
	for _, a := range rest {
		v, err := st.scalar(a.expr)
		if err != nil {
			return err
		}
		vals = append(vals, v)
		names = append(names, a.Name)
	}
	params, err := BindParams(decl, names, vals)
	if err != nil {
		return err
	}
	if params == nil {
		params = []Param{} // non-nil: the statement runs in sp_executesql's own scope
	}
	saved := s.vars
	defer func() { s.vars = saved }()
	if err := out.BeginProc(); err != nil {
		return wrapOut(err)
	}
	if err := s.Execute(st.ctx, stmtV.Text(), params, out); err != nil {
		return err
	}
	return wrapOut(out.EndProc(0))
}

// BindParams matches sp_executesql's declaration string ("@p1 int, @p2 nvarchar(10)") with the
// supplied values (named, or positional in declaration order).
func BindParams(decl string, names []string, vals []Value) ([]Param, error) {
	var params []Param
	if strings.TrimSpace(decl) != "" {
		toks, err := lex(decl)
		if err != nil {
			return nil, err
		}
		p := &parser{toks: toks}
		for p.peek().kind != tokEOF {
			if p.peek().kind != tokVar {
				return nil, p.errHere()
			}
			name := p.next().text
			p.acceptKw("AS")
			t, err := p.dataType()
			if err != nil {
				return nil, err
			}
			p.acceptKw("OUTPUT")
			p.acceptKw("OUT")
			params = append(params, Param{Name: name, Type: t, Value: Null(t)})
			if !p.acceptOp(",") {
				break
			}
		}
		if p.peek().kind != tokEOF {
			return nil, p.errHere()
		}
	}
	for i, v := range vals {
		name := ""
		if i < len(names) {
			name = names[i]
		}
		idx := i
		if name != "" {
			idx = -1
			for j := range params {
				if strings.EqualFold(params[j].Name, name) {
					idx = j
				}
			}
			if idx < 0 {
				params = append(params, Param{Name: name, Type: v.T, Value: v})
				continue
			}
		}
		if idx >= len(params) {
			return nil, NewError(8144, 16, 2, "Procedure or function has too many arguments specified.")
		}
		params[idx].Value = v
	}
	for i := range params {
		if params[i].Type.Kind == KindUnknown {
			params[i].Type = TypeInt
		}
	}
	return params, nil
}

// SysDmExecSessions is the documented subset of sys.dm_exec_sessions ([SQLD]
// sys-dm-exec-sessions-transact-sql.md) that the engine answers itself from its open sessions, so
// that a client can find the sessions using a database before KILL. Every login sees every session
// (the monitoring login holds VIEW SERVER STATE, SQLSERVER.md §8 Q14).
var SysDmExecSessions = &TableDef{Schema: "sys", Name: "dm_exec_sessions", Source: "sys-dm-exec-sessions-transact-sql.md", Columns: []Column{
	col("session_id", TypeSmallInt), col("login_time", TypeDateTime), col("host_name", NVarChar(128)),
	col("program_name", NVarChar(128)), col("login_name", NVarChar(128)), col("status", NVarChar(30)),
	col("database_id", TypeSmallInt), col("is_user_process", TypeBit),
}}

func (st *stmtCtx) execSessions() *Relation {
	e := st.sess.eng
	e.mu.Lock()
	live := make([]liveSession, 0, len(e.sessions))
	for _, l := range e.sessions {
		live = append(live, l)
	}
	e.mu.Unlock()
	sort.Slice(live, func(i, j int) bool { return live[i].info.SPID < live[j].info.SPID })
	rel := SysDmExecSessions.Relation()
	for _, l := range live {
		row := SysDmExecSessions.NewRow()
		SysDmExecSessions.Set(row, "session_id", SmallInt(int16(l.info.SPID)))
		SysDmExecSessions.Set(row, "login_time", DateTime(l.loginTime))
		SysDmExecSessions.Set(row, "host_name", NStr(l.info.HostName))
		SysDmExecSessions.Set(row, "program_name", NStr(l.info.AppName))
		SysDmExecSessions.Set(row, "login_name", NStr(l.info.Login))
		status := "sleeping"
		if l.info.SPID == st.sess.info.SPID {
			status = "running"
		}
		SysDmExecSessions.Set(row, "status", NStr(status))
		if db := st.findDB(l.info.Database); db != nil {
			SysDmExecSessions.Set(row, "database_id", SmallInt(int16(db.ID)))
		}
		SysDmExecSessions.Set(row, "is_user_process", Bit(true))
		rel.Rows = append(rel.Rows, row)
	}
	return rel
}

// checkResultSets rejects result sets from a backend whose rows do not match their columns.
func checkResultSets(sets []*ResultSet) error {
	for k, rs := range sets {
		for i, r := range rs.Rows {
			if len(r) != len(rs.Columns) {
				return fmt.Errorf("backend result set %d row %d has %d values for %d columns", k, i, len(r), len(rs.Columns))
			}
		}
	}
	return nil
}

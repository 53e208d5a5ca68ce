package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// ProcFunc implements a procedure for the Static backend.
type ProcFunc func(ctx context.Context, s *SessionInfo, call *ExecStmt) (*EffectResult, error)

// Static is a fixed in-memory Backend for tests and examples: tables hold whatever rows were put in
// them; every catalog table of Catalog exists (empty unless filled); effects are recorded and
// succeed; procedures come from Procs. Permissions follow SQLSERVER.md §8 Q14 for a login that is
// not sysadmin: catalog reads are allowed (sys.database_mirroring masked for a mirror database,
// sys.master_files empty: its rows need CREATE DATABASE, ALTER ANY DATABASE or VIEW ANY DEFINITION),
// INSERT gets 229, EXEC 229, RESTORE 3110 + 3013, BACKUP 262 + 3013, ALTER DATABASE 5011 + 5069.
// It is safe for concurrent use.
type Static struct {
	mu       sync.Mutex
	info     ServerInfo
	dbs      []DatabaseInfo
	tables   map[string]*Relation
	procs    map[string]ProcFunc
	executed []Effect
}

// NewStatic returns a Static backend for an instance with the given identity and databases.
func NewStatic(info ServerInfo, dbs []DatabaseInfo) *Static {
	return &Static{info: info, dbs: append([]DatabaseInfo(nil), dbs...), tables: map[string]*Relation{}, procs: map[string]ProcFunc{}}
}

func staticKey(db, schema, name string) string {
	return strings.ToLower(db + "." + schema + "." + name)
}

// SetServer replaces the server identity and clock.
func (b *Static) SetServer(info ServerInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.info = info
}

// SetDatabases replaces the database list.
func (b *Static) SetDatabases(dbs []DatabaseInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dbs = append([]DatabaseInfo(nil), dbs...)
}

// DefineTable creates (or empties) a user table db.schema.name with the given columns.
func (b *Static) DefineTable(ref TableName, cols []Column) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tables[staticKey(ref.Database, ref.Schema, ref.Name)] = &Relation{Columns: append([]Column(nil), cols...)}
}

// AddRows appends rows to a catalog table (server-wide sys views: db is ignored) or a defined user
// table. Values are converted to the column types; it fails on a wrong width or a bad value.
func (b *Static) AddRows(def *TableDef, db string, rows ...[]Value) error {
	ref := def.TableName(db)
	if def.Database == "" {
		ref.Database = "*"
	}
	return b.add(ref, def.Columns, rows)
}

// AddUserRows appends rows to a table created with DefineTable.
func (b *Static) AddUserRows(ref TableName, rows ...[]Value) error {
	b.mu.Lock()
	rel, ok := b.tables[staticKey(ref.Database, ref.Schema, ref.Name)]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("add rows to %s: %w", ref, ErrNoSuchTable)
	}
	return b.add(ref, rel.Columns, rows)
}

func (b *Static) add(ref TableName, cols []Column, rows [][]Value) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := staticKey(ref.Database, ref.Schema, ref.Name)
	rel, ok := b.tables[key]
	if !ok {
		rel = &Relation{Columns: cols}
		b.tables[key] = rel
	}
	for _, r := range rows {
		if len(r) != len(rel.Columns) {
			return fmt.Errorf("add rows to %s: row has %d values for %d columns", ref, len(r), len(rel.Columns))
		}
		row := make([]Value, len(r))
		for i, v := range r {
			cv, err := Convert(v, rel.Columns[i].Type)
			if err != nil {
				return fmt.Errorf("add rows to %s column %s: %w", ref, rel.Columns[i].Name, err)
			}
			row[i] = cv
		}
		rel.Rows = append(rel.Rows, row)
	}
	return nil
}

// HandleProc registers a procedure by its last name part (case-insensitive), e.g. "sp_update_job".
func (b *Static) HandleProc(name string, f ProcFunc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.procs[strings.ToLower(name)] = f
}

// Executed returns the effects executed so far, in order.
func (b *Static) Executed() []Effect {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Effect(nil), b.executed...)
}

// Server implements Backend.
func (b *Static) Server(context.Context) ServerInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.info
}

// Databases implements Backend.
func (b *Static) Databases(context.Context) []DatabaseInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]DatabaseInfo(nil), b.dbs...)
}

// Table implements Backend.
func (b *Static) Table(_ context.Context, s *SessionInfo, ref TableName) (*Relation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	def := LookupCatalog(ref)
	key := staticKey(ref.Database, ref.Schema, ref.Name)
	if def != nil && def.Database == "" {
		key = staticKey("*", ref.Schema, ref.Name)
	}
	rel, ok := b.tables[key]
	if !ok {
		if def == nil {
			return nil, fmt.Errorf("table %s: %w", ref, ErrNoSuchTable)
		}
		return def.Relation(), nil
	}
	return &Relation{Columns: rel.Columns, Rows: AsSeenBy(def, s.Sysadmin, rel.Rows)}, nil
}

// Insert implements Backend.
func (b *Static) Insert(_ context.Context, s *SessionInfo, ref TableName, columns []string, rows [][]Value) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := staticKey(ref.Database, ref.Schema, ref.Name)
	rel, ok := b.tables[key]
	if !ok || LookupCatalog(ref) != nil {
		if LookupCatalog(ref) != nil && !s.Sysadmin {
			return 0, permissionDenied("INSERT", ref)
		}
		if !ok {
			return 0, fmt.Errorf("insert into %s: %w", ref, ErrNoSuchTable)
		}
	}
	if !s.Sysadmin {
		return 0, permissionDenied("INSERT", ref)
	}
	for _, db := range b.dbs {
		if strings.EqualFold(db.Name, ref.Database) && (db.ReadOnly || db.Standby) {
			return 0, ErrReadOnlyDatabase(db.Name)
		}
	}
	for _, r := range rows {
		full := make([]Value, len(rel.Columns))
		for i, c := range rel.Columns {
			full[i] = Null(c.Type)
			for j, name := range columns {
				if strings.EqualFold(name, c.Name) {
					full[i] = r[j]
				}
			}
		}
		rel.Rows = append(rel.Rows, full)
	}
	return int64(len(rows)), nil
}

func permissionDenied(perm string, ref TableName) *Error {
	return ErrPermissionDenied(perm, ref.Name, ref.Database, ref.Schema)
}

// Execute implements Backend.
func (b *Static) Execute(ctx context.Context, s *SessionInfo, stmt Effect) (*EffectResult, error) {
	b.mu.Lock()
	if !s.Sysadmin {
		b.mu.Unlock()
		switch e := stmt.(type) {
		case *RestoreStmt:
			if e.Kind == RestoreHeaderOnly || e.Kind == RestoreFileListOnly || e.Kind == RestoreVerifyOnly {
				return nil, Errors{ErrCreateDatabasePermission(), ErrTerminating(e.Kind.String())}
			}
			return nil, Errors{ErrRestorePermission(e.Database), ErrTerminating(e.Kind.String())}
		case *BackupStmt:
			kind := "BACKUP DATABASE"
			if e.Log {
				kind = "BACKUP LOG"
			}
			return nil, Errors{ErrBackupPermission(kind, e.Database), ErrTerminating(kind)}
		case *AlterDatabaseStmt:
			return nil, Errors{ErrAlterPermission(e.Database), ErrAlterFailed()}
		case *ExecStmt:
			db := e.Proc.Database
			if db == "" {
				db = s.Database
			}
			schema := e.Proc.Schema
			if schema == "" {
				schema = "dbo"
			}
			return nil, ErrPermissionDenied("EXECUTE", e.Proc.Name, db, schema)
		case *KillStmt:
			return nil, ErrKillPermission()
		}
		return nil, NewError(229, 14, 5, "The permission was denied.")
	}
	b.executed = append(b.executed, stmt)
	var proc ProcFunc
	e, isExec := stmt.(*ExecStmt)
	if isExec {
		proc = b.procs[strings.ToLower(e.Proc.Name)]
	}
	b.mu.Unlock()
	if isExec {
		if proc == nil {
			return nil, ErrProcNotFound(e.Proc.String())
		}
		return proc(ctx, s, e)
	}
	return &EffectResult{RowsAffected: -1}, nil
}

// Recorder is an Output that keeps everything, for tests and simple callers.
type Recorder struct {
	// Results are the result sets in order.
	Results []*ResultSet
	// Messages are all messages (info and errors) in order.
	Messages []*Error
	// Counts are the rows-affected counts of Done calls that carried one.
	Counts []int64
	// Database is the last database announced by ChangeDatabase.
	Database string
	// Statuses are the return statuses of EndProc calls.
	Statuses []int32
	open     *ResultSet
}

// Columns implements Output.
func (r *Recorder) Columns(cols []Column) error {
	r.open = &ResultSet{Columns: cols}
	r.Results = append(r.Results, r.open)
	return nil
}

// Row implements Output.
func (r *Recorder) Row(row []Value) error {
	if r.open == nil {
		return fmt.Errorf("recorder: row without columns")
	}
	r.open.Rows = append(r.open.Rows, row)
	return nil
}

// Message implements Output.
func (r *Recorder) Message(m *Error) error {
	r.Messages = append(r.Messages, m)
	return nil
}

// Done implements Output.
func (r *Recorder) Done(n int64) error {
	r.open = nil
	if n >= 0 {
		r.Counts = append(r.Counts, n)
	}
	return nil
}

// ChangeDatabase implements Output.
func (r *Recorder) ChangeDatabase(db string) error {
	r.Database = db
	return nil
}

// BeginProc implements Output.
func (r *Recorder) BeginProc() error { return nil }

// EndProc implements Output.
func (r *Recorder) EndProc(status int32) error {
	r.Statuses = append(r.Statuses, status)
	return nil
}

// Errors returns the error messages (class > 10).
func (r *Recorder) Errors() []*Error {
	var out []*Error
	for _, m := range r.Messages {
		if !m.IsInfo() {
			out = append(out, m)
		}
	}
	return out
}

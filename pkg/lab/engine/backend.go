package engine

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Backend is what the engine needs from one simulated SQL Server instance. The lab's topology
// implements it; Static is a fixed in-memory implementation for tests.
//
// The engine owns SQL: parsing, name resolution, the database access rules (USE, three-part names),
// expression evaluation, joins, grouping and ordering. The backend owns the world: which databases
// exist and in what state, the rows of every table and catalog view as a given login sees them, and
// what RESTORE, BACKUP, ALTER DATABASE, EXEC, KILL and INSERT do. All methods may be called from many
// sessions at once and must be safe for concurrent use. ctx ends when the client cancels (ATTENTION).
type Backend interface {
	// Server returns the instance's identity and clock, read once per statement.
	Server(ctx context.Context) ServerInfo
	// Databases lists the instance's databases (master and msdb included) in database_id order.
	Databases(ctx context.Context) []DatabaseInfo
	// Table returns the rows of a table or view as the session's login sees them (for example,
	// sys.database_mirroring with NULL mirroring columns for a mirror database unless the login is
	// sysadmin). ref is fully resolved (database, schema, name; as written, so compare case-
	// insensitively). The engine has already checked that ref.Database can be opened. Return an
	// error wrapping ErrNoSuchTable when the object does not exist (the engine sends 208), or
	// SQL errors (*Error / Errors), e.g. 229 for a denied SELECT.
	Table(ctx context.Context, s *SessionInfo, ref TableName) (*Relation, error)
	// Insert appends rows to a user table. columns are the target columns (all of the table's columns
	// when the statement named none), rows hold values already converted to those columns' types.
	// It returns the number of rows inserted, or SQL errors (3906 read-only database, 229 denied…).
	Insert(ctx context.Context, s *SessionInfo, ref TableName, columns []string, rows [][]Value) (int64, error)
	// Execute runs a statement with effects: *RestoreStmt, *BackupStmt, *AlterDatabaseStmt,
	// *ExecStmt (any procedure: msdb.dbo.sp_update_job, sp_start_job, xp_dirtree, …; arguments are
	// evaluated) or *KillStmt. Refusals are SQL errors in the order SQL Server sends them (e.g. 4305
	// then 3013, returned as Errors); informational messages (14243 "Job … started successfully.") go
	// in EffectResult.Messages. An unknown procedure should get ErrProcNotFound.
	Execute(ctx context.Context, s *SessionInfo, stmt Effect) (*EffectResult, error)
}

// SessionTracker is optionally implemented by a Backend to know which sessions exist and which
// database each one uses (for 3101 "exclusive access could not be obtained", SINGLE_USER WITH
// ROLLBACK IMMEDIATE and KILL). kill ends the session's connection; it is safe to call at any time.
type SessionTracker interface {
	SessionOpened(s SessionInfo, kill func())
	SessionChanged(s SessionInfo)
	SessionClosed(spid int)
}

// ErrNoSuchTable is returned (wrapped) by Backend.Table and Backend.Insert for an unknown object.
var ErrNoSuchTable = errors.New("no such table")

// ServerInfo is an instance's identity and clock.
type ServerInfo struct {
	// Name is @@SERVERNAME, e.g. "SQLA1".
	Name string
	// Version is @@VERSION.
	Version string
	// Properties are SERVERPROPERTY values by property name (case-insensitive), e.g. "ProductVersion",
	// "Edition", "MachineName", "InstanceName", "ServerName", "IsClustered", "EngineEdition".
	Properties map[string]Value
	// Now is the instance's current time in its own time zone: GETDATE() is its wall clock,
	// GETUTCDATE() its UTC instant, SYSDATETIMEOFFSET() both. Skewed clocks are simply a different Now.
	Now time.Time
}

// DatabaseState is sys.databases.state (sql-docs sys-databases-transact-sql.md).
type DatabaseState uint8

// Database states.
const (
	StateOnline          DatabaseState = 0
	StateRestoring       DatabaseState = 1
	StateRecovering      DatabaseState = 2
	StateRecoveryPending DatabaseState = 3
	StateSuspect         DatabaseState = 4
	StateEmergency       DatabaseState = 5
	StateOffline         DatabaseState = 6
)

// String is sys.databases.state_desc.
func (s DatabaseState) String() string {
	switch s {
	case StateOnline:
		return "ONLINE"
	case StateRestoring:
		return "RESTORING"
	case StateRecovering:
		return "RECOVERING"
	case StateRecoveryPending:
		return "RECOVERY_PENDING"
	case StateSuspect:
		return "SUSPECT"
	case StateEmergency:
		return "EMERGENCY"
	case StateOffline:
		return "OFFLINE"
	}
	return "UNKNOWN"
}

// DatabaseInfo is what the engine needs to know about a database for name resolution and access.
type DatabaseInfo struct {
	ID    int
	Name  string
	State DatabaseState
	// Mirror is true while the database is the MIRROR in a mirroring session (USE gives 954).
	Mirror bool
	// Standby is true for a database restored WITH STANDBY (ONLINE, read-only).
	Standby bool
	// ReadOnly is sys.databases.is_read_only.
	ReadOnly bool
	// UserAccess is 0 MULTI_USER, 1 SINGLE_USER, 2 RESTRICTED_USER.
	UserAccess uint8
	// RecoveryModel is 1 FULL, 2 BULK_LOGGED, 3 SIMPLE.
	RecoveryModel uint8
}

// SessionInfo describes the session a Backend call comes from. The backend must not modify it.
type SessionInfo struct {
	SPID int
	// Login is the login name as authenticated.
	Login string
	// Sysadmin is true for members of the sysadmin server role (sa).
	Sysadmin bool
	// Database is the session's current database.
	Database string
	// AppName and HostName are what the client sent at login.
	AppName  string
	HostName string
	// RemoteAddr is the client's address, "ip:port".
	RemoteAddr string
}

// TableName is a resolved object name.
type TableName struct {
	Database string
	Schema   string
	Name     string
}

// String renders db.schema.name.
func (t TableName) String() string { return t.Database + "." + t.Schema + "." + t.Name }

// Is reports whether t names schema.name (case-insensitive), in any database.
func (t TableName) Is(schema, name string) bool {
	return strings.EqualFold(t.Schema, schema) && strings.EqualFold(t.Name, name)
}

// Column is a result or table column.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
}

// Relation is a table's columns and rows. Rows must have one Value per column, of the column's type
// (or NULL).
type Relation struct {
	Columns []Column
	Rows    [][]Value
}

// EffectResult is what an effect produced besides errors.
type EffectResult struct {
	// Messages are informational messages (class ≤ 10), sent as INFO tokens before any result set.
	Messages []*Error
	// ResultSets are result sets the statement returns (RESTORE HEADERONLY, xp_dirtree, sp_help_…).
	ResultSets []*ResultSet
	// ReturnStatus is a procedure's return code (EXEC); nil for statements.
	ReturnStatus *int32
	// RowsAffected is reported in the DONE token when ≥ 0.
	RowsAffected int64
}

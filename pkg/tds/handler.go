// Package tds implements the server side of the TDS 7.4 protocol (the SQL Server wire protocol) over
// TCP, for the lab simulator. It knows nothing about SQL: it accepts connections, runs PRELOGIN and
// LOGIN7, hands SQL batches and RPC calls to a Handler's Session, and encodes the Session's results
// (column metadata, rows, messages, done tokens) as TDS tokens that real clients (go-mssqldb, FreeTDS,
// pymssql) understand.
//
// Decisions, following /work/shared/TDS.md:
//   - Encryption is not supported: every PRELOGIN is answered with ENCRYPT_NOT_SUP. Clients that demand
//     encryption (go-mssqldb encrypt=true/strict) cannot connect; a TLS ClientHello is detected and logged.
//   - Clients older than TDS 7.3 are refused with error 18456, because datetime2 and PLP values cannot be
//     sent to them.
//   - Every string column is sent as NVARCHAR with collation SQL_Latin1_General_CP1_CI_AS; char(n) is
//     sent as nvarchar(n) with the value right-padded to n characters, as SQL Server pads char values.
//   - The writer sets DONE_MORE on every done token except the last one of a reply; sessions never
//     deal with it.
//   - Every ATTENTION is acknowledged with exactly one DONE_ATTN: at the end of the reply it
//     interrupted (the request's context is cancelled), or as a reply of its own when it arrives while
//     no request runs (go-mssqldb's QueryRow and pymssql's connect send such idle attentions).
//
// Limitations: no TLS (not even login-only), no MARS, no SSPI/federated authentication (18456), no
// bulk load (the connection is closed). RPCs by well-known id other than sp_executesql (sp_prepare,
// cursors) reach the Session by name like any other procedure.
//
// Robustness: a malformed, truncated or oversized message closes only its own connection, with a log
// line; a panic in the Handler or Session closes only its connection; login must finish within
// Options.LoginTimeout.
package tds

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Handler authenticates logins and creates sessions. It is called from one goroutine per connection,
// so implementations must be safe for concurrent use.
type Handler interface {
	// Login validates a LOGIN7 request. On success it returns the session that will execute the
	// connection's requests. To refuse the login it returns an error built from *Error values (one
	// *Error, or several joined with Errors or errors.Join, e.g. 4060 then 18456); they are sent as
	// ERROR tokens in that order and the connection is closed. Any other error is logged and sent to
	// the client as 18456.
	Login(ctx context.Context, req LoginRequest) (Session, error)
}

// LoginRequest is what a client sent in LOGIN7, plus connection facts.
type LoginRequest struct {
	// UserName is the SQL login name.
	UserName string
	// Password is the de-obfuscated password.
	Password string
	// Database is the requested initial database; empty means the login's default database.
	Database string
	// AppName is the client's application name (go-mssqldb "app name", tsql "TSQL").
	AppName string
	// HostName is the client's workstation name.
	HostName string
	// ServerName is the server name as the client typed it.
	ServerName string
	// ClientLibrary is the client interface library name ("go-mssqldb", "TDS-Library", "DB-Library").
	ClientLibrary string
	// Language is the requested language; often empty.
	Language string
	// TDSVersion is the version the client asked for, e.g. 0x74000004 for TDS 7.4.
	TDSVersion uint32
	// PacketSize is the negotiated packet size in bytes (the request clamped to 512..32767).
	PacketSize int
	// ReadOnlyIntent is true when the client declared ApplicationIntent=ReadOnly.
	ReadOnlyIntent bool
	// RemoteAddr is the client's address (the lab partitions by source address).
	RemoteAddr net.Addr
	// LocalAddr is the listener address the client connected to.
	LocalAddr net.Addr
	// SPID is the session id the server assigned to this connection.
	SPID uint16
}

// Session executes the requests of one logged-in connection. Its methods are called from a single
// goroutine, one at a time, so a Session needs no locking of its own state.
//
// Batch and RPC return nil when the request completed, even if it reported SQL errors through the
// writer. They may also return an error built from *Error values: it is written as ERROR tokens and
// ends the request (a convenient way to fail a statement). A context error after an ATTENTION ends the
// reply with DONE_ATTN. Any other error is treated as an internal failure: it is logged, reported to the
// client as a severity-20 error, and the connection is closed.
type Session interface {
	// Database returns the current database name. It is read after Login (for the login reply) and
	// after Reset; a change after a reset is announced to the client with ENVCHANGE. A USE statement
	// must announce itself with ResultWriter.ChangeDatabase.
	Database() string
	// Batch executes a SQLBatch request holding the given T-SQL text. ctx is cancelled when the client
	// sends an ATTENTION or the connection ends.
	Batch(ctx context.Context, w *ResultWriter, sql string) error
	// RPC executes a remote procedure call (sp_executesql or a procedure by name).
	RPC(ctx context.Context, w *ResultWriter, call *RPCCall) error
	// Reset is called before a request whose header carries RESETCONNECTION (every request on a
	// connection newly taken from a database/sql pool): the session must return to its state right
	// after login (database, SET options) and roll back any open transaction. The server forgets its
	// transaction descriptor first (unless the client asked to keep the transaction), and announces a
	// database change with ENVCHANGE if Database() differs afterwards. An error built from *Error values
	// fails the request.
	Reset(ctx context.Context) error
	// Close is called once when the connection ends.
	Close() error
}

// Transactor is optionally implemented by a Session to observe transaction manager requests
// (go-mssqldb db.BeginTx). The server tracks the transaction descriptor itself; returning an error
// built from *Error values refuses the request.
type Transactor interface {
	// BeginTransaction is called for a TransMgrReq BEGIN.
	BeginTransaction(ctx context.Context) error
	// EndTransaction is called for a TransMgrReq COMMIT (commit true) or ROLLBACK (commit false).
	EndTransaction(ctx context.Context, commit bool) error
}

// Well-known procedure ids of RPC requests sent with NameLenProcID = 0xFFFF (MS-TDS 2.2.6.6).
const (
	ProcIDCursor         uint16 = 1
	ProcIDCursorOpen     uint16 = 2
	ProcIDCursorPrepare  uint16 = 3
	ProcIDCursorExecute  uint16 = 4
	ProcIDCursorPrepExec uint16 = 5
	ProcIDCursorUnprep   uint16 = 6
	ProcIDCursorFetch    uint16 = 7
	ProcIDCursorOption   uint16 = 8
	ProcIDCursorClose    uint16 = 9
	ProcIDExecuteSQL     uint16 = 10
	ProcIDPrepare        uint16 = 11
	ProcIDExecute        uint16 = 12
	ProcIDPrepExec       uint16 = 13
	ProcIDPrepExecRPC    uint16 = 14
	ProcIDUnprepare      uint16 = 15
)

// RPCCall is a decoded RPC request.
type RPCCall struct {
	// ProcName is the procedure name as sent ("msdb.dbo.sp_update_job"), or for a call by ProcID the
	// well-known name ("sp_executesql").
	ProcName string
	// ProcID is the well-known procedure id, or 0 when the call was by name.
	ProcID uint16
	// OptionFlags holds fWithRecomp (0x01), fNoMetaData (0x02) and fReuseMetaData (0x04).
	OptionFlags uint16
	// Params are the parameters in the order sent. Unnamed (positional) parameters have Name "".
	Params []Param
}

// Param is one decoded RPC parameter.
type Param struct {
	// Name includes the leading '@' ("@p1"); "" for a positional parameter.
	Name string
	// Output is true for an OUTPUT (by-reference) parameter.
	Output bool
	// Default is true when the client asked for the parameter's default value.
	Default bool
	// Type is the wire type the client declared.
	Type Type
	// Value is the decoded value: nil (NULL), int64, bool, float64, string, []byte, time.Time, UUID
	// or Decimal.
	Value any
}

// ExecuteSQL splits an sp_executesql call into its statement, its parameter declaration string
// ("@p1 bigint,@name nvarchar(7)") and its value parameters. ok is false when the call is not
// sp_executesql or its first parameter is not a string.
func (c *RPCCall) ExecuteSQL() (stmt, decl string, params []Param, ok bool) {
	if c.ProcID != ProcIDExecuteSQL && !equalFoldASCII(c.ProcName, "sp_executesql") {
		return "", "", nil, false
	}
	if len(c.Params) == 0 {
		return "", "", nil, false
	}
	stmt, ok = c.Params[0].Value.(string)
	if !ok {
		return "", "", nil, false
	}
	rest := c.Params[1:]
	if len(rest) > 0 && rest[0].Name == "" || len(rest) > 0 && equalFoldASCII(rest[0].Name, "@params") {
		if d, isStr := rest[0].Value.(string); isStr {
			decl = d
			rest = rest[1:]
		} else if rest[0].Value == nil {
			rest = rest[1:]
		}
	}
	return stmt, decl, rest, true
}

// Error is a SQL Server message: an ERROR token (class >= 11) or an INFO token (class <= 10).
type Error struct {
	// Number is the SQL Server message number, e.g. 18456.
	Number int32
	// State is the message state.
	State uint8
	// Class is the severity: 0-10 informational, 11-16 user errors, 17+ resource/fatal errors.
	Class uint8
	// Message is the message text.
	Message string
	// ServerName is @@SERVERNAME; empty means the server's configured name.
	ServerName string
	// ProcName is the procedure that raised the message, if any.
	ProcName string
	// LineNo is the line number within the batch or procedure.
	LineNo int32
}

// Error returns "mssql: <message> (<number>)", like the go-mssqldb client.
func (e *Error) Error() string {
	return fmt.Sprintf("mssql: %s (%d)", e.Message, e.Number)
}

// Errors joins several messages into one error for Login, Batch or RPC to return; they are sent in
// order.
func Errors(errs ...*Error) error {
	list := make([]error, 0, len(errs))
	for _, e := range errs {
		if e != nil {
			list = append(list, e)
		}
	}
	return errors.Join(list...)
}

// collectErrors extracts every *Error from err's tree, in order. ok is false when err contains
// anything that is not an *Error (a join of only *Error values is fine).
func collectErrors(err error) (list []*Error, ok bool) {
	ok = true
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		//nolint:errorlint // the tree of a join is walked level by level on purpose, to keep the order
		if j, isJoin := e.(interface{ Unwrap() []error }); isJoin {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var te *Error
		if errors.As(e, &te) {
			list = append(list, te)
			return
		}
		ok = false
	}
	walk(err)
	return list, ok && len(list) > 0
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

package sqlerr

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	mssql "github.com/microsoft/go-mssqldb"
)

// Entry is one documented SQL Server error number.
type Entry struct {
	// Number is the SQL Server error number.
	Number int32
	// Severity is the documented severity (the TDS "class").
	Severity uint8
	// Class is how sqldr treats the error.
	Class Class
	// Trailer marks generic trailers (3013, 5069) that follow the specific error of a failed
	// statement; they decide the class only when no specific error came with them.
	Trailer bool
	// Text is the documented message text (printf form) or its gist, with the source section.
	Text string
}

// table is keyed by error number. Texts from SQLSERVER.md §1.7, §4.3, §8 (Q1, Q8, Q14, Q15) and TDS.md
// §3.2, §6.3, which cite the sql-docs error tables.
var table = map[int32]Entry{
	// Alive but unavailable: the server answered, a database or the login cannot be used.
	18456: {Severity: 14, Class: ClassUnavailable, Text: "Login failed for user '%.*ls'.%.*ls%.*ls (TDS.md §6.3, SQLSERVER.md §8 Q15)"},
	4060:  {Severity: 11, Class: ClassUnavailable, Text: `Cannot open database "%.*ls" requested by the login. The login failed. (TDS.md §6.3, SQLSERVER.md §8 Q1)`},
	4062:  {Severity: 11, Class: ClassUnavailable, Text: "The user's default database cannot be opened; using master instead (SQLSERVER.md §4.3)"},
	4064:  {Severity: 11, Class: ClassUnavailable, Text: "Cannot open user default database. Login failed. (SQLSERVER.md §4.3, §8 Q15)"},
	927:   {Severity: 14, Class: ClassUnavailable, Text: "Database '%.*ls' cannot be opened. It is in the middle of a restore. (TDS.md §6.3)"},
	942:   {Severity: 14, Class: ClassUnavailable, Text: "Database '%.*ls' cannot be opened because it is offline. (SQLSERVER.md §4.3)"},
	954:   {Severity: 14, Class: ClassUnavailable, Text: `The database "%.*ls" cannot be opened. It is acting as a mirror database. (TDS.md §6.3)`},
	955:   {Severity: 14, Class: ClassUnavailable, Text: "Database %.*ls is enabled for Database Mirroring, but the database lacks quorum: the database cannot be opened. Check the partner and witness connections if configured. (SQLSERVER.md §8 Q13)"},
	921:   {Severity: 14, Class: ClassUnavailable, Text: "Database '%.*ls' has not been recovered yet. (SQLSERVER.md §4.3)"},
	922:   {Severity: 14, Class: ClassUnavailable, Text: "Database '%.*ls' is being recovered. (SQLSERVER.md §4.3)"},
	926:   {Severity: 14, Class: ClassUnavailable, Text: "Database '%.*ls' cannot be opened. It has been marked SUSPECT by recovery. (SQLSERVER.md §4.3)"},

	// Transient: documented as "retry", "try later" or a state that passes.
	956:   {Severity: 14, Class: ClassTransient, Text: "The mirrored database has not yet synchronized with its partner; retry later (SQLSERVER.md §1.7)"},
	952:   {Severity: 16, Class: ClassTransient, Text: "Database '%.*ls' is in transition. Try the statement later. (SQLSERVER.md §4.3)"},
	1404:  {Severity: 16, Class: ClassTransient, Text: "The command failed because the database mirror is busy. Reissue the command later. (SQLSERVER.md §1.7)"},
	1422:  {Severity: 16, Class: ClassTransient, Text: "The mirror server instance is not caught up to the recent changes to the database. Unable to fail over. (SQLSERVER.md §1.7)"},
	3101:  {Severity: 16, Class: ClassTransient, Text: "Exclusive access could not be obtained because the database is in use. (TDS.md §6.3)"},
	22022: {Severity: 16, Class: ClassTransient, Text: "SQLServerAgent Error: Request to run job %s refused because the job is already running / not currently running (SQLSERVER.md §8 Q8)"},

	// Restore chain: the log backup does not fit the database's restore point.
	4305: {Severity: 16, Class: ClassRestoreChain, Text: "The log in this backup set begins at LSN %.*ls, which is too recent to apply to the database. An earlier log backup that includes LSN %.*ls can be restored. (TDS.md §6.3)"},
	4326: {Severity: 16, Class: ClassRestoreChain, Text: "The log in this backup set terminates at LSN %.*ls, which is too early to apply to the database. A more recent log backup that includes LSN %.*ls can be restored. (TDS.md §6.3)"},
	4330: {Severity: 16, Class: ClassRestoreChain, Text: "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. (SQLSERVER.md §4.3)"},
	3117: {Severity: 16, Class: ClassRestoreChain, Text: "The log or differential backup cannot be restored because no files are ready to rollforward. (SQLSERVER.md §4.3)"},
	4312: {Severity: 16, Class: ClassRestoreChain, Text: "This log cannot be restored because a gap in the log chain was created. Use more recent data backups to bridge the gap. (SQLSERVER.md §4.3)"},
	4318: {Severity: 16, Class: ClassRestoreChain, Text: "File has been rolled forward to LSN %.*ls. This log terminates at LSN %.*ls, which is too early to apply the WITH RECOVERY option. Reissue the RESTORE LOG statement WITH NORECOVERY. (SQLSERVER.md §4.3)"},
	4319: {Severity: 16, Class: ClassRestoreChain, Text: "A previous restore operation was interrupted; restore that backup set again or restart the restore sequence (SQLSERVER.md §4.3)"},
	4303: {Severity: 16, Class: ClassRestoreChain, Text: "The roll forward start point is now at log sequence number (LSN) %.*ls. Additional roll forward past LSN %.*ls is required to complete the restore sequence. (SQLSERVER.md §4.3)"},
	4349: {Severity: 16, Class: ClassRestoreChain, Text: "The log in this backup set begins at LSN %.*ls, which is too recent to apply to the database for log initialisation (SQLSERVER.md §4.3)"},
	4332: {Severity: 16, Class: ClassRestoreChain, Text: "RESTORE LOG has been halted. To use the database in its current state, run RESTORE DATABASE %.*ls WITH RECOVERY. (SQLSERVER.md §4.3)"},
	4333: {Severity: 16, Class: ClassRestoreChain, Text: "The database cannot be recovered because the log was not restored. (SQLSERVER.md §4.3)"},
	3153: {Severity: 16, Class: ClassRestoreChain, Text: "The database is already fully recovered. (SQLSERVER.md §4.3)"},

	// Permission: the login lacks a right (SQLSERVER.md §8 Q14).
	229:   {Severity: 14, Class: ClassPermission, Text: "The %ls permission was denied on the object '%.*ls', database '%.*ls', schema '%.*ls'. (SQLSERVER.md §8 Q14)"},
	262:   {Severity: 14, Class: ClassPermission, Text: "CREATE DATABASE permission denied in database 'master'. (SQLSERVER.md §8 Q14)"},
	3110:  {Severity: 14, Class: ClassPermission, Text: "User does not have permission to RESTORE database '%.*ls'. (SQLSERVER.md §8 Q14)"},
	5011:  {Severity: 14, Class: ClassPermission, Text: "User does not have permission to alter database '%.*ls', the database does not exist, or the database is not in a state that allows access checks. (SQLSERVER.md §8 Q14)"},
	14525: {Severity: 16, Class: ClassPermission, Text: "Only members of sysadmin role are allowed to update or delete jobs owned by a different login. (SQLSERVER.md §8 Q14)"},
	14393: {Severity: 16, Class: ClassPermission, Text: "Only owner of a job or members of role sysadmin or SQLAgentOperatorRole can start and stop the job. (SQLSERVER.md §8 Q14)"},

	// Permanent: retrying the same statement will not help.
	102:   {Severity: 15, Class: ClassPermanent, Text: "Incorrect syntax near '%.*ls'. (TDS.md §6.3)"},
	207:   {Severity: 16, Class: ClassPermanent, Text: "Invalid column name '%.*ls'. (DESIGN.md, the lab)"},
	208:   {Severity: 16, Class: ClassPermanent, Text: "Invalid object name '%.*ls'. (TDS.md §6.3)"},
	2812:  {Severity: 16, Class: ClassPermanent, Text: "Could not find stored procedure '%.*ls'. (TDS.md §6.3)"},
	911:   {Severity: 16, Class: ClassPermanent, Text: "Database '%.*ls' does not exist. Make sure that the name is entered correctly. (TDS.md §6.3)"},
	226:   {Severity: 16, Class: ClassPermanent, Text: "%ls statement not allowed within multi-statement transaction. (TDS.md §6.3)"},
	3021:  {Severity: 16, Class: ClassPermanent, Text: "Cannot perform a backup or restore operation within a transaction. (TDS.md §6.3)"},
	1406:  {Severity: 16, Class: ClassPermanent, Text: "Unable to force service safely. Remove database mirroring and recover the database to gain access. (SQLSERVER.md §1.7)"},
	1412:  {Severity: 16, Class: ClassPermanent, Text: `The remote copy of database "%.*ls" has not been rolled forward to a point in time that is encompassed in the local copy of the database log. (TDS.md §6.3)`},
	1416:  {Severity: 16, Class: ClassPermanent, Text: `Database "%.*ls" is not configured for database mirroring. (TDS.md §6.3)`},
	1418:  {Severity: 16, Class: ClassPermanent, Text: `The server network address "%.*ls" can not be reached or does not exist. Check the network address name and that the ports for the local and remote endpoints are operational. (TDS.md §6.3)`},
	1431:  {Severity: 16, Class: ClassPermanent, Text: "Neither the partner nor the witness server instance for database is available. (SQLSERVER.md §1.7)"},
	1447:  {Severity: 16, Class: ClassPermanent, Text: "The command requires that both partners be connected (SQLSERVER.md §1.7)"},
	1455:  {Severity: 16, Class: ClassPermanent, Text: "The database mirroring service cannot be forced for database because the database is not in the correct state to become the principal database. (SQLSERVER.md §1.7)"},
	1468:  {Severity: 16, Class: ClassPermanent, Text: "The operation cannot be performed on database because it is involved in a database mirroring session or an availability group. (SQLSERVER.md §1.7)"},
	1470:  {Severity: 16, Class: ClassPermanent, Text: "The alter database for this partner config values may only be initiated on the current principal server. (SQLSERVER.md §1.7)"},
	1477:  {Severity: 16, Class: ClassPermanent, Text: "The database mirroring safety level must be FULL to manually failover database. (SQLSERVER.md §1.7)"},
	3104:  {Severity: 16, Class: ClassPermanent, Text: "RESTORE cannot operate on database because it is configured for database mirroring or has joined an availability group. (SQLSERVER.md §1.7)"},
	3059:  {Severity: 16, Class: ClassPermanent, Text: "This BACKUP or RESTORE command is not supported on a database mirror or secondary replica. (SQLSERVER.md §1.7)"},
	3159:  {Severity: 16, Class: ClassPermanent, Text: "The tail of the log for the database has not been backed up. (SQLSERVER.md §4.3)"},
	4208:  {Severity: 16, Class: ClassPermanent, Text: "The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. (SQLSERVER.md §4.3)"},
	4214:  {Severity: 16, Class: ClassPermanent, Text: "BACKUP LOG cannot be performed because there is no current database backup. (SQLSERVER.md §4.3)"},
	14262: {Severity: 16, Class: ClassPermanent, Text: "The specified %s ('%s') does not exist. (TDS.md §6.3)"},

	// Generic trailers.
	3013: {Severity: 16, Class: ClassPermanent, Trailer: true, Text: "%hs is terminating abnormally. (TDS.md §6.3, SQLSERVER.md §8)"},
	5069: {Severity: 16, Class: ClassPermanent, Trailer: true, Text: "ALTER DATABASE statement failed. (SQLSERVER.md §8)"},
}

func init() {
	for n, e := range table {
		e.Number = n
		table[n] = e
	}
}

// Lookup returns the table entry for a SQL Server error number.
func Lookup(number int32) (Entry, bool) {
	e, ok := table[number]
	return e, ok
}

// Numbers returns every error number in the table (for tests and documentation), in no order.
func Numbers() []int32 {
	out := make([]int32, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	return out
}

// Classify returns the class of err. It scans every SQL Server error of the batch (mssql.Error.All):
// the first known, non-trailer error decides; a trailer (3013, 5069) decides only alone; an unknown
// number gives ClassUnknown. Network and context errors are ClassConnectivity, a canceled context
// ClassCanceled, and nil ClassNone.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if e, ok := significant(err); ok {
		if entry, known := table[e.Number]; known {
			return entry.Class
		}
		if e.Class >= 20 {
			// Severity 20 and above is fatal to the connection.
			return ClassConnectivity
		}
		return ClassUnknown
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ETIMEDOUT):
		return ClassConnectivity
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return ClassConnectivity
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return ClassConnectivity
	}
	var streamErr mssql.StreamError
	if errors.As(err, &streamErr) {
		// A protocol violation breaks the connection; nothing is known about the database.
		return ClassConnectivity
	}
	return ClassUnknown
}

// Number returns the most significant SQL Server error number in err (the one Classify used): the
// first known non-trailer error of the batch, else the first error. ok is false when err carries no
// SQL Server error.
func Number(err error) (int32, bool) {
	e, ok := significant(err)
	if !ok {
		return 0, false
	}
	return e.Number, true
}

// ServerAnswered reports whether err carries at least one SQL Server error, i.e. a server process
// answered (even if it refused the login). An unknown error number still proves the server is alive.
func ServerAnswered(err error) bool {
	var e mssql.Error
	return errors.As(err, &e)
}

// significant finds the error that decides the class.
func significant(err error) (mssql.Error, bool) {
	var e mssql.Error
	if !errors.As(err, &e) {
		return mssql.Error{}, false
	}
	all := e.All
	if len(all) == 0 {
		all = []mssql.Error{e}
	}
	var trailer *mssql.Error
	for i := range all {
		entry, known := table[all[i].Number]
		if known && !entry.Trailer {
			return all[i], true
		}
		if known && trailer == nil {
			trailer = &all[i]
		}
	}
	// No known specific error: prefer an unknown specific error over a trailer.
	for i := range all {
		if entry, known := table[all[i].Number]; !known || !entry.Trailer {
			return all[i], true
		}
	}
	return *trailer, true
}

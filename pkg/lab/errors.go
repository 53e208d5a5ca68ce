package lab

import (
	"fmt"
	"strings"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// SQLError is one SQL Server error or informational message as the lab sends it:
// number, severity (TDS "class"), state and the formatted text.
type SQLError struct {
	Number  int32
	Class   uint8
	State   uint8
	Message string
}

// Error renders the message like SQL Server Management Studio does.
func (e SQLError) Error() string {
	return fmt.Sprintf("Msg %d, Level %d, State %d: %s", e.Number, e.Class, e.State, e.Message)
}

// Errors is the ordered list of errors a statement raised (for example 4305 then
// the 3013 trailer). It implements error; the last entry is what a driver that
// keeps only the last error reports.
type Errors []SQLError

// Error joins every message.
func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, x := range e {
		parts[i] = x.Error()
	}
	return strings.Join(parts, "; ")
}

// Numbers lists the error numbers in order; handy in tests.
func (e Errors) Numbers() []int32 {
	out := make([]int32, len(e))
	for i, x := range e {
		out[i] = x.Number
	}
	return out
}

// Has reports whether number appears anywhere in the list.
func (e Errors) Has(number int32) bool {
	for _, x := range e {
		if x.Number == number {
			return true
		}
	}
	return false
}

func sqlErr(number int32, class, state uint8, format string, args ...any) SQLError {
	return fromEngine(engine.NewError(number, class, state, format, args...))
}

// fromEngine converts one of the engine's messages. The lab builds every message
// that the engine also defines (its own and the effect messages in effects.go)
// through the engine's constructor, so numbers, states and texts match across
// backends; only the lab's own (3201, 3036, 1416, …) are written here.
func fromEngine(e *engine.Error) SQLError {
	return SQLError{Number: e.Number, Class: e.Class, State: e.State, Message: e.Message}
}

// toEngine converts the message back for the engine (and the wire).
func (e SQLError) toEngine() *engine.Error {
	return &engine.Error{Number: e.Number, Class: e.Class, State: e.State, Message: e.Message}
}

// Trailers (SQLSERVER.md §8 "General conventions").
func terminating(kind string) SQLError { return fromEngine(engine.ErrTerminating(kind)) }

func alterFailed() SQLError { return fromEngine(engine.ErrAlterFailed()) }

// Statement kinds used in the 3013 trailer.
const (
	kindRestoreLog        = "RESTORE LOG"
	kindRestoreDatabase   = "RESTORE DATABASE"
	kindBackupLog         = "BACKUP LOG"
	kindRestoreHeaderOnly = "RESTORE HEADERONLY"
)

func errDBNotExist(name string) SQLError { return fromEngine(engine.ErrDatabaseNotExist(name)) }

// Database availability (SQLSERVER.md §8 Q2, §1.7, Q13).
func errRestoring(db string) SQLError { return fromEngine(engine.ErrDatabaseRestoring(db)) }

func errOffline(db string) SQLError { return fromEngine(engine.ErrDatabaseOffline(db)) }

func errActingAsMirror(db string) SQLError { return fromEngine(engine.ErrDatabaseMirror(db)) }

func errNoQuorum(db string) SQLError { return fromEngine(engine.ErrNoQuorum(db)) }

func errReadOnly(db string) SQLError { return fromEngine(engine.ErrReadOnlyDatabase(db)) }

// Mirroring (SQLSERVER.md §1.7, texts from the 1000-1999 error table).
func errNotMirrored(db string) SQLError {
	return sqlErr(1416, 16, 1, "Database \"%s\" is not configured for database mirroring.", db)
}

func errNotCaughtUp(db string) SQLError {
	return sqlErr(1422, 16, 1, "The mirror server instance is not caught up to the recent changes to database \"%s\". Unable to fail over.", db)
}

func errNeedBothPartners(db string) SQLError {
	return sqlErr(1447, 16, 1, "ALTER DATABASE \"%s\" command cannot be executed until both partner server instances are up, running, and connected. Start the partner and reissue the command.", db)
}

func errCannotForce(db string) SQLError {
	return sqlErr(1455, 16, 1, "The database mirroring service cannot be forced for database \"%s\" because the database is not in the correct state to become the principal database.", db)
}

func errInMirroringSession(db string) SQLError { return fromEngine(engine.ErrInMirroringSession(db)) }

func errPrincipalOnly(db string) SQLError {
	return sqlErr(1470, 16, 1, "The alter database for this partner config values may only be initiated on the current principal server for database \"%s\".", db)
}

func errSafetyNotFull(db string) SQLError {
	return sqlErr(1477, 16, 1, "The database mirroring safety level must be FULL to manually failover database \"%s\". Set safety level to FULL and retry.", db)
}

// Backup and restore (SQLSERVER.md §4.3, §8 Q4–Q7).
func errNotRestoringOnMirror() SQLError { return fromEngine(engine.ErrNotOnMirror()) }

func errRestoreOnMirrored(db string) SQLError { return fromEngine(engine.ErrRestoreMirrored(db)) }

func errExclusiveAccess() SQLError { return fromEngine(engine.ErrExclusiveAccess()) }

func errNoFilesReady() SQLError { return fromEngine(engine.ErrNoFilesReady()) }

func errStandbyBackup(db string) SQLError {
	return sqlErr(3036, 16, 1, "The database \"%s\" is in warm-standby state (set by executing RESTORE WITH STANDBY) and cannot be backed up until the entire restore sequence is completed.", db)
}

func errTooRecent(fileFirst, redo LSN) SQLError {
	return fromEngine(engine.ErrLogTooRecent(lsnValue(fileFirst), lsnValue(redo)))
}

func errTooEarly(fileLast, redo LSN) SQLError {
	return fromEngine(engine.ErrLogTooEarly(lsnValue(fileLast), lsnValue(redo)))
}

func errForkMismatch() SQLError {
	return sqlErr(4330, 16, 1, "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore, or restore the rest of the database to match a recovery point within this backup set, which will restore the database to a different point in time.")
}

func errSimpleRecovery() SQLError {
	return sqlErr(4208, 16, 1, "The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE.")
}

func errCannotOpenBackupDevice(path string) SQLError {
	return sqlErr(3201, 16, 2, "Cannot open backup device '%s'. Operating system error 2(The system cannot find the file specified.).", path)
}

func errCannotWriteBackupDevice(path string) SQLError {
	return sqlErr(3201, 16, 1, "Cannot open backup device '%s'. Operating system error 53(The network path was not found.).", path)
}

func errNotPermittedInState(state string) SQLError {
	return fromEngine(engine.ErrNotPermittedInState("ALTER DATABASE", state))
}

// Permissions (SQLSERVER.md §8 Q14).
func errRestorePermission(db string) SQLError { return fromEngine(engine.ErrRestorePermission(db)) }

func errCreateDatabasePermission() SQLError {
	return fromEngine(engine.ErrCreateDatabasePermission())
}

func errAlterPermission(db string) SQLError { return fromEngine(engine.ErrAlterPermission(db)) }

func errBackupPermission(db string) SQLError {
	return fromEngine(engine.ErrBackupPermission(kindBackupLog, db))
}

func errExecutePermission(object, database string) SQLError {
	return fromEngine(engine.ErrPermissionDenied("EXECUTE", object, database, "dbo"))
}

// Agent jobs (SQLSERVER.md §8 Q8–Q9).
func errJobNotFound(param, value string) SQLError {
	return fromEngine(engine.ErrJobNotFound(param, value))
}

func errJobAlreadyRunning(job, login string) SQLError {
	return fromEngine(engine.ErrJobAlreadyRunning(job, login, "User "+login))
}

func errJobNotRunning(job, login string) SQLError {
	return fromEngine(engine.ErrJobNotRunning(job, login))
}

func infoJobStarted(job string) SQLError { return fromEngine(engine.InfoJobStarted(job)) }

func infoJobStopped(job string) SQLError { return fromEngine(engine.InfoJobStopped(job)) }

func errLogShippingSecondaryNotFound(db string) SQLError {
	return sqlErr(32012, 16, 1, "Secondary database %s does not exist for log shipping.", db)
}

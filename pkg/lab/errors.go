package lab

import (
	"fmt"
	"strings"
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
	return SQLError{Number: number, Class: class, State: state, Message: fmt.Sprintf(format, args...)}
}

// Trailers (SQLSERVER.md §8 "General conventions").
func terminating(kind string) SQLError {
	return sqlErr(3013, 16, 1, "%s is terminating abnormally.", kind)
}

func alterFailed() SQLError { return sqlErr(5069, 16, 1, "ALTER DATABASE statement failed.") }

// Statement kinds used in the 3013 trailer.
const (
	kindRestoreLog        = "RESTORE LOG"
	kindRestoreDatabase   = "RESTORE DATABASE"
	kindBackupLog         = "BACKUP LOG"
	kindRestoreHeaderOnly = "RESTORE HEADERONLY"
)

func errDBNotExist(name string) SQLError {
	return sqlErr(911, 16, 1, "Database '%s' does not exist. Make sure that the name is entered correctly.", name)
}

// Database availability (SQLSERVER.md §8 Q2, §1.7, Q13).
func errRestoring(db string) SQLError {
	return sqlErr(927, 14, 2, "Database '%s' cannot be opened. It is in the middle of a restore.", db)
}

func errOffline(db string) SQLError {
	return sqlErr(942, 14, 4, "Database '%s' cannot be opened because it is offline.", db)
}

func errActingAsMirror(db string) SQLError {
	return sqlErr(954, 14, 1, "The database \"%s\" cannot be opened. It is acting as a mirror database.", db)
}

func errNoQuorum(db string) SQLError {
	return sqlErr(955, 14, 1, "Database %s is enabled for Database Mirroring, but the database lacks quorum: the database cannot be opened. Check the partner and witness connections if configured.", db)
}

func errReadOnly(db string) SQLError {
	return sqlErr(3906, 16, 1, "Failed to update database \"%s\" because the database is read-only.", db)
}

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

func errInMirroringSession(db string) SQLError {
	return sqlErr(1468, 16, 1, "The operation cannot be performed on database \"%s\" because it is involved in a database mirroring session or an availability group. Some operations are not allowed on a database that is participating in a database mirroring session or in an availability group.", db)
}

func errPrincipalOnly(db string) SQLError {
	return sqlErr(1470, 16, 1, "The alter database for this partner config values may only be initiated on the current principal server for database \"%s\".", db)
}

func errSafetyNotFull(db string) SQLError {
	return sqlErr(1477, 16, 1, "The database mirroring safety level must be FULL to manually failover database \"%s\". Set safety level to FULL and retry.", db)
}

// Backup and restore (SQLSERVER.md §4.3, §8 Q4–Q7).
func errNotRestoringOnMirror() SQLError {
	return sqlErr(3059, 16, 1, "This BACKUP or RESTORE command is not supported on a database mirror or secondary replica.")
}

func errRestoreOnMirrored(db string) SQLError {
	return sqlErr(3104, 16, 1, "RESTORE cannot operate on database '%s' because it is configured for database mirroring or has joined an availability group. If you intend to restore the database, use ALTER DATABASE to remove mirroring or to remove the database from its availability group.", db)
}

func errExclusiveAccess() SQLError {
	return sqlErr(3101, 16, 1, "Exclusive access could not be obtained because the database is in use.")
}

func errNoFilesReady() SQLError {
	return sqlErr(3117, 16, 1, "The log or differential backup cannot be restored because no files are ready to rollforward.")
}

func errStandbyBackup(db string) SQLError {
	return sqlErr(3036, 16, 1, "The database \"%s\" is in warm-standby state (set by executing RESTORE WITH STANDBY) and cannot be backed up until the entire restore sequence is completed.", db)
}

func errTooRecent(fileFirst, redo LSN) SQLError {
	return sqlErr(4305, 16, 1, "The log in this backup set begins at LSN %s, which is too recent to apply to the database. An earlier log backup that includes LSN %s can be restored.", fileFirst, redo)
}

func errTooEarly(fileLast, redo LSN) SQLError {
	return sqlErr(4326, 16, 1, "The log in this backup set terminates at LSN %s, which is too early to apply to the database. A more recent log backup that includes LSN %s can be restored.", fileLast, redo)
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
	return sqlErr(5052, 16, 1, "ALTER DATABASE is not permitted while a database is in the %s state.", state)
}

// Permissions (SQLSERVER.md §8 Q14).
func errRestorePermission(db string) SQLError {
	return sqlErr(3110, 14, 1, "User does not have permission to RESTORE database '%s'.", db)
}

func errCreateDatabasePermission() SQLError {
	return sqlErr(262, 14, 1, "CREATE DATABASE permission denied in database 'master'.")
}

func errAlterPermission(db string) SQLError {
	return sqlErr(5011, 14, 9, "User does not have permission to alter database '%s', the database does not exist, or the database is not in a state that allows access checks.", db)
}

func errBackupPermission(db string) SQLError {
	return sqlErr(262, 14, 1, "BACKUP LOG permission denied in database '%s'.", db)
}

func errExecutePermission(object, database string) SQLError {
	return sqlErr(229, 14, 5, "The EXECUTE permission was denied on the object '%s', database '%s', schema 'dbo'.", object, database)
}

// Agent jobs (SQLSERVER.md §8 Q8–Q9).
func errJobNotFound(param, value string) SQLError {
	return sqlErr(14262, 16, 1, "The specified %s ('%s') does not exist.", param, value)
}

func errJobAlreadyRunning(job, login string) SQLError {
	return sqlErr(22022, 16, 1, "SQLServerAgent Error: Request to run job %s (from User %s) refused because the job is already running from a request by User %s.", job, login, login)
}

func errJobNotRunning(job, login string) SQLError {
	return sqlErr(22022, 16, 1, "SQLServerAgent Error: Request to stop job %s (from User %s) refused because the job is not currently running.", job, login)
}

func infoJobStarted(job string) SQLError {
	return sqlErr(14243, 0, 1, "Job '%s' started successfully.", job)
}

func infoJobStopped(job string) SQLError {
	return sqlErr(14254, 0, 1, "Job '%s' stopped successfully.", job)
}

func errLogShippingSecondaryNotFound(db string) SQLError {
	return sqlErr(32012, 16, 1, "Secondary database %s does not exist for log shipping.", db)
}

package engine

import "fmt"

// Messages for the effects a backend implements, with the numbers, severities, states and texts of
// SQLSERVER.md §8 (which cites the sql-docs error tables and observed outputs). The engine never
// raises these itself; they are here so every backend sends them identically.

// ErrTerminating is 3013 (16, 1) "%hs is terminating abnormally.", the trailer of a failed BACKUP or
// RESTORE; kind is e.g. "RESTORE LOG" (RestoreKind.String) or "BACKUP LOG" (§8 conventions).
func ErrTerminating(kind string) *Error {
	return NewError(3013, 16, 1, "%s is terminating abnormally.", kind)
}

// ErrLogTooRecent is 4305 (16, 1): the file starts after the database's redo point (§8 Q6). LSNs are
// printed as plain decimal digits.
func ErrLogTooRecent(firstLSN, redoLSN Value) *Error {
	return NewError(4305, 16, 1, "The log in this backup set begins at LSN %s, which is too recent to apply to the database. An earlier log backup that includes LSN %s can be restored.", firstLSN.Text(), redoLSN.Text())
}

// ErrLogTooEarly is 4326 (16, 1): the file ends at or before the redo point (§8 Q6).
func ErrLogTooEarly(lastLSN, redoLSN Value) *Error {
	return NewError(4326, 16, 1, "The log in this backup set terminates at LSN %s, which is too early to apply to the database. A more recent log backup that includes LSN %s can be restored.", lastLSN.Text(), redoLSN.Text())
}

// ErrRecoveryPathInconsistent is 4330 (16, 1): the backup is on another recovery fork (§4.3).
func ErrRecoveryPathInconsistent() *Error {
	return NewError(4330, 16, 1, "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore, or restore the rest of the database to match a recovery point within this backup set, which will restore the database to a different point in time. For more information about recovery paths, see SQL Server Books Online.")
}

// ErrNoFilesReady is 3117 (16, 1): RESTORE LOG after the database was recovered (§8 Q7).
func ErrNoFilesReady() *Error {
	return NewError(3117, 16, 1, "The log or differential backup cannot be restored because no files are ready to rollforward.")
}

// ErrExclusiveAccess is 3101 (16, 1): other sessions use the database (§8 Q4).
func ErrExclusiveAccess() *Error {
	return NewError(3101, 16, 1, "Exclusive access could not be obtained because the database is in use.")
}

// ErrRestoreMirrored is 3104 (16, 1): RESTORE onto a database in a mirroring session (§8 Q5).
func ErrRestoreMirrored(db string) *Error {
	return NewError(3104, 16, 1, "RESTORE cannot operate on database '%s' because it is configured for database mirroring or has joined an availability group. If you intend to restore the database, use ALTER DATABASE to remove mirroring or to remove the database from its availability group.", db)
}

// ErrNotOnMirror is 3059 (16, 1): BACKUP or RESTORE of the mirror database (§8 Q5).
func ErrNotOnMirror() *Error {
	return NewError(3059, 16, 1, "This BACKUP or RESTORE command is not supported on a database mirror or secondary replica.")
}

// ErrRestorePermission is 3110 (14, 1) for a login that may not restore (§8 Q14).
func ErrRestorePermission(db string) *Error {
	return NewError(3110, 14, 1, "User does not have permission to RESTORE database '%s'.", db)
}

// ErrInMirroringSession is 1468 (16, 1): an operation refused on a database in a mirroring session
// (§8 Q3; the lab's choice for BACKUP LOG … WITH NORECOVERY on a mirrored principal, §8 Q5).
func ErrInMirroringSession(db string) *Error {
	return NewError(1468, 16, 1, "The operation cannot be performed on database \"%s\" because it is involved in a database mirroring session or an availability group. Some operations are not allowed on a database that is participating in a database mirroring session or in an availability group.", db)
}

// ErrAlterFailed is 5069 (16, 1), the trailer of a failed ALTER DATABASE (§8 conventions).
func ErrAlterFailed() *Error { return NewError(5069, 16, 1, "ALTER DATABASE statement failed.") }

// ErrNotPermittedInState is 5052 (16, 1), e.g. "ALTER DATABASE is not permitted while a database is in
// the Restoring state." (§8 Q3).
func ErrNotPermittedInState(what, state string) *Error {
	return NewError(5052, 16, 1, "%s is not permitted while a database is in the %s state.", what, state)
}

// ErrCreateDatabasePermission is 262 (14, 1) "CREATE DATABASE permission denied in database 'master'.",
// what RESTORE HEADERONLY / FILELISTONLY / VERIFYONLY give a login without CREATE DATABASE (§8 Q14;
// every observed output is class 14).
func ErrCreateDatabasePermission() *Error {
	return NewError(262, 14, 1, "CREATE DATABASE permission denied in database 'master'.")
}

// ErrBackupPermission is 262 (14, 1) "<statement> permission denied in database 'db'." for a login
// that may not back up; statement is "BACKUP LOG" or "BACKUP DATABASE" (§8 Q14).
func ErrBackupPermission(statement, db string) *Error {
	return NewError(262, 14, 1, "%s permission denied in database '%s'.", statement, db)
}

// ErrKillPermission is 6102 (14, 1): KILL by a login without ALTER ANY CONNECTION (§8 Q14).
func ErrKillPermission() *Error {
	return NewError(6102, 14, 1, "User does not have permission to use the KILL statement.")
}

// ErrAlterPermission is 5011 (14, 9) (§8 Q14).
func ErrAlterPermission(db string) *Error {
	return NewError(5011, 14, 9, "User does not have permission to alter database '%s', the database does not exist, or the database is not in a state that allows access checks.", db)
}

// ErrReadOnlyDatabase is 3906 (16, 1): a write to a read-only or STANDBY database (§8 Q2).
func ErrReadOnlyDatabase(db string) *Error {
	return NewError(3906, 16, 1, "Failed to update database \"%s\" because the database is read-only.", db)
}

// ErrNoQuorum is 955 (14, 1): a mirrored principal without quorum (§8 Q13).
func ErrNoQuorum(db string) *Error {
	return NewError(955, 14, 1, "Database %s is enabled for Database Mirroring, but the database lacks quorum: the database cannot be opened. Check the partner and witness connections if configured.", db)
}

// ErrPermissionDenied is 229 (14, 5) "The EXECUTE permission was denied on the object …" (§8 Q14).
func ErrPermissionDenied(permission, object, db, schema string) *Error {
	return NewError(229, 14, 5, "The %s permission was denied on the object '%s', database '%s', schema '%s'.", permission, object, db, schema)
}

// ErrJobAlreadyRunning is 22022 (16, 1): sp_start_job of a running job (§8 Q8). requestedBy is
// "User <login>" or "Schedule <id>".
func ErrJobAlreadyRunning(job, login, requestedBy string) *Error {
	return NewError(22022, 16, 1, "SQLServerAgent Error: Request to run job %s (from User %s) refused because the job is already running from a request by %s.", job, login, requestedBy)
}

// ErrJobNotRunning is 22022 (16, 1): sp_stop_job of a job that is not running (§8 Q8).
func ErrJobNotRunning(job, login string) *Error {
	return NewError(22022, 16, 1, "SQLServerAgent Error: Request to stop job %s (from User %s) refused because the job is not currently running.", job, login)
}

// ErrJobNotFound is 14262 (16, 1) "The specified @job_name ('x') does not exist." (§8 Q8); param is
// "@job_name" or "@job_id".
func ErrJobNotFound(param, value string) *Error {
	return NewError(14262, 16, 1, "The specified %s ('%s') does not exist.", param, value)
}

// InfoJobStarted is 14243 (0): "Job 'x' started successfully." (§8 Q8).
func InfoJobStarted(job string) *Error { return Info(14243, "Job '%s' started successfully.", job) }

// InfoJobStopped is 14254 (0): "Job 'x' stopped successfully." (§8 Q8).
func InfoJobStopped(job string) *Error { return Info(14254, "Job '%s' stopped successfully.", job) }

// ErrJobStartStopPermission is 14393 (16, 1) (§8 Q14).
func ErrJobStartStopPermission() *Error {
	return NewError(14393, 16, 1, "Only owner of a job or members of role sysadmin or SQLAgentOperatorRole can start and stop the job.")
}

// ErrJobUpdatePermission is 14525 (16, 1) (§8 Q14).
func ErrJobUpdatePermission() *Error {
	return NewError(14525, 16, 1, "Only members of sysadmin role are allowed to update or delete jobs owned by a different login.")
}

// HeaderOnlyResult is the result set of RESTORE HEADERONLY ([SQLD]
// restore-statements-headeronly-transact-sql.md; EncryptorThumbprint varbinary(20) omitted). It is a
// result shape, not a table: it is not in Catalog.
var HeaderOnlyResult = &TableDef{Name: "RESTORE HEADERONLY", Source: "restore-statements-headeronly-transact-sql.md", Columns: []Column{
	col("BackupName", NVarChar(128)), col("BackupDescription", NVarChar(255)), col("BackupType", TypeSmallInt),
	col("ExpirationDate", TypeDateTime), col("Compressed", TypeBit), col("Position", TypeSmallInt), col("DeviceType", TypeTinyInt),
	col("UserName", NVarChar(128)), col("ServerName", NVarChar(128)), col("DatabaseName", NVarChar(128)),
	col("DatabaseVersion", TypeInt), col("DatabaseCreationDate", TypeDateTime), col("BackupSize", Numeric(20, 0)),
	col("FirstLSN", TypeLSN), col("LastLSN", TypeLSN), col("CheckpointLSN", TypeLSN), col("DatabaseBackupLSN", TypeLSN),
	col("BackupStartDate", TypeDateTime), col("BackupFinishDate", TypeDateTime), col("SortOrder", TypeSmallInt),
	col("CodePage", TypeSmallInt), col("UnicodeLocaleId", TypeInt), col("UnicodeComparisonStyle", TypeInt),
	col("CompatibilityLevel", TypeTinyInt), col("SoftwareVendorId", TypeInt), col("SoftwareVersionMajor", TypeInt),
	col("SoftwareVersionMinor", TypeInt), col("SoftwareVersionBuild", TypeInt), col("MachineName", NVarChar(128)),
	col("Flags", TypeInt), col("BindingID", TypeUniqueIdentifier), col("RecoveryForkID", TypeUniqueIdentifier),
	col("Collation", NVarChar(128)), col("FamilyGUID", TypeUniqueIdentifier), col("HasBulkLoggedData", TypeBit),
	col("IsSnapshot", TypeBit), col("IsReadOnly", TypeBit), col("IsSingleUser", TypeBit), col("HasBackupChecksums", TypeBit),
	col("IsDamaged", TypeBit), col("BeginsLogChain", TypeBit), col("HasIncompleteMetaData", TypeBit), col("IsForceOffline", TypeBit),
	col("IsCopyOnly", TypeBit), col("FirstRecoveryForkID", TypeUniqueIdentifier), col("ForkPointLSN", TypeLSN),
	col("RecoveryModel", nv60), col("DifferentialBaseLSN", TypeLSN), col("DifferentialBaseGUID", TypeUniqueIdentifier),
	col("BackupTypeDescription", nv60), col("BackupSetGUID", TypeUniqueIdentifier), col("CompressedBackupSize", TypeBigInt),
	col("containment", TypeTinyInt), col("KeyAlgorithm", NVarChar(32)), col("EncryptorType", NVarChar(32)),
}}

// DBMMonitorResults is the result set of msdb.dbo.sp_dbmmonitorresults (SQLSERVER.md §1.3).
var DBMMonitorResults = &TableDef{Name: "sp_dbmmonitorresults", Source: "sp-dbmmonitorresults-transact-sql.md", Columns: []Column{
	col("database_name", TypeSysname), col("role", TypeInt), col("mirroring_state", TypeInt), col("witness_status", TypeInt),
	col("log_generation_rate", TypeInt), col("unsent_log", TypeInt), col("send_rate", TypeInt), col("unrestored_log", TypeInt),
	col("recovery_rate", TypeInt), col("transaction_delay", TypeInt), col("transactions_per_sec", TypeInt),
	col("average_delay", TypeInt), col("time_recorded", TypeDateTime), col("time_behind", TypeDateTime),
	col("local_time", TypeDateTime),
}}

// HelpLogShippingMonitor is the result set of master.dbo.sp_help_log_shipping_monitor (SQLSERVER.md §2.3).
var HelpLogShippingMonitor = &TableDef{Name: "sp_help_log_shipping_monitor", Source: "sp-help-log-shipping-monitor-transact-sql.md", Columns: []Column{
	col("status", TypeBit), col("is_primary", TypeBit), col("server", TypeSysname), col("database_name", TypeSysname),
	col("time_since_last_backup", TypeInt), col("last_backup_file", NVarChar(500)), col("backup_threshold", TypeInt),
	col("is_backup_alert_enabled", TypeBit), col("time_since_last_copy", TypeInt), col("last_copied_file", NVarChar(500)),
	col("time_since_last_restore", TypeInt), col("last_restored_file", NVarChar(500)), col("last_restored_latency", TypeInt),
	col("restore_threshold", TypeInt), col("is_restore_alert_enabled", TypeBit),
}}

// XPDirTree is the result set of master.sys.xp_dirtree 'path', depth, files: the procedure is
// undocumented; these are the columns it is commonly observed to return.
var XPDirTree = &TableDef{Name: "xp_dirtree", Source: "undocumented (common usage)", Columns: []Column{
	col("subdirectory", NVarChar(512)), col("depth", TypeInt), col("file", TypeInt),
}}

// ResultSet returns an empty result set with the definition's columns, to fill with rows built by
// NewRow/Set.
func (d *TableDef) ResultSet(rows ...[]Value) (*ResultSet, error) {
	rs := &ResultSet{Columns: append([]Column(nil), d.Columns...)}
	for i, r := range rows {
		if len(r) != len(d.Columns) {
			return nil, fmt.Errorf("%s result row %d has %d values for %d columns", d.Name, i, len(r), len(d.Columns))
		}
		rs.Rows = append(rs.Rows, r)
	}
	return rs, nil
}

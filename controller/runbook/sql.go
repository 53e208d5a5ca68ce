package runbook

// Every T-SQL statement the runbook sends, in one place. Each cites the
// SQLSERVER.md section (and through it the Microsoft document) it follows.
// Values are sent as parameters wherever T-SQL allows one; database names
// (which RESTORE and ALTER DATABASE take only as identifiers) are validated
// and quoted with brackets by quoteName, and file paths (which come from the
// server itself, via xp_dirtree) are quoted as N'…' literals by quoteString.
// Every connection is to master (DESIGN.md: a RESTORING database refuses
// logins), so no statement depends on a current user database.

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// stmtLSSecondary reads the log-shipping secondary configuration of one
// database (SQLSERVER.md §2.2: log_shipping_secondary_databases joined to
// log_shipping_secondary on secondary_id; the job IDs are the documented way
// to find the copy and restore jobs, §4.2 "Look jobs up by ID"). The
// uniqueidentifiers are cast to text so they travel back as parameters
// unchanged.
const stmtLSSecondary = `SELECT sd.secondary_database, CAST(sd.secondary_id AS nvarchar(36)), sd.restore_mode, sd.disconnect_users,
 sd.restore_delay, sd.last_restored_file, ls.primary_server, ls.primary_database, ls.backup_source_directory,
 ls.backup_destination_directory, CAST(ls.copy_job_id AS nvarchar(36)), CAST(ls.restore_job_id AS nvarchar(36)),
 ls.last_copied_file
FROM msdb.dbo.log_shipping_secondary_databases AS sd
INNER JOIN msdb.dbo.log_shipping_secondary AS ls ON ls.secondary_id = sd.secondary_id
WHERE sd.secondary_database = @p1;`

// stmtJob reads one Agent job and its activity rows (SQLSERVER.md §8 Q8:
// "callers poll msdb.dbo.sysjobactivity"). A job is running when its row of
// the newest Agent session has a start and no stop.
const stmtJob = `SELECT j.name, j.enabled, a.session_id, a.start_execution_date, a.stop_execution_date
FROM msdb.dbo.sysjobs AS j
LEFT JOIN msdb.dbo.sysjobactivity AS a ON a.job_id = j.job_id
WHERE j.job_id = @p1;`

// stmtJobOutcome reads the newest job-outcome row (step_id 0) of a job from
// msdb.dbo.sysjobhistory: run_status 1 succeeded, 0 failed, 3 canceled.
const stmtJobOutcome = `SELECT TOP (1) h.instance_id, h.run_status, h.message
FROM msdb.dbo.sysjobhistory AS h
WHERE h.job_id = @p1 AND h.step_id = 0
ORDER BY h.instance_id DESC;`

// stmtLSHistory reads the newest log-shipping history rows of one secondary
// (SQLSERVER.md §2.2, log_shipping_monitor_history_detail; §3.4(f): the
// cleanup procedures delete it, so the runbook records it first).
const stmtLSHistory = `SELECT TOP (50) h.agent_type, h.session_id, h.database_name, h.session_status, h.log_time_utc, h.message
FROM msdb.dbo.log_shipping_monitor_history_detail AS h
WHERE h.agent_id = @p1
ORDER BY h.log_time_utc DESC;`

// stmtStartJob asks the Agent to run a job now (SQLSERVER.md §4.1, dbatools'
// Invoke-DbaDbLogShipRecovery; §8 Q8: it returns once the Agent accepted the
// request and the caller polls sysjobactivity; a disabled job still runs).
const stmtStartJob = `EXEC msdb.dbo.sp_start_job @job_id = @p1;`

// stmtSetJobEnabled enables or disables a job by ID (SQLSERVER.md §4.2,
// sp_update_job: give @job_id or @job_name, not both; §8 Q9: a run in
// progress continues, so the runbook waits for it afterwards).
const stmtSetJobEnabled = `EXEC msdb.dbo.sp_update_job @job_id = @p1, @enabled = @p2;`

// stmtDirTree lists one folder, files included (depth 1, files 1). The
// procedure is undocumented in sql-docs; it is what dbatools uses to list
// backup folders server-side, and it sees the folder with the SQL Server
// service's rights, which is what the copy and restore jobs use. Conservative
// reading: an empty listing (xp_dirtree reports an unreachable share as empty)
// means "not reachable", never "nothing to copy".
const stmtDirTree = `EXEC master.sys.xp_dirtree @p1, 1, 1;`

// stmtDatabase reads one database's state (SQLSERVER.md §3.2 sys.databases:
// state 0 ONLINE, 1 RESTORING, 6 OFFLINE; is_in_standby; user_access 0
// MULTI_USER, 1 SINGLE_USER; is_read_only) and its mirroring role
// (§1.1 sys.database_mirroring: every mirroring column is NULL when the
// database is not mirrored).
const stmtDatabase = `SELECT d.state, d.state_desc, d.is_read_only, d.is_in_standby, d.user_access, m.mirroring_role
FROM sys.databases AS d
LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
WHERE d.name = @p1;`

// stmtRedoStart reads where the next roll-forward must start (SQLSERVER.md
// §3.2 sys.master_files.redo_start_lsn, §8 Q12: set while RESTORING or in
// STANDBY; readers use file_id 1; sys.master_files, not sys.database_files).
const stmtRedoStart = `SELECT mf.redo_start_lsn
FROM sys.master_files AS mf
INNER JOIN sys.databases AS d ON d.database_id = mf.database_id
WHERE d.name = @p1 AND mf.file_id = 1;`

// sqlHeaderOnly reads a backup file's header (SQLSERVER.md §3.3 RESTORE
// HEADERONLY: BackupType 2 = log; FirstLSN/LastLSN order the files;
// FirstRecoveryForkID/RecoveryForkID; needs CREATE DATABASE permission).
func sqlHeaderOnly(path string) string {
	return "RESTORE HEADERONLY FROM DISK = " + quoteString(path) + ";"
}

// sqlRestoreLog applies one log backup and leaves the database restoring
// (SQLSERVER.md §4.2 "Restore sequence": in FirstLSN order, always say
// NORECOVERY explicitly; a secondary must stay NORECOVERY until the last one).
func sqlRestoreLog(db, path string) string {
	return "RESTORE LOG " + quoteName(db) + " FROM DISK = " + quoteString(path) + " WITH NORECOVERY;"
}

// sqlRecover is the recovery-only restore (SQLSERVER.md §4.2: RESTORE
// DATABASE … WITH RECOVERY, no FROM clause; irreversible: no log can be
// applied afterwards, §8 Q7).
func sqlRecover(db string) string {
	return "RESTORE DATABASE " + quoteName(db) + " WITH RECOVERY;"
}

// sqlSingleUser ends every other session in the database (SQLSERVER.md §8 Q4:
// accepted on a STANDBY database; RESTORE needs exclusive access, else 3101;
// §4.1 suggests single-user mode for exclusive access).
func sqlSingleUser(db string) string {
	return "ALTER DATABASE " + quoteName(db) + " SET SINGLE_USER WITH ROLLBACK IMMEDIATE;"
}

// sqlMultiUser opens the database to every user again (SQLSERVER.md §3.2 user_access).
func sqlMultiUser(db string) string {
	return "ALTER DATABASE " + quoteName(db) + " SET MULTI_USER;"
}

// sqlPartnerOff removes mirroring on either partner (SQLSERVER.md §1.6; §8 Q3:
// OFFLINE and SINGLE_USER are refused with 1468 inside a session, so a fence
// leaves the session first).
func sqlPartnerOff(db string) string {
	return "ALTER DATABASE " + quoteName(db) + " SET PARTNER OFF;"
}

// sqlOffline takes the database out of service, rolling back open
// transactions (SQLSERVER.md §8 Q3; DESIGN.md "Fencing a returning site A").
func sqlOffline(db string) string {
	return "ALTER DATABASE " + quoteName(db) + " SET OFFLINE WITH ROLLBACK IMMEDIATE;"
}

// ValidateName checks a database name before it is quoted into a statement:
// 1 to 128 characters (sysname), no control characters, no surrounding
// blanks. Brackets are allowed (quoteName escapes ]); configuration is
// stricter (pkg/config refuses []'"; in names).
func ValidateName(n string) error {
	switch {
	case n == "":
		return errors.New("empty database name")
	case len([]rune(n)) > 128:
		return fmt.Errorf("database name %q is longer than 128 characters", n)
	case strings.TrimSpace(n) != n:
		return fmt.Errorf("database name %q has leading or trailing blanks", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return fmt.Errorf("database name %q contains a control character", n)
		}
	}
	return nil
}

// quoteName returns a delimited identifier: [name] with ] doubled
// (sql-docs "Database identifiers"). Callers validate with ValidateName first.
func quoteName(n string) string { return "[" + strings.ReplaceAll(n, "]", "]]") + "]" }

// quoteString returns a Unicode string literal N'…' with ' doubled.
func quoteString(s string) string { return "N'" + strings.ReplaceAll(s, "'", "''") + "'" }

package probes

// All T-SQL that probes send lives in this file. Every statement is read-only. Sources are the sections
// of /work/shared/SQLSERVER.md (which cite MicrosoftDocs/sql-docs pages); each column is annotated.
//
// The probe of one instance is ONE batch (one round trip) returning several result sets, whatever the
// number of protected databases. The database names are passed as parameters @p1…@pN (go-mssqldb sends
// them through sp_executesql), never spliced into the text; names are validated in Options.Validate as
// well. Objects are named with their database (msdb.dbo.…), so the batch does not depend on the
// connection's current database; the DSN must connect to master (DESIGN.md: a RESTORING protected
// database refuses logins with 4060).

import (
	"strconv"
	"strings"
)

// stmtInstance reads the instance's identity and its own UTC clock in the same round trip, so that
// ages are computed on the clock that produced the timestamps (DESIGN.md "Safety model").
//   - @@SERVERNAME: the instance name (TDS.md §4.3, the lab issue lists it).
//   - @@VERSION: version text.
//   - SYSUTCDATETIME(): the server's clock in UTC (DESIGN.md "Safety model", issue 5).
const stmtInstance = `SELECT @@SERVERNAME AS server_name, @@VERSION AS version, SYSUTCDATETIME() AS utc_now;`

// stmtDatabases reads state, mirroring and recovery positions of the protected databases.
// LEFT JOINs: a database that is not mirrored still has a sys.database_mirroring row with NULLs; a
// database that is not RESTORING has NULL redo_start_lsn.
//   - sys.databases (§3.2): name; state_desc (ONLINE, RESTORING, …); is_read_only; is_in_standby;
//     user_access_desc (MULTI_USER, SINGLE_USER, RESTRICTED_USER); recovery_model_desc.
//   - sys.database_mirroring (§1.1): mirroring_guid (NULL = not mirrored OR not visible, see §8 Q14);
//     mirroring_state (tinyint 0–4, 5/6 treated as unknown per §8 Q10); mirroring_role (1 principal,
//     2 mirror); mirroring_role_sequence; mirroring_safety_level (0 unknown, 1 OFF, 2 FULL);
//     mirroring_partner_name; mirroring_partner_instance; mirroring_witness_name (NULL = no witness);
//     mirroring_witness_state (0 unknown, 1 connected, 2 disconnected); mirroring_failover_lsn and
//     mirroring_end_of_log_lsn (numeric(25,0)).
//   - sys.database_recovery_status (§3.2): recovery_fork_guid; last_log_backup_lsn (numeric(25,0),
//     first LSN of the next log backup, NULL if SIMPLE or no full backup).
//   - sys.master_files (§3.2, §8 Q12): redo_start_lsn (numeric(25,0), NULL unless RESTORING or
//     RECOVERY_PENDING) and redo_start_fork_guid, read from file_id = 1 as sp_DatabaseRestore does.
const stmtDatabases = `SELECT d.name, d.state_desc, d.is_read_only, d.is_in_standby, d.user_access_desc, d.recovery_model_desc,
 m.mirroring_guid, m.mirroring_state, m.mirroring_role, m.mirroring_role_sequence, m.mirroring_safety_level,
 m.mirroring_partner_name, m.mirroring_partner_instance, m.mirroring_witness_name, m.mirroring_witness_state,
 m.mirroring_failover_lsn, m.mirroring_end_of_log_lsn,
 r.recovery_fork_guid, r.last_log_backup_lsn,
 f.redo_start_lsn, f.redo_start_fork_guid
FROM sys.databases AS d
LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
LEFT JOIN sys.database_recovery_status AS r ON r.database_id = d.database_id
LEFT JOIN sys.master_files AS f ON f.database_id = d.database_id AND f.file_id = 1
WHERE d.name IN ({names});`

// stmtLSPrimary reads the log-shipping primary monitor rows (on a partner, or on the monitor server).
//   - msdb.dbo.log_shipping_monitor_primary (§2.2): primary_database; primary_server;
//     backup_threshold (int, minutes); threshold_alert (int); threshold_alert_enabled (bit);
//     last_backup_file (nvarchar(500), NULL before the first backup); last_backup_date_utc (datetime,
//     UTC; the local-time column is not read).
const stmtLSPrimary = `SELECT p.primary_database, p.primary_server, p.backup_threshold, p.threshold_alert,
 p.threshold_alert_enabled, p.last_backup_file, p.last_backup_date_utc
FROM msdb.dbo.log_shipping_monitor_primary AS p
WHERE p.primary_database IN ({names});`

// stmtLSPrimaryConfig reads the log-shipping primary configuration (the backup job and folder).
//   - msdb.dbo.log_shipping_primary_databases (§2.2): primary_database; backup_job_id (uniqueidentifier);
//     backup_directory (nvarchar(500)): a log backup whose file is elsewhere was taken outside log
//     shipping and never reaches the secondary, which breaks the chain (§3.4(c)).
const stmtLSPrimaryConfig = `SELECT pd.primary_database, pd.backup_job_id, pd.backup_directory
FROM msdb.dbo.log_shipping_primary_databases AS pd
WHERE pd.primary_database IN ({names});`

// stmtLSSecondary reads the log-shipping secondary monitor rows (on the secondary, or on the monitor).
//   - msdb.dbo.log_shipping_monitor_secondary (§2.2): secondary_database; primary_server (does not change
//     after a mirroring failover, §2.5); primary_database; restore_threshold (int, minutes);
//     threshold_alert (int); threshold_alert_enabled (bit); last_copied_file, last_restored_file
//     (nvarchar(500), NULL at first); last_copied_date_utc, last_restored_date_utc (datetime, UTC);
//     last_restored_latency (int, minutes, NULL at first).
const stmtLSSecondary = `SELECT s.secondary_database, s.primary_server, s.primary_database, s.restore_threshold,
 s.threshold_alert, s.threshold_alert_enabled, s.last_copied_file, s.last_copied_date_utc,
 s.last_restored_file, s.last_restored_date_utc, s.last_restored_latency
FROM msdb.dbo.log_shipping_monitor_secondary AS s
WHERE s.secondary_database IN ({names});`

// stmtLSSecondaryConfig reads the secondary's configuration and its job IDs.
//   - msdb.dbo.log_shipping_secondary_databases (§2.2): secondary_database; secondary_id; restore_delay
//     (int, minutes); restore_mode (bit, 0 NORECOVERY, 1 STANDBY).
//   - msdb.dbo.log_shipping_secondary (§2.2): secondary_id; copy_job_id and restore_job_id
//     (uniqueidentifier; DESIGN.md runbook step 6 disables the jobs by these IDs).
const stmtLSSecondaryConfig = `SELECT sd.secondary_database, sd.restore_delay, sd.restore_mode, ls.copy_job_id, ls.restore_job_id
FROM msdb.dbo.log_shipping_secondary_databases AS sd
INNER JOIN msdb.dbo.log_shipping_secondary AS ls ON ls.secondary_id = sd.secondary_id
WHERE sd.secondary_database IN ({names});`

// stmtJobs reads every Agent job with its activity rows; the parser keeps the jobs referenced above.
// The set is bounded by the number of Agent jobs on the instance, not by history.
//   - msdb.dbo.sysjobs (§8 Q8/Q9; the lab issue lists job_id, name, enabled): job_id; name; enabled.
//   - msdb.dbo.sysjobactivity (§8 Q8 "callers poll msdb.dbo.sysjobactivity"): session_id (one Agent
//     run of the service), start_execution_date, stop_execution_date. A job is running when its row of
//     the newest session has a start and no stop.
const stmtJobs = `SELECT j.job_id, j.name, j.enabled, a.session_id, a.start_execution_date, a.stop_execution_date
FROM msdb.dbo.sysjobs AS j
LEFT JOIN msdb.dbo.sysjobactivity AS a ON a.job_id = j.job_id;`

// stmtNewestRestored reads, for one database, the newest log backup restored into it (recipe §3.4(b)).
// One statement per database keeps TOP (1) per database without window functions.
//   - msdb.dbo.restorehistory (§3.1): restore_history_id (identity: newest = highest);
//     destination_database_name; restore_type ('L' = log); backup_set_id.
//   - msdb.dbo.backupset (§3.1): backup_set_id; server_name (the server that took the backup, §8 Q11);
//     first_lsn, last_lsn (numeric(25,0), last_lsn exclusive); backup_finish_date (the primary's local time, §8 Q11); time_zone (15-minute steps,
//     127 unknown); first_recovery_fork_guid, last_recovery_fork_guid; is_copy_only.
//   - msdb.dbo.backupmediafamily (§3.1): media_set_id; physical_device_name (the file path).
const stmtNewestRestored = `SELECT TOP (1) rh.destination_database_name, bs.server_name, bs.backup_set_id, bs.first_lsn, bs.last_lsn,
 bs.backup_finish_date, bs.time_zone, bs.first_recovery_fork_guid, bs.last_recovery_fork_guid, bs.is_copy_only,
 mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
INNER JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id
LEFT JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = {name} AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC;`

// stmtRecentBackups reads, for one database, the newest log backups recorded on a partner (the
// log-shipping primary side): they tell which backups the secondary still lacks (recipe §3.4(c)).
// Rows written by RESTORE carry another server_name (§8 Q11); the parser keeps only backups whose
// server_name is this instance's @@SERVERNAME.
//   - msdb.dbo.backupset (§3.1): backup_set_id (identity: newest = highest); database_name; server_name;
//     type ('L' = log); first_lsn, last_lsn; backup_finish_date; time_zone; fork guids; is_copy_only.
//   - msdb.dbo.backupmediafamily (§3.1): physical_device_name.
const stmtRecentBackups = `SELECT TOP ({top}) bs.database_name, bs.server_name, bs.backup_set_id, bs.first_lsn, bs.last_lsn,
 bs.backup_finish_date, bs.time_zone, bs.first_recovery_fork_guid, bs.last_recovery_fork_guid, bs.is_copy_only,
 mf.physical_device_name
FROM msdb.dbo.backupset AS bs
LEFT JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE bs.database_name = {name} AND bs.type = 'L'
ORDER BY bs.backup_set_id DESC;`

// setKind names each result set of the batch, in order, for the parser.
type setKind uint8

const (
	setInstance setKind = iota
	setDatabases
	setLSPrimary
	setLSPrimaryConfig
	setLSSecondary
	setLSSecondaryConfig
	setJobs
	setNewestRestored // one per database, in database order
	setRecentBackups  // one per database, in database order
)

// batch is the text of one instance's probe and the kinds of result sets it returns, in order.
type batch struct {
	text  string
	kinds []setKind
	// dbIndex[i] is the database index of result set i for the per-database kinds, else -1.
	dbIndex []int
}

// buildBatch builds the probe batch for an instance with the given role over n protected databases
// (parameters @p1…@pn). Partners also read their recent log backups (top per database); the secondary
// (and, harmlessly, a partner that is also a restore target) reads the newest restored log.
func buildBatch(role Role, n, recentBackups int) batch {
	var b strings.Builder
	names := placeholders(n)
	var kinds []setKind
	var dbIndex []int
	add := func(k setKind, db int, stmt string) {
		b.WriteString(stmt)
		b.WriteByte('\n')
		kinds = append(kinds, k)
		dbIndex = append(dbIndex, db)
	}
	add(setInstance, -1, stmtInstance)
	add(setDatabases, -1, strings.Replace(stmtDatabases, "{names}", names, 1))
	add(setLSPrimary, -1, strings.Replace(stmtLSPrimary, "{names}", names, 1))
	add(setLSPrimaryConfig, -1, strings.Replace(stmtLSPrimaryConfig, "{names}", names, 1))
	add(setLSSecondary, -1, strings.Replace(stmtLSSecondary, "{names}", names, 1))
	add(setLSSecondaryConfig, -1, strings.Replace(stmtLSSecondaryConfig, "{names}", names, 1))
	add(setJobs, -1, stmtJobs)
	if role == RoleSecondary {
		for i := 0; i < n; i++ {
			add(setNewestRestored, i, strings.Replace(stmtNewestRestored, "{name}", param(i), 1))
		}
	}
	if role == RolePartner && recentBackups > 0 {
		top := strconv.Itoa(recentBackups)
		for i := 0; i < n; i++ {
			s := strings.Replace(stmtRecentBackups, "{top}", top, 1)
			add(setRecentBackups, i, strings.Replace(s, "{name}", param(i), 1))
		}
	}
	return batch{text: b.String(), kinds: kinds, dbIndex: dbIndex}
}

func param(i int) string { return "@p" + strconv.Itoa(i+1) }

func placeholders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(param(i))
	}
	return b.String()
}

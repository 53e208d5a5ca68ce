package server

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// conformanceCase is one query written from Microsoft's documentation (SQLSERVER.md cites the
// source of each), NOT from sqldr's probes, with the result shape SQL Server documents (column names
// and types as go-mssqldb reports them) or the error numbers it sends.
type conformanceCase struct {
	name   string
	source string
	login  string // "sa" (default) or "monitor"
	db     string // initial database; default master
	sql    string
	cols   []string // "name TYPE"; nil = do not check
	rows   int      // expected row count of the first result set; -1 = any
	errs   []int32  // expected error numbers (mssql.Error.All), nil = success
	check  func(t *testing.T, rows [][]any)
}

func col(spec ...string) []string { return spec }

var conformance = []conformanceCase{
	// ---- SQLSERVER.md §3.4 recipes, verbatim ----
	{name: "3.4a secondary monitor", source: "SQLSERVER.md §3.4 (a)", sql: `SELECT s.secondary_database,
       DATEDIFF(minute, s.last_copied_date_utc,   GETUTCDATE()) AS min_since_copy,
       DATEDIFF(minute, s.last_restored_date_utc, GETUTCDATE()) AS min_since_restore,
       s.last_restored_latency, s.restore_threshold, s.threshold_alert_enabled
FROM msdb.dbo.log_shipping_monitor_secondary AS s;`,
		cols: col("secondary_database NVARCHAR", "min_since_copy INT", "min_since_restore INT", "last_restored_latency INT", "restore_threshold INT", "threshold_alert_enabled BIT"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if rows[0][1].(int64) != 20 || rows[0][2].(int64) != 29 || rows[0][3] != nil {
				t.Errorf("ages %v %v latency %v; want 20, 29, NULL", rows[0][1], rows[0][2], rows[0][3])
			}
		}},
	{name: "3.4a primary monitor", source: "SQLSERVER.md §3.4 (a)", sql: `SELECT DATEDIFF(minute, p.last_backup_date_utc, GETUTCDATE()) AS min_since_log_backup, p.backup_threshold
FROM msdb.dbo.log_shipping_monitor_primary AS p;`,
		cols: col("min_since_log_backup INT", "backup_threshold INT"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if rows[0][0].(int64) != 15 {
				t.Errorf("minutes since backup %v, want 15", rows[0][0])
			}
		}},
	{name: "3.4b newest restored log backup", source: "SQLSERVER.md §3.4 (b)", sql: `SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn,
       bs.backup_start_date, bs.backup_finish_date, bs.time_zone, mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
JOIN msdb.dbo.backupset       AS bs ON bs.backup_set_id = rh.backup_set_id
JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = N'mgc' AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC;`,
		cols: col("restore_date DATETIME", "first_lsn DECIMAL", "last_lsn DECIMAL", "backup_start_date DATETIME", "backup_finish_date DATETIME", "time_zone SMALLINT", "physical_device_name NVARCHAR"),
		rows: 0}, // the fixture's secondary database is lsdb, not mgc
	{name: "3.4b on the fixture's secondary", source: "SQLSERVER.md §3.4 (b), database name lsdb", sql: `SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn,
       bs.backup_start_date, bs.backup_finish_date, bs.time_zone, mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
JOIN msdb.dbo.backupset       AS bs ON bs.backup_set_id = rh.backup_set_id
JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = N'lsdb' AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC;`, rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if string(rows[0][2].([]byte)) != "9223372036854775808000201" || rows[0][5].(int64) != -20 {
				t.Errorf("newest restored: last_lsn %s time_zone %v", rows[0][2], rows[0][5])
			}
		}},
	{name: "3.4c redo_start_lsn", source: "SQLSERVER.md §3.4 (c)", sql: `SELECT redo_start_lsn, redo_start_fork_guid FROM sys.master_files WHERE database_id = DB_ID(N'mgc') AND file_id = 1;`,
		cols: col("redo_start_lsn DECIMAL", "redo_start_fork_guid UNIQUEIDENTIFIER"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if rows[0][0] != nil {
				t.Errorf("redo_start_lsn of an ONLINE database %s, want NULL (§8 Q12)", rows[0][0])
			}
		}},
	{name: "3.4c last_log_backup_lsn", source: "SQLSERVER.md §3.4 (c)", sql: `SELECT last_log_backup_lsn FROM sys.database_recovery_status WHERE database_id = DB_ID(N'mgc');`,
		cols: col("last_log_backup_lsn DECIMAL"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if string(rows[0][0].([]byte)) != "9223372036854775808000301" {
				t.Errorf("last_log_backup_lsn %s", rows[0][0])
			}
		}},
	// ---- §4.2 building blocks, verbatim ----
	{name: "4.2 disable backup job", source: "SQLSERVER.md §4.2", sql: `DECLARE @b uniqueidentifier = (SELECT backup_job_id FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = N'mgc');
  EXEC msdb.dbo.sp_update_job @job_id = @b, @enabled = 0;`, rows: -1},
	{name: "4.2 secondary job ids", source: "SQLSERVER.md §4.2", sql: `SELECT copy_job_id, restore_job_id FROM msdb.dbo.log_shipping_secondary WHERE primary_database = N'mgc';`,
		cols: col("copy_job_id UNIQUEIDENTIFIER", "restore_job_id UNIQUEIDENTIFIER"), rows: 1},
	{name: "4.2 restore sequence", source: "SQLSERVER.md §4.2", sql: `RESTORE LOG mgc FROM DISK = N'D:\lscopy\mgc_1.trn' WITH NORECOVERY;   -- repeat, ordered by FirstLSN
  RESTORE LOG mgc FROM DISK = N'D:\lscopy\mgc_tail.trn' WITH NORECOVERY;
  RESTORE DATABASE mgc WITH RECOVERY;`, rows: -1},
	{name: "4.2 tail-log backup", source: "SQLSERVER.md §4.2", sql: `BACKUP LOG mgc TO DISK = N'\\share\mgc_tail.trn' WITH NORECOVERY;            -- online DB: leaves it RESTORING`, rows: -1},
	{name: "4.2 tail-log backup, damaged", source: "SQLSERVER.md §4.2", sql: `BACKUP LOG mgc TO DISK = N'\\share\mgc_tail.trn' WITH NO_TRUNCATE, NORECOVERY; -- best effort, no log truncation`, rows: -1},
	{name: "1.6 manual failover", source: "SQLSERVER.md §1.6", sql: `ALTER DATABASE mgc SET PARTNER FAILOVER;`, rows: -1},
	{name: "1.6 forced service", source: "SQLSERVER.md §1.6", sql: `ALTER DATABASE mgc SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS;`, rows: -1},
	{name: "1.6 safety off", source: "SQLSERVER.md §1.6", sql: `ALTER DATABASE mgc SET PARTNER SAFETY OFF;`, rows: -1},
	{name: "5.6 remove log shipping on the secondary", source: "SQLSERVER.md §5.6 step 1", sql: `exec sp_delete_log_shipping_secondary_database mgc`, rows: -1},
	{name: "Q4 clear sessions", source: "SQLSERVER.md §8 Q4", sql: `ALTER DATABASE standbydb SET SINGLE_USER WITH ROLLBACK IMMEDIATE`, rows: -1},
	// ---- catalog views and msdb tables by their documented columns ----
	{name: "sysjobactivity doc example", source: "[SQLD] dbo-sysjobactivity-transact-sql.md, Example", sql: `SELECT sj.Name, 
	CASE
		WHEN sja.start_execution_date IS NULL THEN 'Not running'
		WHEN sja.start_execution_date IS NOT NULL AND sja.stop_execution_date IS NULL THEN 'Running'
		WHEN sja.start_execution_date IS NOT NULL AND sja.stop_execution_date IS NOT NULL THEN 'Not running'
	END AS 'RunStatus'
FROM msdb.dbo.sysjobs sj
JOIN msdb.dbo.sysjobactivity sja
ON sj.job_id = sja.job_id
WHERE session_id = (
	SELECT MAX(session_id) FROM msdb.dbo.sysjobactivity); `,
		// SQL Server types 'Running' as varchar; pkg/tds sends every string as nvarchar (docs/lab.md).
		cols: col("Name NVARCHAR", "RunStatus NVARCHAR"), rows: 3,
		check: func(t *testing.T, rows [][]any) {
			running := 0
			for _, r := range rows {
				if r[1] == "Running" {
					running++
					if r[0] != "LSCopy_mgc" {
						t.Errorf("running job %v", r[0])
					}
				}
			}
			if running != 1 {
				t.Errorf("%d running jobs, want 1", running)
			}
		}},
	{name: "sysjobhistory doc example", source: "[SQLD] dbo-sysjobhistory-transact-sql.md, Example", sql: ` SET NOCOUNT ON;
 
 SELECT sj.name,
		sh.run_date,
		sh.step_name,
		STUFF(STUFF(RIGHT(REPLICATE('0', 6) +  CAST(sh.run_time as varchar(6)), 6), 3, 0, ':'), 6, 0, ':') 'run_time',
		STUFF(STUFF(STUFF(RIGHT(REPLICATE('0', 8) + CAST(sh.run_duration as varchar(8)), 8), 3, 0, ':'), 6, 0, ':'), 9, 0, ':') 'run_duration (DD:HH:MM:SS)  '
FROM msdb.dbo.sysjobs sj
JOIN msdb.dbo.sysjobhistory sh
ON sj.job_id = sh.job_id`,
		cols: col("name NVARCHAR", "run_date INT", "step_name NVARCHAR", "run_time NVARCHAR", "run_duration (DD:HH:MM:SS)   NVARCHAR"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if rows[0][0] != "LSBackup_mgc" || rows[0][3] != "09:30:15" || rows[0][4] != "00:00:00:05" {
				t.Errorf("history row %v", rows[0])
			}
		}},
	{name: "date type", source: "CAST and CONVERT (sql-docs)", sql: `SELECT CAST(GETUTCDATE() AS date) AS d`, cols: col("d DATE"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if d := rows[0][0].(time.Time); d.Hour() != 0 || d.Day() != 10 {
				t.Errorf("date %v", d)
			}
		}},
	{name: "1.1 mirroring columns", source: "SQLSERVER.md §1.1", sql: `SELECT database_id, mirroring_guid, mirroring_state, mirroring_state_desc, mirroring_role, mirroring_role_desc,
		mirroring_role_sequence, mirroring_safety_level, mirroring_safety_level_desc, mirroring_partner_name, mirroring_partner_instance,
		mirroring_witness_name, mirroring_witness_state_desc, mirroring_failover_lsn, mirroring_connection_timeout,
		mirroring_redo_queue_type, mirroring_end_of_log_lsn FROM sys.database_mirroring WHERE mirroring_guid IS NOT NULL`,
		cols: col("database_id INT", "mirroring_guid UNIQUEIDENTIFIER", "mirroring_state TINYINT", "mirroring_state_desc NVARCHAR", "mirroring_role TINYINT",
			"mirroring_role_desc NVARCHAR", "mirroring_role_sequence INT", "mirroring_safety_level TINYINT", "mirroring_safety_level_desc NVARCHAR",
			"mirroring_partner_name NVARCHAR", "mirroring_partner_instance NVARCHAR", "mirroring_witness_name NVARCHAR", "mirroring_witness_state_desc NVARCHAR",
			"mirroring_failover_lsn DECIMAL", "mirroring_connection_timeout INT", "mirroring_redo_queue_type NVARCHAR", "mirroring_end_of_log_lsn DECIMAL"), rows: 2},
	{name: "1.1 monitoring login sees the mirror as NULL", source: "SQLSERVER.md §1.1, §8 Q14", login: "monitor", sql: `SELECT database_id FROM sys.database_mirroring WHERE mirroring_guid IS NOT NULL`,
		cols: col("database_id INT"), rows: 1},
	{name: "master_files needs more than the monitoring login holds", source: "[SQLD] sys-master-files-transact-sql.md, Permissions", login: "monitor",
		sql:  `SELECT redo_start_lsn, redo_start_fork_guid FROM sys.master_files WHERE database_id = DB_ID(N'lsdb') AND file_id = 1;`,
		cols: col("redo_start_lsn DECIMAL", "redo_start_fork_guid UNIQUEIDENTIFIER"), rows: 0},
	{name: "3.2 database state", source: "SQLSERVER.md §3.2", sql: `SELECT name, state, state_desc, is_in_standby, is_read_only, user_access, user_access_desc, recovery_model, recovery_model_desc, log_reuse_wait_desc FROM sys.databases WHERE state_desc = 'RESTORING' ORDER BY name`,
		cols: col("name NVARCHAR", "state TINYINT", "state_desc NVARCHAR", "is_in_standby BIT", "is_read_only BIT", "user_access TINYINT", "user_access_desc NVARCHAR", "recovery_model TINYINT", "recovery_model_desc NVARCHAR", "log_reuse_wait_desc NVARCHAR"), rows: 2},
	{name: "3.2 DATABASEPROPERTYEX", source: "SQLSERVER.md §3.2", sql: `SELECT DATABASEPROPERTYEX(N'mgc', 'Status') AS s, DATABASEPROPERTYEX(N'standbydb', 'IsInStandBy') AS sb, DATABASEPROPERTYEX(N'mgc', 'Recovery') AS r`,
		rows: 1, check: func(t *testing.T, rows [][]any) {
			if rows[0][0] != "ONLINE" || rows[0][1] != "1" || rows[0][2] != "FULL" {
				t.Errorf("properties %v", rows[0])
			}
		}},
	{name: "3.2 recovery status", source: "SQLSERVER.md §3.2", sql: `SELECT database_id, database_guid, family_guid, last_log_backup_lsn, recovery_fork_guid, first_recovery_fork_guid, fork_point_lsn FROM sys.database_recovery_status`,
		cols: col("database_id INT", "database_guid UNIQUEIDENTIFIER", "family_guid UNIQUEIDENTIFIER", "last_log_backup_lsn DECIMAL", "recovery_fork_guid UNIQUEIDENTIFIER", "first_recovery_fork_guid UNIQUEIDENTIFIER", "fork_point_lsn DECIMAL"), rows: 10},
	{name: "Q12 redo point per restoring database", source: "SQLSERVER.md §8 Q12 (dbatools style)", sql: `SELECT f.database_id, MIN(f.redo_start_lsn) AS redo FROM sys.master_files AS f WHERE f.redo_start_lsn IS NOT NULL GROUP BY f.database_id ORDER BY f.database_id`,
		cols: col("database_id INT", "redo DECIMAL"), rows: 3},
	{name: "3.4c gap on the primary", source: "SQLSERVER.md §3.4 (c), interpretation", sql: `SELECT COUNT(*) AS backups, MIN(backup_start_date) AS stuck_at FROM msdb.dbo.backupset WHERE database_name = N'mgc' AND type = 'L' AND is_copy_only = 0 AND last_lsn > 9223372036854775808000201`,
		cols: col("backups INT", "stuck_at DATETIME"), rows: 1,
		check: func(t *testing.T, rows [][]any) {
			if rows[0][0].(int64) != 1 {
				t.Errorf("gap %v, want 1 backup", rows[0][0])
			}
		}},
	{name: "3.4c log backups outside log shipping", source: "SQLSERVER.md §3.4 (c)", sql: `SELECT bs.backup_set_id, mf.physical_device_name FROM msdb.dbo.backupset AS bs
		JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
		JOIN msdb.dbo.log_shipping_primary_databases AS p ON p.primary_database = bs.database_name
		WHERE bs.type = 'L' AND bs.is_copy_only = 0 AND mf.physical_device_name NOT LIKE p.backup_directory + N'%'`,
		cols: col("backup_set_id INT", "physical_device_name NVARCHAR"), rows: 0},
	{name: "Q11 backup time in UTC", source: "SQLSERVER.md §8 Q11 (#1425 formula)", sql: `SELECT backup_set_id, dateadd(MINUTE, time_zone/4*60*-1, backup_start_date) AS start_utc FROM msdb.dbo.backupset WHERE time_zone <> 127 ORDER BY backup_set_id`,
		cols: col("backup_set_id INT", "start_utc DATETIME"), rows: 2},
	{name: "2.2 history detail", source: "SQLSERVER.md §2.2", sql: `SELECT agent_id, agent_type, session_id, database_name, session_status, log_time, log_time_utc, message FROM msdb.dbo.log_shipping_monitor_history_detail ORDER BY log_time`,
		cols: col("agent_id UNIQUEIDENTIFIER", "agent_type TINYINT", "session_id INT", "database_name NVARCHAR", "session_status TINYINT", "log_time DATETIME", "log_time_utc DATETIME", "message NVARCHAR"), rows: 2},
	{name: "2.2 secondary databases", source: "SQLSERVER.md §2.2", sql: `SELECT secondary_database, secondary_id, restore_delay, restore_all, restore_mode, disconnect_users, last_restored_file, last_restored_date FROM msdb.dbo.log_shipping_secondary_databases`,
		cols: col("secondary_database NVARCHAR", "secondary_id UNIQUEIDENTIFIER", "restore_delay INT", "restore_all BIT", "restore_mode BIT", "disconnect_users BIT", "last_restored_file NVARCHAR", "last_restored_date DATETIME"), rows: 1},
	{name: "3.1 backupset type is char(1)", source: "SQLSERVER.md §3.1", sql: `SELECT type, is_copy_only, begins_log_chain, first_recovery_fork_guid, fork_point_lsn FROM msdb.dbo.backupset WHERE type = 'L'`,
		// char(1) is sent as a padded nvarchar(1) by pkg/tds (docs/lab.md).
		cols: col("type NVARCHAR", "is_copy_only BIT", "begins_log_chain BIT", "first_recovery_fork_guid UNIQUEIDENTIFIER", "fork_point_lsn DECIMAL"), rows: 3},
	{name: "sysjobs enabled flags", source: "[SQLD] dbo-sysjobs-transact-sql.md", sql: `SELECT j.job_id, j.name, j.enabled FROM msdb.dbo.sysjobs AS j WHERE j.job_id IN (SELECT copy_job_id FROM msdb.dbo.log_shipping_secondary) OR j.job_id IN (SELECT restore_job_id FROM msdb.dbo.log_shipping_secondary)`,
		cols: col("job_id UNIQUEIDENTIFIER", "name NVARCHAR", "enabled TINYINT"), rows: 2},
	{name: "instance facts", source: "SERVERPROPERTY / @@ functions (sql-docs)", sql: `SELECT @@SERVERNAME AS n, SERVERPROPERTY('ProductVersion') AS v, SERVERPROPERTY('Edition') AS e, @@SPID AS spid`,
		cols: col("n NVARCHAR", "v NVARCHAR", "e NVARCHAR", "spid SMALLINT"), rows: 1},
	{name: "clocks", source: "GETDATE / GETUTCDATE / SYSUTCDATETIME / SYSDATETIMEOFFSET (sql-docs)", sql: `SELECT GETDATE(), GETUTCDATE(), SYSUTCDATETIME(), SYSDATETIMEOFFSET()`,
		cols: col(" DATETIME", " DATETIME", " DATETIME2", " DATETIMEOFFSET"), rows: 1},
	{name: "use msdb then two-part names", source: "SQLSERVER.md §1.3 (USE msdb)", sql: `USE msdb; SELECT COUNT(*) FROM dbo.sysjobs`, rows: 1},
	// ---- errors as SQL Server sends them ----
	{name: "207", source: "errors 0-999", sql: `SELECT mirroring_nosuch FROM sys.database_mirroring`, errs: []int32{207}},
	{name: "208", source: "errors 0-999", sql: `SELECT * FROM msdb.dbo.log_shipping_nosuch`, errs: []int32{208}},
	{name: "102", source: "errors 0-999", sql: `SELECT name FROM sys.databases WHERE name = = 'x'`, errs: []int32{102}},
	{name: "156", source: "errors 0-999", sql: `SELECT name FROM sys.databases ORDER name`, errs: []int32{102}},
	{name: "911", source: "errors 0-999", sql: `USE nosuchdb`, errs: []int32{911}},
	{name: "927", source: "SQLSERVER.md §8 Q2", sql: `USE lsdb`, errs: []int32{927}},
	{name: "954", source: "SQLSERVER.md §8 Q2", sql: `SELECT COUNT(*) FROM mirrordb.sys.objects`, errs: []int32{954}},
	{name: "942", source: "SQLSERVER.md §8 Q2", sql: `USE offdb`, errs: []int32{942}},
	{name: "3110", source: "SQLSERVER.md §8 Q14", login: "monitor", sql: `RESTORE LOG lsdb FROM DISK = N'D:\lscopy\mgc_1.trn' WITH NORECOVERY`, errs: []int32{3110, 3013}},
	{name: "262", source: "SQLSERVER.md §8 Q14", login: "monitor", sql: `RESTORE HEADERONLY FROM DISK = N'D:\lscopy\mgc_1.trn'`, errs: []int32{262, 3013}},
	{name: "5011", source: "SQLSERVER.md §8 Q14", login: "monitor", sql: `ALTER DATABASE mgc SET PARTNER OFF`, errs: []int32{5011, 5069}},
	{name: "229", source: "SQLSERVER.md §8 Q14", login: "monitor", sql: `EXEC msdb.dbo.sp_update_job @job_name = N'LSBackup_mgc', @enabled = 0`, errs: []int32{229}},
	{name: "245", source: "errors 0-999", sql: `SELECT CAST(name AS int) FROM sys.databases`, errs: []int32{245}},
}

func TestConformance(t *testing.T) {
	if len(conformance) < 30 {
		t.Fatalf("only %d conformance queries", len(conformance))
	}
	l := startLab(t, 10)
	ok := func(context.Context, *engine.SessionInfo, *engine.ExecStmt) (*engine.EffectResult, error) {
		return &engine.EffectResult{RowsAffected: -1}, nil
	}
	l.backend.HandleProc("sp_update_job", ok)
	l.backend.HandleProc("sp_delete_log_shipping_secondary_database", ok)
	pools := map[string]*sql.DB{}
	parent := t
	for _, c := range conformance {
		t.Run(c.name, func(t *testing.T) {
			login, pw := "sa", saPassword
			if c.login == "monitor" {
				login, pw = "monitor", monitorPassword
			}
			key := login + "/" + c.db
			db := pools[key]
			if db == nil {
				db = l.open(parent, login, pw, c.db)
				pools[key] = db
			}
			conn, err := db.Conn(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			rows, err := conn.QueryContext(ctxT(t), c.sql)
			var got [][]any
			var types []string
			if err == nil {
				got, types, err = drain(rows)
			}
			if c.errs != nil {
				if !equalNumbers(numbers(err), c.errs) {
					t.Fatalf("%s\nerrors %v (%v), want %v", c.source, numbers(err), err, c.errs)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", c.source, err)
			}
			if c.cols != nil && strings.Join(types, ", ") != strings.Join(c.cols, ", ") {
				t.Errorf("%s: columns\n got %v\nwant %v", c.source, types, c.cols)
			}
			if c.rows >= 0 && len(got) != c.rows {
				t.Errorf("%s: %d rows, want %d", c.source, len(got), c.rows)
			}
			if c.check != nil && len(got) > 0 {
				c.check(t, got)
			}
		})
	}
}

// drain reads the first result set that has columns (and skips the rest), returning its rows and
// "name TYPE" column descriptions.
func drain(rows *sql.Rows) ([][]any, []string, error) {
	defer func() { _ = rows.Close() }()
	var out [][]any
	var types []string
	first := true
	for {
		cts, err := rows.ColumnTypes()
		if err == nil && len(cts) > 0 && first {
			first = false
			for _, ct := range cts {
				types = append(types, ct.Name()+" "+ct.DatabaseTypeName())
			}
			for rows.Next() {
				vals := make([]any, len(cts))
				ptrs := make([]any, len(cts))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return nil, nil, err
				}
				out = append(out, vals)
			}
		} else {
			for rows.Next() {
			}
		}
		if !rows.NextResultSet() {
			break
		}
	}
	return out, types, rows.Err()
}

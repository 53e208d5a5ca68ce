-- Verbatim copies of the T-SQL recipes in SQLSERVER.md §3.4 (Microsoft documentation, sql-docs).
-- A probe query that reuses one of these verbatim may also appear in the lab's conformance suite,
-- which is written from the same documentation; TestLabIsNotTaughtProbeQueries exempts exactly the
-- text below and nothing else.

-- §3.4 (a)
SELECT s.secondary_database,
       DATEDIFF(minute, s.last_copied_date_utc,   GETUTCDATE()) AS min_since_copy,
       DATEDIFF(minute, s.last_restored_date_utc, GETUTCDATE()) AS min_since_restore,
       s.last_restored_latency, s.restore_threshold, s.threshold_alert_enabled
FROM msdb.dbo.log_shipping_monitor_secondary AS s;
SELECT DATEDIFF(minute, p.last_backup_date_utc, GETUTCDATE()) AS min_since_log_backup, p.backup_threshold
FROM msdb.dbo.log_shipping_monitor_primary AS p;

-- §3.4 (b)
SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn,
       bs.backup_start_date, bs.backup_finish_date, bs.time_zone, mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
JOIN msdb.dbo.backupset       AS bs ON bs.backup_set_id = rh.backup_set_id
JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = N'mgc' AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC;

-- §3.4 (c)
SELECT redo_start_lsn, redo_start_fork_guid FROM sys.master_files WHERE database_id = DB_ID(N'mgc') AND file_id = 1;
SELECT last_log_backup_lsn FROM sys.database_recovery_status WHERE database_id = DB_ID(N'mgc');

-- §4.2
SELECT copy_job_id, restore_job_id FROM msdb.dbo.log_shipping_secondary WHERE primary_database = N'mgc';

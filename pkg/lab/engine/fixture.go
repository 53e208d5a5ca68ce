package engine

import (
	"fmt"
	"math/big"
	"time"
)

// MessagesTable is the application table of the fixture (and of the lab): dbo.messages.
var MessagesTable = []Column{
	{Name: "id", Type: TypeInt},
	{Name: "created_at", Type: DateTime2(7), Nullable: true},
	{Name: "body", Type: NVarChar(200), Nullable: true},
}

// Fixture database ids.
const (
	FixtureMGC       = 5 // ONLINE, mirroring principal, log-shipping primary
	FixtureMGCComp   = 6 // ONLINE, not mirrored
	FixtureLSDB      = 7 // RESTORING log-shipping secondary (NORECOVERY)
	FixtureMirrorDB  = 8 // RESTORING, mirroring MIRROR
	FixtureOfflineDB = 9 // OFFLINE
	FixtureStandby   = 10
)

// FixtureBaseLSN is above 2^63, so it cannot be held in an int64.
const FixtureBaseLSN = "9223372036854775808000001"

// NewFixture returns a Static backend that looks like one instance of the lab's estate at instant
// now, in a UTC-5 zone: user databases in every interesting state, mirroring rows, log-shipping
// configuration and monitor rows, backup and restore history with LSNs above 2^63 (one backupset row
// with time_zone 127), Agent jobs, and dbo.messages in mgc with messageRows rows. It is test data,
// not a simulation: nothing moves.
func NewFixture(now time.Time, messageRows int) *Static {
	zone := time.FixedZone("UTC-5", -5*3600)
	local := now.In(zone)
	info := ServerInfo{
		Name:    "SQLA1",
		Version: "Microsoft SQL Server 2019 (RTM-CU18) (KB5017593) - 15.0.4261.1 (X64) (sqldr lab)",
		Now:     local,
		Properties: map[string]Value{
			"ProductVersion": Sysname("15.0.4261.1"), "ProductLevel": Sysname("RTM"),
			"Edition": Sysname("Enterprise Edition (64-bit)"), "EngineEdition": Int(3),
			"MachineName": Sysname("SQLA1"), "ServerName": Sysname("SQLA1"), "InstanceName": Null(TypeSysname),
			"IsClustered": Int(0), "IsHadrEnabled": Int(0),
		},
	}
	dbs := []DatabaseInfo{
		{ID: 1, Name: "master", RecoveryModel: 3},
		{ID: 2, Name: "tempdb", RecoveryModel: 3},
		{ID: 3, Name: "model", RecoveryModel: 1},
		{ID: 4, Name: "msdb", RecoveryModel: 3},
		{ID: FixtureMGC, Name: "mgc", RecoveryModel: 1},
		{ID: FixtureMGCComp, Name: "mgccomp", RecoveryModel: 1},
		{ID: FixtureLSDB, Name: "lsdb", State: StateRestoring, RecoveryModel: 1},
		{ID: FixtureMirrorDB, Name: "mirrordb", State: StateRestoring, Mirror: true, RecoveryModel: 1},
		{ID: FixtureOfflineDB, Name: "offdb", State: StateOffline, RecoveryModel: 1},
		{ID: FixtureStandby, Name: "standbydb", Standby: true, ReadOnly: true, RecoveryModel: 1},
	}
	b := NewStatic(info, dbs)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	lsn := func(offset int64) Value {
		base, _ := new(big.Int).SetString(FixtureBaseLSN, 10)
		v, err := DecimalValue(TypeLSN, base.Add(base, big.NewInt(offset)))
		must(err)
		return v
	}
	guid := func(n int) Value { return MustGUID(fmt.Sprintf("6F9619FF-8B86-D011-B42D-%012X", n)) }
	dt := func(d time.Duration) Value { return DateTime(local.Add(d)) }
	dtu := func(d time.Duration) Value { return DateTime(now.UTC().Add(d)) }
	created := DateTime(time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC))

	// sys.databases
	var rows [][]Value
	for _, db := range dbs {
		r := SysDatabases.NewRow()
		SysDatabases.Set(r, "name", Sysname(db.Name))
		SysDatabases.Set(r, "database_id", Int(int32(db.ID)))
		SysDatabases.Set(r, "create_date", created)
		SysDatabases.Set(r, "compatibility_level", TinyInt(150))
		if db.State == StateOnline {
			SysDatabases.Set(r, "collation_name", Sysname("SQL_Latin1_General_CP1_CI_AS"))
		}
		SysDatabases.Set(r, "user_access", TinyInt(db.UserAccess))
		SysDatabases.Set(r, "user_access_desc", NStr([]string{"MULTI_USER", "SINGLE_USER", "RESTRICTED_USER"}[db.UserAccess]))
		SysDatabases.Set(r, "is_read_only", Bit(db.ReadOnly || db.Standby))
		SysDatabases.Set(r, "is_auto_close_on", Bit(false))
		SysDatabases.Set(r, "is_auto_shrink_on", Bit(false))
		SysDatabases.Set(r, "state", TinyInt(uint8(db.State)))
		SysDatabases.Set(r, "state_desc", NStr(db.State.String()))
		SysDatabases.Set(r, "is_in_standby", Bit(db.Standby))
		SysDatabases.Set(r, "is_cleanly_shutdown", Bit(false))
		SysDatabases.Set(r, "recovery_model", TinyInt(db.RecoveryModel))
		SysDatabases.Set(r, "recovery_model_desc", NStr([]string{"", "FULL", "BULK_LOGGED", "SIMPLE"}[db.RecoveryModel]))
		SysDatabases.Set(r, "page_verify_option", TinyInt(2))
		SysDatabases.Set(r, "page_verify_option_desc", NStr("CHECKSUM"))
		SysDatabases.Set(r, "log_reuse_wait", TinyInt(0))
		SysDatabases.Set(r, "log_reuse_wait_desc", NStr("NOTHING"))
		rows = append(rows, r)
	}
	must(b.AddRows(SysDatabases, "", rows...))

	// sys.database_mirroring: mgc principal, mirrordb mirror, all others not mirrored
	rows = nil
	for _, db := range dbs {
		r := SysDatabaseMirroring.NewRow()
		SysDatabaseMirroring.Set(r, "database_id", Int(int32(db.ID)))
		if db.ID == FixtureMGC || db.ID == FixtureMirrorDB {
			role, roleDesc := 1, "PRINCIPAL"
			if db.ID == FixtureMirrorDB {
				role, roleDesc = 2, "MIRROR"
			}
			SysDatabaseMirroring.Set(r, "mirroring_guid", guid(100+db.ID))
			SysDatabaseMirroring.Set(r, "mirroring_state", TinyInt(4))
			SysDatabaseMirroring.Set(r, "mirroring_state_desc", NStr("SYNCHRONIZED"))
			SysDatabaseMirroring.Set(r, "mirroring_role", TinyInt(uint8(role)))
			SysDatabaseMirroring.Set(r, "mirroring_role_desc", NStr(roleDesc))
			SysDatabaseMirroring.Set(r, "mirroring_role_sequence", Int(1))
			SysDatabaseMirroring.Set(r, "mirroring_safety_level", TinyInt(2))
			SysDatabaseMirroring.Set(r, "mirroring_safety_level_desc", NStr("FULL"))
			SysDatabaseMirroring.Set(r, "mirroring_safety_sequence", Int(1))
			SysDatabaseMirroring.Set(r, "mirroring_partner_name", NStr("TCP://sqla2.lab.local:5022"))
			SysDatabaseMirroring.Set(r, "mirroring_partner_instance", NStr("SQLA2"))
			SysDatabaseMirroring.Set(r, "mirroring_failover_lsn", lsn(900))
			SysDatabaseMirroring.Set(r, "mirroring_connection_timeout", Int(10))
			SysDatabaseMirroring.Set(r, "mirroring_redo_queue_type", NStr("UNLIMITED"))
			SysDatabaseMirroring.Set(r, "mirroring_end_of_log_lsn", lsn(900))
			SysDatabaseMirroring.Set(r, "mirroring_replication_lsn", lsn(0))
		}
		rows = append(rows, r)
	}
	must(b.AddRows(SysDatabaseMirroring, "", rows...))

	// sys.database_recovery_status
	rows = nil
	for _, db := range dbs {
		r := SysDatabaseRecoveryStatus.NewRow()
		SysDatabaseRecoveryStatus.Set(r, "database_id", Int(int32(db.ID)))
		SysDatabaseRecoveryStatus.Set(r, "database_guid", guid(200+db.ID))
		SysDatabaseRecoveryStatus.Set(r, "family_guid", guid(300+db.ID))
		SysDatabaseRecoveryStatus.Set(r, "recovery_fork_guid", guid(400))
		SysDatabaseRecoveryStatus.Set(r, "first_recovery_fork_guid", guid(400))
		if db.ID == FixtureMGC {
			SysDatabaseRecoveryStatus.Set(r, "last_log_backup_lsn", lsn(300))
		}
		rows = append(rows, r)
	}
	must(b.AddRows(SysDatabaseRecoveryStatus, "", rows...))

	// sys.master_files: data (1) and log (2) file per user database; redo_start_lsn for RESTORING ones
	rows = nil
	for _, db := range dbs[4:] {
		for fileID := 1; fileID <= 2; fileID++ {
			r := SysMasterFiles.NewRow()
			SysMasterFiles.Set(r, "database_id", Int(int32(db.ID)))
			SysMasterFiles.Set(r, "file_id", Int(int32(fileID)))
			SysMasterFiles.Set(r, "file_guid", guid(1000+db.ID*10+fileID))
			typ, desc, ext := 0, "ROWS", ".mdf"
			if fileID == 2 {
				typ, desc, ext = 1, "LOG", "_log.ldf"
			}
			SysMasterFiles.Set(r, "type", TinyInt(uint8(typ)))
			SysMasterFiles.Set(r, "type_desc", NStr(desc))
			SysMasterFiles.Set(r, "data_space_id", Int(int32(1-typ)))
			SysMasterFiles.Set(r, "name", Sysname(db.Name+map[int]string{1: "", 2: "_log"}[fileID]))
			SysMasterFiles.Set(r, "physical_name", NStr(`D:\Data\`+db.Name+ext))
			SysMasterFiles.Set(r, "state", TinyInt(uint8(db.State)))
			SysMasterFiles.Set(r, "state_desc", NStr(db.State.String()))
			SysMasterFiles.Set(r, "size", Int(1024))
			SysMasterFiles.Set(r, "max_size", Int(-1))
			SysMasterFiles.Set(r, "growth", Int(10))
			for _, c := range []string{"is_media_read_only", "is_read_only", "is_sparse", "is_name_reserved"} {
				SysMasterFiles.Set(r, c, Bit(false))
			}
			SysMasterFiles.Set(r, "is_percent_growth", Bit(true))
			SysMasterFiles.Set(r, "create_lsn", lsn(0))
			if db.State == StateRestoring || db.Standby {
				SysMasterFiles.Set(r, "redo_start_lsn", lsn(200))
				SysMasterFiles.Set(r, "redo_start_fork_guid", guid(400))
			}
			rows = append(rows, r)
		}
	}
	must(b.AddRows(SysMasterFiles, "", rows...))

	// msdb: three log backups of mgc ([0,100), [100,200), [200,300)); the last with time_zone 127.
	rows = nil
	var media [][]Value
	for i := 0; i < 3; i++ {
		r := BackupSet.NewRow()
		finish := time.Duration(i-3) * 15 * time.Minute
		BackupSet.Set(r, "backup_set_id", Int(int32(i+1)))
		BackupSet.Set(r, "media_set_id", Int(int32(i+1)))
		BackupSet.Set(r, "first_lsn", lsn(int64(i*100)))
		BackupSet.Set(r, "last_lsn", lsn(int64(i*100+100)))
		BackupSet.Set(r, "checkpoint_lsn", lsn(int64(i*100)))
		BackupSet.Set(r, "database_backup_lsn", lsn(0))
		BackupSet.Set(r, "backup_start_date", dt(finish-time.Second))
		BackupSet.Set(r, "backup_finish_date", dt(finish))
		tz := SmallInt(-20)
		if i == 2 {
			tz = SmallInt(127)
		}
		BackupSet.Set(r, "time_zone", tz)
		BackupSet.Set(r, "type", String(Char(1), "L"))
		BackupSet.Set(r, "database_name", NStr("mgc"))
		BackupSet.Set(r, "server_name", NStr("SQLA1"))
		BackupSet.Set(r, "machine_name", NStr("SQLA1"))
		BackupSet.Set(r, "recovery_model", NStr("FULL"))
		for _, c := range []string{"is_copy_only", "begins_log_chain", "has_incomplete_metadata", "is_force_offline", "is_damaged", "has_bulk_logged_data"} {
			BackupSet.Set(r, c, Bit(false))
		}
		BackupSet.Set(r, "first_recovery_fork_guid", guid(400))
		BackupSet.Set(r, "last_recovery_fork_guid", guid(400))
		BackupSet.Set(r, "database_guid", guid(200+FixtureMGC))
		BackupSet.Set(r, "family_guid", guid(300+FixtureMGC))
		rows = append(rows, r)
		m := BackupMediaFamily.NewRow()
		BackupMediaFamily.Set(m, "media_set_id", Int(int32(i+1)))
		BackupMediaFamily.Set(m, "family_sequence_number", TinyInt(1))
		BackupMediaFamily.Set(m, "media_family_id", guid(500+i))
		BackupMediaFamily.Set(m, "physical_device_name", NStr(fmt.Sprintf(`\\share\lslogs\mgc_2024011509%02d.trn`, i*15)))
		BackupMediaFamily.Set(m, "device_type", TinyInt(2))
		BackupMediaFamily.Set(m, "physical_block_size", Int(512))
		BackupMediaFamily.Set(m, "mirror", TinyInt(0))
		media = append(media, m)
	}
	must(b.AddRows(BackupSet, "msdb", rows...))
	must(b.AddRows(BackupMediaFamily, "msdb", media...))

	// restorehistory: the secondary restored the first two (restore_type 'L') into lsdb
	rows = nil
	for i := 0; i < 2; i++ {
		r := RestoreHistory.NewRow()
		RestoreHistory.Set(r, "restore_history_id", Int(int32(i+1)))
		RestoreHistory.Set(r, "restore_date", dt(time.Duration(i-2)*15*time.Minute+time.Minute))
		RestoreHistory.Set(r, "destination_database_name", NStr("lsdb"))
		RestoreHistory.Set(r, "user_name", NStr("sa"))
		RestoreHistory.Set(r, "backup_set_id", Int(int32(i+1)))
		RestoreHistory.Set(r, "restore_type", String(Char(1), "L"))
		RestoreHistory.Set(r, "replace", Bit(false))
		RestoreHistory.Set(r, "recovery", Bit(false))
		RestoreHistory.Set(r, "restart", Bit(false))
		RestoreHistory.Set(r, "device_count", TinyInt(1))
		rows = append(rows, r)
	}
	must(b.AddRows(RestoreHistory, "msdb", rows...))

	// log shipping configuration and monitor rows
	backupJob, copyJob, restoreJob := guid(601), guid(602), guid(603)
	p := LogShippingPrimaryDatabases.NewRow()
	LogShippingPrimaryDatabases.Set(p, "primary_id", guid(700))
	LogShippingPrimaryDatabases.Set(p, "primary_database", Sysname("mgc"))
	LogShippingPrimaryDatabases.Set(p, "backup_directory", NStr(`\\share\lslogs`))
	LogShippingPrimaryDatabases.Set(p, "backup_share", NStr(`\\share\lslogs`))
	LogShippingPrimaryDatabases.Set(p, "backup_retention_period", Int(4320))
	LogShippingPrimaryDatabases.Set(p, "backup_job_id", backupJob)
	LogShippingPrimaryDatabases.Set(p, "monitor_server", Sysname("SQLA1"))
	LogShippingPrimaryDatabases.Set(p, "monitor_server_security_mode", Bit(true))
	LogShippingPrimaryDatabases.Set(p, "last_backup_file", NStr(`\\share\lslogs\mgc_202401150930.trn`))
	LogShippingPrimaryDatabases.Set(p, "last_backup_date", dt(-15*time.Minute))
	LogShippingPrimaryDatabases.Set(p, "user_specified_monitor", Bit(false))
	LogShippingPrimaryDatabases.Set(p, "backup_compression", TinyInt(2))
	must(b.AddRows(LogShippingPrimaryDatabases, "msdb", p))

	mp := LogShippingMonitorPrimary.NewRow()
	LogShippingMonitorPrimary.Set(mp, "primary_id", guid(700))
	LogShippingMonitorPrimary.Set(mp, "primary_server", Sysname("SQLA1"))
	LogShippingMonitorPrimary.Set(mp, "primary_database", Sysname("mgc"))
	LogShippingMonitorPrimary.Set(mp, "backup_threshold", Int(60))
	LogShippingMonitorPrimary.Set(mp, "threshold_alert", Int(14420))
	LogShippingMonitorPrimary.Set(mp, "threshold_alert_enabled", Bit(true))
	LogShippingMonitorPrimary.Set(mp, "last_backup_file", NStr(`\\share\lslogs\mgc_202401150930.trn`))
	LogShippingMonitorPrimary.Set(mp, "last_backup_date", dt(-15*time.Minute))
	LogShippingMonitorPrimary.Set(mp, "last_backup_date_utc", dtu(-15*time.Minute))
	LogShippingMonitorPrimary.Set(mp, "history_retention_period", Int(5760))
	must(b.AddRows(LogShippingMonitorPrimary, "msdb", mp))

	ms := LogShippingMonitorSecondary.NewRow()
	LogShippingMonitorSecondary.Set(ms, "secondary_server", Sysname("SQLB1"))
	LogShippingMonitorSecondary.Set(ms, "secondary_database", Sysname("lsdb"))
	LogShippingMonitorSecondary.Set(ms, "secondary_id", guid(800))
	LogShippingMonitorSecondary.Set(ms, "primary_server", Sysname("SQLA1"))
	LogShippingMonitorSecondary.Set(ms, "primary_database", Sysname("mgc"))
	LogShippingMonitorSecondary.Set(ms, "restore_threshold", Int(45))
	LogShippingMonitorSecondary.Set(ms, "threshold_alert", Int(14421))
	LogShippingMonitorSecondary.Set(ms, "threshold_alert_enabled", Bit(true))
	LogShippingMonitorSecondary.Set(ms, "last_copied_file", NStr(`D:\lscopy\mgc_202401150915.trn`))
	LogShippingMonitorSecondary.Set(ms, "last_copied_date", dt(-20*time.Minute))
	LogShippingMonitorSecondary.Set(ms, "last_copied_date_utc", dtu(-20*time.Minute))
	LogShippingMonitorSecondary.Set(ms, "last_restored_file", NStr(`D:\lscopy\mgc_202401150915.trn`))
	LogShippingMonitorSecondary.Set(ms, "last_restored_date", dt(-29*time.Minute))
	LogShippingMonitorSecondary.Set(ms, "last_restored_date_utc", dtu(-29*time.Minute))
	LogShippingMonitorSecondary.Set(ms, "history_retention_period", Int(5760))
	// last_restored_latency stays NULL: "NULL at first" (SQLSERVER.md §2.2)
	must(b.AddRows(LogShippingMonitorSecondary, "msdb", ms))

	s := LogShippingSecondary.NewRow()
	LogShippingSecondary.Set(s, "secondary_id", guid(800))
	LogShippingSecondary.Set(s, "primary_server", Sysname("SQLA1"))
	LogShippingSecondary.Set(s, "primary_database", Sysname("mgc"))
	LogShippingSecondary.Set(s, "backup_source_directory", NStr(`\\share\lslogs`))
	LogShippingSecondary.Set(s, "backup_destination_directory", NStr(`D:\lscopy`))
	LogShippingSecondary.Set(s, "file_retention_period", Int(4320))
	LogShippingSecondary.Set(s, "copy_job_id", copyJob)
	LogShippingSecondary.Set(s, "restore_job_id", restoreJob)
	LogShippingSecondary.Set(s, "monitor_server", Sysname("SQLA1"))
	LogShippingSecondary.Set(s, "monitor_server_security_mode", Bit(true))
	LogShippingSecondary.Set(s, "last_copied_file", NStr(`D:\lscopy\mgc_202401150915.trn`))
	LogShippingSecondary.Set(s, "last_copied_date", dt(-20*time.Minute))
	must(b.AddRows(LogShippingSecondary, "msdb", s))

	sd := LogShippingSecondaryDatabases.NewRow()
	LogShippingSecondaryDatabases.Set(sd, "secondary_database", Sysname("lsdb"))
	LogShippingSecondaryDatabases.Set(sd, "secondary_id", guid(800))
	LogShippingSecondaryDatabases.Set(sd, "restore_delay", Int(0))
	LogShippingSecondaryDatabases.Set(sd, "restore_all", Bit(true))
	LogShippingSecondaryDatabases.Set(sd, "restore_mode", Bit(false))
	LogShippingSecondaryDatabases.Set(sd, "disconnect_users", Bit(false))
	LogShippingSecondaryDatabases.Set(sd, "last_restored_file", NStr(`D:\lscopy\mgc_202401150915.trn`))
	LogShippingSecondaryDatabases.Set(sd, "last_restored_date", dt(-29*time.Minute))
	must(b.AddRows(LogShippingSecondaryDatabases, "msdb", sd))

	rows = nil
	for i, status := range []int{0, 2} {
		h := LogShippingMonitorHistoryDetail.NewRow()
		LogShippingMonitorHistoryDetail.Set(h, "agent_id", guid(700))
		LogShippingMonitorHistoryDetail.Set(h, "agent_type", TinyInt(0))
		LogShippingMonitorHistoryDetail.Set(h, "session_id", Int(1))
		LogShippingMonitorHistoryDetail.Set(h, "database_name", Sysname("mgc"))
		LogShippingMonitorHistoryDetail.Set(h, "session_status", TinyInt(uint8(status)))
		LogShippingMonitorHistoryDetail.Set(h, "log_time", dt(time.Duration(i)*time.Second-15*time.Minute))
		LogShippingMonitorHistoryDetail.Set(h, "log_time_utc", dtu(time.Duration(i)*time.Second-15*time.Minute))
		LogShippingMonitorHistoryDetail.Set(h, "message", NStr([]string{"Starting transaction log backup.", "Backup file created."}[i]))
		rows = append(rows, h)
	}
	must(b.AddRows(LogShippingMonitorHistoryDetail, "msdb", rows...))

	rows = nil
	var activity [][]Value
	for i, name := range []string{"LSBackup_mgc", "LSCopy_mgc", "LSRestore_mgc"} {
		j := SysJobs.NewRow()
		id := []Value{backupJob, copyJob, restoreJob}[i]
		SysJobs.Set(j, "job_id", id)
		SysJobs.Set(j, "originating_server_id", Int(0))
		SysJobs.Set(j, "name", Sysname(name))
		SysJobs.Set(j, "enabled", TinyInt(1))
		SysJobs.Set(j, "description", NStr("Log shipping job"))
		SysJobs.Set(j, "start_step_id", Int(1))
		SysJobs.Set(j, "category_id", Int(int32(6+i)))
		for _, c := range []string{"notify_level_eventlog", "notify_level_email", "notify_level_netsend", "notify_level_page",
			"notify_email_operator_id", "notify_netsend_operator_id", "notify_page_operator_id", "delete_level"} {
			SysJobs.Set(j, c, Int(0))
		}
		SysJobs.Set(j, "date_created", created)
		SysJobs.Set(j, "date_modified", created)
		SysJobs.Set(j, "version_number", Int(1))
		rows = append(rows, j)
		a := SysJobActivity.NewRow()
		SysJobActivity.Set(a, "session_id", Int(1))
		SysJobActivity.Set(a, "job_id", id)
		SysJobActivity.Set(a, "run_requested_date", dt(-time.Minute))
		SysJobActivity.Set(a, "run_requested_source", Sysname("1"))
		SysJobActivity.Set(a, "start_execution_date", dt(-time.Minute))
		if i != 1 { // the copy job is running
			SysJobActivity.Set(a, "stop_execution_date", dt(-time.Minute+3*time.Second))
		}
		SysJobActivity.Set(a, "next_scheduled_run_date", dt(14*time.Minute))
		activity = append(activity, a)
	}
	must(b.AddRows(SysJobs, "msdb", rows...))
	h := SysJobHistory.NewRow()
	SysJobHistory.Set(h, "instance_id", Int(1))
	SysJobHistory.Set(h, "job_id", backupJob)
	SysJobHistory.Set(h, "step_id", Int(0))
	SysJobHistory.Set(h, "step_name", Sysname("(Job outcome)"))
	SysJobHistory.Set(h, "sql_message_id", Int(0))
	SysJobHistory.Set(h, "sql_severity", Int(0))
	SysJobHistory.Set(h, "message", NStr("The job succeeded."))
	SysJobHistory.Set(h, "run_status", Int(1))
	SysJobHistory.Set(h, "run_date", Int(int32(local.Year()*10000+int(local.Month())*100+local.Day())))
	SysJobHistory.Set(h, "run_time", Int(93015))
	SysJobHistory.Set(h, "run_duration", Int(5))
	SysJobHistory.Set(h, "retries_attempted", Int(0))
	SysJobHistory.Set(h, "server", Sysname("SQLA1"))
	must(b.AddRows(SysJobHistory, "msdb", h))
	must(b.AddRows(SysJobActivity, "msdb", activity...))

	msgs := TableName{Database: "mgc", Schema: "dbo", Name: "messages"}
	b.DefineTable(msgs, MessagesTable)
	rows = nil
	for i := 1; i <= messageRows; i++ {
		rows = append(rows, []Value{Int(int32(i)), DateTime2Value(7, now.UTC().Add(time.Duration(i-messageRows)*time.Second)), NStr(fmt.Sprintf("message %d", i))})
	}
	must(b.AddUserRows(msgs, rows...))
	return b
}

package probes

import (
	"time"
)

// Fixtures: result sets shaped as go-mssqldb returns them through database/sql (numeric(25,0) and
// uniqueidentifier as []byte — the GUID in wire byte order —, datetime as time.Time, bit as bool,
// tinyint/int as int64, NULL as nil).

func wireGUID(s string) []byte {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	b := make([]byte, 16)
	copy(b, g[:])
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

func dec(s string) []byte { return []byte(s) }

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	mirrorGUID   = "0B6A7A51-3C2D-4E5F-8A9B-0C1D2E3F4A5B"
	forkGUID     = "11111111-2222-3333-4444-555555555555"
	newForkGUID  = "99999999-8888-7777-6666-555555555555"
	backupJobID  = "AAAAAAAA-0000-0000-0000-000000000001"
	copyJobID    = "BBBBBBBB-0000-0000-0000-000000000002"
	restoreJobID = "CCCCCCCC-0000-0000-0000-000000000003"
	otherJobID   = "DDDDDDDD-0000-0000-0000-000000000004"
)

var databasesCols = []string{"name", "state_desc", "is_read_only", "is_in_standby", "user_access_desc", "recovery_model_desc",
	"mirroring_guid", "mirroring_state", "mirroring_role", "mirroring_role_sequence", "mirroring_safety_level",
	"mirroring_partner_name", "mirroring_partner_instance", "mirroring_witness_name", "mirroring_witness_state",
	"mirroring_failover_lsn", "mirroring_end_of_log_lsn", "recovery_fork_guid", "last_log_backup_lsn",
	"redo_start_lsn", "redo_start_fork_guid"}

var backupCols = []string{"destination_database_name", "server_name", "backup_set_id", "first_lsn", "last_lsn", "backup_finish_date", "time_zone",
	"first_recovery_fork_guid", "last_recovery_fork_guid", "is_copy_only", "physical_device_name"}

var recentCols = []string{"database_name", "server_name", "backup_set_id", "first_lsn", "last_lsn", "backup_finish_date", "time_zone",
	"first_recovery_fork_guid", "last_recovery_fork_guid", "is_copy_only", "physical_device_name"}

func instanceSet(server string, utc time.Time) ResultSet {
	return ResultSet{Columns: []string{"server_name", "version", "utc_now"},
		Rows: [][]any{{server, "Microsoft SQL Server 2019 (RTM-CU5) - 15.0.4043.16 (X64)", utc}}}
}

func emptySet(cols ...string) ResultSet { return ResultSet{Columns: cols} }

func lsPrimaryEmpty() ResultSet {
	return emptySet("primary_database", "primary_server", "backup_threshold", "threshold_alert",
		"threshold_alert_enabled", "last_backup_file", "last_backup_date_utc")
}

func lsPrimaryConfigEmpty() ResultSet {
	return emptySet("primary_database", "backup_job_id", "backup_directory")
}

func lsSecondaryEmpty() ResultSet {
	return emptySet("secondary_database", "primary_server", "primary_database", "restore_threshold",
		"threshold_alert", "threshold_alert_enabled", "last_copied_file", "last_copied_date_utc",
		"last_restored_file", "last_restored_date_utc", "last_restored_latency")
}

func lsSecondaryConfigEmpty() ResultSet {
	return emptySet("secondary_database", "restore_delay", "restore_mode", "copy_job_id", "restore_job_id")
}

func jobsEmpty() ResultSet {
	return emptySet("job_id", "name", "enabled", "session_id", "start_execution_date", "stop_execution_date")
}

// Log backups of mgc on SQLA (EST, time_zone -20): three consecutive files, LSNs above 2^63.
// Local 07:00 EST = 12:00 UTC.
var (
	lsn1 = "9300000000000000100001" // first_lsn of backup 1
	lsn2 = "9300000000000000200001"
	lsn3 = "9300000000000000300001"
	lsn4 = "9300000000000000400001"
)

func recentRow(id int64, first, last, finishLocal string, tz any, file string) []any {
	return []any{"mgc", "SQLA", id, dec(first), dec(last), ts(finishLocal), tz, wireGUID(forkGUID), wireGUID(forkGUID), false, file}
}

// principalSets is SQLA, principal of mgc, with three log backups (the third at 07:10 local EST).
func principalSets(utc time.Time) []ResultSet {
	return []ResultSet{
		instanceSet("SQLA", utc),
		{Columns: databasesCols, Rows: [][]any{
			{"mgc", "ONLINE", false, false, "MULTI_USER", "FULL",
				wireGUID(mirrorGUID), int64(4), int64(1), int64(3), int64(2),
				"TCP://sqlb.example:5022", "SQLB", "TCP://witness.example:5022", int64(1),
				dec("18446744073709551617"), dec("18446744073709551617"), wireGUID(forkGUID), dec(lsn4), nil, nil},
			{"master", "ONLINE", false, false, "MULTI_USER", "SIMPLE", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		}},
		{Columns: lsPrimaryEmpty().Columns, Rows: [][]any{
			{"mgc", "SQLA", int64(60), int64(14420), true, `\\share\mgc\mgc_20261128121000.trn`, ts("2026-11-28 12:10:00")},
		}},
		{Columns: lsPrimaryConfigEmpty().Columns, Rows: [][]any{{"mgc", wireGUID(backupJobID), `\\share\mgc\`}}},
		lsSecondaryEmpty(),
		lsSecondaryConfigEmpty(),
		{Columns: jobsEmpty().Columns, Rows: [][]any{
			{wireGUID(backupJobID), "LSBackup_mgc", true, int64(7), ts("2026-11-28 07:10:00"), ts("2026-11-28 07:10:02")},
		}},
		{Columns: recentCols, Rows: [][]any{
			recentRow(30, lsn3, lsn4, "2026-11-28 07:10:00", int64(-20), `\\share\mgc\mgc_20261128121000.trn`),
			// A row written by RESTORE of another server's backup: not a backup taken here.
			{"mgc", "SQLOTHER", int64(29), dec(lsn1), dec(lsn2), ts("2026-11-28 06:00:00"), int64(-20), nil, nil, false, `x.trn`},
			recentRow(28, lsn2, lsn3, "2026-11-28 07:05:00", int64(-20), `\\share\mgc\mgc_20261128120500.trn`),
			recentRow(27, lsn1, lsn2, "2026-11-28 07:00:00", int64(-20), `\\share\mgc\mgc_20261128120000.trn`),
		}},
	}
}

// mirrorSets is SQLB, the mirror, as a monitoring login sees it: RESTORING, mirroring columns NULL.
func mirrorSets(utc time.Time, sysadmin bool) []ResultSet {
	row := []any{"mgc", "RESTORING", false, false, "MULTI_USER", "FULL",
		nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, dec(lsn4), wireGUID(forkGUID)}
	if sysadmin {
		row = []any{"mgc", "RESTORING", false, false, "MULTI_USER", "FULL",
			wireGUID(mirrorGUID), int64(4), int64(2), int64(3), int64(2),
			"TCP://sqla.example:5022", "SQLA", "TCP://witness.example:5022", int64(1),
			dec("18446744073709551617"), dec("18446744073709551618"), nil, nil, dec(lsn4), wireGUID(forkGUID)}
	}
	return []ResultSet{
		instanceSet("SQLB", utc),
		{Columns: databasesCols, Rows: [][]any{row}},
		lsPrimaryEmpty(), lsPrimaryConfigEmpty(), lsSecondaryEmpty(), lsSecondaryConfigEmpty(), jobsEmpty(),
		{Columns: recentCols},
	}
}

// secondarySets is SQLC in site B (UTC+1, time_zone 4 for its own rows, but the restored backupset
// rows carry the primary's EST time_zone). It restored backup 1 (up to lsn2), copied backup 2.
func secondarySets(utc time.Time, restoredTZ any) []ResultSet {
	return []ResultSet{
		instanceSet("SQLC", utc),
		{Columns: databasesCols, Rows: [][]any{
			{"mgc", "RESTORING", false, false, "MULTI_USER", "FULL",
				nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, dec(lsn2), wireGUID(forkGUID)},
		}},
		lsPrimaryEmpty(), lsPrimaryConfigEmpty(),
		{Columns: lsSecondaryEmpty().Columns, Rows: [][]any{
			{"mgc", "SQLA", "mgc", int64(45), int64(14421), true,
				`D:\copy\mgc_20261128120500.trn`, ts("2026-11-28 12:06:00"),
				`D:\copy\mgc_20261128120000.trn`, ts("2026-11-28 12:02:00"), nil},
		}},
		{Columns: lsSecondaryConfigEmpty().Columns, Rows: [][]any{
			{"mgc", int64(0), false, wireGUID(copyJobID), wireGUID(restoreJobID)},
		}},
		{Columns: jobsEmpty().Columns, Rows: [][]any{
			// Session 3 is older: its unfinished row must not count as running.
			{wireGUID(copyJobID), "LSCopy_SQLA_mgc", true, int64(3), ts("2026-11-20 10:00:00"), nil},
			{wireGUID(copyJobID), "LSCopy_SQLA_mgc", true, int64(4), ts("2026-11-28 13:06:00"), ts("2026-11-28 13:06:01")},
			{wireGUID(restoreJobID), "LSRestore_SQLA_mgc", false, int64(4), ts("2026-11-28 13:08:00"), nil},
			{wireGUID(otherJobID), "syspolicy_purge_history", true, nil, nil, nil},
		}},
		{Columns: backupCols, Rows: [][]any{
			{"mgc", "SQLA", int64(5), dec(lsn1), dec(lsn2), ts("2026-11-28 07:00:00"), restoredTZ, wireGUID(forkGUID), wireGUID(forkGUID), false, `D:\copy\mgc_20261128120000.trn`},
		}},
	}
}

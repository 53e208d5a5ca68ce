package engine

import "strings"

// TableDef is the definition of a catalog view or system table: where it lives, its documented
// columns and their types. One definition per table; the lab's backends build rows against it.
type TableDef struct {
	// Database is "msdb" for msdb tables; empty for server-wide catalog views (sys.*), which are
	// visible from every database.
	Database string
	Schema   string
	Name     string
	Columns  []Column
	// Source cites the document the columns come from.
	Source string
}

// TableName returns the definition's name resolved in database db (its own database for msdb tables).
func (d *TableDef) TableName(db string) TableName {
	if d.Database != "" {
		db = d.Database
	}
	return TableName{Database: db, Schema: d.Schema, Name: d.Name}
}

// Index returns the position of the named column (case-insensitive), or -1.
func (d *TableDef) Index(column string) int {
	for i, c := range d.Columns {
		if strings.EqualFold(c.Name, column) {
			return i
		}
	}
	return -1
}

// Relation returns an empty relation with the definition's columns.
func (d *TableDef) Relation() *Relation {
	return &Relation{Columns: append([]Column(nil), d.Columns...)}
}

// NewRow returns a row of NULLs of the right types, to fill with Set.
func (d *TableDef) NewRow() []Value {
	row := make([]Value, len(d.Columns))
	for i, c := range d.Columns {
		row[i] = Null(c.Type)
	}
	return row
}

// Set stores v in column of row, converting it to the column's type. It panics on an unknown
// column or a value that does not convert: that is a programming error in the backend.
func (d *TableDef) Set(row []Value, column string, v Value) {
	i := d.Index(column)
	if i < 0 {
		panic("catalog: " + d.Name + " has no column " + column)
	}
	cv, err := Convert(v, d.Columns[i].Type)
	if err != nil {
		panic("catalog: " + d.Name + "." + column + ": " + err.Error())
	}
	row[i] = cv
}

func col(name string, t Type) Column { return Column{Name: name, Type: t, Nullable: true} }

var nv60 = NVarChar(60)

// The catalog. Column names and types are exactly those of the cited documents (SQLSERVER.md gives
// the section and file); where a view has many more documented columns than the lab needs, the
// subset is noted.
var (
	// SysDatabases is sys.databases (SQLSERVER.md §3.2; [SQLD] sys-databases-transact-sql.md;
	// documented subset: owner_sid varbinary(85) and the feature flags the lab never sets are omitted).
	SysDatabases = &TableDef{Schema: "sys", Name: "databases", Source: "sys-databases-transact-sql.md", Columns: []Column{
		col("name", TypeSysname), col("database_id", TypeInt), col("source_database_id", TypeInt),
		col("create_date", TypeDateTime), col("compatibility_level", TypeTinyInt), col("collation_name", TypeSysname),
		col("user_access", TypeTinyInt), col("user_access_desc", nv60), col("is_read_only", TypeBit),
		col("is_auto_close_on", TypeBit), col("is_auto_shrink_on", TypeBit), col("state", TypeTinyInt),
		col("state_desc", nv60), col("is_in_standby", TypeBit), col("is_cleanly_shutdown", TypeBit),
		col("recovery_model", TypeTinyInt), col("recovery_model_desc", nv60), col("page_verify_option", TypeTinyInt),
		col("page_verify_option_desc", nv60), col("log_reuse_wait", TypeTinyInt), col("log_reuse_wait_desc", nv60),
	}}

	// SysDatabaseMirroring is sys.database_mirroring (SQLSERVER.md §1.1).
	SysDatabaseMirroring = &TableDef{Schema: "sys", Name: "database_mirroring", Source: "sys-database-mirroring-transact-sql.md", Columns: []Column{
		col("database_id", TypeInt), col("mirroring_guid", TypeUniqueIdentifier), col("mirroring_state", TypeTinyInt),
		col("mirroring_state_desc", nv60), col("mirroring_role", TypeTinyInt), col("mirroring_role_desc", nv60),
		col("mirroring_role_sequence", TypeInt), col("mirroring_safety_level", TypeTinyInt),
		col("mirroring_safety_level_desc", nv60), col("mirroring_safety_sequence", TypeInt),
		col("mirroring_partner_name", NVarChar(128)), col("mirroring_partner_instance", NVarChar(128)),
		col("mirroring_witness_name", NVarChar(128)), col("mirroring_witness_state", TypeTinyInt),
		col("mirroring_witness_state_desc", nv60), col("mirroring_failover_lsn", TypeLSN),
		col("mirroring_connection_timeout", TypeInt), col("mirroring_redo_queue", TypeInt),
		col("mirroring_redo_queue_type", nv60), col("mirroring_end_of_log_lsn", TypeLSN),
		col("mirroring_replication_lsn", TypeLSN),
	}}

	// SysDatabaseRecoveryStatus is sys.database_recovery_status (SQLSERVER.md §3.2).
	SysDatabaseRecoveryStatus = &TableDef{Schema: "sys", Name: "database_recovery_status", Source: "sys-database-recovery-status-transact-sql.md", Columns: []Column{
		col("database_id", TypeInt), col("database_guid", TypeUniqueIdentifier), col("family_guid", TypeUniqueIdentifier),
		col("last_log_backup_lsn", TypeLSN), col("recovery_fork_guid", TypeUniqueIdentifier),
		col("first_recovery_fork_guid", TypeUniqueIdentifier), col("fork_point_lsn", TypeLSN),
	}}

	// SysMasterFiles is sys.master_files (SQLSERVER.md §3.2, §8 Q12; [SQLD] sys-master-files-transact-sql.md).
	SysMasterFiles = &TableDef{Schema: "sys", Name: "master_files", Source: "sys-master-files-transact-sql.md", Columns: []Column{
		col("database_id", TypeInt), col("file_id", TypeInt), col("file_guid", TypeUniqueIdentifier),
		col("type", TypeTinyInt), col("type_desc", nv60), col("data_space_id", TypeInt), col("name", TypeSysname),
		col("physical_name", NVarChar(260)), col("state", TypeTinyInt), col("state_desc", nv60), col("size", TypeInt),
		col("max_size", TypeInt), col("growth", TypeInt), col("is_media_read_only", TypeBit), col("is_read_only", TypeBit),
		col("is_sparse", TypeBit), col("is_percent_growth", TypeBit), col("is_name_reserved", TypeBit),
		col("create_lsn", TypeLSN), col("drop_lsn", TypeLSN), col("read_only_lsn", TypeLSN), col("read_write_lsn", TypeLSN),
		col("differential_base_lsn", TypeLSN), col("differential_base_guid", TypeUniqueIdentifier),
		col("differential_base_time", TypeDateTime), col("redo_start_lsn", TypeLSN),
		col("redo_start_fork_guid", TypeUniqueIdentifier), col("redo_target_lsn", TypeLSN),
		col("redo_target_fork_guid", TypeUniqueIdentifier), col("backup_lsn", TypeLSN), col("credential_id", TypeInt),
	}}

	// SysDatabaseMirroringEndpoints is sys.database_mirroring_endpoints: the columns inherited from
	// sys.endpoints, then its own (SQLSERVER.md §1.1 endpoint check; [SQLD]
	// sys-database-mirroring-endpoints-transact-sql.md, sys-endpoints-transact-sql.md).
	SysDatabaseMirroringEndpoints = &TableDef{Schema: "sys", Name: "database_mirroring_endpoints", Source: "sys-database-mirroring-endpoints-transact-sql.md", Columns: []Column{
		col("name", TypeSysname), col("endpoint_id", TypeInt), col("principal_id", TypeInt), col("protocol", TypeTinyInt),
		col("protocol_desc", nv60), col("type", TypeTinyInt), col("type_desc", nv60), col("state", TypeTinyInt),
		col("state_desc", nv60), col("is_admin_endpoint", TypeBit), col("role", TypeTinyInt), col("role_desc", nv60),
		col("is_encryption_enabled", TypeBit), col("connection_auth", TypeTinyInt), col("connection_auth_desc", nv60),
		col("certificate_id", TypeInt), col("encryption_algorithm", TypeTinyInt), col("encryption_algorithm_desc", nv60),
	}}

	// LogShippingMonitorPrimary is msdb.dbo.log_shipping_monitor_primary (SQLSERVER.md §2.2).
	LogShippingMonitorPrimary = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_monitor_primary", Source: "log-shipping-monitor-primary-transact-sql.md", Columns: []Column{
		col("primary_id", TypeUniqueIdentifier), col("primary_server", TypeSysname), col("primary_database", TypeSysname),
		col("backup_threshold", TypeInt), col("threshold_alert", TypeInt), col("threshold_alert_enabled", TypeBit),
		col("last_backup_file", NVarChar(500)), col("last_backup_date", TypeDateTime), col("last_backup_date_utc", TypeDateTime),
		col("history_retention_period", TypeInt),
	}}

	// LogShippingMonitorSecondary is msdb.dbo.log_shipping_monitor_secondary (SQLSERVER.md §2.2).
	LogShippingMonitorSecondary = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_monitor_secondary", Source: "log-shipping-monitor-secondary-transact-sql.md", Columns: []Column{
		col("secondary_server", TypeSysname), col("secondary_database", TypeSysname), col("secondary_id", TypeUniqueIdentifier),
		col("primary_server", TypeSysname), col("primary_database", TypeSysname), col("restore_threshold", TypeInt),
		col("threshold_alert", TypeInt), col("threshold_alert_enabled", TypeBit), col("last_copied_file", NVarChar(500)),
		col("last_copied_date", TypeDateTime), col("last_copied_date_utc", TypeDateTime), col("last_restored_file", NVarChar(500)),
		col("last_restored_date", TypeDateTime), col("last_restored_date_utc", TypeDateTime), col("last_restored_latency", TypeInt),
		col("history_retention_period", TypeInt),
	}}

	// LogShippingPrimaryDatabases is msdb.dbo.log_shipping_primary_databases (SQLSERVER.md §2.2).
	LogShippingPrimaryDatabases = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_primary_databases", Source: "log-shipping-primary-databases-transact-sql.md", Columns: []Column{
		col("primary_id", TypeUniqueIdentifier), col("primary_database", TypeSysname), col("backup_directory", NVarChar(500)),
		col("backup_share", NVarChar(500)), col("backup_retention_period", TypeInt), col("backup_job_id", TypeUniqueIdentifier),
		col("monitor_server", TypeSysname), col("monitor_server_security_mode", TypeBit), col("last_backup_file", NVarChar(500)),
		col("last_backup_date", TypeDateTime), col("user_specified_monitor", TypeBit), col("backup_compression", TypeTinyInt),
	}}

	// LogShippingSecondary is msdb.dbo.log_shipping_secondary (SQLSERVER.md §2.2).
	LogShippingSecondary = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_secondary", Source: "log-shipping-secondary-transact-sql.md", Columns: []Column{
		col("secondary_id", TypeUniqueIdentifier), col("primary_server", TypeSysname), col("primary_database", TypeSysname),
		col("backup_source_directory", NVarChar(500)), col("backup_destination_directory", NVarChar(500)),
		col("file_retention_period", TypeInt), col("copy_job_id", TypeUniqueIdentifier), col("restore_job_id", TypeUniqueIdentifier),
		col("monitor_server", TypeSysname), col("monitor_server_security_mode", TypeBit), col("last_copied_file", NVarChar(500)),
		col("last_copied_date", TypeDateTime),
	}}

	// LogShippingSecondaryDatabases is msdb.dbo.log_shipping_secondary_databases (SQLSERVER.md §2.2).
	LogShippingSecondaryDatabases = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_secondary_databases", Source: "log-shipping-secondary-databases-transact-sql.md", Columns: []Column{
		col("secondary_database", TypeSysname), col("secondary_id", TypeUniqueIdentifier), col("restore_delay", TypeInt),
		col("restore_all", TypeBit), col("restore_mode", TypeBit), col("disconnect_users", TypeBit), col("block_size", TypeInt),
		col("buffer_count", TypeInt), col("max_transfer_size", TypeInt), col("last_restored_file", NVarChar(500)),
		col("last_restored_date", TypeDateTime),
	}}

	// LogShippingMonitorHistoryDetail is msdb.dbo.log_shipping_monitor_history_detail (SQLSERVER.md §2.2).
	LogShippingMonitorHistoryDetail = &TableDef{Database: "msdb", Schema: "dbo", Name: "log_shipping_monitor_history_detail", Source: "log-shipping-monitor-history-detail-transact-sql.md", Columns: []Column{
		col("agent_id", TypeUniqueIdentifier), col("agent_type", TypeTinyInt), col("session_id", TypeInt),
		col("database_name", TypeSysname), col("session_status", TypeTinyInt), col("log_time", TypeDateTime),
		col("log_time_utc", TypeDateTime), col("message", NVarChar(MaxLength)),
	}}

	// BackupSet is msdb.dbo.backupset (SQLSERVER.md §3.1, the columns that matter; documented subset).
	BackupSet = &TableDef{Database: "msdb", Schema: "dbo", Name: "backupset", Source: "backupset-transact-sql.md", Columns: []Column{
		col("backup_set_id", TypeInt), col("media_set_id", TypeInt), col("first_lsn", TypeLSN), col("last_lsn", TypeLSN),
		col("checkpoint_lsn", TypeLSN), col("database_backup_lsn", TypeLSN), col("backup_start_date", TypeDateTime),
		col("backup_finish_date", TypeDateTime), col("time_zone", TypeSmallInt), col("type", Char(1)),
		col("database_name", NVarChar(128)), col("server_name", NVarChar(128)), col("machine_name", NVarChar(128)),
		col("recovery_model", nv60), col("is_copy_only", TypeBit), col("begins_log_chain", TypeBit),
		col("has_incomplete_metadata", TypeBit), col("is_force_offline", TypeBit), col("is_damaged", TypeBit),
		col("has_bulk_logged_data", TypeBit), col("first_recovery_fork_guid", TypeUniqueIdentifier),
		col("last_recovery_fork_guid", TypeUniqueIdentifier), col("fork_point_lsn", TypeLSN),
		col("database_guid", TypeUniqueIdentifier), col("family_guid", TypeUniqueIdentifier),
	}}

	// BackupMediaFamily is msdb.dbo.backupmediafamily (SQLSERVER.md §3.1).
	BackupMediaFamily = &TableDef{Database: "msdb", Schema: "dbo", Name: "backupmediafamily", Source: "backupmediafamily-transact-sql.md", Columns: []Column{
		col("media_set_id", TypeInt), col("family_sequence_number", TypeTinyInt), col("media_family_id", TypeUniqueIdentifier),
		col("media_count", TypeInt), col("logical_device_name", NVarChar(128)), col("physical_device_name", NVarChar(260)),
		col("device_type", TypeTinyInt), col("physical_block_size", TypeInt), col("mirror", TypeTinyInt),
	}}

	// RestoreHistory is msdb.dbo.restorehistory (SQLSERVER.md §3.1).
	RestoreHistory = &TableDef{Database: "msdb", Schema: "dbo", Name: "restorehistory", Source: "restorehistory-transact-sql.md", Columns: []Column{
		col("restore_history_id", TypeInt), col("restore_date", TypeDateTime), col("destination_database_name", NVarChar(128)),
		col("user_name", NVarChar(128)), col("backup_set_id", TypeInt), col("restore_type", Char(1)), col("replace", TypeBit),
		col("recovery", TypeBit), col("restart", TypeBit), col("stop_at", TypeDateTime), col("device_count", TypeTinyInt),
		col("stop_at_mark_name", NVarChar(128)), col("stop_before", TypeBit),
	}}

	// SysJobs is msdb.dbo.sysjobs ([SQLD] dbo-sysjobs-transact-sql.md; owner_sid varbinary(85) omitted).
	SysJobs = &TableDef{Database: "msdb", Schema: "dbo", Name: "sysjobs", Source: "dbo-sysjobs-transact-sql.md", Columns: []Column{
		col("job_id", TypeUniqueIdentifier), col("originating_server_id", TypeInt), col("name", TypeSysname),
		col("enabled", TypeTinyInt), col("description", NVarChar(512)), col("start_step_id", TypeInt), col("category_id", TypeInt),
		col("notify_level_eventlog", TypeInt), col("notify_level_email", TypeInt), col("notify_level_netsend", TypeInt),
		col("notify_level_page", TypeInt), col("notify_email_operator_id", TypeInt), col("notify_netsend_operator_id", TypeInt),
		col("notify_page_operator_id", TypeInt), col("delete_level", TypeInt), col("date_created", TypeDateTime),
		col("date_modified", TypeDateTime), col("version_number", TypeInt),
	}}

	// SysJobActivity is msdb.dbo.sysjobactivity ([SQLD] dbo-sysjobactivity-transact-sql.md).
	SysJobActivity = &TableDef{Database: "msdb", Schema: "dbo", Name: "sysjobactivity", Source: "dbo-sysjobactivity-transact-sql.md", Columns: []Column{
		col("session_id", TypeInt), col("job_id", TypeUniqueIdentifier), col("run_requested_date", TypeDateTime),
		col("run_requested_source", TypeSysname), col("queued_date", TypeDateTime), col("start_execution_date", TypeDateTime),
		col("last_executed_step_id", TypeInt), col("last_executed_step_date", TypeDateTime),
		col("stop_execution_date", TypeDateTime), col("job_history_id", TypeInt), col("next_scheduled_run_date", TypeDateTime),
	}}

	// SysJobHistory is msdb.dbo.sysjobhistory ([SQLD] dbo-sysjobhistory-transact-sql.md).
	SysJobHistory = &TableDef{Database: "msdb", Schema: "dbo", Name: "sysjobhistory", Source: "dbo-sysjobhistory-transact-sql.md", Columns: []Column{
		col("instance_id", TypeInt), col("job_id", TypeUniqueIdentifier), col("step_id", TypeInt), col("step_name", TypeSysname),
		col("sql_message_id", TypeInt), col("sql_severity", TypeInt), col("message", NVarChar(4000)), col("run_status", TypeInt),
		col("run_date", TypeInt), col("run_time", TypeInt), col("run_duration", TypeInt), col("operator_id_emailed", TypeInt),
		col("operator_id_netsent", TypeInt), col("operator_id_paged", TypeInt), col("retries_attempted", TypeInt),
		col("server", TypeSysname),
	}}
)

// Catalog lists every catalog definition.
var Catalog = []*TableDef{
	SysDatabases, SysDatabaseMirroring, SysDatabaseRecoveryStatus, SysMasterFiles, SysDatabaseMirroringEndpoints,
	LogShippingMonitorPrimary, LogShippingMonitorSecondary, LogShippingPrimaryDatabases, LogShippingSecondary,
	LogShippingSecondaryDatabases, LogShippingMonitorHistoryDetail, BackupSet, BackupMediaFamily, RestoreHistory,
	SysJobs, SysJobActivity, SysJobHistory,
}

// LookupCatalog finds the catalog definition for a resolved name: sys.* views in any database,
// msdb tables only in msdb.
func LookupCatalog(ref TableName) *TableDef {
	for _, d := range Catalog {
		if !strings.EqualFold(d.Schema, ref.Schema) || !strings.EqualFold(d.Name, ref.Name) {
			continue
		}
		if d.Database == "" || strings.EqualFold(d.Database, ref.Database) {
			return d
		}
	}
	return nil
}

// AsSeenBy applies the catalog's per-login visibility rules to rows of def, so every backend shows a
// login the same rows:
//   - sys.master_files: no rows for a login that is not sysadmin. "The minimum permissions that are
//     required to see the corresponding row are CREATE DATABASE, ALTER ANY DATABASE, or VIEW ANY
//     DEFINITION" (sys-master-files-transact-sql.md), none of which the monitoring login of
//     SQLSERVER.md §8 Q14 holds; so redo_start_lsn is unknown to it, not NULL.
//   - sys.database_mirroring: each row through MaskMirroring.
//
// Rows of other tables are returned as they are. The result is a new slice; rows are not modified.
func AsSeenBy(def *TableDef, sysadmin bool, rows [][]Value) [][]Value {
	out := make([][]Value, 0, len(rows))
	if sysadmin {
		return append(out, rows...)
	}
	switch def {
	case SysMasterFiles:
		return out
	case SysDatabaseMirroring:
		for _, r := range rows {
			out = append(out, MaskMirroring(r, false))
		}
		return out
	}
	return append(out, rows...)
}

// MaskMirroring applies sys.database_mirroring's visibility rule (SQLSERVER.md §1.1, §8 Q14) to a
// row: for a login that is not sysadmin, the row of a database acting as MIRROR shows every column
// except database_id as NULL. It returns a new row and leaves row unchanged.
func MaskMirroring(row []Value, sysadmin bool) []Value {
	if sysadmin {
		return row
	}
	role := row[SysDatabaseMirroring.Index("mirroring_role")]
	if role.Null || role.Int64() != 2 {
		return row
	}
	out := SysDatabaseMirroring.NewRow()
	out[0] = row[0]
	return out
}

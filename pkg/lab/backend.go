package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// Backend adapts an Instance to the SQL engine: it renders the catalog views and
// msdb tables from the world model, as the session's login sees them, and runs
// effectful statements on the model. It also tracks sessions (for 3101, SINGLE_USER
// WITH ROLLBACK IMMEDIATE and KILL).
type Backend struct {
	inst *Instance
}

var (
	_ engine.Backend        = (*Backend)(nil)
	_ engine.SessionTracker = (*Backend)(nil)
)

// Backend returns the engine backend of this instance.
func (i *Instance) Backend() *Backend { return &Backend{inst: i} }

// Product identity reported by @@VERSION and SERVERPROPERTY.
const (
	productVersion = "16.0.1000.6"
	versionText    = "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) \n\tOct  8 2022 05:58:25 \n\tCopyright (C) 2022 Microsoft Corporation\n\tDeveloper Edition (64-bit) on Windows Server 2022 Datacenter 10.0 <X64> (Build 20348: ) (Hypervisor)\n (sqldr lab)"
)

// Server implements engine.Backend.
func (b *Backend) Server(context.Context) engine.ServerInfo {
	i := b.inst
	return engine.ServerInfo{
		Name:    i.name,
		Version: versionText,
		Properties: map[string]engine.Value{
			"ProductVersion": engine.NStr(productVersion),
			"ProductLevel":   engine.NStr("RTM"),
			"Edition":        engine.NStr("Developer Edition (64-bit)"),
			"EngineEdition":  engine.Int(3),
			"MachineName":    engine.NStr(i.name),
			"ServerName":     engine.NStr(i.name),
			"InstanceName":   engine.Null(engine.TypeSysname),
			"IsClustered":    engine.Int(0),
			"IsHadrEnabled":  engine.Int(0),
			"Collation":      engine.NStr("SQL_Latin1_General_CP1_CI_AS"),
		},
		Now: i.LocalNow(),
	}
}

// Databases implements engine.Backend.
func (b *Backend) Databases(context.Context) []engine.DatabaseInfo {
	var out []engine.DatabaseInfo
	for _, d := range b.inst.Databases() {
		out = append(out, engine.DatabaseInfo{
			ID: int(d.ID), Name: d.Name, State: d.State,
			Mirror:  d.Mirroring != nil && d.Mirroring.Role == RoleMirror,
			Standby: d.Standby, ReadOnly: d.ReadOnly, UserAccess: uint8(d.Access), RecoveryModel: uint8(d.Recovery),
		})
	}
	return out
}

// SessionOpened implements engine.SessionTracker.
func (b *Backend) SessionOpened(s engine.SessionInfo, kill func()) {
	i := b.inst
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	i.sessions[int32(s.SPID)] = &Session{inst: i, spid: int32(s.SPID), login: Login{Name: s.Login, Sysadmin: s.Sysadmin}, db: s.Database, onKill: kill}
}

// SessionChanged implements engine.SessionTracker.
func (b *Backend) SessionChanged(s engine.SessionInfo) {
	i := b.inst
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	if ms, ok := i.sessions[int32(s.SPID)]; ok {
		ms.db = s.Database
	}
}

// SessionClosed implements engine.SessionTracker.
func (b *Backend) SessionClosed(spid int) {
	i := b.inst
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	delete(i.sessions, int32(spid))
}

// session returns the model session behind an engine session (a transient one
// when the engine did not announce it).
func (b *Backend) session(s *engine.SessionInfo) *Session {
	i := b.inst
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	if ms, ok := i.sessions[int32(s.SPID)]; ok {
		return ms
	}
	return &Session{inst: i, spid: int32(s.SPID), login: Login{Name: s.Login, Sysadmin: s.Sysadmin}, db: s.Database}
}

// toEngine converts the model's errors to the engine's.
func toEngine(err error) error {
	if err == nil {
		return nil
	}
	var errs Errors
	if errors.As(err, &errs) {
		out := make(engine.Errors, len(errs))
		for k, e := range errs {
			out[k] = e.toEngine()
		}
		return out
	}
	return err
}

// Message columns of the application table.
var messagesTable = &engine.TableDef{Schema: "dbo", Name: "messages", Columns: []engine.Column{
	{Name: "id", Type: engine.TypeBigInt},
	{Name: "created_at", Type: engine.DateTime2(3), Nullable: true},
	{Name: "body", Type: engine.NVarChar(200), Nullable: true},
}}

func lsnValue(l LSN) engine.Value {
	if l.IsZero() {
		return engine.Null(engine.TypeLSN)
	}
	v, err := engine.DecimalValue(engine.TypeLSN, l.Big())
	if err != nil {
		panic(fmt.Sprintf("lab: LSN %s does not fit numeric(25,0): %v", l, err))
	}
	return v
}

func guidValue(g GUID) engine.Value {
	if g.IsZero() {
		return engine.Null(engine.TypeUniqueIdentifier)
	}
	return engine.GUID(g)
}

func dt(t time.Time) engine.Value { return engine.DateTime(t) }

func dtp(t *time.Time) engine.Value {
	if t == nil {
		return engine.Null(engine.TypeDateTime)
	}
	return engine.DateTime(*t)
}

func strp(s *string) engine.Value {
	if s == nil {
		return engine.Null(engine.NVarChar(500))
	}
	return engine.NStr(*s)
}

func i32p(v *int32) engine.Value {
	if v == nil {
		return engine.Null(engine.TypeInt)
	}
	return engine.Int(*v)
}

func bit(b bool) engine.Value { return engine.Bit(b) }

func u8(v uint8) engine.Value { return engine.TinyInt(v) }

// Table implements engine.Backend.
func (b *Backend) Table(_ context.Context, s *engine.SessionInfo, ref engine.TableName) (*engine.Relation, error) {
	i := b.inst
	if ref.Is("dbo", "messages") {
		d, ok := i.Database(ref.Database)
		if !ok || !d.Protected {
			return nil, fmt.Errorf("%s: %w", ref, engine.ErrNoSuchTable)
		}
		rows, err := b.session(s).Messages(ref.Database)
		if err != nil {
			return nil, toEngine(err)
		}
		rel := messagesTable.Relation()
		for _, r := range rows {
			rel.Rows = append(rel.Rows, []engine.Value{engine.BigInt(r.ID), engine.DateTime2Value(3, r.Created), engine.NStr(r.Body)})
		}
		return rel, nil
	}
	def := engine.LookupCatalog(ref)
	if def == nil {
		return nil, fmt.Errorf("%s: %w", ref, engine.ErrNoSuchTable)
	}
	rel := def.Relation()
	add := func(fill func(row []engine.Value)) {
		row := def.NewRow()
		fill(row)
		rel.Rows = append(rel.Rows, row)
	}
	set := def.Set
	switch def {
	case engine.SysDatabases:
		for _, d := range i.Databases() {
			add(func(r []engine.Value) {
				set(r, "name", engine.Sysname(d.Name))
				set(r, "database_id", engine.Int(d.ID))
				set(r, "create_date", dt(d.Created))
				set(r, "compatibility_level", u8(160))
				if d.State == StateOnline {
					set(r, "collation_name", engine.Sysname("SQL_Latin1_General_CP1_CI_AS"))
				}
				set(r, "user_access", u8(uint8(d.Access)))
				set(r, "user_access_desc", engine.NStr(d.Access.String()))
				set(r, "is_read_only", bit(d.ReadOnly))
				set(r, "is_auto_close_on", bit(false))
				set(r, "is_auto_shrink_on", bit(false))
				set(r, "state", u8(uint8(d.State)))
				set(r, "state_desc", engine.NStr(d.State.String()))
				set(r, "is_in_standby", bit(d.Standby))
				set(r, "is_cleanly_shutdown", bit(false))
				set(r, "recovery_model", u8(uint8(d.Recovery)))
				set(r, "recovery_model_desc", engine.NStr(d.Recovery.String()))
				set(r, "page_verify_option", u8(2))
				set(r, "page_verify_option_desc", engine.NStr("CHECKSUM"))
				wait, desc := uint8(0), "NOTHING"
				if d.Protected && d.Mirroring != nil && d.Mirroring.Role == RolePrincipal && d.Mirroring.State != MirrorSynchronized {
					wait, desc = 6, "DATABASE_MIRRORING"
				} else if d.Protected && d.State == StateOnline && !d.Standby {
					wait, desc = 2, "LOG_BACKUP"
				}
				set(r, "log_reuse_wait", u8(wait))
				set(r, "log_reuse_wait_desc", engine.NStr(desc))
			})
		}
	case engine.SysDatabaseMirroring:
		for _, d := range i.Databases() {
			row := def.NewRow()
			set(row, "database_id", engine.Int(d.ID))
			m := d.Mirroring
			// Every column but database_id is NULL unless the database is mirrored and
			// ONLINE, or is the mirror copy (RESTORING) — SQLSERVER.md §1.1.
			if m != nil && (d.State == StateOnline || m.Role == RoleMirror) {
				set(row, "mirroring_guid", guidValue(m.GUID))
				set(row, "mirroring_state", u8(uint8(m.State)))
				set(row, "mirroring_state_desc", engine.NStr(m.State.String()))
				set(row, "mirroring_role", u8(uint8(m.Role)))
				set(row, "mirroring_role_desc", engine.NStr(m.Role.String()))
				set(row, "mirroring_role_sequence", engine.Int(m.RoleSequence))
				set(row, "mirroring_safety_level", u8(uint8(m.Safety)))
				set(row, "mirroring_safety_level_desc", engine.NStr(m.Safety.String()))
				set(row, "mirroring_safety_sequence", engine.Int(m.SafetySequence))
				set(row, "mirroring_partner_name", engine.NStr(m.PartnerName))
				set(row, "mirroring_partner_instance", engine.NStr(m.PartnerInstance))
				if m.WitnessName != "" {
					set(row, "mirroring_witness_name", engine.NStr(m.WitnessName))
					set(row, "mirroring_witness_state", u8(m.WitnessState))
					set(row, "mirroring_witness_state_desc", engine.NStr([]string{"UNKNOWN", "CONNECTED", "DISCONNECTED"}[m.WitnessState]))
				}
				set(row, "mirroring_failover_lsn", lsnValue(m.FailoverLSN))
				set(row, "mirroring_connection_timeout", engine.Int(m.TimeoutSeconds))
				set(row, "mirroring_redo_queue_type", engine.NStr("UNLIMITED"))
				set(row, "mirroring_end_of_log_lsn", lsnValue(m.EndOfLogLSN))
				set(row, "mirroring_replication_lsn", lsnValue(m.FailoverLSN))
			}
			rel.Rows = append(rel.Rows, row)
		}
	case engine.SysDatabaseRecoveryStatus:
		for _, d := range i.Databases() {
			add(func(r []engine.Value) {
				set(r, "database_id", engine.Int(d.ID))
				set(r, "database_guid", guidValue(d.GUID))
				set(r, "family_guid", guidValue(d.FamilyGUID))
				if d.Recovery != RecoverySimple && d.Protected {
					set(r, "last_log_backup_lsn", lsnValue(d.LastLogBackupLSN))
				}
				set(r, "recovery_fork_guid", guidValue(d.ForkGUID))
				set(r, "first_recovery_fork_guid", guidValue(d.FirstForkGUID))
				set(r, "fork_point_lsn", lsnValue(d.ForkPointLSN))
			})
		}
	case engine.SysMasterFiles:
		for _, d := range i.Databases() {
			for fileID, typ := range []string{"ROWS", "LOG"} {
				add(func(r []engine.Value) {
					set(r, "database_id", engine.Int(d.ID))
					set(r, "file_id", engine.Int(int32(fileID+1)))
					set(r, "type", u8(uint8(fileID)))
					set(r, "type_desc", engine.NStr(typ))
					set(r, "data_space_id", engine.Int(int32(1-fileID)))
					name, ext := d.Name, ".mdf"
					if fileID == 1 {
						name, ext = d.Name+"_log", ".ldf"
					}
					set(r, "name", engine.Sysname(name))
					set(r, "physical_name", engine.NStr(`D:\data\`+name+ext))
					fs := uint8(d.State)
					set(r, "state", u8(fs))
					set(r, "state_desc", engine.NStr(d.State.String()))
					set(r, "size", engine.Int(1024))
					set(r, "max_size", engine.Int(-1))
					set(r, "growth", engine.Int(8192))
					for _, c := range []string{"is_media_read_only", "is_read_only", "is_sparse", "is_percent_growth", "is_name_reserved"} {
						set(r, c, bit(false))
					}
					if !d.RedoStartLSN.IsZero() {
						set(r, "redo_start_lsn", lsnValue(d.RedoStartLSN))
						set(r, "redo_start_fork_guid", guidValue(d.ForkGUID))
					}
				})
			}
		}
	default:
		if !strings.EqualFold(ref.Database, "msdb") {
			return nil, fmt.Errorf("%s: %w", ref, engine.ErrNoSuchTable)
		}
		b.msdbTable(def, rel)
	}
	// The per-login rules (sys.master_files hidden from the monitoring login,
	// sys.database_mirroring masked) are the engine's, shared with engine.Static.
	rel.Rows = engine.AsSeenBy(def, s.Sysadmin, rel.Rows)
	return rel, nil
}

func (b *Backend) msdbTable(def *engine.TableDef, rel *engine.Relation) {
	m := b.inst.MSDB()
	set := def.Set
	add := func(fill func(row []engine.Value)) {
		row := def.NewRow()
		fill(row)
		rel.Rows = append(rel.Rows, row)
	}
	switch def {
	case engine.LogShippingMonitorPrimary:
		for _, x := range m.LSMonitorPrimary {
			add(func(r []engine.Value) {
				set(r, "primary_id", guidValue(x.PrimaryID))
				set(r, "primary_server", engine.Sysname(x.PrimaryServer))
				set(r, "primary_database", engine.Sysname(x.PrimaryDatabase))
				set(r, "backup_threshold", engine.Int(x.BackupThreshold))
				set(r, "threshold_alert", engine.Int(x.ThresholdAlert))
				set(r, "threshold_alert_enabled", bit(x.ThresholdAlertEnabled))
				set(r, "last_backup_file", strp(x.LastBackupFile))
				set(r, "last_backup_date", dtp(x.LastBackupDate))
				set(r, "last_backup_date_utc", dtp(x.LastBackupDateUTC))
				set(r, "history_retention_period", engine.Int(x.HistoryRetentionPeriod))
			})
		}
	case engine.LogShippingMonitorSecondary:
		for _, x := range m.LSMonitorSecondary {
			add(func(r []engine.Value) {
				set(r, "secondary_server", engine.Sysname(x.SecondaryServer))
				set(r, "secondary_database", engine.Sysname(x.SecondaryDatabase))
				set(r, "secondary_id", guidValue(x.SecondaryID))
				set(r, "primary_server", engine.Sysname(x.PrimaryServer))
				set(r, "primary_database", engine.Sysname(x.PrimaryDatabase))
				set(r, "restore_threshold", engine.Int(x.RestoreThreshold))
				set(r, "threshold_alert", engine.Int(x.ThresholdAlert))
				set(r, "threshold_alert_enabled", bit(x.ThresholdAlertEnabled))
				set(r, "last_copied_file", strp(x.LastCopiedFile))
				set(r, "last_copied_date", dtp(x.LastCopiedDate))
				set(r, "last_copied_date_utc", dtp(x.LastCopiedDateUTC))
				set(r, "last_restored_file", strp(x.LastRestoredFile))
				set(r, "last_restored_date", dtp(x.LastRestoredDate))
				set(r, "last_restored_date_utc", dtp(x.LastRestoredDateUTC))
				set(r, "last_restored_latency", i32p(x.LastRestoredLatency))
				set(r, "history_retention_period", engine.Int(x.HistoryRetentionPeriod))
			})
		}
	case engine.LogShippingPrimaryDatabases:
		for _, x := range m.LSPrimaryDatabases {
			add(func(r []engine.Value) {
				set(r, "primary_id", guidValue(x.PrimaryID))
				set(r, "primary_database", engine.Sysname(x.PrimaryDatabase))
				set(r, "backup_directory", engine.NStr(x.BackupDirectory))
				set(r, "backup_share", engine.NStr(x.BackupShare))
				set(r, "backup_retention_period", engine.Int(x.BackupRetentionPeriod))
				set(r, "backup_job_id", guidValue(x.BackupJobID))
				set(r, "monitor_server", strp(x.MonitorServer))
				set(r, "monitor_server_security_mode", bit(x.MonitorServerSecurityMode))
				set(r, "last_backup_file", strp(x.LastBackupFile))
				set(r, "last_backup_date", dtp(x.LastBackupDate))
				set(r, "user_specified_monitor", bit(x.UserSpecifiedMonitor))
				set(r, "backup_compression", u8(x.BackupCompression))
			})
		}
	case engine.LogShippingSecondary:
		for _, x := range m.LSSecondary {
			add(func(r []engine.Value) {
				set(r, "secondary_id", guidValue(x.SecondaryID))
				set(r, "primary_server", engine.Sysname(x.PrimaryServer))
				set(r, "primary_database", engine.Sysname(x.PrimaryDatabase))
				set(r, "backup_source_directory", engine.NStr(x.BackupSourceDirectory))
				set(r, "backup_destination_directory", engine.NStr(x.BackupDestinationDirectory))
				set(r, "file_retention_period", engine.Int(x.FileRetentionPeriod))
				set(r, "copy_job_id", guidValue(x.CopyJobID))
				set(r, "restore_job_id", guidValue(x.RestoreJobID))
				set(r, "monitor_server", strp(x.MonitorServer))
				set(r, "monitor_server_security_mode", bit(x.MonitorServerSecurityMode))
				set(r, "last_copied_file", strp(x.LastCopiedFile))
				set(r, "last_copied_date", dtp(x.LastCopiedDate))
			})
		}
	case engine.LogShippingSecondaryDatabases:
		for _, x := range m.LSSecondaryDBs {
			add(func(r []engine.Value) {
				set(r, "secondary_database", engine.Sysname(x.SecondaryDatabase))
				set(r, "secondary_id", guidValue(x.SecondaryID))
				set(r, "restore_delay", engine.Int(x.RestoreDelay))
				set(r, "restore_all", bit(x.RestoreAll))
				set(r, "restore_mode", bit(x.RestoreMode))
				set(r, "disconnect_users", bit(x.DisconnectUsers))
				set(r, "block_size", engine.Int(x.BlockSize))
				set(r, "buffer_count", engine.Int(x.BufferCount))
				set(r, "max_transfer_size", i32p(x.MaxTransferSize))
				set(r, "last_restored_file", strp(x.LastRestoredFile))
				set(r, "last_restored_date", dtp(x.LastRestoredDate))
			})
		}
	case engine.LogShippingMonitorHistoryDetail:
		for _, x := range m.LSHistoryDetail {
			add(func(r []engine.Value) {
				set(r, "agent_id", guidValue(x.AgentID))
				set(r, "agent_type", u8(x.AgentType))
				set(r, "session_id", engine.Int(x.SessionID))
				set(r, "database_name", engine.Sysname(x.DatabaseName))
				set(r, "session_status", u8(x.SessionStatus))
				set(r, "log_time", dt(x.LogTime))
				set(r, "log_time_utc", dt(x.LogTimeUTC))
				set(r, "message", engine.NStr(x.Message))
			})
		}
	case engine.BackupSet:
		for _, x := range m.BackupSets {
			add(func(r []engine.Value) {
				set(r, "backup_set_id", engine.Int(x.BackupSetID))
				set(r, "media_set_id", engine.Int(x.MediaSetID))
				set(r, "first_lsn", lsnValue(x.FirstLSN))
				set(r, "last_lsn", lsnValue(x.LastLSN))
				set(r, "checkpoint_lsn", lsnValue(x.CheckpointLSN))
				set(r, "database_backup_lsn", lsnValue(x.DatabaseBackupLSN))
				set(r, "backup_start_date", dt(x.Start))
				set(r, "backup_finish_date", dt(x.Finish))
				set(r, "time_zone", engine.SmallInt(x.TimeZone))
				set(r, "type", engine.String(engine.Char(1), x.Type))
				set(r, "database_name", engine.NStr(x.DatabaseName))
				set(r, "server_name", engine.NStr(x.ServerName))
				set(r, "machine_name", engine.NStr(x.MachineName))
				set(r, "recovery_model", engine.NStr(x.RecoveryModel))
				set(r, "is_copy_only", bit(x.IsCopyOnly))
				set(r, "begins_log_chain", bit(x.BeginsLogChain))
				set(r, "has_incomplete_metadata", bit(x.HasIncompleteMeta))
				set(r, "is_force_offline", bit(x.IsForceOffline))
				set(r, "is_damaged", bit(x.IsDamaged))
				set(r, "has_bulk_logged_data", bit(x.HasBulkLoggedData))
				set(r, "first_recovery_fork_guid", guidValue(x.FirstForkGUID))
				set(r, "last_recovery_fork_guid", guidValue(x.LastForkGUID))
				set(r, "fork_point_lsn", lsnValue(x.ForkPointLSN))
				set(r, "database_guid", guidValue(x.DatabaseGUID))
				set(r, "family_guid", guidValue(x.FamilyGUID))
			})
		}
	case engine.BackupMediaFamily:
		for _, x := range m.BackupSets {
			add(func(r []engine.Value) {
				set(r, "media_set_id", engine.Int(x.MediaSetID))
				set(r, "family_sequence_number", u8(1))
				set(r, "media_family_id", guidValue(x.MediaFamilyID))
				set(r, "media_count", engine.Int(1))
				set(r, "physical_device_name", engine.NStr(x.PhysicalDeviceName))
				set(r, "device_type", u8(2))
				set(r, "physical_block_size", engine.Int(512))
				set(r, "mirror", u8(0))
			})
		}
	case engine.RestoreHistory:
		for _, x := range m.RestoreHistory {
			add(func(r []engine.Value) {
				set(r, "restore_history_id", engine.Int(x.RestoreHistoryID))
				set(r, "restore_date", dt(x.RestoreDate))
				set(r, "destination_database_name", engine.NStr(x.DestinationDatabaseName))
				set(r, "user_name", engine.NStr(x.UserName))
				set(r, "backup_set_id", engine.Int(x.BackupSetID))
				set(r, "restore_type", engine.String(engine.Char(1), x.RestoreType))
				set(r, "replace", bit(x.Replace))
				set(r, "recovery", bit(x.Recovery))
				set(r, "restart", bit(x.Restart))
				set(r, "stop_at", dtp(x.StopAt))
				set(r, "device_count", u8(x.DeviceCount))
				set(r, "stop_before", bit(x.StopBefore))
			})
		}
	case engine.SysJobs:
		for _, x := range m.Jobs {
			add(func(r []engine.Value) {
				set(r, "job_id", guidValue(x.JobID))
				set(r, "originating_server_id", engine.Int(0))
				set(r, "name", engine.Sysname(x.Name))
				en := uint8(0)
				if x.Enabled {
					en = 1
				}
				set(r, "enabled", u8(en))
				set(r, "description", engine.NStr(x.Description))
				set(r, "start_step_id", engine.Int(1))
				set(r, "category_id", engine.Int(x.CategoryID))
				for _, c := range []string{"notify_level_eventlog", "notify_level_email", "notify_level_netsend", "notify_level_page",
					"notify_email_operator_id", "notify_netsend_operator_id", "notify_page_operator_id", "delete_level"} {
					set(r, c, engine.Int(0))
				}
				set(r, "date_created", dt(x.DateCreated))
				set(r, "date_modified", dt(x.DateModified))
				set(r, "version_number", engine.Int(x.VersionNumber))
			})
		}
	case engine.SysJobActivity:
		for _, x := range m.JobActivity {
			add(func(r []engine.Value) {
				set(r, "session_id", engine.Int(x.SessionID))
				set(r, "job_id", guidValue(x.JobID))
				set(r, "run_requested_date", dtp(x.RunRequestedDate))
				if x.RunRequestedSource != nil {
					set(r, "run_requested_source", engine.Sysname(*x.RunRequestedSource))
				}
				set(r, "queued_date", dtp(x.QueuedDate))
				set(r, "start_execution_date", dtp(x.StartExecutionDate))
				set(r, "last_executed_step_id", i32p(x.LastExecutedStepID))
				set(r, "last_executed_step_date", dtp(x.LastExecutedStepDate))
				set(r, "stop_execution_date", dtp(x.StopExecutionDate))
				set(r, "job_history_id", i32p(x.JobHistoryID))
				set(r, "next_scheduled_run_date", dtp(x.NextScheduledRunDate))
			})
		}
	case engine.SysJobHistory:
		for _, x := range m.JobHistory {
			add(func(r []engine.Value) {
				set(r, "instance_id", engine.Int(x.InstanceID))
				set(r, "job_id", guidValue(x.JobID))
				set(r, "step_id", engine.Int(x.StepID))
				set(r, "step_name", engine.Sysname(x.StepName))
				set(r, "sql_message_id", engine.Int(0))
				set(r, "sql_severity", engine.Int(0))
				set(r, "message", engine.NStr(x.Message))
				set(r, "run_status", engine.Int(x.RunStatus))
				set(r, "run_date", engine.Int(x.RunDate))
				set(r, "run_time", engine.Int(x.RunTime))
				set(r, "run_duration", engine.Int(x.RunDuration))
				set(r, "retries_attempted", engine.Int(0))
				set(r, "server", engine.Sysname(b.inst.name))
			})
		}
	}
}

// Insert implements engine.Backend: only dbo.messages of a protected database takes rows.
func (b *Backend) Insert(_ context.Context, s *engine.SessionInfo, ref engine.TableName, columns []string, rows [][]engine.Value) (int64, error) {
	d, ok := b.inst.Database(ref.Database)
	if !ok || !d.Protected || !ref.Is("dbo", "messages") {
		return 0, fmt.Errorf("%s: %w", ref, engine.ErrNoSuchTable)
	}
	bodyCol := -1
	for k, c := range columns {
		switch strings.ToLower(c) {
		case "id":
			return 0, engine.NewError(544, 16, 1, "Cannot insert explicit value for identity column in table 'messages' when IDENTITY_INSERT is set to OFF.")
		case "body":
			bodyCol = k
		}
	}
	sess := b.session(s)
	var n int64
	for _, r := range rows {
		body := ""
		if bodyCol >= 0 && !r[bodyCol].Null {
			body = r[bodyCol].Str()
		}
		if _, err := sess.InsertMessage(ref.Database, body); err != nil {
			return n, toEngine(err)
		}
		n++
	}
	return n, nil
}

package lab

import (
	"context"
	"fmt"
	"strings"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// Execute implements engine.Backend: RESTORE, BACKUP LOG, ALTER DATABASE, the
// msdb job procedures, sp_delete_log_shipping_secondary_database, xp_dirtree and KILL.
func (b *Backend) Execute(_ context.Context, s *engine.SessionInfo, stmt engine.Effect) (*engine.EffectResult, error) {
	sess := b.session(s)
	switch st := stmt.(type) {
	case *engine.RestoreStmt:
		return b.restore(sess, st)
	case *engine.BackupStmt:
		if !st.Log {
			return nil, engine.Errors{engine.ErrTerminating("BACKUP DATABASE")}
		}
		if len(st.Disks) != 1 {
			return nil, engine.ErrSyntax("TO")
		}
		err := sess.BackupLog(st.Database, st.Disks[0], BackupOptions{NoRecovery: st.Has("NORECOVERY"), CopyOnly: st.Has("COPY_ONLY")})
		return &engine.EffectResult{RowsAffected: -1}, toEngine(err)
	case *engine.AlterDatabaseStmt:
		return &engine.EffectResult{RowsAffected: -1}, toEngine(b.alter(sess, st))
	case *engine.ExecStmt:
		return b.exec(sess, st)
	case *engine.KillStmt:
		return &engine.EffectResult{RowsAffected: -1}, toEngine(b.inst.Kill(sess.login, int32(st.SPID)))
	}
	return nil, engine.ErrSyntax("statement")
}

func (b *Backend) restore(sess *Session, st *engine.RestoreStmt) (*engine.EffectResult, error) {
	res := &engine.EffectResult{RowsAffected: -1}
	mode := WithNoRecovery
	switch {
	case st.Has("STANDBY"):
		mode = WithStandby
	case st.Has("RECOVERY"):
		mode = WithRecovery
	}
	switch st.Kind {
	case engine.RestoreLog:
		if len(st.Disks) != 1 {
			return nil, engine.ErrSyntax("FROM")
		}
		return res, toEngine(sess.RestoreLog(st.Database, st.Disks[0], mode))
	case engine.RestoreDatabase:
		if len(st.Disks) > 0 {
			// Full restores are out of scope: the lab initialises every copy itself.
			return nil, engine.Errors{engine.ErrTerminating(kindRestoreDatabase)}
		}
		if mode != WithRecovery {
			return nil, engine.Errors{engine.ErrNoFilesReady(), engine.ErrTerminating(kindRestoreDatabase)}
		}
		return res, toEngine(sess.RestoreDatabaseRecovery(st.Database))
	case engine.RestoreHeaderOnly:
		if len(st.Disks) != 1 {
			return nil, engine.ErrSyntax("FROM")
		}
		f, err := sess.RestoreHeaderOnly(st.Disks[0])
		if err != nil {
			return nil, toEngine(err)
		}
		res.ResultSets = []*engine.ResultSet{headerOnly(f)}
		return res, nil
	}
	return nil, engine.Errors{engine.ErrTerminating(st.Kind.String())}
}

// headerOnly renders RESTORE HEADERONLY with the engine's documented result shape
// (engine.HeaderOnlyResult); columns the lab does not model are NULL.
func headerOnly(f *BackupFile) *engine.ResultSet {
	def := engine.HeaderOnlyResult
	row := def.NewRow()
	set := def.Set
	typ, desc := int16(2), "TRANSACTION LOG"
	if f.Type == "D" {
		typ, desc = 1, "DATABASE"
	}
	set(row, "BackupType", engine.SmallInt(typ))
	set(row, "BackupTypeDescription", engine.NStr(desc))
	set(row, "Position", engine.SmallInt(1))
	set(row, "DeviceType", engine.TinyInt(2))
	set(row, "DatabaseName", engine.NStr(f.Database))
	set(row, "ServerName", engine.NStr(f.Server))
	set(row, "MachineName", engine.NStr(f.Server))
	set(row, "FirstLSN", lsnValue(f.FirstLSN))
	set(row, "LastLSN", lsnValue(f.LastLSN))
	set(row, "CheckpointLSN", lsnValue(f.CheckpointLSN))
	set(row, "DatabaseBackupLSN", lsnValue(f.DatabaseBackup))
	set(row, "BackupStartDate", dt(f.Start))
	set(row, "BackupFinishDate", dt(f.Finish))
	set(row, "IsCopyOnly", bit(f.IsCopyOnly))
	set(row, "HasIncompleteMetaData", bit(false))
	set(row, "IsForceOffline", bit(f.IsForceOffline))
	set(row, "FirstRecoveryForkID", guidValue(f.FirstForkGUID))
	set(row, "RecoveryForkID", guidValue(f.LastForkGUID))
	set(row, "ForkPointLSN", lsnValue(f.ForkPointLSN))
	// BindingID is the database's GUID (sys.database_recovery_status.database_guid).
	set(row, "BindingID", guidValue(f.DatabaseGUID))
	set(row, "FamilyGUID", guidValue(f.FamilyGUID))
	set(row, "BackupSetGUID", guidValue(f.BackupSetGUID))
	set(row, "RecoveryModel", engine.NStr(f.RecoveryModel))
	rs, err := def.ResultSet(row)
	if err != nil {
		panic(fmt.Sprintf("lab: %v", err)) // a row from NewRow always fits its definition
	}
	return rs
}

func (b *Backend) alter(sess *Session, st *engine.AlterDatabaseStmt) error {
	rollback := st.Termination == "ROLLBACK IMMEDIATE" || st.Termination == "ROLLBACK AFTER"
	switch st.Option {
	case "PARTNER":
		opt := st.Action
		if opt == "SAFETY" {
			opt = "SAFETY " + strings.ToUpper(st.Value)
		}
		return sess.SetPartner(st.Database, opt, st.Timeout)
	case "OFFLINE":
		return sess.AlterDatabase(st.Database, SetOffline, rollback)
	case "ONLINE":
		return sess.AlterDatabase(st.Database, SetOnline, rollback)
	case "SINGLE_USER":
		return sess.AlterDatabase(st.Database, SetSingleUser, rollback)
	case "RESTRICTED_USER":
		return sess.AlterDatabase(st.Database, SetRestrictedUser, rollback)
	case "MULTI_USER":
		return sess.AlterDatabase(st.Database, SetMultiUser, rollback)
	}
	return sess.UnsupportedAlter(st.Database, st.Option)
}

func argString(e *engine.ExecStmt, name string, pos int) (string, bool) {
	v, ok := e.Arg(name, pos)
	if !ok || v.Null {
		return "", false
	}
	if v.T.Kind == engine.KindUniqueIdentifier {
		return GUID(v.GUIDBytes()).String(), true
	}
	return v.Text(), true
}

// jobRef reads @job_id / @job_name (either, not both).
func jobRef(e *engine.ExecStmt) (*GUID, string, error) {
	v, ok := e.Arg("job_id", -1)
	if ok && !v.Null {
		conv, err := engine.Convert(v, engine.TypeUniqueIdentifier)
		if err != nil {
			return nil, "", err // 8169, as CAST gives it
		}
		g := GUID(conv.GUIDBytes())
		return &g, "", nil
	}
	name, ok := argString(e, "job_name", 0)
	if !ok {
		return nil, "", engine.NewError(14294, 16, 1, "Supply either @job_id or @job_name to identify the job.")
	}
	return nil, name, nil
}

func (b *Backend) exec(sess *Session, e *engine.ExecStmt) (*engine.EffectResult, error) {
	zero := int32(0)
	res := &engine.EffectResult{RowsAffected: -1, ReturnStatus: &zero}
	name := strings.ToLower(e.Proc.Name)
	switch name {
	case "sp_update_job":
		id, jn, err := jobRef(e)
		if err != nil {
			return nil, err
		}
		v, ok := e.Arg("enabled", -1)
		if !ok {
			return res, nil
		}
		return res, toEngine(sess.UpdateJobEnabled(id, jn, !v.Null && v.Int64() != 0))
	case "sp_start_job", "sp_stop_job":
		id, jn, err := jobRef(e)
		if err != nil {
			return nil, err
		}
		var info SQLError
		if name == "sp_start_job" {
			info, err = sess.StartJob(id, jn)
		} else {
			info, err = sess.StopJob(id, jn)
		}
		if err != nil {
			return nil, toEngine(err)
		}
		res.Messages = []*engine.Error{info.toEngine()}
		return res, nil
	case "sp_delete_log_shipping_secondary_database":
		db, ok := argString(e, "secondary_database", 0)
		if !ok {
			return nil, engine.ErrMissingParam("sp_delete_log_shipping_secondary_database", "@secondary_database")
		}
		return res, toEngine(sess.DeleteLogShippingSecondaryDatabase(db))
	case "sp_dbmmonitorresults":
		db, ok := argString(e, "database_name", 0)
		if !ok {
			return nil, engine.ErrMissingParam("sp_dbmmonitorresults", "@database_name")
		}
		m, err := sess.MirroringMonitor(db)
		if err != nil {
			return nil, toEngine(err)
		}
		res.ResultSets = []*engine.ResultSet{dbmMonitor(m)}
		return res, nil
	case "xp_dirtree":
		dir, ok := argString(e, "", 0)
		if !ok {
			return nil, engine.NewError(22001, 16, 1, "xp_dirtree: a directory name is required.")
		}
		withFiles := false
		if v, ok := e.Arg("", 2); ok && !v.Null && v.Int64() != 0 {
			withFiles = true
		}
		entries, err := sess.DirTree(dir)
		if err != nil {
			return nil, toEngine(err)
		}
		// engine.XPDirTree's shape; without the third argument there is no file column.
		cols := append([]engine.Column(nil), engine.XPDirTree.Columns...)
		if !withFiles {
			cols = cols[:2]
		}
		rs := &engine.ResultSet{Columns: cols}
		for _, en := range entries {
			if en.IsFile && !withFiles {
				continue
			}
			row := []engine.Value{engine.NStr(en.Name), engine.Int(en.Depth)}
			if withFiles {
				f := int32(0)
				if en.IsFile {
					f = 1
				}
				row = append(row, engine.Int(f))
			}
			rs.Rows = append(rs.Rows, row)
		}
		res.ResultSets = []*engine.ResultSet{rs}
		return res, nil
	}
	return nil, engine.ErrProcNotFound(e.Proc.String())
}

// dbmMonitor renders sp_dbmmonitorresults with the engine's documented result shape
// (engine.DBMMonitorResults). The lab counts 1 KB of log per inserted row.
func dbmMonitor(m MonitorResult) *engine.ResultSet {
	def := engine.DBMMonitorResults
	row := def.NewRow()
	set := def.Set
	set(row, "database_name", engine.Sysname(m.Database))
	set(row, "role", engine.Int(int32(m.Role)))
	set(row, "mirroring_state", engine.Int(int32(m.State)))
	set(row, "witness_status", engine.Int(int32(m.WitnessStatus)))
	set(row, "log_generation_rate", engine.Int(m.TransactionsSec))
	set(row, "unsent_log", engine.Int(m.UnsentLogKB))
	set(row, "send_rate", engine.Int(m.TransactionsSec))
	set(row, "unrestored_log", engine.Int(0))
	set(row, "recovery_rate", engine.Int(m.TransactionsSec))
	set(row, "transaction_delay", engine.Int(0))
	set(row, "transactions_per_sec", engine.Int(m.TransactionsSec))
	set(row, "average_delay", engine.Int(0))
	set(row, "time_recorded", dt(m.TimeRecorded))
	set(row, "time_behind", dt(m.TimeBehind))
	set(row, "local_time", dt(m.LocalTime))
	rs, err := def.ResultSet(row)
	if err != nil {
		panic(fmt.Sprintf("lab: %v", err)) // a row from NewRow always fits its definition
	}
	return rs
}

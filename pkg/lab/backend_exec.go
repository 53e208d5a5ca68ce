package lab

import (
	"context"
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
			return nil, engine.Errors{engine.NewError(3013, 16, 1, "BACKUP DATABASE is terminating abnormally.")}
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
			return nil, engine.Errors{engine.NewError(3013, 16, 1, "RESTORE DATABASE is terminating abnormally.")}
		}
		if mode != WithRecovery {
			return nil, engine.Errors{engine.NewError(3117, 16, 1, "The log or differential backup cannot be restored because no files are ready to rollforward."),
				engine.NewError(3013, 16, 1, "RESTORE DATABASE is terminating abnormally.")}
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
	return nil, engine.Errors{engine.NewError(3013, 16, 1, "%s is terminating abnormally.", st.Kind)}
}

// headerOnly renders RESTORE HEADERONLY's documented columns (the subset the lab knows).
func headerOnly(f *BackupFile) *engine.ResultSet {
	typ := int16(2)
	if f.Type == "D" {
		typ = 1
	}
	cols := []engine.Column{
		{Name: "BackupName", Type: engine.NVarChar(128), Nullable: true}, {Name: "BackupType", Type: engine.TypeSmallInt},
		{Name: "DatabaseName", Type: engine.NVarChar(128)}, {Name: "ServerName", Type: engine.NVarChar(128)},
		{Name: "FirstLSN", Type: engine.TypeLSN}, {Name: "LastLSN", Type: engine.TypeLSN},
		{Name: "CheckpointLSN", Type: engine.TypeLSN}, {Name: "DatabaseBackupLSN", Type: engine.TypeLSN},
		{Name: "BackupStartDate", Type: engine.TypeDateTime}, {Name: "BackupFinishDate", Type: engine.TypeDateTime},
		{Name: "IsCopyOnly", Type: engine.TypeBit}, {Name: "HasIncompleteMetaData", Type: engine.TypeBit},
		{Name: "IsForceOffline", Type: engine.TypeBit}, {Name: "FirstRecoveryForkID", Type: engine.TypeUniqueIdentifier},
		{Name: "RecoveryForkID", Type: engine.TypeUniqueIdentifier}, {Name: "ForkPointLSN", Type: engine.TypeLSN, Nullable: true},
		{Name: "DatabaseGUID", Type: engine.TypeUniqueIdentifier}, {Name: "FamilyGUID", Type: engine.TypeUniqueIdentifier},
		{Name: "BackupSetGUID", Type: engine.TypeUniqueIdentifier}, {Name: "RecoveryModel", Type: engine.NVarChar(60)},
	}
	row := []engine.Value{
		engine.Null(engine.NVarChar(128)), engine.SmallInt(typ), engine.NStr(f.Database), engine.NStr(f.Server),
		lsnValue(f.FirstLSN), lsnValue(f.LastLSN), lsnValue(f.CheckpointLSN), lsnValue(f.DatabaseBackup),
		dt(f.Start), dt(f.Finish), bit(f.IsCopyOnly), bit(false), bit(f.IsForceOffline),
		guidValue(f.FirstForkGUID), guidValue(f.LastForkGUID), lsnValue(f.ForkPointLSN),
		guidValue(f.DatabaseGUID), guidValue(f.FamilyGUID), guidValue(f.BackupSetGUID), engine.NStr(f.RecoveryModel),
	}
	return &engine.ResultSet{Columns: cols, Rows: [][]engine.Value{row}}
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
			return nil, "", engine.NewError(8169, 16, 2, "Conversion failed when converting from a character string to uniqueidentifier.")
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
		res.Messages = []*engine.Error{{Number: info.Number, Class: info.Class, State: info.State, Message: info.Message}}
		return res, nil
	case "sp_delete_log_shipping_secondary_database":
		db, ok := argString(e, "secondary_database", 0)
		if !ok {
			return nil, engine.NewError(201, 16, 4, "Procedure or function 'sp_delete_log_shipping_secondary_database' expects parameter '@secondary_database', which was not supplied.")
		}
		return res, toEngine(sess.DeleteLogShippingSecondaryDatabase(db))
	case "sp_dbmmonitorresults":
		db, ok := argString(e, "database_name", 0)
		if !ok {
			return nil, engine.NewError(201, 16, 4, "Procedure or function 'sp_dbmmonitorresults' expects parameter '@database_name', which was not supplied.")
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
		cols := []engine.Column{{Name: "subdirectory", Type: engine.NVarChar(255)}, {Name: "depth", Type: engine.TypeInt}}
		if withFiles {
			cols = append(cols, engine.Column{Name: "file", Type: engine.TypeInt})
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

// dbmMonitor renders sp_dbmmonitorresults' documented columns.
func dbmMonitor(m MonitorResult) *engine.ResultSet {
	names := []string{"database_name", "role", "mirroring_state", "witness_status", "log_generation_rate", "unsent_log",
		"send_rate", "unrestored_log", "recovery_rate", "transaction_delay", "transactions_per_sec", "average_delay",
		"time_recorded", "time_behind", "local_time"}
	cols := make([]engine.Column, len(names))
	for k, n := range names {
		t := engine.TypeInt
		switch {
		case k == 0:
			t = engine.TypeSysname
		case k >= 12:
			t = engine.TypeDateTime
		}
		cols[k] = engine.Column{Name: n, Type: t, Nullable: true}
	}
	row := []engine.Value{engine.Sysname(m.Database), engine.Int(int32(m.Role)), engine.Int(int32(m.State)),
		engine.Int(int32(m.WitnessStatus)), engine.Int(m.TransactionsSec), engine.Int(m.UnsentLogKB),
		engine.Int(m.TransactionsSec), engine.Int(0), engine.Int(m.TransactionsSec), engine.Int(0),
		engine.Int(m.TransactionsSec), engine.Int(0), dt(m.TimeRecorded), dt(m.TimeBehind), dt(m.LocalTime)}
	return &engine.ResultSet{Columns: cols, Rows: [][]engine.Value{row}}
}

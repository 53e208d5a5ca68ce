package lab

import (
	"context"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// TestBackendMasterFilesPermission checks the documented rule that a login without CREATE
// DATABASE, ALTER ANY DATABASE or VIEW ANY DEFINITION (the monitoring login) sees no rows in
// sys.master_files, on the topology's backend exactly as on engine.Static: sa reads the
// RESTORING secondary's redo_start_lsn, the monitoring login reads nothing.
func TestBackendMasterFilesPermission(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(10 * time.Minute)
	b := f.inst("secondary").Backend()
	ref := engine.TableName{Database: "master", Schema: "sys", Name: "master_files"}
	ctx := context.Background()

	saRel, err := b.Table(ctx, &engine.SessionInfo{SPID: 51, Login: "sa", Sysadmin: true, Database: "master"}, ref)
	if err != nil {
		t.Fatalf("sa: %v", err)
	}
	mgc := f.db("secondary", "mgc")
	var redo engine.Value
	found := false
	for _, r := range saRel.Rows {
		if r[engine.SysMasterFiles.Index("database_id")].Int64() == int64(mgc.ID) && r[engine.SysMasterFiles.Index("file_id")].Int64() == 1 {
			redo, found = r[engine.SysMasterFiles.Index("redo_start_lsn")], true
		}
	}
	if !found || redo.Null {
		t.Fatalf("sa: want mgc's data file with a redo_start_lsn on the RESTORING secondary, found=%v redo=%v", found, redo)
	}

	monRel, err := b.Table(ctx, &engine.SessionInfo{SPID: 52, Login: "sqldr_monitor", Database: "master"}, ref)
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	if len(monRel.Rows) != 0 {
		t.Fatalf("monitor: want no rows in sys.master_files, got %d", len(monRel.Rows))
	}
	if len(monRel.Columns) != len(engine.SysMasterFiles.Columns) {
		t.Fatalf("monitor: want the view's %d columns, got %d", len(engine.SysMasterFiles.Columns), len(monRel.Columns))
	}

	// Through the engine, as a probe would ask: the monitoring login's COUNT is 0, sa's is not.
	eng := engine.New(f.topo.log, b, nil)
	for _, c := range []struct {
		login    string
		sysadmin bool
		wantZero bool
	}{{"sa", true, false}, {"sqldr_monitor", false, true}} {
		s := eng.NewSession(engine.SessionInfo{SPID: 60, Login: c.login, Sysadmin: c.sysadmin, Database: "master"}, nil)
		out := &engine.Recorder{}
		err := s.Execute(ctx, `SELECT COUNT(*) FROM sys.master_files WHERE database_id = DB_ID(N'mgc')`, nil, out)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.login, err)
		}
		if len(out.Errors()) > 0 || len(out.Results) != 1 || len(out.Results[0].Rows) != 1 {
			t.Fatalf("%s: want one row and no error, got %+v", c.login, out)
		}
		if n := out.Results[0].Rows[0][0].Int64(); (n == 0) != c.wantZero {
			t.Fatalf("%s: COUNT(*) = %d, want zero=%v", c.login, n, c.wantZero)
		}
	}
}

// TestBackendMirroringMaskedForMonitor checks that the shared visibility rule still masks the
// mirror database's sys.database_mirroring row for the monitoring login and not for sa.
func TestBackendMirroringMaskedForMonitor(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(time.Minute)
	b := f.inst("mirror").Backend()
	ref := engine.TableName{Database: "master", Schema: "sys", Name: "database_mirroring"}
	mgc := f.db("mirror", "mgc")
	role := func(sysadmin bool) engine.Value {
		t.Helper()
		rel, err := b.Table(context.Background(), &engine.SessionInfo{SPID: 51, Sysadmin: sysadmin, Database: "master"}, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rel.Rows {
			if r[engine.SysDatabaseMirroring.Index("database_id")].Int64() == int64(mgc.ID) {
				return r[engine.SysDatabaseMirroring.Index("mirroring_role")]
			}
		}
		t.Fatalf("no mirroring row for mgc (sysadmin=%v)", sysadmin)
		return engine.Value{}
	}
	if r := role(true); r.Null || r.Int64() != 2 {
		t.Fatalf("sa: mirroring_role = %v, want 2 (MIRROR)", r)
	}
	if r := role(false); !r.Null {
		t.Fatalf("monitor: mirroring_role = %v, want NULL", r)
	}
}

// execAs runs one batch on inst through the engine as sa or the monitoring login.
func execAs(t *testing.T, f *fixture, inst string, sysadmin bool, sql string) *engine.Recorder {
	t.Helper()
	login := "sqldr_monitor"
	if sysadmin {
		login = "sa"
	}
	eng := engine.New(f.topo.log, f.inst(inst).Backend(), nil)
	s := eng.NewSession(engine.SessionInfo{SPID: 61, Login: login, Sysadmin: sysadmin, Database: "master"}, nil)
	defer s.Close()
	out := &engine.Recorder{}
	if err := s.Execute(context.Background(), sql, nil, out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// TestBackendResultShapes checks that RESTORE HEADERONLY and sp_dbmmonitorresults come back in
// the engine's documented result shapes, filled from the model.
func TestBackendResultShapes(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(10 * time.Minute)
	var file *BackupFile
	for _, bf := range f.topo.ShareFiles() {
		if bf.Database == "mgc" && bf.Type == "L" {
			file = &bf
			break
		}
	}
	if file == nil {
		t.Fatal("no log backup of mgc on the share after 10 minutes")
	}
	out := execAs(t, f, "secondary", true, "RESTORE HEADERONLY FROM DISK = N'"+file.Path+"'")
	if errs := out.Errors(); len(errs) > 0 || len(out.Results) != 1 || len(out.Results[0].Rows) != 1 {
		t.Fatalf("HEADERONLY: want one row, got %+v", out)
	}
	rs, def := out.Results[0], engine.HeaderOnlyResult
	if len(rs.Columns) != len(def.Columns) {
		t.Fatalf("HEADERONLY: %d columns, want the documented %d", len(rs.Columns), len(def.Columns))
	}
	row := rs.Rows[0]
	get := func(c string) engine.Value { return row[def.Index(c)] }
	if get("BackupType").Int64() != 2 || get("DatabaseName").Str() != "mgc" || get("FirstLSN").Text() != file.FirstLSN.String() ||
		get("LastLSN").Text() != file.LastLSN.String() || get("BindingID").Null || get("RecoveryForkID").Null {
		t.Fatalf("HEADERONLY row does not describe %s: %v", file.Path, row)
	}

	out = execAs(t, f, "principal", true, "EXEC msdb.dbo.sp_dbmmonitorresults N'mgc', 0")
	if errs := out.Errors(); len(errs) > 0 || len(out.Results) != 1 || len(out.Results[0].Rows) != 1 {
		t.Fatalf("sp_dbmmonitorresults: want one row, got %+v", out)
	}
	if got, want := len(out.Results[0].Columns), len(engine.DBMMonitorResults.Columns); got != want {
		t.Fatalf("sp_dbmmonitorresults: %d columns, want %d", got, want)
	}
	if r := out.Results[0].Rows[0]; r[0].Str() != "mgc" || r[engine.DBMMonitorResults.Index("role")].Int64() != int64(RolePrincipal) {
		t.Fatalf("sp_dbmmonitorresults row: %v", r)
	}
}

// TestBackendErrorsMatchEngine checks that the topology sends the engine's effect messages
// (effects.go) unchanged: number, class, state and text.
func TestBackendErrorsMatchEngine(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(time.Minute)
	cases := []struct {
		inst     string
		sysadmin bool
		sql      string
		want     []*engine.Error
	}{
		{"secondary", false, `RESTORE LOG mgc FROM DISK = N'C:\x.trn' WITH NORECOVERY`,
			[]*engine.Error{engine.ErrRestorePermission("mgc"), engine.ErrTerminating("RESTORE LOG")}},
		{"principal", false, `ALTER DATABASE mgc SET OFFLINE`,
			[]*engine.Error{engine.ErrAlterPermission("mgc"), engine.ErrAlterFailed()}},
		{"principal", true, `RESTORE LOG mgc FROM DISK = N'C:\x.trn'`,
			[]*engine.Error{engine.ErrRestoreMirrored("mgc"), engine.ErrTerminating("RESTORE LOG")}},
		{"secondary", true, `EXEC msdb.dbo.sp_start_job @job_name = N'no such job'`,
			[]*engine.Error{engine.ErrJobNotFound("@job_name", "no such job")}},
		{"principal", false, `EXEC msdb.dbo.sp_start_job @job_name = N'x'`,
			[]*engine.Error{engine.ErrPermissionDenied("EXECUTE", "sp_start_job", "msdb", "dbo")}},
		{"principal", false, `BACKUP LOG mgc TO DISK = N'C:\x.trn'`,
			[]*engine.Error{engine.ErrBackupPermission("BACKUP LOG", "mgc"), engine.ErrTerminating("BACKUP LOG")}},
		{"principal", false, `RESTORE HEADERONLY FROM DISK = N'C:\x.trn'`,
			[]*engine.Error{engine.ErrCreateDatabasePermission(), engine.ErrTerminating("RESTORE HEADERONLY")}},
		{"principal", false, `KILL 51`, []*engine.Error{engine.ErrKillPermission()}},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			got := execAs(t, f, c.inst, c.sysadmin, c.sql).Errors()
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k := range got {
				g, w := got[k], c.want[k]
				if g.Number != w.Number || g.Class != w.Class || g.State != w.State || g.Message != w.Message {
					t.Fatalf("message %d: got %+v, want %+v", k, g, w)
				}
			}
		})
	}
}

// TestBackendProcArgumentErrors checks the procedures' argument errors: a @job_id that is not a
// uniqueidentifier gets CAST's 8169, a missing required parameter 201 from engine.ErrMissingParam.
func TestBackendProcArgumentErrors(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		sql  string
		want *engine.Error
	}{
		{`EXEC msdb.dbo.sp_start_job @job_id = N'not-a-guid'`, engine.NewError(8169, 16, 2, "Conversion failed when converting from a character string to uniqueidentifier.")},
		{`EXEC msdb.dbo.sp_dbmmonitorresults`, engine.ErrMissingParam("sp_dbmmonitorresults", "@database_name")},
		{`EXEC master.dbo.sp_delete_log_shipping_secondary_database`, engine.ErrMissingParam("sp_delete_log_shipping_secondary_database", "@secondary_database")},
	} {
		got := execAs(t, f, "secondary", true, c.sql).Errors()
		if len(got) != 1 || got[0].Number != c.want.Number || got[0].State != c.want.State || got[0].Message != c.want.Message {
			t.Errorf("%s: got %v, want %v", c.sql, got, c.want)
		}
	}
}

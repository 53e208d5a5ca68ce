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

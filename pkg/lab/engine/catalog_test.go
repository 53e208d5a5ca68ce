package engine

import "testing"

// TestAsSeenBy checks the per-login visibility rules every backend shares: the monitoring login
// sees no sys.master_files rows and a masked mirror row in sys.database_mirroring; sa sees all;
// other tables pass through; the input rows are never modified.
func TestAsSeenBy(t *testing.T) {
	mf := SysMasterFiles.NewRow()
	SysMasterFiles.Set(mf, "database_id", Int(7))
	mirror := SysDatabaseMirroring.NewRow()
	SysDatabaseMirroring.Set(mirror, "database_id", Int(7))
	SysDatabaseMirroring.Set(mirror, "mirroring_role", TinyInt(2))
	principal := SysDatabaseMirroring.NewRow()
	SysDatabaseMirroring.Set(principal, "database_id", Int(8))
	SysDatabaseMirroring.Set(principal, "mirroring_role", TinyInt(1))
	db := SysDatabases.NewRow()
	SysDatabases.Set(db, "database_id", Int(7))
	roleCol := SysDatabaseMirroring.Index("mirroring_role")

	cases := []struct {
		name     string
		def      *TableDef
		sysadmin bool
		rows     [][]Value
		wantRows int
		check    func(t *testing.T, out [][]Value)
	}{
		{"master_files sa", SysMasterFiles, true, [][]Value{mf, mf}, 2, nil},
		{"master_files monitor", SysMasterFiles, false, [][]Value{mf, mf}, 0, nil},
		{"mirroring sa", SysDatabaseMirroring, true, [][]Value{mirror}, 1, func(t *testing.T, out [][]Value) {
			if out[0][roleCol].Null {
				t.Fatal("sa: mirror role masked")
			}
		}},
		{"mirroring monitor", SysDatabaseMirroring, false, [][]Value{mirror, principal}, 2, func(t *testing.T, out [][]Value) {
			if !out[0][roleCol].Null || out[0][0].Int64() != 7 {
				t.Fatalf("monitor: mirror row not masked to database_id only: %v", out[0])
			}
			if out[1][roleCol].Null || out[1][roleCol].Int64() != 1 {
				t.Fatalf("monitor: principal row masked: %v", out[1])
			}
		}},
		{"databases monitor", SysDatabases, false, [][]Value{db}, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := AsSeenBy(c.def, c.sysadmin, c.rows)
			if len(out) != c.wantRows {
				t.Fatalf("got %d rows, want %d", len(out), c.wantRows)
			}
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
	if mirror[roleCol].Null {
		t.Fatal("AsSeenBy modified its input row")
	}
}

// TestStaticMasterFilesMonitor checks the rule end to end on the fixture: a monitoring session's
// query of sys.master_files counts nothing, sa's counts the fixture's files.
func TestStaticMasterFilesMonitor(t *testing.T) {
	mon, _ := newTestSession(t, false)
	if got := scalarText(t, mon, "SELECT COUNT(*) FROM sys.master_files"); got != "0" {
		t.Fatalf("monitor: COUNT(*) = %s, want 0", got)
	}
	sa, _ := newTestSession(t, true)
	if got := scalarText(t, sa, "SELECT COUNT(*) FROM sys.master_files"); got == "0" {
		t.Fatal("sa: COUNT(*) = 0, want the fixture's files")
	}
}

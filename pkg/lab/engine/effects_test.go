package engine

import "testing"

// TestStaticPermissionMessages checks the monitoring login's refusals on the Static backend against
// the constructors every backend shares (SQLSERVER.md §8 Q14).
func TestStaticPermissionMessages(t *testing.T) {
	s, _ := newTestSession(t, false)
	cases := []struct {
		sql  string
		want []*Error
	}{
		{`BACKUP LOG mgc TO DISK = N'C:\x.trn'`, []*Error{ErrBackupPermission("BACKUP LOG", "mgc"), ErrTerminating("BACKUP LOG")}},
		{`BACKUP DATABASE mgc TO DISK = N'C:\x.bak'`, []*Error{ErrBackupPermission("BACKUP DATABASE", "mgc"), ErrTerminating("BACKUP DATABASE")}},
		{`RESTORE HEADERONLY FROM DISK = N'C:\x.trn'`, []*Error{ErrCreateDatabasePermission(), ErrTerminating("RESTORE HEADERONLY")}},
		{`KILL 51`, []*Error{ErrKillPermission()}},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			got := run(t, s, c.sql).Errors()
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k := range got {
				g, w := got[k], c.want[k]
				if g.Number != w.Number || g.Class != w.Class || g.State != w.State || g.Message != w.Message {
					t.Fatalf("message %d: got %+v, want %+v", k, got[k], c.want[k])
				}
			}
		})
	}
	if m := ErrBackupPermission("BACKUP LOG", "mgc"); m.Number != 262 || m.Class != 14 || m.Message != "BACKUP LOG permission denied in database 'mgc'." {
		t.Fatalf("262 text: %+v", m)
	}
}

package engine

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

// FuzzExecute parses and executes arbitrary batches against the fixture: whatever the input, the
// engine must not panic and must answer with results or SQL errors. Seeds are in
// testdata/fuzz/FuzzExecute; CI runs them as ordinary tests.
func FuzzExecute(f *testing.F) {
	for _, s := range []string{
		"SELECT name, state_desc FROM sys.databases WHERE database_id > 4 ORDER BY name",
		"SELECT TOP (1) rh.restore_date, bs.last_lsn FROM msdb.dbo.restorehistory AS rh JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id ORDER BY rh.restore_history_id DESC",
		"DECLARE @b uniqueidentifier = NEWID(); EXEC msdb.dbo.sp_update_job @job_id = @b, @enabled = 0",
		"RESTORE LOG lsdb FROM DISK = N'x' WITH NORECOVERY",
		"ALTER DATABASE mgc SET PARTNER SAFETY FULL",
		"SELECT DATEDIFF(minute, '2024-01-01', GETUTCDATE()), CAST(1.5 AS numeric(25,0)) * 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		// a fresh estate per input: INSERTs must not accumulate across inputs
		e := New(zap.NewNop(), NewFixture(time.Date(2024, 3, 10, 14, 30, 0, 0, time.UTC), 20), nil)
		if len(sql) > 4096 {
			return
		}
		s := e.NewSession(SessionInfo{SPID: 60, Login: "sa", Sysadmin: true, Database: "master"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r := &Recorder{}
		if err := s.Execute(ctx, sql, nil, r); err != nil && ctx.Err() == nil {
			t.Fatalf("Execute(%q) returned a non-SQL error: %v", sql, err)
		}
		for _, m := range r.Messages {
			if m.Number == 0 && !m.IsInfo() {
				t.Fatalf("error without a number for %q: %+v", sql, m)
			}
		}
	})
}

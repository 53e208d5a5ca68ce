package lab

import (
	"database/sql"
	"testing"
	"time"
)

func TestTCPAutomaticFailoverNeedsWitness(t *testing.T) {
	for _, withWitness := range []bool{true, false} {
		t.Run(map[bool]string{true: "witness", false: "no_witness"}[withWitness], func(t *testing.T) {
			f := startTCP(t, func(c *Config) {
				c.Databases = []string{"mgc"}
				if withWitness {
					*c = c.WithWitness()
				}
			})
			f.advance(5 * time.Second)
			if _, err := f.lab.Topology().Inject(Fault{Kind: FaultDown, Target: "principal"}); err != nil {
				t.Fatal(err)
			}
			f.advance(15 * time.Second)
			ctx := ctx5(t)
			var role, state string
			var witness sql.NullString
			err := f.sa("mirror").QueryRowContext(ctx, `SELECT m.mirroring_role_desc, m.mirroring_state_desc, m.mirroring_witness_state_desc
				FROM sys.database_mirroring AS m WHERE m.database_id = DB_ID(N'mgc')`).Scan(&role, &state, &witness)
			if err != nil {
				t.Fatal(err)
			}
			want := "MIRROR"
			if withWitness {
				want = "PRINCIPAL"
			}
			if role != want || state != "DISCONNECTED" || witness.Valid != withWitness {
				t.Fatalf("mirror after principal loss: role %s state %s witness %v", role, state, witness)
			}
			_, err = f.sa("mirror").ExecContext(ctx, `INSERT INTO mgc.dbo.messages (body) VALUES (N'x')`)
			if withWitness && err != nil {
				t.Fatalf("insert on the new principal: %v", err)
			}
			if !withWitness {
				wantSQLErr(t, err, 954)
			}
		})
	}
}

func TestTCPStandbyReaderAndRollbackImmediate(t *testing.T) {
	f := startTCP(t, func(c *Config) { c.Databases = []string{"mgc"}; c.RestoreMode = "standby" })
	f.advance(2 * time.Minute)
	ctx := ctx5(t)
	readerDB := f.db("secondary", "sqldr_monitor", "Mon-Passw0rd!")
	reader, err := readerDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Close() }()
	if _, err := reader.ExecContext(ctx, "USE mgc"); err != nil {
		t.Fatalf("USE a STANDBY database: %v", err)
	}
	var n int64
	if err := reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.messages").Scan(&n); err != nil || n == 0 {
		t.Fatalf("read STANDBY: %d %v", n, err)
	}
	_, err = reader.ExecContext(ctx, "INSERT INTO dbo.messages (body) VALUES (N'x')")
	wantSQLErr(t, err, 3906)
	sa := f.sa("secondary")
	_, err = sa.ExecContext(ctx, "RESTORE DATABASE mgc WITH RECOVERY")
	wantSQLErr(t, err, 3101, 3013)
	if _, err := sa.ExecContext(ctx, "ALTER DATABASE mgc SET SINGLE_USER WITH ROLLBACK IMMEDIATE"); err != nil {
		t.Fatalf("single user: %v", err)
	}
	// The reader's connection was killed.
	waitFor(t, func() bool { return reader.PingContext(ctx) != nil })
	if _, err := sa.ExecContext(ctx, "RESTORE DATABASE mgc WITH RECOVERY"); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	if _, err := sa.ExecContext(ctx, "ALTER DATABASE mgc SET MULTI_USER"); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.ExecContext(ctx, "INSERT INTO mgc.dbo.messages (body) VALUES (N'promoted')"); err != nil {
		t.Fatalf("insert after recovery: %v", err)
	}
}

func TestTCPSkewAndJobs(t *testing.T) {
	f := startTCP(t, func(c *Config) { c.Databases = []string{"mgc"} })
	ctx := ctx5(t)
	topo := f.lab.Topology()
	if _, err := topo.Inject(Fault{Kind: FaultSkew, Target: "secondary", Delay: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	var a, b time.Time
	if err := f.sa("principal").QueryRowContext(ctx, "SELECT SYSUTCDATETIME()").Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := f.sa("secondary").QueryRowContext(ctx, "SELECT SYSUTCDATETIME()").Scan(&b); err != nil {
		t.Fatal(err)
	}
	if d := b.Sub(a); d < 2*time.Minute-time.Second || d > 2*time.Minute+time.Second {
		t.Fatalf("skew: secondary - principal = %s, want 2m", d)
	}
	sec := f.sa("secondary")
	if _, err := sec.ExecContext(ctx, "EXEC msdb.dbo.sp_start_job @job_name = N'LSCopy_SQLA1_mgc'"); err != nil {
		t.Fatalf("start job: %v", err)
	}
	var running int
	q := `SELECT COUNT(*) FROM msdb.dbo.sysjobactivity AS a JOIN msdb.dbo.sysjobs AS j ON j.job_id = a.job_id
		WHERE j.name = N'LSCopy_SQLA1_mgc' AND a.start_execution_date IS NOT NULL AND a.stop_execution_date IS NULL`
	if err := sec.QueryRowContext(ctx, q).Scan(&running); err != nil || running != 1 {
		t.Fatalf("sysjobactivity running: %d %v", running, err)
	}
	_, err := sec.ExecContext(ctx, "EXEC msdb.dbo.sp_start_job @job_name = N'LSCopy_SQLA1_mgc'")
	wantSQLErr(t, err, 22022)
	f.advance(3 * time.Second)
	if err := sec.QueryRowContext(ctx, q).Scan(&running); err != nil || running != 0 {
		t.Fatalf("sysjobactivity after the run: %d %v", running, err)
	}
	rows, err := sec.QueryContext(ctx, "EXEC master.sys.xp_dirtree N'D:\\lscopy\\mgc', 1, 1")
	if err != nil {
		t.Fatalf("xp_dirtree: %v", err)
	}
	_ = rows.Close()
	_, err = sec.ExecContext(ctx, "EXEC msdb.dbo.sp_stop_job @job_name = N'LSCopy_SQLA1_mgc'")
	wantSQLErr(t, err, 22022)
}

func TestTCPProcedureByRPC(t *testing.T) {
	f := startTCP(t, func(c *Config) { c.Databases = []string{"mgc"} })
	ctx := ctx5(t)
	sec := f.sa("secondary")
	var id string
	if err := sec.QueryRowContext(ctx, `SELECT CAST(copy_job_id AS nvarchar(36)) FROM msdb.dbo.log_shipping_secondary`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// go-mssqldb sends a bare procedure name as an RPC call by name.
	if _, err := sec.ExecContext(ctx, "msdb.dbo.sp_update_job", sql.Named("job_id", id), sql.Named("enabled", 0)); err != nil {
		t.Fatalf("sp_update_job by RPC: %v", err)
	}
	var enabled int
	if err := sec.QueryRowContext(ctx, `SELECT enabled FROM msdb.dbo.sysjobs WHERE CAST(job_id AS nvarchar(36)) = @p1`, id).Scan(&enabled); err != nil || enabled != 0 {
		t.Fatalf("enabled = %d, %v", enabled, err)
	}
	_, err := sec.ExecContext(ctx, "msdb.dbo.sp_start_job", sql.Named("job_name", "nope"))
	wantSQLErr(t, err, 14262)
	// The monitoring login sees the principal's full mirroring row (Q14, row 1).
	var role sql.NullString
	if err := f.db("principal", "sqldr_monitor", "Mon-Passw0rd!").QueryRowContext(ctx,
		`SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID(N'mgc')`).Scan(&role); err != nil || role.String != "PRINCIPAL" {
		t.Fatalf("monitor on the principal: %v %v", role, err)
	}
}

func TestTCPMirroringMonitorResults(t *testing.T) {
	f := startTCP(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.advance(5 * time.Second)
	ctx := ctx5(t)
	p := f.sa("principal")
	q := "USE msdb; EXEC sp_dbmmonitorresults N'mgc', 0, 1"
	var (
		name                                                    string
		role, state, witness, genRate, unsent, send, unrestored int
		recRate, delay, tps, avgDelay                           int
		recorded, behind, local                                 time.Time
	)
	scan := func() {
		t.Helper()
		if err := p.QueryRowContext(ctx, q).Scan(&name, &role, &state, &witness, &genRate, &unsent, &send, &unrestored,
			&recRate, &delay, &tps, &avgDelay, &recorded, &behind, &local); err != nil {
			t.Fatalf("sp_dbmmonitorresults: %v", err)
		}
	}
	scan()
	if role != 1 || state != 4 || unsent != 0 || !behind.Equal(recorded) {
		t.Fatalf("synchronized: role %d state %d unsent %d behind %v recorded %v", role, state, unsent, behind, recorded)
	}
	if _, err := f.lab.Topology().Inject(Fault{Kind: FaultDown, Target: "mirror"}); err != nil {
		t.Fatal(err)
	}
	f.advance(30 * time.Second)
	scan()
	if state != 1 || unsent < 25 || !behind.Before(recorded) || recorded.Sub(behind) < 25*time.Second {
		t.Fatalf("mirror down: state %d unsent %d KB behind %v recorded %v", state, unsent, behind, recorded)
	}
	_, err := f.db("principal", "sqldr_monitor", "Mon-Passw0rd!").ExecContext(ctx, q)
	wantSQLErr(t, err, 229)
}

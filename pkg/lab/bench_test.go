package lab

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// BenchmarkSimulatedHour measures how long the default topology takes to live one
// simulated hour (3,600 one-second steps: workload, mirroring, 180 job runs per database).
func BenchmarkSimulatedHour(b *testing.B) {
	for b.Loop() {
		cfg := DefaultConfig()
		clk := NewManualClock(cfg.Start)
		topo, err := New(zap.NewNop(), cfg, clk)
		if err != nil {
			b.Fatal(err)
		}
		clk.Advance(time.Hour)
		topo.Sync()
	}
}

// BenchmarkCatalogQuery measures one backend-rendered catalog query through the engine
// (restorehistory ⋈ backupset ⋈ backupmediafamily on a secondary after an hour).
func BenchmarkCatalogQuery(b *testing.B) {
	cfg := DefaultConfig()
	clk := NewManualClock(cfg.Start)
	topo, err := New(zap.NewNop(), cfg, clk)
	if err != nil {
		b.Fatal(err)
	}
	clk.Advance(time.Hour)
	topo.Sync()
	sec, _ := topo.Instance("secondary")
	eng := engine.New(zap.NewNop(), sec.Backend(), nil)
	s := eng.NewSession(engine.SessionInfo{SPID: 60, Login: "sa", Sysadmin: true, Database: "master"}, nil)
	defer s.Close()
	q := `SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn, mf.physical_device_name
		FROM msdb.dbo.restorehistory AS rh JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id
		JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
		WHERE rh.destination_database_name = N'mgc' AND rh.restore_type = 'L' ORDER BY rh.restore_history_id DESC`
	out := &discard{}
	for b.Loop() {
		if err := s.Execute(context.Background(), q, nil, out); err != nil {
			b.Fatal(err)
		}
		if out.rows != 1 {
			b.Fatalf("rows %d", out.rows)
		}
		out.rows = 0
	}
}

type discard struct{ rows int }

func (d *discard) Columns([]engine.Column) error { return nil }
func (d *discard) Row([]engine.Value) error      { d.rows++; return nil }
func (d *discard) Message(m *engine.Error) error {
	if !m.IsInfo() {
		return m
	}
	return nil
}
func (d *discard) Done(int64) error            { return nil }
func (d *discard) ChangeDatabase(string) error { return nil }
func (d *discard) BeginProc() error            { return nil }
func (d *discard) EndProc(int32) error         { return nil }

// BenchmarkTopologyQueryTCP measures one round trip of the probes' database query to a served
// instance of the topology: go-mssqldb → the fault-aware listener → engine/server → engine →
// the topology's backend (monitoring login, so sys.master_files is hidden).
func BenchmarkTopologyQueryTCP(b *testing.B) {
	cfg := DefaultConfig()
	clk := NewManualClock(cfg.Start)
	l, err := Start(zap.NewNop(), cfg, Options{Clock: clk,
		Credentials: Credentials{SAPassword: testPassword, MonitorLogin: "sqldr_monitor", MonitorPassword: "Mon-Passw0rd!"}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	}()
	clk.Advance(10 * time.Minute)
	l.Topology().Sync()
	srv, err := l.Server("secondary")
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlserver", DSN(srv.Addr(), "sqldr_monitor", "Mon-Passw0rd!", "master")+"&dial+timeout=2&connection+timeout=5")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	q := `SELECT d.name, d.state_desc, f.redo_start_lsn FROM sys.databases AS d
		LEFT JOIN sys.master_files AS f ON f.database_id = d.database_id AND f.file_id = 1 WHERE d.name IN (N'mgc', N'mgccomp')`
	for b.Loop() {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
		if n != 2 {
			b.Fatalf("rows %d, want 2", n)
		}
	}
}

package lab

import (
	"context"
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

package engine

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

const benchCatalogQuery = `SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn,
       bs.backup_start_date, bs.backup_finish_date, bs.time_zone, mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
JOIN msdb.dbo.backupset       AS bs ON bs.backup_set_id = rh.backup_set_id
JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = N'lsdb' AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC;`

// BenchmarkParse measures parsing a typical catalog query (the §3.4 (b) recipe).
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchCatalogQuery); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatalogQuery measures parse + evaluate of the §3.4 (b) recipe (a three-way join with
// ORDER BY and TOP) against the fixture, without the network.
func BenchmarkCatalogQuery(b *testing.B) {
	e := New(zap.NewNop(), NewFixture(time.Date(2024, 3, 10, 14, 30, 0, 0, time.UTC), 0), nil)
	s := e.NewSession(SessionInfo{SPID: 60, Login: "sa", Sysadmin: true, Database: "master"}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := &Recorder{}
		if err := s.Execute(ctx, benchCatalogQuery, nil, r); err != nil || len(r.Results) != 1 || len(r.Results[0].Rows) != 1 {
			b.Fatalf("%v %v", err, r.Errors())
		}
	}
}

// BenchmarkCountMessages measures SELECT COUNT(*), MAX(id) over 2,000 application rows.
func BenchmarkCountMessages(b *testing.B) {
	e := New(zap.NewNop(), NewFixture(time.Date(2024, 3, 10, 14, 30, 0, 0, time.UTC), 2000), nil)
	s := e.NewSession(SessionInfo{SPID: 60, Login: "sa", Sysadmin: true, Database: "mgc"}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := &Recorder{}
		if err := s.Execute(ctx, "SELECT COUNT(*), MAX(id) FROM dbo.messages", nil, r); err != nil || len(r.Results) != 1 {
			b.Fatal(err)
		}
	}
}

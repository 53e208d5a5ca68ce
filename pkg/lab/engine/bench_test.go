package engine

import (
	"context"
	"fmt"
	"strings"
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

// bigEstate is a Static backend with n user databases, each with a mirroring row, a recovery-status
// row and two files, to measure joins at the scale of 1,000 protected databases.
func bigEstate(n int) *Static {
	var dbs []DatabaseInfo
	for i := 1; i <= n; i++ {
		dbs = append(dbs, DatabaseInfo{ID: i + 4, Name: fmt.Sprintf("db%04d", i), RecoveryModel: 1})
	}
	b := NewStatic(ServerInfo{Name: "BIG", Now: time.Date(2024, 3, 10, 14, 30, 0, 0, time.UTC)}, append([]DatabaseInfo{{ID: 1, Name: "master"}, {ID: 4, Name: "msdb"}}, dbs...))
	var d, m, r, f [][]Value
	for _, db := range dbs {
		row := SysDatabases.NewRow()
		SysDatabases.Set(row, "name", Sysname(db.Name))
		SysDatabases.Set(row, "database_id", Int(int32(db.ID)))
		SysDatabases.Set(row, "state_desc", NStr("ONLINE"))
		d = append(d, row)
		row = SysDatabaseMirroring.NewRow()
		SysDatabaseMirroring.Set(row, "database_id", Int(int32(db.ID)))
		m = append(m, row)
		row = SysDatabaseRecoveryStatus.NewRow()
		SysDatabaseRecoveryStatus.Set(row, "database_id", Int(int32(db.ID)))
		SysDatabaseRecoveryStatus.Set(row, "last_log_backup_lsn", MustLSN(FixtureBaseLSN))
		r = append(r, row)
		for file := 1; file <= 2; file++ {
			row = SysMasterFiles.NewRow()
			SysMasterFiles.Set(row, "database_id", Int(int32(db.ID)))
			SysMasterFiles.Set(row, "file_id", Int(int32(file)))
			f = append(f, row)
		}
	}
	for _, add := range []struct {
		def  *TableDef
		rows [][]Value
	}{{SysDatabases, d}, {SysDatabaseMirroring, m}, {SysDatabaseRecoveryStatus, r}, {SysMasterFiles, f}} {
		if err := b.AddRows(add.def, "", add.rows...); err != nil {
			panic(err)
		}
	}
	return b
}

// BenchmarkJoin1000Databases measures a four-way LEFT JOIN of the catalog views over 1,000
// databases, filtered by a 1,000-item IN list of parameters (the shape a monitoring tool sends).
func BenchmarkJoin1000Databases(b *testing.B) {
	const n = 1000
	e := New(zap.NewNop(), bigEstate(n), nil)
	s := e.NewSession(SessionInfo{SPID: 60, Login: "sa", Sysadmin: true, Database: "master"}, nil)
	var names []string
	var params []Param
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("@p%d", i))
		params = append(params, Param{Name: fmt.Sprintf("@p%d", i), Type: NVarChar(128), Value: NStr(fmt.Sprintf("db%04d", i))})
	}
	q := `SELECT db.name, db.state_desc, mir.mirroring_role, rs.last_log_backup_lsn, mf.redo_start_lsn
FROM sys.databases db
LEFT JOIN sys.database_mirroring mir ON db.database_id = mir.database_id
LEFT JOIN sys.database_recovery_status rs ON db.database_id = rs.database_id
LEFT JOIN sys.master_files mf ON db.database_id = mf.database_id AND mf.file_id = 1
WHERE db.name IN (` + strings.Join(names, ",") + `)`
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := &Recorder{}
		if err := s.Execute(ctx, q, params, r); err != nil || len(r.Errors()) > 0 || len(r.Results[0].Rows) != n {
			b.Fatalf("%v %v", err, r.Errors())
		}
	}
}

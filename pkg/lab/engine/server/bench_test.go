package server

import (
	"context"
	"database/sql"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
)

// BenchmarkConnect measures connection set-up over loopback: TCP, PRELOGIN, LOGIN7 and the login
// reply, through go-mssqldb's connector.
func BenchmarkConnect(b *testing.B) {
	l := startLab(b, 0)
	conn, err := mssql.NewConnector(l.dsn("sa", saPassword, ""))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := conn.Connect(ctx)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}

// BenchmarkSimpleQueryRoundTrip measures SELECT 1 round trips on one connection; round trips per
// second = 1e9 / (ns/op).
func BenchmarkSimpleQueryRoundTrip(b *testing.B) {
	l := startLab(b, 0)
	db := l.open(b, "sa", saPassword, "")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatalogQueryTCP measures the §3.4 (b) recipe end to end over TCP (sp_executesql with a
// parameter).
func BenchmarkCatalogQueryTCP(b *testing.B) {
	l := startLab(b, 0)
	db := l.open(b, "monitor", monitorPassword, "")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	q := `SELECT TOP (1) rh.restore_date, bs.first_lsn, bs.last_lsn, mf.physical_device_name
FROM msdb.dbo.restorehistory AS rh
JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id
JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = @db AND rh.restore_type = 'L'
ORDER BY rh.restore_history_id DESC`
	b.ReportAllocs()
	for b.Loop() {
		var at, first, last, file sql.NullString
		if err := db.QueryRowContext(ctx, q, sql.Named("db", "lsdb")).Scan(&at, &first, &last, &file); err != nil {
			b.Fatal(err)
		}
	}
}

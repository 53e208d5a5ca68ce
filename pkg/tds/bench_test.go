package tds

import (
	"context"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
)

// BenchmarkConnect measures connection set-up through go-mssqldb: TCP connect, PRELOGIN, LOGIN7 and
// the login reply, until the connection is ready.
func BenchmarkConnect(b *testing.B) {
	ts := startServer(b, Options{})
	connector, err := mssql.NewConnector(ts.dsn(""))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := connector.Connect(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "connects/s")
}

// BenchmarkQueryRoundTrip measures simple-query round trips (one SQL batch, one row back) on one
// pooled go-mssqldb connection.
func BenchmarkQueryRoundTrip(b *testing.B) {
	ts := startServer(b, Options{})
	db := ts.open(b, "")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var n int
		if err := db.QueryRowContext(ctx, "select 1").Scan(&n); err != nil || n != 1 {
			b.Fatalf("select 1 = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkRowsStreaming measures encoding and transferring a 2,000-row result set.
func BenchmarkRowsStreaming(b *testing.B) {
	ts := startServer(b, Options{})
	db := ts.open(b, "packet+size=32767")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.QueryContext(ctx, "rows 2000")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Close(); err != nil || n != 2000 {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

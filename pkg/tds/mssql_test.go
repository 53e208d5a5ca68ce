package tds

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

func errorNumbers(t *testing.T, err error) []int32 {
	t.Helper()
	var me mssql.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not an mssql.Error", err, err)
	}
	var nums []int32
	for _, e := range me.All {
		nums = append(nums, e.Number)
	}
	return nums
}

func TestLogin(t *testing.T) {
	ts := startServer(t, Options{ServerName: "SQLA"})
	ctx := ctxT(t)

	t.Run("ok", func(t *testing.T) {
		db := ts.open(t, "database=db1&packet+size=8192")
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		req := ts.h.lastLogin()
		if req.UserName != "sa" || req.Password != "pw" || req.Database != "db1" || req.AppName != "tdstest" ||
			req.ClientLibrary != "go-mssqldb" || req.TDSVersion != 0x74000004 || req.PacketSize != 8192 || req.SPID < 51 {
			t.Fatalf("login request = %+v", req)
		}
		if a, ok := req.RemoteAddr.(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
			t.Fatalf("remote addr = %v", req.RemoteAddr)
		}
		var name string
		if err := db.QueryRowContext(ctx, "db").Scan(&name); err != nil || name != "db1" {
			t.Fatalf("db = %q, %v", name, err)
		}
	})
	cases := []struct {
		name, dsn string
		want      []int32
	}{
		{"bad password", "sqlserver://sa:nope@%s?encrypt=disable", []int32{18456}},
		{"bad user", "sqlserver://bob:pw@%s?encrypt=disable", []int32{18456}},
		{"unknown database", "sqlserver://sa:pw@%s?encrypt=disable&database=nosuch", []int32{4060, 18456}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open("sqlserver", fmt.Sprintf(tc.dsn, ts.addr))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			err = db.PingContext(ctx)
			if got := errorNumbers(t, err); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("errors = %v, want %v (%v)", got, tc.want, err)
			}
			var me mssql.Error
			errors.As(err, &me)
			if me.ServerName != "SQLA" || me.Class != 14 {
				t.Fatalf("error = %+v", me)
			}
		})
	}
	t.Run("encrypt=true is refused", func(t *testing.T) {
		db, err := sql.Open("sqlserver", fmt.Sprintf("sqlserver://sa:pw@%s?encrypt=true", ts.addr))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "encryption") {
			t.Fatalf("ping with encrypt=true: %v", err)
		}
	})
}

func TestColumnTypesRoundTrip(t *testing.T) {
	for _, size := range []int{512, 4096, 32767} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ts := startServer(t, Options{})
			db := ts.open(t, fmt.Sprintf("packet+size=%d", size))
			ctx := ctxT(t)
			rows, err := db.QueryContext(ctx, "types")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = rows.Close() }()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			wantTypes := []string{"INT", "BIGINT", "SMALLINT", "TINYINT", "BIT", "NVARCHAR", "NVARCHAR", "NVARCHAR",
				"DATETIME", "DATETIME2", "DATETIMEOFFSET", "UNIQUEIDENTIFIER", "DECIMAL", "DECIMAL", "FLOAT", "REAL",
				"VARBINARY", "VARBINARY", "DATE"}
			for i, ct := range cts {
				if ct.DatabaseTypeName() != wantTypes[i] || ct.Name() != typesCols[i].Name {
					t.Errorf("column %d: %s %s, want %s %s", i, ct.Name(), ct.DatabaseTypeName(), typesCols[i].Name, wantTypes[i])
				}
				if n, ok := ct.Nullable(); !ok || !n {
					t.Errorf("column %d not nullable", i)
				}
			}
			if p, s, ok := cts[12].DecimalSize(); !ok || p != 25 || s != 0 {
				t.Errorf("lsn decimal size %d,%d", p, s)
			}
			if n, ok := cts[5].Length(); !ok || n != 20 {
				t.Errorf("nvarchar length %d", n)
			}
			var (
				i, bi, si, ti sql.NullInt64
				b             sql.NullBool
				nv, nvmax, ch sql.NullString
				dt, dt2, dto  sql.NullTime
				g             mssql.NullUniqueIdentifier
				lsn, dec      sql.NullString
				f, r          sql.NullFloat64
				vb, vbmax     []byte
				d             sql.NullTime
			)
			dests := []any{&i, &bi, &si, &ti, &b, &nv, &nvmax, &ch, &dt, &dt2, &dto, &g, &lsn, &dec, &f, &r, &vb, &vbmax, &d}
			if !rows.Next() {
				t.Fatal("no first row", rows.Err())
			}
			if err := rows.Scan(dests...); err != nil {
				t.Fatal(err)
			}
			check := func(name string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			check("i", i.Int64, -2147483648)
			check("bi", bi.Int64, int64(9223372036854775807))
			check("si", si.Int64, -32768)
			check("ti", ti.Int64, 255)
			check("b", b.Bool, true)
			check("nv", nv.String, "héllo ✓")
			check("nvmax", nvmax.String, strings.Repeat("x", 5000))
			check("ch", ch.String, "ab   ")
			// datetime rounds .1234567 to the nearest 1/300 s: .123
			check("dt", dt.Time.Format(time.RFC3339Nano), "2024-02-29T13:45:30.123Z")
			check("dt2", dt2.Time.Format(time.RFC3339Nano), testTime.Format(time.RFC3339Nano))
			if !dto.Time.Equal(testDTO) {
				t.Errorf("dto = %v, want %v", dto.Time, testDTO)
			}
			if _, off := dto.Time.Zone(); off != 5*3600+30*60 {
				t.Errorf("dto offset %d", off)
			}
			check("g", g.UUID.String(), "6F9619FF-8B86-D011-B42D-00C04FC964FF")
			check("lsn", lsn.String, "123456789012345678901234")
			check("dec", dec.String, "-12345678901234567890123456789012.3456")
			check("f", f.Float64, 3.141592653589793)
			check("r", r.Float64, 1.5)
			check("vb", vb, []byte{1, 2, 3})
			check("vbmax", len(vbmax), 0)
			check("d", d.Time.Format("2006-01-02"), "0001-01-01")
			if !rows.Next() {
				t.Fatal("no second row", rows.Err())
			}
			if err := rows.Scan(dests...); err != nil {
				t.Fatal(err)
			}
			if i.Valid || bi.Valid || si.Valid || ti.Valid || b.Valid || nv.Valid || nvmax.Valid || ch.Valid || dt.Valid ||
				dt2.Valid || dto.Valid || g.Valid || lsn.Valid || dec.Valid || f.Valid || r.Valid || vb != nil || vbmax != nil || d.Valid {
				t.Errorf("second row is not all NULL: %v", dests)
			}
			if rows.Next() {
				t.Fatal("unexpected third row")
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLargeResults(t *testing.T) {
	for _, size := range []int{512, 4096, 32767} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ts := startServer(t, Options{})
			db := ts.open(t, fmt.Sprintf("packet+size=%d", size))
			ctx := ctxT(t)
			rows, err := db.QueryContext(ctx, "rows 2000")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var i int
				var s string
				if err := rows.Scan(&i, &s); err != nil {
					t.Fatal(err)
				}
				if i != n || s != fmt.Sprintf("row %d", n) {
					t.Fatalf("row %d = %d %q", n, i, s)
				}
				n++
			}
			if err := rows.Err(); err != nil || n != 2000 {
				t.Fatalf("rows = %d, err %v", n, err)
			}
			var big string
			if err := db.QueryRowContext(ctx, "big 60000").Scan(&big); err != nil {
				t.Fatal(err)
			}
			if big != strings.Repeat("é", 60000) {
				t.Fatalf("big value has %d runes", len([]rune(big)))
			}
			// A 60,000-character parameter travels as PLP in the other direction.
			long := strings.Repeat("ü", 60000)
			var echoed string
			if err := db.QueryRowContext(ctx, "echo;", long).Scan(&echoed); err != nil || echoed != long {
				t.Fatalf("echo of a 60,000-char parameter: %d runes, %v", len([]rune(echoed)), err)
			}
		})
	}
}

func TestParameters(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	guid := mssql.UniqueIdentifier{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	when := time.Date(2025, 7, 1, 8, 30, 0, 123456700, time.FixedZone("", -7*3600))
	var (
		i64   int64
		s, e  string
		bl    bool
		fl    float64
		tm    time.Time
		bs    []byte
		null  sql.NullString
		g     mssql.UniqueIdentifier
		dec   string
		small int64
	)
	err := db.QueryRowContext(ctx, "echo;", int64(-42), "hello", "", true, 2.5, when, []byte{9, 8, 7}, nil, guid,
		"49000000012300001", int32(7)).Scan(&i64, &s, &e, &bl, &fl, &tm, &bs, &null, &g, &dec, &small)
	if err != nil {
		t.Fatal(err)
	}
	if i64 != -42 || s != "hello" || e != "" || !bl || fl != 2.5 || !tm.Equal(when) || !bytes.Equal(bs, []byte{9, 8, 7}) ||
		null.Valid || g != guid || dec != "49000000012300001" || small != 7 {
		t.Fatalf("echo = %v %q %q %v %v %v %v %v %v %q %v", i64, s, e, bl, fl, tm, bs, null, g, dec, small)
	}
	var decl string
	if err := db.QueryRowContext(ctx, "decl;", int64(1), "ab", sql.Named("name", true)).Scan(&decl); err != nil {
		t.Fatal(err)
	}
	if decl != "@p1 bigint,@p2 nvarchar(2),@name bit" {
		t.Fatalf("decl = %q", decl)
	}

	t.Run("procedure by name with output and return status", func(t *testing.T) {
		var out int64
		var rs mssql.ReturnStatus
		var echoed int64
		var named string
		row := db.QueryRowContext(ctx, "dbo.sp_test", sql.Named("x", int64(21)), sql.Named("y", "z"),
			sql.Named("out", sql.Out{Dest: &out}), &rs)
		if err := row.Scan(&echoed, &named, new(sql.NullInt64)); err != nil {
			t.Fatal(err)
		}
		if echoed != 21 || named != "z" {
			t.Fatalf("echoed %d %q out %d status %d", echoed, named, out, rs)
		}
		// Output parameters arrive after the rows; Exec reads the whole reply.
		if _, err := db.ExecContext(ctx, "dbo.sp_test", sql.Named("out", sql.Out{Dest: &out, In: true}), &rs); err != nil {
			t.Fatal(err)
		}
		if rs != 7 {
			t.Fatalf("return status %d", rs)
		}
	})
	t.Run("procedure error and status", func(t *testing.T) {
		var rs mssql.ReturnStatus
		_, err := db.ExecContext(ctx, "dbo.sp_fail", sql.Named("job_name", "x"), &rs)
		if got := errorNumbers(t, err); fmt.Sprint(got) != "[14262]" {
			t.Fatalf("errors %v", got)
		}
		var me mssql.Error
		errors.As(err, &me)
		if me.ProcName != "sp_verify_job_identifiers" {
			t.Fatalf("proc name %q", me.ProcName)
		}
		// A proc block inside an RPC sets the RPC's return status; exactly one RETURNSTATUS is sent.
		rows, err := db.QueryContext(ctx, "dbo.sp_exec", &rs)
		if err != nil {
			t.Fatal(err)
		}
		var seven int
		for rows.Next() {
			if err := rows.Scan(&seven); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Close(); err != nil || seven != 7 || rs != 5 {
			t.Fatalf("sp_exec: row %d status %d err %v", seven, rs, err)
		}
		_, err = db.ExecContext(ctx, "dbo.nosuch")
		if got := errorNumbers(t, err); fmt.Sprint(got) != "[2812]" {
			t.Fatalf("errors %v", got)
		}
	})
}

func TestOutputParam(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	out := int64(21)
	var rs mssql.ReturnStatus
	if _, err := db.ExecContext(ctx, "dbo.sp_test", sql.Named("out", sql.Out{Dest: &out, In: true}), &rs); err != nil {
		t.Fatal(err)
	}
	if out != 42 || rs != 7 {
		t.Fatalf("out %d status %d", out, rs)
	}
}

func TestMultipleResultSetsAndErrors(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	rows, err := db.QueryContext(ctx, "rows 2;info;count 5;select 3;exec 4")
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]int
	for {
		var set []int
		for rows.Next() {
			var n int
			var s sql.NullString
			cols, _ := rows.Columns()
			if len(cols) == 2 {
				err = rows.Scan(&n, &s)
			} else {
				err = rows.Scan(&n)
			}
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, n)
		}
		sets = append(sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	if fmt.Sprint(sets) != "[[0 1] [3] [7]]" {
		t.Fatalf("result sets %v", sets)
	}

	// Errors after rows must not be lost (DONE_MORE on every earlier done token).
	for _, q := range []string{"rows 3;error 208", "select 1;errors 4305 3013", "exec 1;error 50001", "rows 1;raise 927"} {
		t.Run(q, func(t *testing.T) {
			_, err := db.ExecContext(ctx, q)
			want := map[string]string{"rows 3;error 208": "[208]", "select 1;errors 4305 3013": "[4305 3013]",
				"exec 1;error 50001": "[50001]", "rows 1;raise 927": "[927]"}[q]
			if got := errorNumbers(t, err); fmt.Sprint(got) != want {
				t.Fatalf("errors %v, want %s", got, want)
			}
		})
	}
	res, err := db.ExecContext(ctx, "count 17")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 17 {
		t.Fatalf("rows affected %d", n)
	}
	// The connection still works after all of that.
	var n int
	if err := db.QueryRowContext(ctx, "select 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("select 5 = %d, %v", n, err)
	}
}

func TestInternalErrorClosesConnection(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	_, err := db.ExecContext(ctx, "fail")
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 50000 || me.Class != 20 {
		t.Fatalf("fail: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "select 2").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after fatal error: %d, %v", n, err)
	}
	// A panicking session closes its connection only.
	_, err = db.ExecContext(ctx, "panic")
	if !errors.As(err, &me) || me.Number != 50000 || !strings.Contains(me.Message, "test panic") {
		t.Fatalf("panic: %v", err)
	}
	if err := db.QueryRowContext(ctx, "select 3").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after panic: %d, %v", n, err)
	}
}

func TestCancellation(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	db.SetMaxOpenConns(1)
	for i := 0; i < 3; i++ {
		cctx, cancel := context.WithCancel(ctx)
		rows, err := db.QueryContext(cctx, "wait")
		if err != nil {
			t.Fatal(err)
		}
		if !rows.Next() {
			t.Fatalf("no first row: %v", rows.Err())
		}
		cancel()
		for rows.Next() {
		}
		if err := rows.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("rows.Err = %v, want context.Canceled", err)
		}
		_ = rows.Close()
		var n int
		if err := db.QueryRowContext(ctx, "select 9").Scan(&n); err != nil || n != 9 {
			t.Fatalf("after cancel: %d, %v", n, err)
		}
	}
	// A deadline makes go-mssqldb discard the connection; the pool dials a new one.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := db.ExecContext(dctx, "wait"); err == nil {
		t.Fatal("wait with a deadline succeeded")
	}
	var n int
	if err := db.QueryRowContext(ctx, "select 9").Scan(&n); err != nil || n != 9 {
		t.Fatalf("after deadline: %d, %v", n, err)
	}
}

func TestIdleAttentions(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	db.SetMaxOpenConns(2)
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
		var n int
		if err := db.QueryRowContext(ctx, fmt.Sprintf("select %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	// go-mssqldb's QueryRow races its own cancellation against the reply; every such attention
	// must have been acknowledged, or a query above would have failed after 5 s.
	t.Logf("idle attentions acknowledged: %d", ts.srv.idleAttentions.Load())
}

func TestResetConnection(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "database=db1")
	ctx := ctxT(t)
	db.SetMaxOpenConns(1)
	// USE and SET inside one request are visible within it.
	var name string
	if err := db.QueryRowContext(ctx, "use db2;db").Scan(&name); err != nil || name != "db2" {
		t.Fatalf("use db2;db = %q, %v", name, err)
	}
	before := ts.h.resets.Load()
	if _, err := db.ExecContext(ctx, "set abc"); err != nil {
		t.Fatal(err)
	}
	// The next pooled request carries RESETCONNECTION: the database goes back to db1.
	var setting string
	if err := db.QueryRowContext(ctx, "setting").Scan(&setting); err != nil || setting != "" {
		t.Fatalf("setting after reset = %q, %v", setting, err)
	}
	if err := db.QueryRowContext(ctx, "db").Scan(&name); err != nil || name != "db1" {
		t.Fatalf("db after reset = %q, %v", name, err)
	}
	if ts.h.resets.Load() <= before {
		t.Fatal("no reset seen")
	}
	// On one sql.Conn, USE persists only until the pool resets it; within the conn it holds.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "use db2"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "db").Scan(&name); err != nil || name != "db2" {
		t.Fatalf("db on conn = %q, %v", name, err)
	}
	_, err = conn.ExecContext(ctx, "use nosuch")
	if got := errorNumbers(t, err); fmt.Sprint(got) != "[911]" {
		t.Fatalf("use nosuch: %v", got)
	}
}

func TestTransactions(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	for _, commit := range []bool{true, false} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, "select 4").Scan(&n); err != nil || n != 4 {
			t.Fatalf("in tx: %d, %v", n, err)
		}
		if _, err := tx.ExecContext(ctx, "count 1", sql.Named("a", 1)); err != nil {
			t.Fatalf("rpc in tx: %v", err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ts.h.mu.Lock()
	got := fmt.Sprint(ts.h.tranLog)
	ts.h.mu.Unlock()
	if got != "[begin commit begin rollback]" {
		t.Fatalf("transaction log %s", got)
	}
	// BEGIN TRAN in a batch (ENVCHANGE 8) and COMMIT.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "begin"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "commit"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentPool(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var n int
				if err := db.QueryRowContext(ctx, "echo", int64(g*1000+i)).Scan(&n); err != nil || n != g*1000+i {
					errs <- fmt.Errorf("goroutine %d query %d: %d, %w", g, i, n, err)
					return
				}
			}
			rows, err := db.QueryContext(ctx, "rows 100")
			if err != nil {
				errs <- err
				return
			}
			c := 0
			for rows.Next() {
				c++
			}
			_ = rows.Close()
			if c != 100 {
				errs <- fmt.Errorf("goroutine %d: %d rows", g, c)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := db.Stats(); st.OpenConnections < 2 {
		t.Errorf("pool used %d connections", st.OpenConnections)
	}
	if len(ts.srv.Sessions()) == 0 {
		t.Error("no sessions listed")
	}
}

func TestCloseResetsConnections(t *testing.T) {
	ts := startServer(t, Options{})
	db := ts.open(t, "")
	ctx := ctxT(t)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	sess := ts.srv.Sessions()
	if len(sess) != 1 || sess[0].UserName != "sa" || sess[0].AppName != "tdstest" {
		t.Fatalf("sessions %+v", sess)
	}
	if !ts.srv.Disconnect(sess[0].SPID) || ts.srv.Disconnect(9999) {
		t.Fatal("Disconnect result wrong")
	}
	waitFor(t, "session gone after Disconnect", func() bool { return len(ts.srv.Sessions()) == 0 && ts.h.closed.Load() == 1 })
	if ts.h.closed.Load() != 1 {
		t.Fatalf("session Close called %d times", ts.h.closed.Load())
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping succeeded after Close")
	}
}

// bigParamValue checks a big.Int beyond int64 encodes as numeric(25,0).
func TestNumericBeyondInt64(t *testing.T) {
	v, _ := new(big.Int).SetString("-9999999999999999999999999", 10)
	b, err := appendValue(nil, Numeric(25, 0), v)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{b: b}
	got, err := readValue(r, Type{id: typeNumericN, size: 13, prec: 25})
	if err != nil || got.(Decimal).String() != v.String() {
		t.Fatalf("round trip %v, %v", got, err)
	}
	if _, err := appendValue(nil, Numeric(25, 0), new(big.Int).Mul(v, big.NewInt(10))); err == nil {
		t.Fatal("26 digits accepted by numeric(25,0)")
	}
}

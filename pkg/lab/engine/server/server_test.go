package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/pkg/lab/engine"
	"github.com/sqldr/sqldr/pkg/tds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

const (
	saPassword      = "Lab-Passw0rd"
	monitorPassword = "Mon-Passw0rd"
)

var testNow = time.Date(2024, 3, 10, 14, 30, 15, 123_456_789, time.UTC)

type lab struct {
	addr    string
	backend *engine.Static
	srv     *Server
}

// startLab serves the fixture estate on a loopback port with logins sa and monitor.
func startLab(t testing.TB, messageRows int) *lab {
	t.Helper()
	log := zap.NewNop()
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt)
	}
	b := engine.NewFixture(testNow, messageRows)
	srv, err := New(log, b, Config{Logins: []Login{
		{Name: "sa", Password: saPassword, Sysadmin: true},
		{Name: "monitor", Password: monitorPassword},
	}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return &lab{addr: l.Addr().String(), backend: b, srv: srv}
}

func (l *lab) dsn(user, password, database string) string {
	q := url.Values{}
	q.Set("encrypt", "disable")
	q.Set("dial timeout", "3")
	q.Set("connection timeout", "10")
	q.Set("app name", "labtest")
	if database != "" {
		q.Set("database", database)
	}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: l.addr, RawQuery: q.Encode()}
	return u.String()
}

func (l *lab) open(t testing.TB, user, password, database string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", l.dsn(user, password, database))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// numbers returns every error number of a go-mssqldb error, in order (mssql.Error.All).
func numbers(err error) []int32 {
	var me mssql.Error
	if !errors.As(err, &me) {
		return nil
	}
	var out []int32
	for _, e := range me.All {
		out = append(out, e.Number)
	}
	return out
}

func equalNumbers(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPlainAndParameterisedQueries(t *testing.T) {
	l := startLab(t, 10)
	db := l.open(t, "sa", saPassword, "")
	ctx := ctxT(t)
	var name, version string
	var spid int
	if err := db.QueryRowContext(ctx, "SELECT @@SERVERNAME, @@VERSION, @@SPID").Scan(&name, &version, &spid); err != nil {
		t.Fatal(err)
	}
	if name != "SQLA1" || !strings.Contains(version, "Microsoft SQL Server") || spid < 51 {
		t.Errorf("server facts: %q %q %d", name, version, spid)
	}
	// parameterised: go-mssqldb sends sp_executesql with typed @p1, @p2
	var state string
	var id int
	err := db.QueryRowContext(ctx, "SELECT database_id, state_desc FROM sys.databases WHERE name = @p1 AND database_id > @p2", "LSDB", 1).Scan(&id, &state)
	if err != nil {
		t.Fatal(err)
	}
	if id != engine.FixtureLSDB || state != "RESTORING" {
		t.Errorf("lsdb: %d %s", id, state)
	}
	// named parameters and a uniqueidentifier / numeric(25,0) round trip
	var lsn string
	err = db.QueryRowContext(ctx, "SELECT CAST(last_lsn AS nvarchar(30)) FROM msdb.dbo.backupset WHERE last_lsn > CAST(@lsn AS numeric(25,0)) AND backup_set_id = @id",
		sql.Named("lsn", "9223372036854775808000250"), sql.Named("id", 3)).Scan(&lsn)
	if err != nil || lsn != "9223372036854775808000301" {
		t.Errorf("lsn parameter: %q %v", lsn, err)
	}
}

func TestEveryColumnType(t *testing.T) {
	l := startLab(t, 0)
	db := l.open(t, "sa", saPassword, "")
	ctx := ctxT(t)
	q := `SELECT CAST(1 AS bit), CAST(200 AS tinyint), CAST(-300 AS smallint), CAST(70000 AS int),
		CAST(9000000000 AS bigint), N'héllo', CAST(N'long' AS nvarchar(max)), CAST('ab' AS char(3)),
		CAST('2024-01-15 10:20:30.005' AS datetime), CAST('2024-01-15 10:20:30.1234567' AS datetime2(7)),
		CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier),
		CAST('9223372036854775808000001' AS numeric(25,0)), CAST(1.5 AS float), SYSDATETIMEOFFSET()`
	var (
		b    bool
		ti   uint8
		si   int16
		i    int32
		bi   int64
		nv   string
		nmax string
		ch   string
		dt   time.Time
		dt2  time.Time
		g    mssql.UniqueIdentifier
		num  []byte
		f    float64
		dto  time.Time
	)
	if err := db.QueryRowContext(ctx, q).Scan(&b, &ti, &si, &i, &bi, &nv, &nmax, &ch, &dt, &dt2, &g, &num, &f, &dto); err != nil {
		t.Fatal(err)
	}
	if !b || ti != 200 || si != -300 || i != 70000 || bi != 9000000000 || nv != "héllo" || nmax != "long" || ch != "ab " || f != 1.5 {
		t.Errorf("values: %v %v %v %v %v %q %q %q %v", b, ti, si, i, bi, nv, nmax, ch, f)
	}
	if want := time.Date(2024, 1, 15, 10, 20, 30, 7_000_000, time.UTC); !dt.Equal(want) {
		t.Errorf("datetime %v, want %v (1/300 s rounding)", dt, want)
	}
	if want := time.Date(2024, 1, 15, 10, 20, 30, 123_456_700, time.UTC); !dt2.Equal(want) {
		t.Errorf("datetime2 %v, want %v", dt2, want)
	}
	if g.String() != "6F9619FF-8B86-D011-B42D-00C04FC964FF" {
		t.Errorf("guid %s", g)
	}
	n, ok := new(big.Int).SetString(string(num), 10)
	if !ok || n.String() != "9223372036854775808000001" || n.IsInt64() {
		t.Errorf("numeric(25,0) %s", num)
	}
	if _, off := dto.Zone(); off != -5*3600 || !dto.Equal(testNow.Truncate(100*time.Nanosecond).Add(100*time.Nanosecond)) && !dto.Equal(testNow.Truncate(100*time.Nanosecond)) {
		t.Errorf("datetimeoffset %v (offset %d), want %v in UTC-5", dto, off, testNow)
	}
	// column types as the client sees them
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"BIT", "TINYINT", "SMALLINT", "INT", "BIGINT", "NVARCHAR", "NVARCHAR", "NVARCHAR", "DATETIME", "DATETIME2", "UNIQUEIDENTIFIER", "DECIMAL", "FLOAT", "DATETIMEOFFSET"}
	for k, ct := range cts {
		if ct.DatabaseTypeName() != want[k] {
			t.Errorf("column %d type %s, want %s", k, ct.DatabaseTypeName(), want[k])
		}
	}
	if p, s, ok := cts[11].DecimalSize(); !ok || p != 25 || s != 0 {
		t.Errorf("numeric size %d,%d", p, s)
	}
	// NULLs of every type
	var nb sql.NullBool
	var ni sql.NullInt64
	var ns sql.NullString
	var nt sql.NullTime
	var nf sql.NullFloat64
	var ng, nn []byte
	err = db.QueryRowContext(ctx, `SELECT CAST(NULL AS bit), CAST(NULL AS bigint), CAST(NULL AS nvarchar(10)), CAST(NULL AS datetime),
		CAST(NULL AS float), CAST(NULL AS uniqueidentifier), CAST(NULL AS numeric(25,0))`).Scan(&nb, &ni, &ns, &nt, &nf, &ng, &nn)
	if err != nil {
		t.Fatal(err)
	}
	if nb.Valid || ni.Valid || ns.Valid || nt.Valid || nf.Valid || ng != nil || nn != nil {
		t.Errorf("NULLs came back as values: %v %v %v %v %v %v %v", nb, ni, ns, nt, nf, ng, nn)
	}
}

func TestLoginRules(t *testing.T) {
	l := startLab(t, 0)
	cases := []struct {
		user, pw, db string
		want         []int32
	}{
		{"sa", "wrong", "", []int32{18456}},
		{"nobody", saPassword, "", []int32{18456}},
		{"sa", saPassword, "nosuch", []int32{4060, 18456}},
		{"sa", saPassword, "lsdb", []int32{4060, 18456}},     // RESTORING (§8 Q1: no 927 at login)
		{"sa", saPassword, "mirrordb", []int32{4060, 18456}}, // mirror
		{"sa", saPassword, "offdb", []int32{4060, 18456}},    // OFFLINE
		{"monitor", monitorPassword, "msdb", nil},
		{"SA", saPassword, "MGC", nil}, // login names and databases are case-insensitive
	}
	for _, c := range cases {
		db := l.open(t, c.user, c.pw, c.db)
		ctx := ctxT(t)
		var got string
		err := db.QueryRowContext(ctx, "SELECT DB_NAME()").Scan(&got)
		if c.want == nil {
			if err != nil || !strings.EqualFold(got, c.db) {
				t.Errorf("%s/%s: %q %v", c.user, c.db, got, err)
			}
			continue
		}
		if !equalNumbers(numbers(err), c.want) {
			t.Errorf("%s/%s: errors %v (%v), want %v", c.user, c.db, numbers(err), err, c.want)
		}
	}
}

func TestErrorsByNumber(t *testing.T) {
	l := startLab(t, 0)
	sa := l.open(t, "sa", saPassword, "")
	mon := l.open(t, "monitor", monitorPassword, "")
	cases := []struct {
		db   *sql.DB
		sql  string
		want []int32
	}{
		{sa, "SELECT nosuch FROM sys.databases", []int32{207}},
		{sa, "SELECT * FROM msdb.dbo.nosuch", []int32{208}},
		{sa, "SELECT FROM", []int32{156}},
		{sa, "USE lsdb", []int32{927}},
		{sa, "USE mirrordb", []int32{954}},
		{sa, "USE offdb", []int32{942}},
		{mon, "RESTORE LOG lsdb FROM DISK = N'D:\\lscopy\\mgc_1.trn' WITH NORECOVERY", []int32{3110, 3013}},
		{mon, "ALTER DATABASE mgc SET PARTNER OFF", []int32{5011, 5069}},
		{mon, "EXEC msdb.dbo.sp_update_job @job_name = N'LSBackup_mgc', @enabled = 0", []int32{229}},
	}
	for _, c := range cases {
		_, err := c.db.ExecContext(ctxT(t), c.sql)
		if !equalNumbers(numbers(err), c.want) {
			t.Errorf("%s: errors %v (%v), want %v", c.sql, numbers(err), err, c.want)
		}
	}
	// the mssql.Error carries class, state, line, server name and the message text
	_, err := sa.ExecContext(ctxT(t), "SELECT 1\nUSE offdb")
	var me mssql.Error
	if !errors.As(err, &me) || me.Class != 14 || me.State != 4 || me.LineNo != 2 || me.ServerName != "SQLA1" ||
		me.Message != "Database 'offdb' cannot be opened because it is offline." {
		t.Errorf("942 details: %+v", me)
	}
}

func TestMonitoringLoginSeesNullMirrorColumns(t *testing.T) {
	l := startLab(t, 0)
	for _, c := range []struct {
		user, pw string
		visible  bool
	}{{"sa", saPassword, true}, {"monitor", monitorPassword, false}} {
		db := l.open(t, c.user, c.pw, "")
		var role sql.NullString
		err := db.QueryRowContext(ctxT(t), "SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID(N'mirrordb')").Scan(&role)
		if err != nil {
			t.Fatal(err)
		}
		if role.Valid != c.visible {
			t.Errorf("%s sees mirror role %v, want visible=%v", c.user, role, c.visible)
		}
	}
}

func TestCancellationByContext(t *testing.T) {
	l := startLab(t, 0)
	db := l.open(t, "sa", saPassword, "")
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := db.ExecContext(ctx, "WAITFOR DELAY '00:05:00'; SELECT 1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled query: %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("cancellation took %s", time.Since(start))
	}
	// the connection (pool of one) still works
	var one int
	if err := db.QueryRowContext(ctxT(t), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("after cancel: %d %v", one, err)
	}
}

func TestInsertRowsAffected(t *testing.T) {
	l := startLab(t, 3)
	db := l.open(t, "sa", saPassword, "mgc")
	ctx := ctxT(t)
	res, err := db.ExecContext(ctx, "INSERT INTO dbo.messages (id, created_at, body) VALUES (@p1, SYSUTCDATETIME(), @p2), (@p3, NULL, NULL)", 4, "four", 5)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 2 {
		t.Errorf("rows affected %d %v, want 2", n, err)
	}
	var count, maxID int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(id) FROM dbo.messages").Scan(&count, &maxID); err != nil || count != 5 || maxID != 5 {
		t.Errorf("after insert: count %d max %d %v", count, maxID, err)
	}
	mon := l.open(t, "monitor", monitorPassword, "mgc")
	_, err = mon.ExecContext(ctx, "INSERT INTO dbo.messages (id) VALUES (6)")
	if !equalNumbers(numbers(err), []int32{229}) {
		t.Errorf("monitor insert: %v", err)
	}
}

func TestLargeResult(t *testing.T) {
	l := startLab(t, 2000)
	db := l.open(t, "sa", saPassword, "mgc")
	rows, err := db.QueryContext(ctxT(t), "SELECT id, created_at, body FROM dbo.messages ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	n := 0
	for rows.Next() {
		var id int
		var at time.Time
		var body string
		if err := rows.Scan(&id, &at, &body); err != nil {
			t.Fatal(err)
		}
		n++
		if id != n || body != fmt.Sprintf("message %d", n) {
			t.Fatalf("row %d: %d %q", n, id, body)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2000 {
		t.Errorf("rows = %d, want 2000", n)
	}
}

func TestPoolOf16Connections(t *testing.T) {
	l := startLab(t, 100)
	db := l.open(t, "monitor", monitorPassword, "")
	db.SetMaxOpenConns(16)
	ctx := ctxT(t)
	conns := make([]*sql.Conn, 16)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	spids := make([]int, 16)
	errs := make([]error, 16)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				var n int
				if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM mgc.dbo.messages WHERE id > @p1", k).Scan(&n); err != nil {
					errs[i] = err
					return
				}
				if n != 100-k {
					errs[i] = fmt.Errorf("count %d, want %d", n, 100-k)
					return
				}
			}
			errs[i] = c.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spids[i])
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range conns {
		if errs[i] != nil {
			t.Errorf("conn %d: %v", i, errs[i])
		}
		seen[spids[i]] = true
		_ = conns[i].Close()
	}
	if len(seen) != 16 {
		t.Errorf("%d distinct SPIDs, want 16", len(seen))
	}
}

func TestUseAndResetConnection(t *testing.T) {
	l := startLab(t, 0)
	db := l.open(t, "sa", saPassword, "")
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := c.QueryRowContext(ctx, "USE msdb; SELECT DB_NAME()").Scan(&name); err != nil || name != "msdb" {
		t.Fatalf("use: %q %v", name, err)
	}
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.sysjobs").Scan(&name); err != nil || name != "3" {
		t.Errorf("session stays in msdb: %q %v", name, err)
	}
	_ = c.Close() // back to the pool; go-mssqldb resets it on next use
	if err := db.QueryRowContext(ctx, "SELECT DB_NAME()").Scan(&name); err != nil || name != "master" {
		t.Errorf("after RESETCONNECTION: %q %v, want master", name, err)
	}
}

func TestUseInsideParameterisedQuery(t *testing.T) {
	l := startLab(t, 0)
	db := l.open(t, "sa", saPassword, "")
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	var inside, after string
	if err := db.QueryRowContext(ctx, "USE msdb; SELECT DB_NAME() WHERE 1 = @p1", 1).Scan(&inside); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT DB_NAME()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if inside != "msdb" || after != "master" {
		t.Errorf("inside sp_executesql %q, after %q; want msdb then master", inside, after)
	}
}

func TestStoredProcedureRPC(t *testing.T) {
	l := startLab(t, 0)
	l.backend.HandleProc("sp_start_job", func(_ context.Context, s *engine.SessionInfo, call *engine.ExecStmt) (*engine.EffectResult, error) {
		name, ok := call.Arg("job_name", 0)
		if !ok || !strings.EqualFold(name.Text(), "LSCopy_mgc") {
			return nil, engine.NewError(14262, 16, 1, "The specified @job_name ('%s') does not exist.", name.Text())
		}
		return &engine.EffectResult{Messages: []*engine.Error{engine.Info(14243, "Job '%s' started successfully.", name.Text())}, RowsAffected: -1}, nil
	})
	db := l.open(t, "sa", saPassword, "msdb")
	ctx := ctxT(t)
	var rc mssql.ReturnStatus
	if _, err := db.ExecContext(ctx, "msdb.dbo.sp_start_job", sql.Named("job_name", "LSCopy_mgc"), &rc); err != nil {
		t.Fatalf("rpc: %v", err)
	}
	if rc != 0 {
		t.Errorf("return status %d", rc)
	}
	_, err := db.ExecContext(ctx, "msdb.dbo.sp_start_job", sql.Named("job_name", "nope"))
	if !equalNumbers(numbers(err), []int32{14262}) {
		t.Errorf("unknown job: %v", err)
	}
	// and from a batch
	if _, err := db.ExecContext(ctx, "EXEC msdb.dbo.sp_start_job @job_name = N'LSCopy_mgc'"); err != nil {
		t.Errorf("exec in batch: %v", err)
	}
	if n := len(l.backend.Executed()); n != 3 {
		t.Errorf("executed %d procedure calls, want 3", n)
	}
}

// TestFreeTDSClient runs a catalog query with FreeTDS's tsql, an independent TDS implementation.
func TestFreeTDSClient(t *testing.T) {
	path, err := exec.LookPath("tsql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tsql (freetds-bin) is required in CI but is not installed")
		}
		t.Skip("tsql not installed")
	}
	l := startLab(t, 5)
	host, port, _ := net.SplitHostPort(l.addr)
	ctx := ctxT(t)
	cmd := exec.CommandContext(ctx, path, "-H", host, "-p", port, "-U", "monitor", "-P", monitorPassword, "-D", "master", "-o", "q")
	cmd.Env = append(os.Environ(), "TDSVER=7.4")
	cmd.Stdin = strings.NewReader("SELECT d.name, d.state_desc, m.mirroring_role_desc FROM sys.databases AS d JOIN sys.database_mirroring AS m ON m.database_id = d.database_id WHERE d.database_id >= 5 ORDER BY d.database_id\ngo\nSELECT nosuch FROM sys.databases\ngo\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tsql: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"mgc\tONLINE\tPRINCIPAL", "lsdb\tRESTORING", "mirrordb\tRESTORING", "Invalid column name 'nosuch'", "207"} {
		if !strings.Contains(text, want) {
			t.Errorf("tsql output lacks %q:\n%s", want, text)
		}
	}
}

func TestDefaultDatabaseUnavailable(t *testing.T) {
	b := engine.NewFixture(testNow, 0)
	srv, err := New(zap.NewNop(), b, Config{Logins: []Login{{Name: "ls", Password: "pw", Sysadmin: true, DefaultDatabase: "lsdb"}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	lab := &lab{addr: l.Addr().String()}
	db := lab.open(t, "ls", "pw", "")
	err = db.PingContext(ctxT(t))
	if !equalNumbers(numbers(err), []int32{4064, 18456}) {
		t.Errorf("default database RESTORING: %v (%v), want [4064 18456]", numbers(err), err)
	}
	// naming a database explicitly works
	var name string
	if err := lab.open(t, "ls", "pw", "mgc").QueryRowContext(ctxT(t), "SELECT DB_NAME()").Scan(&name); err != nil || name != "mgc" {
		t.Errorf("explicit database: %q %v", name, err)
	}
}

func TestConfigValidation(t *testing.T) {
	b := engine.NewFixture(testNow, 0)
	for _, cfg := range []Config{{}, {Logins: []Login{{Name: ""}}}, {Logins: []Login{{Name: "a"}, {Name: "A"}}}} {
		if _, err := New(zap.NewNop(), b, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	var _ tds.Handler = (*Server)(nil)
}

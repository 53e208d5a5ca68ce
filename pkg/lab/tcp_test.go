package lab

import (
	"context"
	"database/sql"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"go.uber.org/zap/zaptest"
)

const testPassword = "Lab-Passw0rd!"

type tcpFixture struct {
	t   *testing.T
	lab *Lab
	clk *ManualClock
}

func startTCP(t *testing.T, mutate func(*Config)) *tcpFixture {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	clk := NewManualClock(cfg.Start)
	l, err := Start(zaptest.NewLogger(t), cfg, Options{Clock: clk,
		Credentials: Credentials{SAPassword: testPassword, MonitorLogin: "sqldr_monitor", MonitorPassword: "Mon-Passw0rd!"}})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return &tcpFixture{t: t, lab: l, clk: clk}
}

func (f *tcpFixture) advance(d time.Duration) {
	f.clk.Advance(d)
	f.lab.Topology().Sync()
}

func (f *tcpFixture) db(role, user, password string) *sql.DB {
	f.t.Helper()
	s, err := f.lab.Server(role)
	if err != nil {
		f.t.Fatal(err)
	}
	db, err := sql.Open("sqlserver", DSN(s.Addr(), user, password, "master")+"&dial+timeout=2&connection+timeout=5")
	if err != nil {
		f.t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	f.t.Cleanup(func() { _ = db.Close() })
	return db
}

func (f *tcpFixture) sa(role string) *sql.DB { return f.db(role, "sa", testPassword) }

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sqlNumbers(err error) []int32 {
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

func wantSQLErr(t *testing.T, err error, numbers ...int32) {
	t.Helper()
	got := sqlNumbers(err)
	if len(got) != len(numbers) {
		t.Fatalf("want errors %v, got %v (%v)", numbers, got, err)
	}
	for k := range got {
		if got[k] != numbers[k] {
			t.Fatalf("want errors %v, got %v (%v)", numbers, got, err)
		}
	}
}

func TestTCPCatalogAndMirroringVisibility(t *testing.T) {
	f := startTCP(t, nil)
	f.advance(2 * time.Second)
	ctx := ctx5(t)
	p := f.sa("principal")
	var name string
	if err := p.QueryRowContext(ctx, "SELECT @@SERVERNAME").Scan(&name); err != nil || name != "SQLA1" {
		t.Fatalf("@@SERVERNAME = %q, %v", name, err)
	}
	var state, role string
	var lsn string
	err := p.QueryRowContext(ctx, `SELECT d.state_desc, m.mirroring_role_desc, CAST(m.mirroring_failover_lsn AS nvarchar(30))
		FROM sys.databases AS d JOIN sys.database_mirroring AS m ON m.database_id = d.database_id WHERE d.name = @p1`, "mgc").Scan(&state, &role, &lsn)
	if err != nil || state != "ONLINE" || role != "PRINCIPAL" {
		t.Fatalf("principal row: %s %s %v", state, role, err)
	}
	n, ok := new(big.Int).SetString(lsn, 10)
	if !ok || n.Cmp(new(big.Int).Lsh(big.NewInt(1), 63)) <= 0 {
		t.Fatalf("failover lsn %q not above 2^63", lsn)
	}
	// The mirror: sysadmin sees the row, the monitoring login sees NULLs.
	q := `SELECT m.mirroring_role_desc FROM sys.database_mirroring AS m JOIN sys.databases AS d ON d.database_id = m.database_id WHERE d.name = N'mgc'`
	var r sql.NullString
	if err := f.sa("mirror").QueryRowContext(ctx, q).Scan(&r); err != nil || r.String != "MIRROR" {
		t.Fatalf("sa on mirror: %v %v", r, err)
	}
	if err := f.db("mirror", "sqldr_monitor", "Mon-Passw0rd!").QueryRowContext(ctx, q).Scan(&r); err != nil || r.Valid {
		t.Fatalf("monitor on mirror: %v %v, want NULL", r, err)
	}
	// Opening the mirror database: 954; logging into it: 4060 + 18456.
	_, err = f.sa("mirror").ExecContext(ctx, "USE mgc")
	wantSQLErr(t, err, 954)
	s, _ := f.lab.Server("mirror")
	bad, _ := sql.Open("sqlserver", DSN(s.Addr(), "sa", testPassword, "mgc"))
	defer func() { _ = bad.Close() }()
	wantSQLErr(t, bad.PingContext(ctx), 4060, 18456)
	wrong, _ := sql.Open("sqlserver", DSN(s.Addr(), "sa", "nope", "master"))
	defer func() { _ = wrong.Close() }()
	wantSQLErr(t, wrong.PingContext(ctx), 18456)
}

func TestTCPLogShippingAndPromotion(t *testing.T) {
	f := startTCP(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.advance(3*time.Minute + 40*time.Second)
	ctx := ctx5(t)
	sec := f.sa("secondary")
	if !answered(t, "127.0.0.1", mustAddr(t, f.lab, "secondary"), 3*time.Second) {
		t.Fatal("PRELOGIN probe got no answer from a healthy instance")
	}
	var files, restored int
	if err := sec.QueryRowContext(ctx, `SELECT COUNT(*) FROM msdb.dbo.restorehistory AS rh
		JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id
		JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
		WHERE rh.destination_database_name = N'mgc' AND rh.restore_type = 'L'`).Scan(&restored); err != nil {
		t.Fatalf("restore history: %v", err)
	}
	if err := f.sa("principal").QueryRowContext(ctx, `SELECT COUNT(*) FROM msdb.dbo.backupset WHERE type = 'L' AND database_name = N'mgc'`).Scan(&files); err != nil {
		t.Fatal(err)
	}
	if restored < 2 || files < restored {
		t.Fatalf("backups %d, restored %d", files, restored)
	}
	var lastRestored sql.NullString
	var latency sql.NullInt64
	if err := sec.QueryRowContext(ctx, `SELECT last_restored_file, last_restored_latency FROM msdb.dbo.log_shipping_monitor_secondary WHERE secondary_database = N'mgc'`).Scan(&lastRestored, &latency); err != nil || !lastRestored.Valid || !latency.Valid {
		t.Fatalf("monitor secondary: %v %v %v", lastRestored, latency, err)
	}
	// The copy job stops; two more log backups reach the share but not the secondary.
	topo := f.lab.Topology()
	if _, err := topo.Inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "copy"}); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Minute)
	// Promotion by hand: site A lost; disable the jobs, restore what is on the
	// share in LSN order, recover, insert.
	if _, err := topo.Inject(Fault{Kind: FaultSiteDown, Target: "A"}); err != nil {
		t.Fatal(err)
	}
	var copyID, restoreID string
	if err := sec.QueryRowContext(ctx, `SELECT CAST(copy_job_id AS nvarchar(36)), CAST(restore_job_id AS nvarchar(36)) FROM msdb.dbo.log_shipping_secondary WHERE primary_database = N'mgc'`).Scan(&copyID, &restoreID); err != nil {
		t.Fatalf("job ids: %v", err)
	}
	for _, id := range []string{copyID, restoreID} {
		if _, err := sec.ExecContext(ctx, `EXEC msdb.dbo.sp_update_job @job_id = @p1, @enabled = 0`, id); err != nil {
			t.Fatalf("disable %s: %v", id, err)
		}
	}
	var redo string
	if err := sec.QueryRowContext(ctx, `SELECT CAST(redo_start_lsn AS nvarchar(30)) FROM sys.master_files WHERE database_id = DB_ID(N'mgc') AND file_id = 1`).Scan(&redo); err != nil {
		t.Fatalf("redo: %v", err)
	}
	redoL, err := ParseLSN(redo)
	if err != nil {
		t.Fatal(err)
	}
	var pending []BackupFile
	for _, bf := range topo.ShareFiles() {
		if bf.Database == "mgc" && bf.LastLSN.Cmp(redoL) > 0 {
			pending = append(pending, bf)
		}
	}
	if len(pending) < 2 {
		t.Fatalf("want >= 2 unrestored files on the share, got %d", len(pending))
	}
	_, err = sec.ExecContext(ctx, `RESTORE LOG mgc FROM DISK = @p1 WITH NORECOVERY`, pending[1].Path)
	wantSQLErr(t, err, 4305, 3013)
	for _, bf := range pending {
		if _, err := sec.ExecContext(ctx, `RESTORE LOG mgc FROM DISK = @p1 WITH NORECOVERY`, bf.Path); err != nil {
			t.Fatalf("restore %s: %v", bf.Path, err)
		}
	}
	_, err = sec.ExecContext(ctx, `RESTORE LOG mgc FROM DISK = @p1 WITH NORECOVERY`, pending[0].Path)
	wantSQLErr(t, err, 4326, 3013)
	after := pending[len(pending)-1].Path
	if _, err := sec.ExecContext(ctx, `RESTORE DATABASE mgc WITH RECOVERY`); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	_, err = sec.ExecContext(ctx, `RESTORE LOG mgc FROM DISK = @p1 WITH NORECOVERY`, after)
	wantSQLErr(t, err, 3117, 3013)
	if _, err := sec.ExecContext(ctx, `INSERT INTO mgc.dbo.messages (body) VALUES (N'promoted')`); err != nil {
		t.Fatalf("insert on the promoted secondary: %v", err)
	}
	var stateDesc string
	var count, maxID int64
	if err := sec.QueryRowContext(ctx, `SELECT state_desc FROM sys.databases WHERE name = N'mgc'`).Scan(&stateDesc); err != nil || stateDesc != "ONLINE" {
		t.Fatalf("state %q %v", stateDesc, err)
	}
	if err := sec.QueryRowContext(ctx, `SELECT COUNT(*), MAX(id) FROM mgc.dbo.messages`).Scan(&count, &maxID); err != nil || count == 0 || maxID < count {
		t.Fatalf("count %d max %d %v", count, maxID, err)
	}
}

func TestTCPTailLogAndPartnerOff(t *testing.T) {
	f := startTCP(t, nil)
	f.advance(5 * time.Second)
	ctx := ctx5(t)
	p := f.sa("principal")
	_, err := p.ExecContext(ctx, `BACKUP LOG mgc TO DISK = N'\\labshare\logship\mgc\mgc_tail.trn' WITH NORECOVERY`)
	wantSQLErr(t, err, 1468, 3013)
	if _, err := p.ExecContext(ctx, `ALTER DATABASE mgc SET PARTNER OFF`); err != nil {
		t.Fatalf("partner off: %v", err)
	}
	if _, err := p.ExecContext(ctx, `BACKUP LOG mgc TO DISK = N'\\labshare\logship\mgc\mgc_tail.trn' WITH NORECOVERY`); err != nil {
		t.Fatalf("tail after partner off: %v", err)
	}
	var st string
	if err := p.QueryRowContext(ctx, `SELECT state_desc FROM sys.databases WHERE name = N'mgc'`).Scan(&st); err != nil || st != "RESTORING" {
		t.Fatalf("after tail: %q %v", st, err)
	}
	mon := f.db("secondary", "sqldr_monitor", "Mon-Passw0rd!")
	_, err = mon.ExecContext(ctx, `RESTORE DATABASE mgc WITH RECOVERY`)
	wantSQLErr(t, err, 3110, 3013)
	_, err = mon.ExecContext(ctx, `ALTER DATABASE mgc SET SINGLE_USER WITH ROLLBACK IMMEDIATE`)
	wantSQLErr(t, err, 5011, 5069)
	_, err = mon.ExecContext(ctx, `EXEC msdb.dbo.sp_update_job @job_name = N'LSCopy_SQLA1_mgc', @enabled = 0`)
	wantSQLErr(t, err, 229)
}

func TestTCPFaultsOnTheWire(t *testing.T) {
	f := startTCP(t, nil)
	ctx := ctx5(t)
	s, _ := f.lab.Server("principal")
	p := f.sa("principal")
	if err := p.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	topo := f.lab.Topology()
	id, _ := topo.Inject(Fault{Kind: FaultDown, Target: "principal"})
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	})
	_ = topo.Heal(id)
	waitFor(t, func() bool { return p.PingContext(ctx) == nil })

	// Hung: TCP connects, the login never completes.
	id, _ = topo.Inject(Fault{Kind: FaultHung, Target: "principal"})
	waitFor(t, func() bool { return s.inst.Net().Health == HealthHung })
	if answered(t, "127.0.0.1", s.Addr(), 300*time.Millisecond) {
		t.Fatal("a hung instance answered a PRELOGIN")
	}
	_ = topo.Heal(id)
	waitFor(t, func() bool { return p.PingContext(ctx) == nil })

	// Refused by source address: 127.0.0.2 is cut, 127.0.0.1 is not.
	id, _ = topo.Inject(Fault{Kind: FaultRefuse, Target: "principal", Addrs: []string{"127.0.0.2"}})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: time.Second}
	waitFor(t, func() bool {
		c, err := d.Dial("tcp", s.Addr())
		if err != nil {
			return true
		}
		defer func() { _ = c.Close() }()
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		return err != nil && !isTimeout(err)
	})
	if err := p.PingContext(ctx); err != nil {
		t.Fatalf("127.0.0.1 cut too: %v", err)
	}
	_ = topo.Heal(id)

	// Black-holed by source address: 127.0.0.3 gets no answer, 127.0.0.1 does.
	id, _ = topo.Inject(Fault{Kind: FaultBlackhole, Target: "*", Addrs: []string{"127.0.0.3"}})
	if answered(t, "127.0.0.3", s.Addr(), 300*time.Millisecond) || !answered(t, "127.0.0.1", s.Addr(), 3*time.Second) {
		t.Fatal("blackhole by source address")
	}
	_ = topo.Heal(id)
	waitFor(t, func() bool { return answered(t, "127.0.0.3", s.Addr(), time.Second) })

	// Slow: every reply waits for the delay (a lower bound, not a speed assertion).
	id, _ = topo.Inject(Fault{Kind: FaultSlow, Target: "principal", Delay: 150 * time.Millisecond})
	start := time.Now()
	if err := p.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("slow fault: reply after %s", el)
	}
	_ = topo.Heal(id)
	if strings.Contains(s.Addr(), "[") {
		t.Fatal("not IPv4 loopback")
	}
}

// answered dials addr from the local address src, sends a PRELOGIN packet and
// reports whether any byte came back within wait (false for a timeout or a reset).
func answered(t *testing.T, src, addr string, wait time.Duration) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	// A minimal PRELOGIN: header (type 0x12, EOM, length 8+6) + VERSION option + terminator.
	body := []byte{0x00, 0x00, 0x06, 0x00, 0x06, 0xFF, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00}
	pkt := append([]byte{0x12, 0x01, 0x00, byte(8 + len(body)), 0x00, 0x00, 0x01, 0x00}, body...)
	if _, err := c.Write(pkt); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, _ := c.Read(make([]byte, 1))
	return n > 0
}

func mustAddr(t *testing.T, l *Lab, role string) string {
	t.Helper()
	s, err := l.Server(role)
	if err != nil {
		t.Fatal(err)
	}
	return s.Addr()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
}

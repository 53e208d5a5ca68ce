package server

import (
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// trackingBackend records what the engine tells a SessionTracker.
type trackingBackend struct {
	*engine.Static
	mu     sync.Mutex
	open   map[int]engine.SessionInfo
	kills  map[int]func()
	closed chan int
}

func (b *trackingBackend) SessionOpened(s engine.SessionInfo, kill func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open[s.SPID] = s
	b.kills[s.SPID] = kill
}

func (b *trackingBackend) SessionChanged(s engine.SessionInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open[s.SPID] = s
}

func (b *trackingBackend) SessionClosed(spid int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.open, spid)
	b.closed <- spid // buffered; the test reads it
}

func (b *trackingBackend) snapshot(spid int) (engine.SessionInfo, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.open[spid]
	return s, b.kills[spid], ok
}

func TestSessionTrackerAndKill(t *testing.T) {
	b := &trackingBackend{Static: engine.NewFixture(testNow, 0), open: map[int]engine.SessionInfo{}, kills: map[int]func(){}, closed: make(chan int, 16)}
	srv, err := New(zap.NewNop(), b, Config{Logins: []Login{{Name: "sa", Password: saPassword, Sysadmin: true}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	l := &lab{addr: ln.Addr().String()}
	db := l.open(t, "sa", saPassword, "standbydb")
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	var spid int
	if err := conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid); err != nil {
		t.Fatal(err)
	}
	s, kill, ok := b.snapshot(spid)
	if !ok || s.Database != "standbydb" || s.Login != "sa" || !s.Sysadmin || s.AppName != "labtest" {
		t.Fatalf("opened session %+v %v", s, ok)
	}
	if _, err := conn.ExecContext(ctx, "USE msdb"); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := b.snapshot(spid); s.Database != "msdb" {
		t.Errorf("after USE the tracker sees %q", s.Database)
	}
	// the backend kills the session (KILL, SET SINGLE_USER WITH ROLLBACK IMMEDIATE): the client's
	// connection ends and the session is reported closed
	kill()
	select {
	case got := <-b.closed:
		if got != spid {
			t.Fatalf("closed session %d, want %d", got, spid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("killed session was not reported closed")
	}
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(new(int)); err == nil {
		t.Error("query on a killed connection succeeded")
	}
}

func TestTimeParameters(t *testing.T) {
	l := startLab(t, 0)
	db := l.open(t, "sa", saPassword, "")
	ctx := ctxT(t)
	// backup_finish_date is the instance's local time (UTC-5); go-mssqldb sends time.Time as
	// datetimeoffset, which SQL Server compares to datetime as if the datetime were UTC.
	var n int
	local := testNow.In(time.FixedZone("UTC-5", -5*3600))
	wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, time.UTC)
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM msdb.dbo.backupset WHERE backup_finish_date < @p1", wall.Add(-20*time.Minute)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("backups finished before local now-20m: %d, want 2", n)
	}
	var got time.Time
	if err := db.QueryRowContext(ctx, "SELECT DATEADD(minute, 30, @p1)", wall).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(wall.Add(30 * time.Minute)) {
		t.Errorf("DATEADD over a time parameter: %v", got)
	}
}

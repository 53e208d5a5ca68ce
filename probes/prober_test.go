package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/pkg/sqlerr"
	"github.com/sqldr/sqldr/pkg/tds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	o := Options{
		Targets: []Target{
			{Name: "a", Site: SiteA, Role: RolePartner, DSNEnv: "X", DSNFile: "/f"},
			{Name: "a", Role: Role(9), ConnectTimeout: -1},
		},
		Databases:     []string{"mgc", "MGC", "bad]name", ""},
		RecentBackups: 5000,
	}
	err := o.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"targets[0]: exactly one of dsn_env and dsn_file",
		`targets[1].name: duplicate target name "a"`,
		"targets[1].site",
		"targets[1].role",
		"targets[1]: exactly one of",
		"targets[1].connect_timeout",
		`databases[1]: duplicate database "MGC"`,
		"databases[2]: database name \"bad]name\" contains the character ']'",
		"databases[3]: database name must not be empty",
		"recent_backups",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	ok := Options{Targets: []Target{{Name: "a", Site: SiteA, Role: RolePartner, DSNEnv: "X"}}, Databases: []string{"mgc", "mgccomp"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestValidateDatabaseName(t *testing.T) {
	for _, good := range []string{"mgc", "mgccomp", "Lync DB", "db_1$#@", strings.Repeat("x", 128)} {
		if err := ValidateDatabaseName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", " mgc", "mgc'; DROP DATABASE x;--", "a\x00b", "a\nb", "[mgc]", `a"b`, strings.Repeat("x", 129)} {
		if err := ValidateDatabaseName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewReadsDSNSafely(t *testing.T) {
	log := zaptest.NewLogger(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{
		"GOOD":   "sqlserver://sa:s3cret@127.0.0.1:1?database=master",
		"MGC":    "sqlserver://sa:s3cret@127.0.0.1:1?database=mgc",
		"NODB":   "sqlserver://sa:s3cret@127.0.0.1:1",
		"BROKEN": "sqlserver://sa:s3cret@[::1:bad?x=%zz",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tgt := func(mod func(*Target)) Options {
		tt := Target{Name: "sqla", Site: SiteA, Role: RolePartner}
		mod(&tt)
		return Options{Targets: []Target{tt}, Databases: []string{"mgc"}}
	}
	tests := []struct {
		name string
		opts Options
		want string // "" = success
	}{
		{"env", tgt(func(t *Target) { t.DSNEnv = "GOOD" }), ""},
		{"no database means master", tgt(func(t *Target) { t.DSNEnv = "NODB" }), ""},
		{"file", tgt(func(tt *Target) { tt.DSNFile = write("dsn", "\n"+env["GOOD"]+"\n") }), ""},
		{"env unset", tgt(func(t *Target) { t.DSNEnv = "UNSET" }), "environment variable UNSET (dsn_env) is not set"},
		{"empty file", tgt(func(tt *Target) { tt.DSNFile = write("empty", " \n") }), "is empty"},
		{"missing file", tgt(func(tt *Target) { tt.DSNFile = filepath.Join(dir, "nope") }), "read dsn_file"},
		{"not master", tgt(func(t *Target) { t.DSNEnv = "MGC" }), `names database "mgc"; sqldr connects to master`},
		{"unparsable", tgt(func(t *Target) { t.DSNEnv = "BROKEN" }), "cannot be parsed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newProber(log, tt.opts, clock.RealClock{}, lookup, os.ReadFile)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

// loginRefuser refuses every login the way SQL Server refuses one to an unusable database (4060 then
// 18456, SQLSERVER.md §8 Q1). It answers no SQL.
type loginRefuser struct{}

func (loginRefuser) Login(context.Context, tds.LoginRequest) (tds.Session, error) {
	return nil, tds.Errors(
		&tds.Error{Number: 4060, Class: 11, State: 1, Message: `Cannot open database "master" requested by the login. The login failed.`},
		&tds.Error{Number: 18456, Class: 14, State: 1, Message: "Login failed for user 'monitor'."},
	)
}

// hangingSessions accepts logins and then never answers a request until the client gives up (an
// ATTENTION cancels ctx) — a hung instance. It counts requests, i.e. round trips after login.
type hangingSessions struct{ requests atomic.Int64 }

func (h *hangingSessions) Login(context.Context, tds.LoginRequest) (tds.Session, error) {
	return &hangingSession{h: h}, nil
}

type hangingSession struct{ h *hangingSessions }

func (*hangingSession) Database() string { return "master" }
func (s *hangingSession) Batch(ctx context.Context, _ *tds.ResultWriter, _ string) error {
	s.h.requests.Add(1)
	<-ctx.Done()
	return ctx.Err()
}
func (s *hangingSession) RPC(ctx context.Context, _ *tds.ResultWriter, _ *tds.RPCCall) error {
	s.h.requests.Add(1)
	<-ctx.Done()
	return ctx.Err()
}
func (*hangingSession) Reset(context.Context) error { return nil }
func (*hangingSession) Close() error                { return nil }

// deafSessions accepts logins and then ignores requests AND cancels (no ATTENTION acknowledgement)
// until released: the worst hung server.
type deafSessions struct {
	release chan struct{}
	once    sync.Once
}

func (h *deafSessions) free() { h.once.Do(func() { close(h.release) }) }

func (h *deafSessions) Login(context.Context, tds.LoginRequest) (tds.Session, error) {
	return &deafSession{h: h}, nil
}

type deafSession struct{ h *deafSessions }

func (*deafSession) Database() string { return "master" }
func (s *deafSession) Batch(context.Context, *tds.ResultWriter, string) error {
	<-s.h.release
	return errors.New("released")
}
func (s *deafSession) RPC(context.Context, *tds.ResultWriter, *tds.RPCCall) error {
	<-s.h.release
	return errors.New("released")
}
func (*deafSession) Reset(context.Context) error { return nil }
func (*deafSession) Close() error                { return nil }

func serveTDS(t testing.TB, h tds.Handler) string {
	t.Helper()
	srv, err := tds.NewServer(zaptest.NewLogger(t), h, tds.Options{ServerName: "LABX"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// rawHang accepts TCP connections and never sends a byte (a hung process before PRELOGIN).
func rawHang(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func dsnFor(addr string) string {
	return fmt.Sprintf("sqlserver://monitor:pw@%s?database=master&encrypt=disable&app+name=sqldr-test", addr)
}

func TestProbeReachabilityOverTCP(t *testing.T) {
	hung := &hangingSessions{}
	env := map[string]string{
		"REFUSING":  dsnFor(serveTDS(t, loginRefuser{})),
		"HUNGQUERY": dsnFor(serveTDS(t, hung)),
		"HUNGTCP":   dsnFor(rawHang(t)),
		"DOWN":      dsnFor(closedPort(t)),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	short := 300 * time.Millisecond
	opts := Options{
		Targets: []Target{
			{Name: "refusing", Site: SiteA, Role: RolePartner, DSNEnv: "REFUSING", ConnectTimeout: 2 * time.Second, QueryTimeout: 2 * time.Second},
			{Name: "hungquery", Site: SiteA, Role: RolePartner, DSNEnv: "HUNGQUERY", ConnectTimeout: 2 * time.Second, QueryTimeout: short},
			{Name: "hungtcp", Site: SiteB, Role: RoleSecondary, DSNEnv: "HUNGTCP", ConnectTimeout: short, QueryTimeout: short},
			{Name: "down", Site: SiteB, Role: RoleMonitor, DSNEnv: "DOWN", ConnectTimeout: 2 * time.Second, QueryTimeout: 2 * time.Second},
		},
		Databases: []string{"mgc", "mgccomp"},
	}
	fake := clocktesting.NewFakePassiveClock(t0)
	p, err := newProber(zaptest.NewLogger(t), opts, fake, lookup, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	s := p.Probe(ctx)
	elapsed := time.Since(start)
	if !s.Time.Equal(t0) {
		t.Errorf("snapshot time %v, want the injected clock's %v", s.Time, t0)
	}
	get := func(name string) *InstanceSnapshot {
		in, ok := s.Instance(name)
		if !ok {
			t.Fatalf("no instance %s", name)
		}
		return in
	}
	if in := get("refusing"); in.Reachability != ReachRefusing || in.SQLErrorNumber != 4060 || in.ErrClass != sqlerr.ClassUnavailable || !in.Alive() {
		t.Errorf("refusing = %v %d %v (%s)", in.Reachability, in.SQLErrorNumber, in.ErrClass, in.Err)
	}
	for _, name := range []string{"hungquery", "hungtcp", "down"} {
		if in := get(name); in.Reachability != ReachUnreachable || in.ErrClass != sqlerr.ClassConnectivity || in.Alive() || in.Databases != nil {
			t.Errorf("%s = %v %v (%s)", name, in.Reachability, in.ErrClass, in.Err)
		}
	}
	if n := hung.requests.Load(); n != 1 {
		t.Errorf("hung server saw %d requests, want exactly 1 round trip", n)
	}
	if strings.Contains(fmt.Sprint(s), "pw@") {
		t.Error("snapshot leaks a DSN")
	}
	// Concurrency: the cycle is bounded by the slowest target's own timeout (2s + 2s for the
	// refusing one at most), not by the sum of all timeouts. Only a gross bound is checked.
	if elapsed > 8*time.Second {
		t.Errorf("probe took %v: targets were not probed concurrently or a timeout was not honoured", elapsed)
	}
	for _, in := range s.Instances {
		if in.Started.IsZero() || in.Received.Before(in.Started) {
			t.Errorf("%s: times %v → %v", in.Name, in.Started, in.Received)
		}
	}
}

func TestProbeBoundedByOwnTimeoutEvenIfCancelIsIgnored(t *testing.T) {
	deaf := &deafSessions{release: make(chan struct{})}
	env := map[string]string{"DEAF": dsnFor(serveTDS(t, deaf)), "DOWN": dsnFor(closedPort(t))}
	t.Cleanup(deaf.free) // runs before the server's cleanup
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, err := newProber(zaptest.NewLogger(t), Options{
		Targets: []Target{
			// Without the bound, the driver would wait for the ATTENTION acknowledgement for 5s
			// (go-mssqldb's drain timeout; the read deadline is connect + query timeout = 5.3s).
			{Name: "deaf", Site: SiteA, Role: RolePartner, DSNEnv: "DEAF", ConnectTimeout: 5 * time.Second, QueryTimeout: 300 * time.Millisecond},
			{Name: "down", Site: SiteB, Role: RoleSecondary, DSNEnv: "DOWN"},
		},
		Databases: []string{"mgc"},
	}, clock.RealClock{}, lookup, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s := p.Probe(context.Background())
	elapsed := time.Since(start)
	if in := s.Instances[0]; in.Reachability != ReachUnreachable || in.ErrClass != sqlerr.ClassConnectivity {
		t.Errorf("deaf = %v %v (%s)", in.Reachability, in.ErrClass, in.Err)
	}
	if in := s.Instances[1]; in.Reachability != ReachUnreachable {
		t.Errorf("down = %v", in.Reachability)
	}
	// Gross bound: the cycle ends soon after the deaf target's 300ms query timeout (plus a login),
	// not after the driver's 5s drain.
	if elapsed > 3*time.Second {
		t.Errorf("probe took %v", elapsed)
	}
	deaf.free()
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestProbeCanceledContextIsUnknown(t *testing.T) {
	env := map[string]string{"HUNG": dsnFor(rawHang(t))}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, err := newProber(zaptest.NewLogger(t), Options{
		Targets:   []Target{{Name: "h", Site: SiteA, Role: RolePartner, DSNEnv: "HUNG", ConnectTimeout: 10 * time.Second, QueryTimeout: 10 * time.Second}},
		Databases: []string{"mgc"},
	}, clock.RealClock{}, lookup, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := p.Probe(ctx)
	if in := s.Instances[0]; in.Reachability != ReachUnknown || in.ErrClass != sqlerr.ClassCanceled {
		t.Errorf("canceled probe = %v %v (%s): a canceled probe says nothing about the server", in.Reachability, in.ErrClass, in.Err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := New(zaptest.NewLogger(t), Options{}, clock.RealClock{})
	if err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "targets: at least one target") {
		t.Fatalf("err = %v", err)
	}
}

func TestProbeDialsFromSourceAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remote := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		remote <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		_ = c.Close()
	}()
	defer func() { _ = ln.Close() }()
	env := map[string]string{"SRC": dsnFor(ln.Addr().String())}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, err := newProber(zaptest.NewLogger(t), Options{
		Targets: []Target{{Name: "a", Site: SiteA, Role: RolePartner, DSNEnv: "SRC",
			ConnectTimeout: 2 * time.Second, QueryTimeout: 2 * time.Second,
			SourceAddress: netip.MustParseAddr("127.0.0.7")}},
		Databases: []string{"mgc"},
	}, clock.RealClock{}, lookup, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := p.Probe(ctx)
	if in := s.Instances[0]; in.Reachability != ReachUnreachable {
		t.Errorf("reachability %v, want unreachable (the listener closes at once)", in.Reachability)
	}
	select {
	case ip := <-remote:
		if ip != "127.0.0.7" {
			t.Errorf("connection came from %s, want the configured source address 127.0.0.7", ip)
		}
	case <-ctx.Done():
		t.Fatal("no connection arrived")
	}
}

package lab

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// childEnv carries a PresenceConfig (JSON) to a re-executed test binary that then
// runs one instance process of the split shape.
const childEnv = "SQLDR_LAB_PRESENCE_CHILD"

func runChildPresence() int {
	var cfg PresenceConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bad child config:", err)
		return 2
	}
	p, err := StartPresence(zap.NewNop(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("READY %s %s\n", p.Addr(), p.LinkAddr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = p.Close()
	return 0
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, cfg PresenceConfig) *child {
	t.Helper()
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(c.stop)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- sc.Text()
			}
		}
	}()
	select {
	case l := <-lines:
		c.addr = strings.Fields(l)[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("instance process %s did not start", cfg.Name)
	}
	return c
}

func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func TestSplitProcessesSurviveACut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cfg := DefaultConfig().WithWitness()
	cfg.Databases = []string{"mgc"}
	clk := NewManualClock(cfg.Start)
	world, err := Start(zaptest.NewLogger(t), cfg, Options{Clock: clk, Split: true, Tick: 10 * time.Millisecond,
		Credentials: Credentials{SAPassword: testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = world.Close() })
	cs, err := world.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })

	links := map[string]string{}
	for _, ic := range cfg.Instances {
		links[ic.Name] = freePort(t)
	}
	procs := map[string]*child{}
	for _, ic := range cfg.Instances {
		peers := map[string]string{}
		for n, a := range links {
			if n != ic.Name {
				peers[n] = a
			}
		}
		procs[ic.Name] = startChild(t, PresenceConfig{Name: ic.Name, World: "http://" + cs.Addr(), Listen: "127.0.0.1:0",
			LinkListen: links[ic.Name], Peers: peers, Interval: 100 * time.Millisecond})
	}
	topo := world.Topology()
	mirrorState := func(inst string) MirrorState {
		i, _ := topo.Instance(inst)
		d, _ := i.Database("mgc")
		if d.Mirroring == nil {
			return 255
		}
		return d.Mirroring.State
	}
	// Step simulated time while waiting, so that the world reacts.
	waitSim := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %+v", what, world.Status())
			}
			clk.Advance(200 * time.Millisecond)
			topo.Sync()
			tm := time.NewTimer(20 * time.Millisecond)
			<-tm.C
		}
	}
	waitSim("mirroring SYNCHRONIZED across processes", func() bool {
		return mirrorState("SQLA1") == MirrorSynchronized && mirrorState("SQLA2") == MirrorSynchronized
	})

	// A client reaches the principal through its own process.
	db, err := sql.Open("sqlserver", DSN(procs["SQLA1"].addr, "sa", testPassword, "master"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name string
	if err := db.QueryRowContext(ctx, "SELECT @@SERVERNAME").Scan(&name); err != nil || name != "SQLA1" {
		t.Fatalf("query through the instance process: %q %v", name, err)
	}

	// Cut the link between the principal's and the mirror's processes: both
	// report DISCONNECTED, the principal keeps serving (the witness gives quorum),
	// no failover happens.
	id, err := topo.Inject(Fault{Kind: FaultCut, Target: "SQLA1", Peer: "SQLA2"})
	if err != nil {
		t.Fatal(err)
	}
	waitSim("DISCONNECTED on both sides", func() bool {
		return mirrorState("SQLA1") == MirrorDisconnected && mirrorState("SQLA2") == MirrorDisconnected
	})
	clk.Advance(30 * time.Second)
	topo.Sync()
	if _, err := db.ExecContext(ctx, "INSERT INTO mgc.dbo.messages (body) VALUES (N'during the cut')"); err != nil {
		t.Fatalf("principal stopped serving during a partner cut with witness quorum: %v", err)
	}
	if i, _ := topo.Instance("SQLA2"); i != nil {
		if d, _ := i.Database("mgc"); d.Mirroring.Role != RoleMirror {
			t.Fatal("the mirror failed over although the witness still saw the principal")
		}
	}
	_ = topo.Heal(id)
	waitSim("SYNCHRONIZED after the cut heals", func() bool {
		return mirrorState("SQLA1") == MirrorSynchronized && mirrorState("SQLA2") == MirrorSynchronized
	})

	// Kill the principal's process: the mirror and the witness lose it, and after
	// the partner timeout the mirror becomes principal automatically.
	procs["SQLA1"].kill()
	waitSim("automatic failover to SQLA2", func() bool {
		i, _ := topo.Instance("SQLA2")
		d, _ := i.Database("mgc")
		return d.Mirroring != nil && d.Mirroring.Role == RolePrincipal && d.State == StateOnline
	})
	m, _ := sql.Open("sqlserver", DSN(procs["SQLA2"].addr, "sa", testPassword, "master"))
	defer func() { _ = m.Close() }()
	if _, err := m.ExecContext(ctx, "INSERT INTO mgc.dbo.messages (body) VALUES (N'after failover')"); err != nil {
		t.Fatalf("insert on the new principal: %v", err)
	}
}

// A principal whose process was killed and which comes back after the mirror took
// over (witness present) must not serve the database writable before it has
// exchanged with the partner or the witness: its presence's first heartbeat puts it
// in the no-quorum state (RECOVERING, 955), the same path as an in-process restart.
// The clock is manual, so no mirroring exchange runs between the return and the check.
func TestSplitReturningPrincipalIsNotWritable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cfg := DefaultConfig().WithWitness()
	cfg.Databases = []string{"mgc"}
	clk := NewManualClock(cfg.Start)
	world, err := Start(zaptest.NewLogger(t), cfg, Options{Clock: clk, Split: true, Tick: 10 * time.Millisecond,
		Credentials: Credentials{SAPassword: testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = world.Close() })
	cs, err := world.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	links := map[string]string{}
	for _, ic := range cfg.Instances {
		links[ic.Name] = freePort(t)
	}
	pcfg := map[string]PresenceConfig{}
	procs := map[string]*child{}
	for _, ic := range cfg.Instances {
		peers := map[string]string{}
		for n, a := range links {
			if n != ic.Name {
				peers[n] = a
			}
		}
		pcfg[ic.Name] = PresenceConfig{Name: ic.Name, World: "http://" + cs.Addr(), Listen: "127.0.0.1:0",
			LinkListen: links[ic.Name], Peers: peers, Interval: 100 * time.Millisecond}
		procs[ic.Name] = startChild(t, pcfg[ic.Name])
	}
	topo := world.Topology()
	mgc := func(inst string) DatabaseInfo {
		i, _ := topo.Instance(inst)
		d, _ := i.Database("mgc")
		return d
	}
	waitSim := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %+v", what, world.Status())
			}
			clk.Advance(200 * time.Millisecond)
			topo.Sync()
			tm := time.NewTimer(20 * time.Millisecond)
			<-tm.C
		}
	}
	waitSim("mirroring SYNCHRONIZED across processes", func() bool {
		a, b := mgc("SQLA1"), mgc("SQLA2")
		return a.Mirroring != nil && b.Mirroring != nil && a.Mirroring.State == MirrorSynchronized && b.Mirroring.State == MirrorSynchronized
	})
	procs["SQLA1"].kill()
	waitSim("automatic failover to SQLA2", func() bool {
		d := mgc("SQLA2")
		return d.Mirroring != nil && d.Mirroring.Role == RolePrincipal && d.State == StateOnline
	})

	// The old principal's process comes back; simulated time stands still.
	back := startChild(t, pcfg["SQLA1"])
	db, err := sql.Open("sqlserver", DSN(back.addr, "sa", testPassword, "master"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	var state string
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.QueryRowContext(ctx, `SELECT state_desc FROM sys.databases WHERE name = N'mgc'`).Scan(&state)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("returned instance never answered: %v", err)
		}
		tm := time.NewTimer(50 * time.Millisecond)
		<-tm.C
	}
	if state == "ONLINE" {
		t.Fatalf("returning principal serves mgc ONLINE before any exchange: %+v", mgc("SQLA1"))
	}
	old := mgc("SQLA1")
	if old.Available == nil || old.Available.Number != 955 {
		t.Fatalf("returning principal opens mgc before any exchange: %+v", old.Available)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "INSERT INTO mgc.dbo.messages (body) VALUES (N'split brain')"); err == nil {
		t.Fatal("insert accepted by the returning principal while SQLA2 is principal")
	}
	// Once the exchange runs, the old principal rejoins as the mirror.
	waitSim("old principal demoted to mirror", func() bool {
		d := mgc("SQLA1")
		return d.Mirroring != nil && d.Mirroring.Role == RoleMirror && d.State == StateRestoring
	})
	if d := mgc("SQLA2"); d.Mirroring.Role != RolePrincipal || d.State != StateOnline {
		t.Fatalf("new principal after the old one returned: %+v %+v", d, d.Mirroring)
	}
}

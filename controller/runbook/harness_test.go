package runbook

import (
	"context"
	"database/sql"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb" // the sqlserver driver
	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/pkg/lab"
)

const saPassword = "Lab-Passw0rd"

// harness is a lab topology served over TCP on loopback port 0, driven by a
// manual clock, with one pool per instance.
type harness struct {
	t    testing.TB
	lab  *lab.Lab
	topo *lab.Topology
	clk  *lab.ManualClock
	dbs  map[string]*sql.DB
}

func newHarness(t testing.TB, mutate func(*lab.Config)) *harness {
	t.Helper()
	cfg := lab.DefaultConfig()
	cfg.WorkloadRate = 2
	if mutate != nil {
		mutate(&cfg)
	}
	clk := lab.NewManualClock(cfg.Start)
	l, err := lab.Start(zaptest.NewLogger(t).Named("lab"), cfg, lab.Options{Clock: clk, Credentials: lab.Credentials{SAPassword: saPassword}, Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	h := &harness{t: t, lab: l, topo: l.Topology(), clk: clk, dbs: map[string]*sql.DB{}}
	t.Cleanup(func() {
		for _, db := range h.dbs {
			_ = db.Close()
		}
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	for _, inst := range h.topo.Instances() {
		dsn, err := l.DSN(inst.Name())
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlserver", dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(4)
		h.dbs[inst.Name()] = db
	}
	return h
}

// advance moves simulated time forward in one-second steps, so that every
// scheduled job on the way runs.
func (h *harness) advance(d time.Duration) {
	for d > 0 {
		step := min(d, time.Second)
		h.clk.Advance(step)
		h.topo.Sync()
		d -= step
	}
}

// advancing moves simulated time forward in the background (1s of simulated
// time per millisecond) until the returned stop is called.
func (h *harness) advancing() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				h.clk.Advance(time.Second)
				h.topo.Sync()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func (h *harness) inst(name string) *lab.Instance {
	h.t.Helper()
	i, err := h.topo.Instance(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return i
}

func (h *harness) database(inst, db string) lab.DatabaseInfo {
	h.t.Helper()
	d, ok := h.inst(inst).Database(db)
	if !ok {
		h.t.Fatalf("no database %s on %s", db, inst)
	}
	return d
}

func (h *harness) inject(f lab.Fault) int {
	h.t.Helper()
	id, err := h.topo.Inject(f)
	if err != nil {
		h.t.Fatalf("inject %+v: %v", f, err)
	}
	return id
}

// insert proves writability: an INSERT over TCP from the test.
func (h *harness) insert(inst, db string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.dbs[inst].ExecContext(ctx, "INSERT INTO "+quoteName(db)+".dbo.messages (body) VALUES (N'written by the test')")
	return err
}

// counting wraps a DB and records every statement sent.
// A test may set before (with setBefore) to act just before a statement is
// sent, e.g. to start a job the way its schedule would.
type counting struct {
	db     DB
	mu     sync.Mutex
	sent   []string
	before func(q string)
}

func (c *counting) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.note(q)
	return c.db.ExecContext(ctx, q, args...)
}

func (c *counting) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.note(q)
	return c.db.QueryContext(ctx, q, args...)
}

func (c *counting) setBefore(f func(q string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.before = f
}

func (c *counting) note(q string) {
	c.mu.Lock()
	before := c.before
	c.mu.Unlock()
	if before != nil {
		before(q)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, q)
}

// count returns how many sent statements start with prefix.
func (c *counting) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.sent {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// waitRefused waits (bounded) until the instances' listeners refuse
// connections: the lab closes them asynchronously after a fault.
func (h *harness) waitRefused(names ...string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range names {
		srv, err := h.lab.Server(n)
		if err != nil {
			h.t.Fatal(err)
		}
		for {
			c, err := net.DialTimeout("tcp", srv.Addr(), 100*time.Millisecond)
			if err != nil {
				break
			}
			_ = c.Close()
			if time.Now().After(deadline) {
				h.t.Fatalf("%s still accepts connections", n)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

package probes

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/pkg/tds"
)

// countingConnector counts the requests (round trips after login) database/sql sends through it.
type countingConnector struct {
	driver.Connector
	queries *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn, queries: c.queries}, nil
}

type countingConn struct {
	driver.Conn
	queries *atomic.Int64
}

// go-mssqldb prepares every query on the client side (no round trip) and sends it when the
// statement runs, so requests are counted on the statement.
func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, query)
	} else {
		st, err = c.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return countingStmt{Stmt: st, queries: c.queries}, nil
}

func (c countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingStmt struct {
	driver.Stmt
	queries *atomic.Int64
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.queries.Add(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.queries.Add(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// objectMissing answers every request with 208 (Invalid object name), as SQL Server would if msdb
// lacked the log-shipping tables. It counts the requests it receives: the server-side round trips.
type objectMissing struct{ requests atomic.Int64 }

func (h *objectMissing) Login(context.Context, tds.LoginRequest) (tds.Session, error) {
	return &objectMissingSession{h: h}, nil
}

type objectMissingSession struct{ h *objectMissing }

func (*objectMissingSession) Database() string { return "master" }
func (s *objectMissingSession) Batch(context.Context, *tds.ResultWriter, string) error {
	s.h.requests.Add(1)
	return &tds.Error{Number: 208, Class: 16, State: 1, Message: "Invalid object name 'msdb.dbo.log_shipping_monitor_primary'."}
}
func (s *objectMissingSession) RPC(context.Context, *tds.ResultWriter, *tds.RPCCall) error {
	s.h.requests.Add(1)
	return &tds.Error{Number: 208, Class: 16, State: 1, Message: "Invalid object name 'msdb.dbo.log_shipping_monitor_primary'."}
}
func (*objectMissingSession) Reset(context.Context) error { return nil }
func (*objectMissingSession) Close() error                { return nil }

// TestOneRoundTripPerInstancePerCycle counts requests on the client (a connector wrapper) and on the
// server for 1, 100 and 1,000 protected databases: always one per instance per cycle.
func TestOneRoundTripPerInstancePerCycle(t *testing.T) {
	srv := &objectMissing{}
	addr := serveTDS(t, srv)
	for _, n := range []int{1, 100, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			before := srv.requests.Load()
			var client atomic.Int64
			p := newCountingProber(t, addr, n, &client)
			defer func() { _ = p.Close() }()
			const cycles = 3
			for i := 0; i < cycles; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				s := p.Probe(ctx)
				cancel()
				for _, in := range s.Instances {
					if in.Reachability != ReachRefusing || in.SQLErrorNumber != 208 {
						t.Fatalf("%s: %v %d %s", in.Name, in.Reachability, in.SQLErrorNumber, in.Err)
					}
				}
			}
			want := int64(cycles * 3)
			if got := client.Load(); got != want {
				t.Errorf("client sent %d requests for %d instances × %d cycles, want %d", got, 3, cycles, want)
			}
			if got := srv.requests.Load() - before; got != want {
				t.Errorf("server received %d requests, want %d", got, want)
			}
		})
	}
}

func newCountingProber(tb testing.TB, addr string, dbs int, counter *atomic.Int64) *Prober {
	tb.Helper()
	names := make([]string, dbs)
	for i := range names {
		names[i] = fmt.Sprintf("db%04d", i)
	}
	env := map[string]string{"D": dsnFor(addr)}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	opts := Options{
		Targets: []Target{
			{Name: "a", Site: SiteA, Role: RolePartner, DSNEnv: "D"},
			{Name: "b", Site: SiteA, Role: RolePartner, DSNEnv: "D"},
			{Name: "c", Site: SiteB, Role: RoleSecondary, DSNEnv: "D"},
		},
		Databases:     names,
		WrapConnector: func(c driver.Connector) driver.Connector { return countingConnector{Connector: c, queries: counter} },
	}
	p, err := newProber(zap.NewNop(), opts, clock.RealClock{}, lookup, os.ReadFile)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// syntheticSets builds the result sets of principal, mirror and secondary for n databases, each
// principal database with `backups` recent log backups.
func syntheticSets(n, backups int) (prin, mirr, sec []ResultSet, names []string) {
	names = make([]string, n)
	prin = []ResultSet{instanceSet("SQLA", ts("2026-11-28 12:12:00")), {Columns: databasesCols},
		{Columns: lsPrimaryEmpty().Columns}, {Columns: lsPrimaryConfigEmpty().Columns}, lsSecondaryEmpty(), lsSecondaryConfigEmpty(),
		{Columns: jobsEmpty().Columns}}
	mirr = []ResultSet{instanceSet("SQLB", ts("2026-11-28 12:12:00")), {Columns: databasesCols},
		lsPrimaryEmpty(), lsPrimaryConfigEmpty(), lsSecondaryEmpty(), lsSecondaryConfigEmpty(), jobsEmpty()}
	sec = []ResultSet{instanceSet("SQLC", ts("2026-11-28 12:12:30")), {Columns: databasesCols},
		lsPrimaryEmpty(), lsPrimaryConfigEmpty(), {Columns: lsSecondaryEmpty().Columns}, {Columns: lsSecondaryConfigEmpty().Columns},
		{Columns: jobsEmpty().Columns}}
	var recents, restored []ResultSet
	base := ts("2026-11-28 07:00:00")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("db%04d", i)
		names[i] = name
		lsnAt := func(k int) []byte { return dec(fmt.Sprintf("93000000%010d%05d", i, k)) }
		prin[1].Rows = append(prin[1].Rows, []any{name, "ONLINE", false, false, "MULTI_USER", "FULL",
			wireGUID(mirrorGUID), int64(4), int64(1), int64(1), int64(2), "TCP://b:5022", "SQLB", nil, nil,
			dec("18446744073709551617"), dec("18446744073709551617"), wireGUID(forkGUID), lsnAt(backups), nil, nil})
		prin[2].Rows = append(prin[2].Rows, []any{name, "SQLA", int64(60), int64(14420), true, name + "_x.trn", ts("2026-11-28 12:10:00")})
		prin[3].Rows = append(prin[3].Rows, []any{name, wireGUID(backupJobID), `\\share`})
		mirr[1].Rows = append(mirr[1].Rows, []any{name, "RESTORING", false, false, "MULTI_USER", "FULL",
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, lsnAt(backups), wireGUID(forkGUID)})
		sec[1].Rows = append(sec[1].Rows, []any{name, "RESTORING", false, false, "MULTI_USER", "FULL",
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, lsnAt(backups / 2), wireGUID(forkGUID)})
		sec[4].Rows = append(sec[4].Rows, []any{name, "SQLA", name, int64(45), int64(14421), true,
			fmt.Sprintf("%s_%05d.trn", name, backups*3/4), ts("2026-11-28 12:06:00"), fmt.Sprintf("%s_%05d.trn", name, backups/2), ts("2026-11-28 12:02:00"), int64(3)})
		sec[5].Rows = append(sec[5].Rows, []any{name, int64(0), false, wireGUID(copyJobID), wireGUID(restoreJobID)})
		rs := ResultSet{Columns: recentCols}
		for k := backups; k > 0; k-- {
			rs.Rows = append(rs.Rows, []any{name, "SQLA", int64(k), lsnAt(k - 1), lsnAt(k), base.Add(time.Duration(k) * time.Minute), int64(-20),
				wireGUID(forkGUID), wireGUID(forkGUID), false, fmt.Sprintf(`\\share\%s_%05d.trn`, name, k)})
		}
		recents = append(recents, rs)
		restored = append(restored, ResultSet{Columns: backupCols, Rows: [][]any{{name, "SQLA", int64(1), lsnAt(backups/2 - 1), lsnAt(backups / 2),
			base.Add(time.Duration(backups/2) * time.Minute), int64(-20), wireGUID(forkGUID), wireGUID(forkGUID), false, "x.trn"}}})
	}
	prin[6].Rows = [][]any{{wireGUID(backupJobID), "LSBackup", true, int64(1), ts("2026-11-28 07:10:00"), ts("2026-11-28 07:10:01")}}
	sec[6].Rows = [][]any{{wireGUID(copyJobID), "LSCopy", true, int64(1), ts("2026-11-28 07:10:00"), nil},
		{wireGUID(restoreJobID), "LSRestore", true, int64(1), ts("2026-11-28 07:10:00"), ts("2026-11-28 07:10:01")}}
	prin = append(prin, recents...)
	sec = append(sec, restored...)
	return prin, mirr, sec, names
}

// cycle runs the pure part of one probe cycle: parse three instances, derive pending logs, compute
// every database's lag and window and the group's window.
func cycle(prin, mirr, sec []ResultSet, names []string, bp, bm, bs batch) (Window, error) {
	s := &Snapshot{Time: t0, Instances: make([]InstanceSnapshot, 3)}
	for i, x := range []struct {
		name string
		role Role
		b    batch
		sets []ResultSet
	}{{"sqla", RolePartner, bp, prin}, {"sqlb", RolePartner, bm, mirr}, {"sqlc", RoleSecondary, bs, sec}} {
		p, err := parseBatch(x.b, names, x.sets)
		if err != nil {
			return Window{}, err
		}
		s.Instances[i] = InstanceSnapshot{Name: x.name, Role: x.role, Reachability: ReachUp, Started: t0, Received: t0, RTT: time.Millisecond,
			ServerName: p.serverName, ServerUTC: p.serverUTC, Databases: p.databases, byName: p.byName}
	}
	derivePending(s)
	ws := make([]Window, len(names))
	for i, n := range names {
		_ = ComputeLag(s, n)
		ws[i] = DataLossWindow(s, n, LastGood{}, time.Time{})
	}
	return GroupWindow(ws), nil
}

func TestSyntheticCycle(t *testing.T) {
	prin, mirr, sec, names := syntheticSets(3, 8)
	w, err := cycle(prin, mirr, sec, names, buildBatch(RolePartner, 3, 8), buildBatch(RolePartner, 3, 0), buildBatch(RoleSecondary, 3, 8))
	if err != nil {
		t.Fatal(err)
	}
	// Restored up to backup 4 (07:04 EST); copied up to backup 6 (07:06 EST = 12:06 UTC); principal
	// clock 12:12: the window is 6 minutes.
	if !w.Known || w.Value != 6*time.Minute {
		t.Fatalf("group window = %+v, want 6m", w)
	}
}

// BenchmarkCycle measures the CPU time and allocations of parse + model per cycle.
func BenchmarkCycle(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("dbs=%d", n), func(b *testing.B) {
			prin, mirr, sec, names := syntheticSets(n, DefaultRecentBackups)
			bp, bm, bs := buildBatch(RolePartner, n, DefaultRecentBackups), buildBatch(RolePartner, n, 0), buildBatch(RoleSecondary, n, DefaultRecentBackups)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if w, err := cycle(prin, mirr, sec, names, bp, bm, bs); err != nil || !w.Known {
					b.Fatalf("cycle: %v %+v", err, w)
				}
			}
		})
	}
}

// BenchmarkRoundTrips reports requests per instance per cycle over TCP (go-mssqldb, pkg/tds server)
// and the wall time of a cycle whose answers are errors (connection reuse included).
func BenchmarkRoundTrips(b *testing.B) {
	srv := &objectMissing{}
	addr := serveTDS(b, srv)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("dbs=%d", n), func(b *testing.B) {
			var client atomic.Int64
			p := newCountingProber(b, addr, n, &client)
			defer func() { _ = p.Close() }()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Probe(context.Background())
			}
			b.ReportMetric(float64(client.Load())/float64(b.N)/3, "roundtrips/instance/cycle")
		})
	}
}

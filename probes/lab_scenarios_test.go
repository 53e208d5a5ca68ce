package probes

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/pkg/lab"
)

// Scenario tests over TCP against the lab topology (pkg/lab): principal SQLA1 and mirror SQLA2 in
// site A (America/New_York, daylight saving), secondary SQLB1 in site B (Asia/Kolkata), log backups,
// copies and restores every simulated minute. The lab's clock is manual: the world moves only when a
// test steps it. Each figure of the snapshot is checked against what the lab did (its msdb and
// database state, read through the lab's inspection API).

const (
	labSAPassword      = "Lab-Passw0rd"
	labMonitorLogin    = "monitor"
	labMonitorPassword = "Mon-Passw0rd"
)

type labEnv struct {
	t      testing.TB
	lab    *lab.Lab
	clk    *lab.ManualClock
	ctrl   *clocktesting.FakePassiveClock
	prober *Prober
}

// labConfig is the default topology with every backupset time zone known, unless a test wants 127s.
func labConfig() lab.Config {
	cfg := lab.DefaultConfig()
	cfg.UnknownTimeZoneEvery = 0
	return cfg
}

func startLabEnv(t *testing.T, cfg lab.Config, login string, mod func(*Target)) *labEnv {
	return startLabEnvOpts(t, cfg, login, mod, nil)
}

func startLabEnvOpts(t testing.TB, cfg lab.Config, login string, mod func(*Target), modOpts func(*Options)) *labEnv {
	t.Helper()
	clk := lab.NewManualClock(cfg.Start)
	l, err := lab.Start(zap.NewNop(), cfg, lab.Options{Clock: clk, Tick: 5 * time.Millisecond,
		Credentials: lab.Credentials{SAPassword: labSAPassword, MonitorLogin: labMonitorLogin, MonitorPassword: labMonitorPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	pw := labSAPassword
	if login == labMonitorLogin {
		pw = labMonitorPassword
	}
	env := map[string]string{}
	var targets []Target
	for _, inst := range []struct {
		name string
		site Site
		role Role
	}{{"SQLA1", SiteA, RolePartner}, {"SQLA2", SiteA, RolePartner}, {"SQLB1", SiteB, RoleSecondary}} {
		srv, err := l.Server(inst.name)
		if err != nil {
			t.Fatal(err)
		}
		env[inst.name] = lab.DSN(srv.Addr(), login, pw, "master")
		tg := Target{Name: strings.ToLower(inst.name), Site: inst.site, Role: inst.role, DSNEnv: inst.name,
			ConnectTimeout: 3 * time.Second, QueryTimeout: 3 * time.Second}
		if mod != nil {
			mod(&tg)
		}
		targets = append(targets, tg)
	}
	ctrl := clocktesting.NewFakePassiveClock(cfg.Start)
	opts := Options{Targets: targets, Databases: cfg.Databases}
	if modOpts != nil {
		modOpts(&opts)
	}
	p, err := newProber(zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), opts, ctrl,
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return &labEnv{t: t, lab: l, clk: clk, ctrl: ctrl, prober: p}
}

// step moves the simulated world (and the controller's clock, which has no skew) forward.
func (e *labEnv) step(d time.Duration) {
	e.clk.Advance(d)
	e.lab.Topology().Sync()
	e.ctrl.SetTime(e.lab.Topology().Now())
}

func (e *labEnv) probe() *Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.prober.Probe(ctx)
}

func (e *labEnv) inst(name string) *lab.Instance {
	in, err := e.lab.Topology().Instance(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

func (e *labEnv) inject(f lab.Fault) int {
	id, err := e.lab.Topology().Inject(f)
	if err != nil {
		e.t.Fatalf("inject %+v: %v", f, err)
	}
	return id
}

// waitDialRefused waits (bounded) until the instance's listener refuses connections: the lab applies
// a down fault to its network asynchronously.
func (e *labEnv) waitDialRefused(name string) {
	srv, err := e.lab.Server(name)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", srv.Addr(), 200*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		select {
		case <-deadline.C:
			e.t.Fatalf("%s still accepts connections", name)
		case <-tick.C:
		}
	}
}

func mustUp(t *testing.T, s *Snapshot, name string) *InstanceSnapshot {
	t.Helper()
	in, ok := s.Instance(name)
	if !ok || !in.Up() {
		t.Fatalf("%s not up: %+v", name, in)
	}
	return in
}

// labBackupUTC is the true UTC instant a lab backup finished: the lab keeps the zoned time.
func labBackupUTC(r lab.BackupSetRow) time.Time { return r.Finish.UTC() }

func TestLabHealthy(t *testing.T) {
	var requests atomic.Int64
	e := startLabEnvOpts(t, labConfig(), "sa", nil, func(o *Options) {
		o.WrapConnector = func(c driver.Connector) driver.Connector { return countingConnector{Connector: c, queries: &requests} }
	})
	e.step(10 * time.Minute)
	s := e.probe()
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests for 3 instances in one cycle, want one round trip each", n)
	}
	a, b, c := mustUp(t, s, "sqla1"), mustUp(t, s, "sqla2"), mustUp(t, s, "sqlb1")
	if a.ServerName != "SQLA1" || b.ServerName != "SQLA2" || c.ServerName != "SQLB1" {
		t.Errorf("server names %s %s %s", a.ServerName, b.ServerName, c.ServerName)
	}
	now := e.lab.Topology().Now()
	for _, in := range []*InstanceSnapshot{a, b, c} {
		if d := in.ServerUTC.Sub(now); d < -time.Second || d > time.Second {
			t.Errorf("%s SYSUTCDATETIME %v, lab now %v", in.Name, in.ServerUTC, now)
		}
	}
	p, pd, ok := s.Principal("mgc")
	if !ok || p.Name != "sqla1" || pd.Mirroring.State != MirroringSynchronized || s.PrincipalClaims("mgc") != 1 {
		t.Fatalf("principal = %v %+v", p, pd)
	}
	if md, _ := b.Database("mgc"); md.Mirroring.Role != MirroringRoleMirror || md.State != DBRestoring {
		t.Errorf("mirror = %+v", md.Mirroring)
	}
	// Backup age against the lab's monitor row on the principal.
	var monUTC time.Time
	for _, r := range e.inst("SQLA1").MSDB().LSMonitorPrimary {
		if strings.EqualFold(r.PrimaryDatabase, "mgc") && r.LastBackupDateUTC != nil {
			monUTC = *r.LastBackupDateUTC
		}
	}
	lag := ComputeLag(s, "mgc")
	if !lag.BackupAge.Known || lag.BackupAge.Value != a.ServerUTC.Sub(monUTC) || lag.BackupAge.Value > time.Minute {
		t.Errorf("backup age %+v (lab last backup %v)", lag.BackupAge, monUTC)
	}
	if !lag.CopyAge.Known || !lag.RestoreAge.Known || lag.RestoreAge.Value > 2*time.Minute {
		t.Errorf("lag = %+v", lag)
	}
	// The secondary's position equals the lab's.
	sd, _ := c.Database("mgc")
	li, _ := e.inst("SQLB1").Database("mgc")
	if sd.RedoStartLSN.String() != li.RedoStartLSN.String() {
		t.Errorf("redo start %s, lab %s", sd.RedoStartLSN, li.RedoStartLSN)
	}
	if sd.NewestRestoredLog == nil || sd.NewestRestoredLog.LastLSN.String() != li.RedoStartLSN.String() {
		t.Errorf("newest restored = %+v", sd.NewestRestoredLog)
	}
	if lag.UnrestoredFiles > 2 {
		t.Errorf("healthy: %d unrestored files", lag.UnrestoredFiles)
	}
	w := DataLossWindow(s, "mgc", LastGood{}, time.Time{})
	if !w.Known || w.Frozen || w.Value > 3*time.Minute {
		t.Errorf("window = %+v", w)
	}
	held, _ := HeldAfterFinalRestore(sd, sd.PendingLogs)
	found := false
	for _, r := range e.inst("SQLA1").MSDB().BackupSets {
		if r.Type == "L" && r.DatabaseName == "mgc" && r.LastLSN.String() == held.LastLSN.String() {
			found = true
			if !labBackupUTC(r).Equal(held.FinishUTC) || w.Value != a.ServerUTC.Sub(held.FinishUTC) {
				t.Errorf("R = %v, lab %v; window %v", held.FinishUTC, labBackupUTC(r), w.Value)
			}
		}
	}
	if !found {
		t.Errorf("held backup %s not in the lab's history", held.LastLSN)
	}
}

func TestLabLagging(t *testing.T) {
	e := startLabEnv(t, labConfig(), "sa", nil)
	e.step(5 * time.Minute)
	e.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "SQLB1", Job: "restore"})
	e.step(10 * time.Minute)
	s := e.probe()
	lag := ComputeLag(s, "mgc")
	if !lag.RestoreAge.Known || lag.RestoreAge.Value < 9*time.Minute {
		t.Errorf("restore age = %+v", lag.RestoreAge)
	}
	if !lag.CopyAge.Known || lag.CopyAge.Value > 2*time.Minute {
		t.Errorf("copy age = %+v", lag.CopyAge)
	}
	if !lag.UnrestoredKnown || lag.UnrestoredFiles < 9 || lag.CopiedNotRestored < 8 {
		t.Errorf("unrestored = %d (copied %d)", lag.UnrestoredFiles, lag.CopiedNotRestored)
	}
	// Exactly what the lab did: its monitor row's restore time, and its backups past the secondary's
	// redo point.
	c := mustUp(t, s, "sqlb1")
	for _, r := range e.inst("SQLB1").MSDB().LSMonitorSecondary {
		if r.SecondaryDatabase == "mgc" && lag.RestoreAge.Value != c.ServerUTC.Sub(*r.LastRestoredDateUTC) {
			t.Errorf("restore age %v, lab restored at %v (secondary clock %v)", lag.RestoreAge.Value, *r.LastRestoredDateUTC, c.ServerUTC)
		}
	}
	redo, _ := e.inst("SQLB1").Database("mgc")
	want := 0
	for _, r := range e.inst("SQLA1").MSDB().BackupSets {
		if r.Type == "L" && r.DatabaseName == "mgc" && MustParseLSN(r.LastLSN.String()).Compare(MustParseLSN(redo.RedoStartLSN.String())) > 0 {
			want++
		}
	}
	if lag.UnrestoredFiles != want {
		t.Errorf("unrestored files %d, lab has %d backups past the redo point", lag.UnrestoredFiles, want)
	}
	w := DataLossWindow(s, "mgc", LastGood{}, time.Time{})
	if !w.Known || w.Value > 3*time.Minute {
		// The copied files would all be restored in a promotion: the window stays small.
		t.Errorf("window with copies done = %+v", w)
	}
	e.inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "SQLB1", Job: "copy"})
	e.step(10 * time.Minute)
	s = e.probe()
	w = DataLossWindow(s, "mgc", LastGood{}, time.Time{})
	if !w.Known || w.Value < 9*time.Minute {
		t.Errorf("window with copies stopped = %+v", w)
	}
}

func TestLabMirrorFailover(t *testing.T) {
	e := startLabEnv(t, labConfig(), "sa", nil)
	e.step(5 * time.Minute)
	srv, _ := e.lab.Server("SQLA1")
	db := sql.OpenDB(mustConnector(t, lab.DSN(srv.Addr(), "sa", labSAPassword, "master")))
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "ALTER DATABASE mgc SET PARTNER FAILOVER"); err != nil {
		t.Fatalf("failover: %v", err)
	}
	e.step(5 * time.Minute)
	s := e.probe()
	p, _, ok := s.Principal("mgc")
	if !ok || p.Name != "sqla2" || s.PrincipalClaims("mgc") != 1 {
		t.Fatalf("principal after failover = %v (claims %d)", p, s.PrincipalClaims("mgc"))
	}
	lag := ComputeLag(s, "mgc")
	if lag.BackupAge.Source != "sqla2" || !lag.BackupAge.Known || lag.BackupAge.Value > time.Minute {
		t.Errorf("backup age after failover = %+v", lag.BackupAge)
	}
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known || w.Value > 3*time.Minute {
		t.Errorf("window after failover = %+v", w)
	}
}

func mustConnector(t *testing.T, dsn string) *mssql.Connector {
	t.Helper()
	c, err := mssql.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLabPrincipalDownAndSiteDown(t *testing.T) {
	e := startLabEnv(t, labConfig(), "sa", nil)
	e.step(10 * time.Minute)
	s := e.probe()
	last := UpdateLastGood(LastGood{}, s, "mgc")
	live := DataLossWindow(s, "mgc", last, time.Time{})

	e.inject(lab.Fault{Kind: lab.FaultDown, Target: "SQLA1"})
	e.waitDialRefused("SQLA1")
	e.step(30 * time.Second)
	s = e.probe()
	a, _ := s.Instance("sqla1")
	if a.Reachability != ReachUnreachable {
		t.Errorf("principal down: %v %s", a.Reachability, a.Err)
	}
	b := mustUp(t, s, "sqla2")
	if md, _ := b.Database("mgc"); md.Mirroring.Role != MirroringRoleMirror || md.Mirroring.State != MirroringDisconnected {
		t.Errorf("mirror after principal loss = %+v (no witness: it stays mirror, disconnected)", md.Mirroring)
	}
	if _, _, ok := s.Principal("mgc"); ok || !s.AnyUp(SiteA) {
		t.Error("no principal, site A still partly up")
	}
	firstFailed := s.Time
	w := DataLossWindow(s, "mgc", last, firstFailed)
	gap := firstFailed.Sub(last.ObservedAt)
	// F = the principal's last clock reading + the controller's elapsed time; R = what the secondary
	// holds now (it kept copying and restoring what was on the share).
	c := mustUp(t, s, "sqlb1")
	sd, _ := c.Database("mgc")
	held, _ := HeldAfterFinalRestore(sd, Pending(last.RecentLogBackups, RestorePosition(sd), sd.LSSecondary.LastCopiedFile))
	f := last.PrincipalUTC.Add(gap)
	if !w.Known || !w.Frozen || w.Value != f.Sub(held.FinishUTC) || w.Value > live.Value+gap || w.Uncertainty < gap {
		t.Errorf("frozen window = %+v, want F−R = %v (live was %+v, gap %v)", w, f.Sub(held.FinishUTC), live, gap)
	}

	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.waitDialRefused("SQLA2")
	e.step(10 * time.Minute)
	s = e.probe()
	if s.AnyAlive(SiteA) || !s.AnyUp(SiteB) {
		t.Error("site A should be down, site B up")
	}
	last = UpdateLastGood(last, s, "mgc")
	if w2 := DataLossWindow(s, "mgc", last, firstFailed); w2 != w {
		t.Errorf("window moved during the outage: %+v vs %+v", w2, w)
	}
}

func TestLabHungInstance(t *testing.T) {
	e := startLabEnv(t, labConfig(), "sa", func(tg *Target) {
		tg.ConnectTimeout, tg.QueryTimeout = time.Second, time.Second
	})
	e.step(3 * time.Minute)
	e.inject(lab.Fault{Kind: lab.FaultHung, Target: "SQLA2"})
	// Hung applies to new connections: drop the pooled ones by waiting for the fault to reach the network.
	deadline := time.Now().Add(5 * time.Second)
	var s *Snapshot
	for time.Now().Before(deadline) {
		s = e.probe()
		if in, _ := s.Instance("sqla2"); in.Reachability == ReachUnreachable {
			break
		}
	}
	b, _ := s.Instance("sqla2")
	if b.Reachability != ReachUnreachable || b.ErrClass.String() != "connectivity" {
		t.Fatalf("hung mirror = %v %s", b.Reachability, b.Err)
	}
	mustUp(t, s, "sqla1")
	mustUp(t, s, "sqlb1")
	if b.RTT > 5*time.Second {
		t.Errorf("hung instance held the probe for %v", b.RTT)
	}
}

func TestLabChainBroken(t *testing.T) {
	e := startLabEnv(t, labConfig(), "sa", nil)
	e.step(5*time.Minute + 30*time.Second) // between two log-shipping backups: the rogue one holds log
	e.inject(lab.Fault{Kind: lab.FaultRogueBackup, Target: "SQLA1", Database: "mgc"})
	e.step(10 * time.Minute)
	s := e.probe()
	_, pd, _ := s.Principal("mgc")
	rogue := 0
	for _, b := range pd.RecentLogBackups {
		if b.OutsideLogShipping {
			rogue++
		}
	}
	if rogue != 1 {
		t.Fatalf("backups outside log shipping = %d, want the rogue one", rogue)
	}
	c := mustUp(t, s, "sqlb1")
	sd, _ := c.Database("mgc")
	held, _ := HeldAfterFinalRestore(sd, sd.PendingLogs)
	if held.LastLSN.String() != RestorePosition(sd).String() {
		t.Errorf("held %s beyond the gap at %s", held.LastLSN, RestorePosition(sd))
	}
	lag := ComputeLag(s, "mgc")
	if lag.RestoreAge.Value < 9*time.Minute || lag.UnrestoredFiles < 9 {
		t.Errorf("lag behind a broken chain = %+v", lag)
	}
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known || w.Value < 9*time.Minute {
		t.Errorf("window behind a broken chain = %+v", w)
	}
}

func TestLabMonitoringLogin(t *testing.T) {
	e := startLabEnv(t, labConfig(), labMonitorLogin, nil)
	e.step(5 * time.Minute)
	s := e.probe()
	b := mustUp(t, s, "sqla2")
	if md, _ := b.Database("mgc"); md.Mirroring.Visibility != MirroringNotVisible {
		t.Errorf("mirror seen by the monitoring login = %v, want not_visible", md.Mirroring.Visibility)
	}
	p, _, ok := s.Principal("mgc")
	if !ok || p.Name != "sqla1" {
		t.Fatalf("principal with the monitoring login = %v", p)
	}
	lag := ComputeLag(s, "mgc")
	if !lag.BackupAge.Known || !lag.RestoreAge.Known || !lag.UnrestoredKnown {
		t.Errorf("lag with the monitoring login = %+v", lag)
	}
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known {
		t.Errorf("window with the monitoring login = %+v", w)
	}
}

func TestLabMixedTimeZones(t *testing.T) {
	cfg := lab.DefaultConfig() // New York with daylight saving (change at 07:00 UTC), Kolkata +05:30; every 5th row tz 127
	e := startLabEnv(t, cfg, "sa", nil)
	e.step(45 * time.Minute) // across the daylight-saving change
	s := e.probe()
	a := mustUp(t, s, "sqla1")
	ad, _ := a.Database("mgc")
	labRows := map[string]lab.BackupSetRow{}
	for _, r := range e.inst("SQLA1").MSDB().BackupSets {
		if r.DatabaseName == "mgc" {
			labRows[r.LastLSN.String()] = r
		}
	}
	unknown, offsets := 0, map[int16]bool{}
	for _, b := range ad.RecentLogBackups {
		r, ok := labRows[b.LastLSN.String()]
		if !ok {
			t.Fatalf("backup %s not in the lab", b.LastLSN)
		}
		if b.TimeZone == TimeZoneUnknown {
			unknown++
			if !b.FinishUTC.IsZero() {
				t.Errorf("tz 127 gave a time: %+v", b)
			}
			continue
		}
		offsets[b.TimeZone] = true
		if !b.FinishUTC.Equal(labBackupUTC(r)) {
			t.Errorf("finish UTC %v, lab %v", b.FinishUTC, labBackupUTC(r))
		}
		if d := a.ServerUTC.Sub(b.FinishUTC); d < 0 || d > 46*time.Minute {
			t.Errorf("backup at %v is not within the last 45 minutes of %v", b.FinishUTC, a.ServerUTC)
		}
	}
	if unknown == 0 || !offsets[-20] || !offsets[-16] {
		t.Errorf("want tz 127 rows and both EST (-20) and EDT (-16) rows: unknown %d, offsets %v", unknown, offsets)
	}
	// The secondary (UTC+05:30) reports the primary's times: its restored backup is in UTC too.
	c := mustUp(t, s, "sqlb1")
	if sd, _ := c.Database("mgc"); sd.NewestRestoredLog == nil || (sd.NewestRestoredLog.TimeZone != TimeZoneUnknown &&
		sd.NewestRestoredLog.TimeZone != -16) {
		t.Errorf("restored backup row on the secondary = %+v", sd.NewestRestoredLog)
	}
}

func TestLabClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			e := startLabEnv(t, labConfig(), "sa", nil)
			e.step(5 * time.Minute)
			e.inject(lab.Fault{Kind: lab.FaultSkew, Target: "SQLB1", Delay: skew})
			e.inject(lab.Fault{Kind: lab.FaultSkew, Target: "SQLA2", Delay: skew})
			e.step(5 * time.Minute)
			s := e.probe()
			c := mustUp(t, s, "sqlb1")
			if off, _, ok := c.ClockOffset(); !ok || off < skew-time.Second || off > skew+time.Second {
				t.Errorf("secondary clock offset = %v, want %v", off, skew)
			}
			lag := ComputeLag(s, "mgc")
			if !lag.RestoreAge.Known || lag.RestoreAge.Value < 0 || lag.RestoreAge.Value > 2*time.Minute {
				t.Errorf("restore age on the skewed clock = %+v", lag.RestoreAge)
			}
			if ps, ok := s.PartnerSkew(); !ok || ps < 10*time.Minute-time.Second {
				t.Errorf("partner skew = %v %v", ps, ok)
			}
			w := DataLossWindow(s, "mgc", LastGood{}, time.Time{})
			if !w.Known || w.Value > 3*time.Minute || w.Uncertainty < 10*time.Minute-time.Second {
				t.Errorf("window = %+v: value on the principal's clock, skew in the uncertainty", w)
			}
		})
	}
}

// BenchmarkLabProbe probes the lab topology (three instances) with 1 and 10 protected databases:
// wall time and allocations per cycle over TCP, and round trips per instance per cycle. (The lab's
// SQL engine evaluates joins by nested loops, so 100+ databases take seconds per statement there;
// BenchmarkCycle and BenchmarkRoundTrips cover 1, 100 and 1,000 databases.)
func BenchmarkLabProbe(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("dbs=%d", n), func(b *testing.B) {
			cfg := labConfig()
			cfg.Databases = nil
			for i := 0; i < n; i++ {
				cfg.Databases = append(cfg.Databases, fmt.Sprintf("db%04d", i))
			}
			cfg.WorkloadRate = 0.2
			var requests atomic.Int64
			e := startLabEnvOpts(b, cfg, "sa", func(tg *Target) { tg.QueryTimeout = time.Minute }, func(o *Options) {
				o.WrapConnector = func(c driver.Connector) driver.Connector { return countingConnector{Connector: c, queries: &requests} }
			})
			e.step(3 * time.Minute)
			requests.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := e.probe()
				for _, in := range s.Instances {
					if !in.Up() {
						b.Fatalf("%s: %s", in.Name, in.Err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(requests.Load())/float64(b.N)/3, "roundtrips/instance/cycle")
		})
	}
}

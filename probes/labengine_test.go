package probes

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/pkg/lab/engine"
	"github.com/sqldr/sqldr/pkg/lab/engine/server"
)

// The lab engine's fixture is one instance holding a database in each interesting state (mgc
// principal and log-shipping primary, mirrordb mirror, lsdb log-shipping secondary, standbydb, offdb)
// with LSNs above 2^63, a time_zone 127 row and Agent jobs. These tests run the real probe batch
// over TCP (go-mssqldb → TDS → the lab's SQL engine, which is never taught our query text) and
// check every figure against the fixture's documented content.

var labNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func startLabEngine(t *testing.T) string {
	t.Helper()
	srv, err := server.New(zaptest.NewLogger(t), engine.NewFixture(labNow, 0), server.Config{Logins: []server.Login{
		{Name: "sa", Password: "Lab-Passw0rd", Sysadmin: true},
		{Name: "monitor", Password: "Mon-Passw0rd"},
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
	return l.Addr().String()
}

func labDSN(addr, user, password string) string {
	q := url.Values{}
	q.Set("encrypt", "disable")
	q.Set("app name", "sqldr-probes-test")
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: addr, RawQuery: q.Encode()}
	return u.String()
}

func TestProbeLabEngineFixtureOverTCP(t *testing.T) {
	addr := startLabEngine(t)
	dir := t.TempDir()
	dsnFile := dir + "/monitor.dsn"
	if err := os.WriteFile(dsnFile, []byte(labDSN(addr, "monitor", "Mon-Passw0rd")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SA": labDSN(addr, "sa", "Lab-Passw0rd"), "BAD": labDSN(addr, "sa", "wrong")}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ctrl := labNow.Add(-3 * time.Second) // the controller's clock is 3s behind the instance
	p, err := newProber(zaptest.NewLogger(t), Options{
		Targets: []Target{
			{Name: "sqla1", Site: SiteA, Role: RolePartner, DSNEnv: "SA"},
			{Name: "sqla1-monitor", Site: SiteA, Role: RolePartner, DSNFile: dsnFile},
			{Name: "sqlb1", Site: SiteB, Role: RoleSecondary, DSNEnv: "SA"},
			{Name: "badlogin", Site: SiteB, Role: RoleMonitor, DSNEnv: "BAD"},
		},
		Databases: []string{"mgc", "mirrordb", "LSDB", "standbydb", "nosuchdb"},
	}, clocktesting.NewFakePassiveClock(ctrl), lookup, os.ReadFile)
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
	s := p.Probe(ctx)

	a, _ := s.Instance("sqla1")
	if !a.Up() {
		t.Fatalf("sqla1: %v %s", a.Reachability, a.Err)
	}
	if a.ServerName != "SQLA1" || !strings.Contains(a.Version, "sqldr lab") || !a.ServerUTC.Equal(labNow) {
		t.Errorf("instance = %q %q %v", a.ServerName, a.Version, a.ServerUTC)
	}
	if off, _, ok := a.ClockOffset(); !ok || off != 3*time.Second {
		t.Errorf("clock offset = %v %v, want 3s", off, ok)
	}
	base := "9223372036854775808000"
	mgc, _ := a.Database("mgc")
	m := mgc.Mirroring
	if !mgc.Writable() || mgc.RecoveryModel != RecoveryFull || m.Visibility != MirroringPresent || m.Role != MirroringRolePrincipal ||
		m.State != MirroringSynchronized || m.Safety != SafetyFull || m.WitnessName != "" || m.WitnessState != WitnessNone ||
		m.FailoverLSN.String() != base+"901" || m.PartnerInstance != "SQLA2" {
		t.Errorf("mgc = %+v", mgc)
	}
	if mgc.LastLogBackupLSN.String() != base+"301" || mgc.RecoveryForkGUID.String() != "6F9619FF-8B86-D011-B42D-000000000190" {
		t.Errorf("mgc recovery = %s %s", mgc.LastLogBackupLSN, mgc.RecoveryForkGUID)
	}
	if mgc.LSPrimary == nil || !mgc.LSPrimary.LastBackupUTC.Equal(labNow.Add(-15*time.Minute)) || mgc.LSPrimary.BackupThreshold != time.Hour {
		t.Errorf("mgc ls primary = %+v", mgc.LSPrimary)
	}
	if j := mgc.BackupJob; j == nil || j.Name != "LSBackup_mgc" || !j.Enabled || j.Running {
		t.Errorf("backup job = %+v", j)
	}
	rb := mgc.RecentLogBackups
	if len(rb) != 3 || rb[0].TimeZone != 127 || !rb[0].FinishUTC.IsZero() || rb[0].LastLSN.String() != base+"301" ||
		!rb[1].FinishUTC.Equal(labNow.Add(-30*time.Minute)) || rb[2].FirstLSN.String() != base+"001" || rb[1].Server != "SQLA1" {
		t.Errorf("recent backups = %+v", rb)
	}
	if mdb, _ := a.Database("mirrordb"); mdb.Mirroring.Visibility != MirroringPresent || mdb.Mirroring.Role != MirroringRoleMirror ||
		mdb.State != DBRestoring || mdb.RedoStartLSN.String() != base+"201" {
		t.Errorf("mirrordb as sysadmin = %+v", mdb)
	}
	if sb, _ := a.Database("standbydb"); sb.State != DBOnline || !sb.Standby || sb.Writable() || sb.Mirroring.Visibility != MirroringNotMirrored {
		t.Errorf("standbydb = %+v", sb)
	}
	if nd, _ := a.Database("nosuchdb"); nd.Exists || nd.Mirroring.Visibility != MirroringUnread {
		t.Errorf("nosuchdb = %+v", nd)
	}

	// The monitoring login sees the mirror's mirroring columns as NULL: not visible, never "not mirrored".
	mon, _ := s.Instance("sqla1-monitor")
	if !mon.Up() {
		t.Fatalf("monitor login: %v %s", mon.Reachability, mon.Err)
	}
	if mdb, _ := mon.Database("mirrordb"); mdb.Mirroring.Visibility != MirroringNotVisible {
		t.Errorf("mirrordb as monitoring login = %v", mdb.Mirroring.Visibility)
	}
	if mgc, _ := mon.Database("mgc"); mgc.Mirroring.Role != MirroringRolePrincipal {
		t.Errorf("mgc as monitoring login = %+v", mgc.Mirroring)
	}

	sec, _ := s.Instance("sqlb1")
	ls, _ := sec.Database("lsdb")
	if ls.State != DBRestoring || ls.RedoStartLSN.String() != base+"201" || ls.RedoStartForkGUID.String() != "6F9619FF-8B86-D011-B42D-000000000190" {
		t.Errorf("lsdb = %+v", ls)
	}
	n := ls.NewestRestoredLog
	if n == nil || n.LastLSN.String() != base+"201" || !n.FinishUTC.Equal(labNow.Add(-30*time.Minute)) || !strings.HasSuffix(n.File, "mgc_202401150915.trn") {
		t.Errorf("newest restored = %+v", n)
	}
	if ls.LSSecondary == nil || ls.LSSecondary.LatencyKnown || ls.LSSecondary.RestoreThreshold != 45*time.Minute || ls.LSSecondary.PrimaryServer != "SQLA1" {
		t.Errorf("lsdb ls secondary = %+v", ls.LSSecondary)
	}
	if ls.CopyJob == nil || !ls.CopyJob.Running || ls.RestoreJob == nil || ls.RestoreJob.Running || ls.RestoreJob.Name != "LSRestore_mgc" {
		t.Errorf("jobs = %+v %+v", ls.CopyJob, ls.RestoreJob)
	}
	lag := ComputeLag(s, "lsdb")
	if lag.CopyAge != (Figure{Value: 20 * time.Minute, Known: true, Source: "sqlb1"}) ||
		lag.RestoreAge != (Figure{Value: 29 * time.Minute, Known: true, Source: "sqlb1"}) || lag.RestoreLatency.Known {
		t.Errorf("lag = %+v", lag)
	}

	bad, _ := s.Instance("badlogin")
	if bad.Reachability != ReachRefusing || bad.SQLErrorNumber != 18456 || !bad.Alive() {
		t.Errorf("bad login = %v %d %s", bad.Reachability, bad.SQLErrorNumber, bad.Err)
	}
	if strings.Contains(bad.Err, "wrong") || strings.Contains(bad.Err, "Passw0rd") {
		t.Errorf("error text leaks a password: %s", bad.Err)
	}
}

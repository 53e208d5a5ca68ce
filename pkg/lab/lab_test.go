package lab

import (
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChildPresence())
	}
	goleak.VerifyTestMain(m)
}

var sa = Login{Name: "sa", Sysadmin: true}
var monitor = Login{Name: "sqldr_monitor"}

type fixture struct {
	t    *testing.T
	topo *Topology
	clk  *ManualClock
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	clk := NewManualClock(cfg.Start)
	topo, err := New(zaptest.NewLogger(t), cfg, clk)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{t: t, topo: topo, clk: clk}
}

func (f *fixture) advance(d time.Duration) {
	f.clk.Advance(d)
	f.topo.Sync()
}

func (f *fixture) inst(name string) *Instance {
	f.t.Helper()
	i, err := f.topo.Instance(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return i
}

func (f *fixture) db(inst, name string) DatabaseInfo {
	f.t.Helper()
	d, ok := f.inst(inst).Database(name)
	if !ok {
		f.t.Fatalf("no database %s on %s", name, inst)
	}
	return d
}

func (f *fixture) session(inst string, login Login) *Session {
	f.t.Helper()
	s, err := f.inst(inst).Connect(login, "master", nil)
	if err != nil {
		f.t.Fatalf("connect %s: %v", inst, err)
	}
	f.t.Cleanup(s.Close)
	return s
}

func (f *fixture) inject(fault Fault) int {
	f.t.Helper()
	id, err := f.topo.Inject(fault)
	if err != nil {
		f.t.Fatalf("inject %+v: %v", fault, err)
	}
	return id
}

func wantErrs(t *testing.T, err error, numbers ...int32) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want SQL errors %v, got %v", numbers, err)
	}
	got := errs.Numbers()
	if len(got) != len(numbers) {
		t.Fatalf("want errors %v, got %v (%v)", numbers, got, err)
	}
	for i := range got {
		if got[i] != numbers[i] {
			t.Fatalf("want errors %v, got %v (%v)", numbers, got, err)
		}
	}
}

func TestDefaultTopologyShape(t *testing.T) {
	f := newFixture(t, nil)
	two63 := new(big.Int).Lsh(big.NewInt(1), 63)
	p := f.db("principal", "mgc")
	if p.State != StateOnline || p.Mirroring == nil || p.Mirroring.Role != RolePrincipal {
		t.Fatalf("principal mgc: %+v", p)
	}
	if p.EndOfLogLSN.Big().Cmp(two63) <= 0 {
		t.Fatalf("LSN %s not above 2^63", p.EndOfLogLSN)
	}
	m := f.db("mirror", "mgc")
	if m.State != StateRestoring || m.Mirroring.Role != RoleMirror || m.Available.Number != 954 {
		t.Fatalf("mirror mgc: %+v", m)
	}
	s := f.db("secondary", "mgccomp")
	if s.State != StateRestoring || s.Mirroring != nil || s.RedoStartLSN.IsZero() || s.Available.Number != 927 {
		t.Fatalf("secondary mgccomp: %+v", s)
	}
	a, b := f.inst("principal").LocalNow(), f.inst("secondary").LocalNow()
	_, offA := a.Zone()
	_, offB := b.Zone()
	if offA == 0 || offB == 0 || offA == offB {
		t.Fatalf("zones: site A offset %d, site B offset %d; want two different non-UTC zones", offA, offB)
	}
	f.advance(time.Second)
	if st := f.db("principal", "mgc").Mirroring.State; st != MirrorSynchronized {
		t.Fatalf("after a step mirroring state = %s, want SYNCHRONIZED", st)
	}
}

func TestConfigValidationReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Instances[1].Role = "backup"
	cfg.Databases = []string{"mgc", "MGC", "master"}
	cfg.Safety = "HIGH"
	cfg.BackupInterval = 0
	cfg.Share = `D:\share`
	_, err := New(nil, cfg, NewManualClock(cfg.Start))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, key := range []string{"instances[1].role", "databases[1]", "databases[2]", "safety", "backup_interval", "share"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestLogShippingAdvances(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(5 * time.Minute)
	prim, sec := f.inst("principal").MSDB(), f.inst("secondary").MSDB()
	logBackups := 0
	for _, b := range prim.BackupSets {
		if b.Type == "L" && b.DatabaseName == "mgc" {
			logBackups++
			if !strings.HasPrefix(b.PhysicalDeviceName, `\\labshare\logship\mgc\mgc_`) {
				t.Errorf("backup file %s not on the share", b.PhysicalDeviceName)
			}
		}
	}
	if logBackups < 4 {
		t.Fatalf("want >= 4 log backups of mgc in 5 minutes, got %d", logBackups)
	}
	var mon *LSMonitorSecondaryRow
	for i := range sec.LSMonitorSecondary {
		if sec.LSMonitorSecondary[i].SecondaryDatabase == "mgc" {
			mon = &sec.LSMonitorSecondary[i]
		}
	}
	if mon == nil || mon.LastCopiedFile == nil || mon.LastRestoredFile == nil || mon.LastRestoredLatency == nil {
		t.Fatalf("monitor secondary not filled: %+v", mon)
	}
	// The _utc columns and the local ones agree with the secondary's zone.
	loc := f.inst("secondary").Location()
	if got := mon.LastRestoredDateUTC.In(loc); !got.Equal(*mon.LastRestoredDate) {
		t.Errorf("last_restored_date %v and _utc %v disagree", mon.LastRestoredDate, mon.LastRestoredDateUTC)
	}
	// Every restored log backup joins to a backupset row on the secondary with the
	// primary's server name and a contiguous LSN chain.
	var prevLast LSN
	restored := 0
	for _, rh := range sec.RestoreHistory {
		if rh.RestoreType != "L" || rh.DestinationDatabaseName != "mgc" {
			continue
		}
		var bs *BackupSetRow
		for i := range sec.BackupSets {
			if sec.BackupSets[i].BackupSetID == rh.BackupSetID {
				bs = &sec.BackupSets[i]
			}
		}
		if bs == nil || bs.ServerName != "SQLA1" {
			t.Fatalf("restorehistory %d has no matching backupset from SQLA1: %+v", rh.RestoreHistoryID, bs)
		}
		if !prevLast.IsZero() && bs.FirstLSN.Cmp(prevLast) != 0 {
			t.Fatalf("chain broken: first_lsn %s after last_lsn %s", bs.FirstLSN, prevLast)
		}
		prevLast = bs.LastLSN
		restored++
	}
	if restored < 3 {
		t.Fatalf("want >= 3 restored log backups, got %d", restored)
	}
	s := f.db("secondary", "mgc")
	if s.RedoStartLSN.Cmp(prevLast) != 0 {
		t.Fatalf("redo_start_lsn %s != last restored last_lsn %s", s.RedoStartLSN, prevLast)
	}
	if s.Rows == 0 || s.Rows >= f.db("principal", "mgc").Rows {
		t.Fatalf("secondary rows %d, principal rows %d: want 0 < secondary < principal", s.Rows, f.db("principal", "mgc").Rows)
	}
	// Some backupset rows carry time_zone 127 (unknown); the others the real offset.
	var unknown, known int
	for _, b := range prim.BackupSets {
		switch b.TimeZone {
		case 127:
			unknown++
		case -20, -16:
			known++
		default:
			t.Errorf("time_zone %d is neither 127 nor New York's offset", b.TimeZone)
		}
	}
	if unknown == 0 || known == 0 {
		t.Fatalf("time_zone: %d unknown, %d known; want both", unknown, known)
	}
	// The mirror/primary's backup job runs and reports success without backing up.
	mir := f.inst("mirror").MSDB()
	var skipped bool
	for _, h := range mir.LSHistoryDetail {
		if h.SessionStatus == 2 && strings.Contains(h.Message, "acting as a mirror") {
			skipped = true
		}
	}
	if !skipped {
		t.Fatal("mirror's backup job did not record a successful skip")
	}
}

func TestMirroringCarriesRows(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(30 * time.Second)
	p, m := f.db("principal", "mgc"), f.db("mirror", "mgc")
	if p.Rows < 25 || p.Rows != m.Rows || p.EndOfLogLSN.Cmp(m.EndOfLogLSN) != 0 {
		t.Fatalf("principal %d rows @%s, mirror %d rows @%s", p.Rows, p.EndOfLogLSN, m.Rows, m.EndOfLogLSN)
	}
	if p.Mirroring.FailoverLSN.Cmp(p.EndOfLogLSN) != 0 {
		t.Fatalf("failover lsn %s != end of log %s under SAFETY FULL", p.Mirroring.FailoverLSN, p.EndOfLogLSN)
	}
}

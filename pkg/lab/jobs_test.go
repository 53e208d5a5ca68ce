package lab

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func jobByName(f *fixture, inst, prefix string) JobRow {
	f.t.Helper()
	for _, j := range f.inst(inst).MSDB().Jobs {
		if strings.HasPrefix(j.Name, prefix) {
			return j
		}
	}
	f.t.Fatalf("no job %s* on %s", prefix, inst)
	return JobRow{}
}

func TestPromotionByHand(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(4*time.Minute + 30*time.Second)
	f.inject(Fault{Kind: FaultSiteDown, Target: "A"})
	s := f.session("secondary", sa)
	copyJob, restoreJob := jobByName(f, "secondary", "LSCopy_"), jobByName(f, "secondary", "LSRestore_")
	// Final copy and restore by hand, then disable the jobs.
	if _, err := s.StartJob(nil, copyJob.Name); err != nil {
		t.Fatalf("start copy: %v", err)
	}
	f.advance(3 * time.Second)
	if _, err := s.StartJob(&restoreJob.JobID, ""); err != nil {
		t.Fatalf("start restore: %v", err)
	}
	f.advance(2 * time.Second)
	for _, j := range []JobRow{copyJob, restoreJob} {
		if err := s.UpdateJobEnabled(&j.JobID, "", false); err != nil {
			t.Fatalf("disable %s: %v", j.Name, err)
		}
	}
	// Every file on the share has been restored: the redo point is the newest
	// file's last LSN.
	files := shareLogFiles(f, "mgc")
	newest := files[len(files)-1]
	for _, fl := range files {
		if fl.LastLSN.Cmp(newest.LastLSN) > 0 {
			newest = fl
		}
	}
	if d := f.db("secondary", "mgc"); d.RedoStartLSN.Cmp(newest.LastLSN) != 0 {
		t.Fatalf("redo %s, newest shipped last_lsn %s", d.RedoStartLSN, newest.LastLSN)
	}
	if err := s.RestoreDatabaseRecovery("mgc"); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	d := f.db("secondary", "mgc")
	if d.State != StateOnline || d.ReadOnly || d.Standby {
		t.Fatalf("promoted database: %+v", d)
	}
	m, err := s.InsertMessage("mgc", "after promotion")
	if err != nil {
		t.Fatalf("insert on the promoted secondary: %v", err)
	}
	rows, err := s.Messages("mgc")
	if err != nil || rows[len(rows)-1].ID != m.ID {
		t.Fatalf("read back: %v %v", rows, err)
	}
	// The data really lost: rows the old principal committed that the promoted
	// copy does not hold.
	f.topo.HealAll()
	old := f.db("principal", "mgc")
	lost := old.MaxID - (m.ID - 1)
	if lost <= 0 || lost > 70 {
		t.Fatalf("lost rows %d: want between 1 and one backup interval of rows", lost)
	}
	// The jobs stay disabled: no more restores (the database is recovered anyway).
	f.advance(3 * time.Minute)
	for _, j := range f.inst("secondary").MSDB().Jobs {
		if j.Enabled && strings.HasSuffix(j.Name, "_mgc") {
			t.Fatalf("job %s re-enabled", j.Name)
		}
	}
}

func TestStandbyReaderBlocksRecovery(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RestoreMode = "standby" })
	f.advance(2 * time.Minute)
	d := f.db("secondary", "mgc")
	if !d.Standby || d.State != StateOnline {
		t.Fatalf("secondary not in STANDBY: %+v", d)
	}
	reader := f.session("secondary", monitor)
	if err := reader.Use("mgc"); err != nil {
		t.Fatalf("reader USE on STANDBY: %v", err)
	}
	if _, err := reader.Messages("mgc"); err != nil {
		t.Fatalf("read STANDBY: %v", err)
	}
	_, err := reader.InsertMessage("mgc", "x")
	wantErrs(t, err, 3906)
	s := f.session("secondary", sa)
	wantErrs(t, s.RestoreDatabaseRecovery("mgc"), 3101, 3013)
	// The restore job cannot restore either while the reader is there.
	f.advance(2 * time.Minute)
	var saw3101 bool
	for _, h := range f.inst("secondary").MSDB().LSHistoryDetail {
		if h.SessionStatus == 3 && strings.Contains(h.Message, "Exclusive access") {
			saw3101 = true
		}
	}
	if !saw3101 {
		t.Fatal("restore job did not record 3101")
	}
	if err := s.AlterDatabase("mgc", SetSingleUser, true); err != nil {
		t.Fatalf("single user: %v", err)
	}
	if !reader.Killed() {
		t.Fatal("reader survived ROLLBACK IMMEDIATE")
	}
	if err := s.RestoreDatabaseRecovery("mgc"); err != nil {
		t.Fatalf("recovery after SINGLE_USER: %v", err)
	}
	if err := s.AlterDatabase("mgc", SetMultiUser, false); err != nil {
		t.Fatal(err)
	}
	if d := f.db("secondary", "mgc"); d.State != StateOnline || d.Standby || d.ReadOnly || d.Access != MultiUser {
		t.Fatalf("after recovery: %+v", d)
	}
}

func TestMonitoringLoginPermissions(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(time.Minute)
	s := f.session("secondary", monitor)
	wantErrs(t, s.RestoreLog("mgc", `D:\lscopy\mgc\x.trn`, WithNoRecovery), 3110, 3013)
	wantErrs(t, s.RestoreDatabaseRecovery("mgc"), 3110, 3013)
	wantErrs(t, s.AlterDatabase("mgc", SetSingleUser, true), 5011, 5069)
	wantErrs(t, s.UpdateJobEnabled(nil, "LSCopy_SQLA1_mgc", false), 229)
	_, err := s.StartJob(nil, "LSCopy_SQLA1_mgc")
	wantErrs(t, err, 229)
	_, err = s.StopJob(nil, "LSCopy_SQLA1_mgc")
	wantErrs(t, err, 229)
	wantErrs(t, s.DeleteLogShippingSecondaryDatabase("mgc"), 229)
	_, err = s.DirTree(`D:\lscopy\mgc`)
	wantErrs(t, err, 229)
	wantErrs(t, f.session("principal", monitor).BackupLog("mgc", `C:\x.trn`, BackupOptions{}), 262, 3013)
}

func TestJobControl(t *testing.T) {
	f := newFixture(t, nil)
	s := f.session("secondary", sa)
	name := "LSCopy_SQLA1_mgc"
	_, err := s.StopJob(nil, name)
	wantErrs(t, err, 22022)
	_, err = s.StartJob(nil, "nope")
	wantErrs(t, err, 14262)
	info, err := s.StartJob(nil, name)
	if err != nil || info.Number != 14243 || info.Class != 0 {
		t.Fatalf("start: %+v %v", info, err)
	}
	_, err = s.StartJob(nil, name)
	wantErrs(t, err, 22022)
	// Disabling does not stop the run in progress.
	if err := s.UpdateJobEnabled(nil, name, false); err != nil {
		t.Fatal(err)
	}
	if !f.inst("secondary").JobRunning(name) {
		t.Fatal("disabling stopped the running job")
	}
	f.advance(3 * time.Second)
	if f.inst("secondary").JobRunning(name) {
		t.Fatal("job still running after its run time")
	}
	// Disabled: no scheduled runs; sp_start_job still runs it once.
	f.advance(3 * time.Minute)
	runs := 0
	for _, h := range f.inst("secondary").MSDB().JobHistory {
		if h.JobID == jobByName(f, "secondary", "LSCopy_").JobID {
			runs++
		}
	}
	if runs != 1 {
		t.Fatalf("disabled job ran %d times, want 1 (the manual run)", runs)
	}
	if _, err := s.StartJob(nil, name); err != nil {
		t.Fatalf("start a disabled job: %v", err)
	}
	act := f.inst("secondary").MSDB().JobActivity
	var running bool
	for _, a := range act {
		if a.JobID == jobByName(f, "secondary", "LSCopy_").JobID && a.StartExecutionDate != nil && a.StopExecutionDate == nil {
			running = true
		}
	}
	if !running {
		t.Fatal("sysjobactivity does not show the run")
	}
	stopped, err := s.StopJob(nil, name)
	if err != nil || stopped.Number != 14254 {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
}

func TestPartialCopyIsNotRestored(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "copy"})
	f.inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "restore"})
	f.advance(2*time.Minute + 5*time.Second)
	s := f.session("secondary", sa)
	if _, err := s.StartJob(nil, "LSCopy_SQLA1_mgc"); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second) // mid-copy
	var partial []BackupFile
	for _, b := range f.inst("secondary").Files() {
		if b.Partial {
			partial = append(partial, b)
		}
	}
	if len(partial) == 0 {
		t.Fatal("no partial file during the copy")
	}
	entries, err := s.DirTree(`D:\lscopy\mgc`)
	if err != nil || len(entries) != len(partial) {
		t.Fatalf("xp_dirtree during copy: %v %v", entries, err)
	}
	wantErrs(t, s.RestoreLog("mgc", partial[0].Path, WithNoRecovery), 3241, 3013)
	if _, err := s.StartJob(nil, "LSRestore_SQLA1_mgc"); err != nil {
		t.Fatal(err)
	}
	before := f.db("secondary", "mgc").RedoStartLSN
	f.advance(time.Second)
	if got := f.db("secondary", "mgc").RedoStartLSN; got.Cmp(before) != 0 {
		t.Fatalf("restore job used a partial file: redo %s -> %s", before, got)
	}
	f.advance(2 * time.Second)
	if _, err := s.StartJob(nil, "LSRestore_SQLA1_mgc"); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Second)
	if got := f.db("secondary", "mgc").RedoStartLSN; got.Cmp(before) <= 0 {
		t.Fatal("complete copies were not restored")
	}
}

func TestFaultsTakeEffectAndHeal(t *testing.T) {
	f := newFixture(t, nil)
	p := f.inst("principal")

	// Down and site down.
	sess := f.session("principal", sa)
	id := f.inject(Fault{Kind: FaultDown, Target: "SQLA1"})
	if p.Net().Health != HealthDown || !sess.Killed() {
		t.Fatal("down: instance still up or session alive")
	}
	if err := f.topo.Heal(id); err != nil {
		t.Fatal(err)
	}
	if p.Net().Health != HealthUp {
		t.Fatal("heal did not bring the instance up")
	}
	id = f.inject(Fault{Kind: FaultSiteDown, Target: "A"})
	if f.inst("mirror").Net().Health != HealthDown || f.inst("secondary").Net().Health != HealthUp {
		t.Fatal("site down hit the wrong instances")
	}
	_ = f.topo.Heal(id)

	// Hung, slow, skew.
	id = f.inject(Fault{Kind: FaultHung, Target: "mirror"})
	if f.inst("mirror").Net().Health != HealthHung {
		t.Fatal("hung")
	}
	_ = f.topo.Heal(id)
	id = f.inject(Fault{Kind: FaultSlow, Target: "secondary", Delay: 300 * time.Millisecond})
	if n := f.inst("secondary").Net(); n.Health != HealthSlow || n.SlowDelay != 300*time.Millisecond {
		t.Fatalf("slow: %+v", n)
	}
	_ = f.topo.Heal(id)
	before := f.inst("secondary").UTCNow()
	id = f.inject(Fault{Kind: FaultSkew, Target: "secondary", Delay: -90 * time.Second})
	if got := f.inst("secondary").UTCNow(); before.Sub(got) != 90*time.Second {
		t.Fatalf("skew: %v then %v", before, got)
	}
	_ = f.topo.Heal(id)

	// Partitions by source address.
	a, b := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	id = f.inject(Fault{Kind: FaultRefuse, Target: "*", Addrs: []string{"127.0.0.2"}})
	id2 := f.inject(Fault{Kind: FaultBlackhole, Target: "principal", Addrs: []string{"127.0.0.3"}})
	if !p.Net().Refuses(a) || p.Net().Refuses(b) || !p.Net().BlackHoles(b) || f.inst("mirror").Net().BlackHoles(b) {
		t.Fatal("partition rules")
	}
	_ = f.topo.Heal(id)
	_ = f.topo.Heal(id2)
	if p.Net().Refuses(a) || p.Net().BlackHoles(b) {
		t.Fatal("partition not healed")
	}
	if len(f.topo.Faults()) != 0 {
		t.Fatalf("faults left: %+v", f.topo.Faults())
	}

	// Bad faults are rejected with a clear message.
	for _, bad := range []Fault{{Kind: "melt", Target: "principal"}, {Kind: FaultDown, Target: "nope"},
		{Kind: FaultJobFailing, Target: "secondary", Job: "dance"}, {Kind: FaultRefuse, Target: "*", Addrs: []string{"x"}}} {
		if _, err := f.topo.Inject(bad); err == nil {
			t.Errorf("fault %+v accepted", bad)
		}
	}
}

func TestJobFaultsAndShareDown(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.advance(2 * time.Minute)
	backupsBefore := len(shareLogFiles(f, "mgc"))
	id := f.inject(Fault{Kind: FaultJobFailing, Target: "principal", Job: "backup"})
	f.advance(2 * time.Minute)
	if n := len(shareLogFiles(f, "mgc")); n != backupsBefore {
		t.Fatalf("failing backup job wrote files: %d -> %d", backupsBefore, n)
	}
	_ = f.topo.Heal(id)
	f.advance(time.Minute)
	if n := len(shareLogFiles(f, "mgc")); n != backupsBefore+1 {
		t.Fatalf("healed backup job: %d files, want %d", n, backupsBefore+1)
	}
	id = f.inject(Fault{Kind: FaultShareDown})
	redo := f.db("secondary", "mgc").RedoStartLSN
	f.advance(3 * time.Minute)
	if f.db("secondary", "mgc").RedoStartLSN.Cmp(redo) > 0 {
		// Files copied before the share went down may still be restored once.
		redo = f.db("secondary", "mgc").RedoStartLSN
		f.advance(2 * time.Minute)
		if f.db("secondary", "mgc").RedoStartLSN.Cmp(redo) != 0 {
			t.Fatal("secondary advanced while the share was down")
		}
	}
	var backupErr, copyErr bool
	for _, h := range f.inst("principal").MSDB().LSHistoryDetail {
		backupErr = backupErr || (h.SessionStatus == 3 && h.AgentType == 0)
	}
	for _, h := range f.inst("secondary").MSDB().LSHistoryDetail {
		copyErr = copyErr || (h.SessionStatus == 3 && h.AgentType == 1)
	}
	if !backupErr || !copyErr {
		t.Fatalf("share down: backup error %v, copy error %v", backupErr, copyErr)
	}
	_ = f.topo.Heal(id)
	f.advance(3 * time.Minute)
	if f.db("secondary", "mgc").RedoStartLSN.Cmp(redo) <= 0 {
		t.Fatal("shipping did not resume after the share came back")
	}
}

func TestRogueBackupBreaksChainAndHealMendsIt(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.advance(90 * time.Second)
	id := f.inject(Fault{Kind: FaultRogueBackup, Target: "principal"})
	f.advance(4 * time.Minute)
	var gap bool
	for _, h := range f.inst("secondary").MSDB().LSHistoryDetail {
		gap = gap || (h.SessionStatus == 3 && strings.Contains(h.Message, "too recent"))
	}
	if !gap {
		t.Fatal("restore job did not hit 4305 after a rogue backup")
	}
	stuck := f.db("secondary", "mgc").RedoStartLSN
	_ = f.topo.Heal(id)
	f.advance(3 * time.Minute)
	if f.db("secondary", "mgc").RedoStartLSN.Cmp(stuck) <= 0 {
		t.Fatal("chain not mended after heal")
	}
}

func TestOldPrincipalReturnsWritable(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(time.Minute)
	f.inject(Fault{Kind: FaultSiteDown, Target: "A"})
	f.advance(time.Minute)
	f.topo.HealAll()
	f.inject(Fault{Kind: FaultWritable, Target: "mirror"})
	s := f.session("mirror", sa)
	if _, err := s.InsertMessage("mgc", "split brain"); err != nil {
		t.Fatalf("old mirror not writable: %v", err)
	}
	if d := f.db("mirror", "mgc"); d.Mirroring != nil || d.State != StateOnline {
		t.Fatalf("writable fault: %+v", d)
	}
}

func TestDeleteLogShippingSecondary(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(3 * time.Minute)
	s := f.session("secondary", sa)
	wantErrs(t, s.DeleteLogShippingSecondaryDatabase("nope"), 32012)
	if err := s.DeleteLogShippingSecondaryDatabase("mgc"); err != nil {
		t.Fatal(err)
	}
	m := f.inst("secondary").MSDB()
	for _, j := range m.Jobs {
		if strings.HasSuffix(j.Name, "_mgc") {
			t.Fatalf("job %s survived", j.Name)
		}
	}
	if len(m.LSSecondaryDBs) != 1 || m.LSSecondaryDBs[0].SecondaryDatabase != "mgccomp" || len(m.LSMonitorSecondary) != 1 {
		t.Fatalf("rows left: %+v %+v", m.LSSecondaryDBs, m.LSMonitorSecondary)
	}
	for _, h := range m.LSHistoryDetail {
		if h.DatabaseName == "mgc" {
			t.Fatal("history of mgc survived")
		}
	}
	if len(m.RestoreHistory) == 0 {
		t.Fatal("restorehistory must survive (it is backup history, not log-shipping history)")
	}
}

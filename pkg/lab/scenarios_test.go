package lab

import (
	"strings"
	"testing"
	"time"
)

func shareLogFiles(f *fixture, db string) []BackupFile {
	var out []BackupFile
	for _, b := range f.topo.ShareFiles() {
		if b.Database == db && b.Type == "L" {
			out = append(out, b)
		}
	}
	return out
}

func TestRestoreChainErrors(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Databases = []string{"mgc"} })
	// Stop shipping to the secondary so the test restores by hand.
	f.inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "copy"})
	f.inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "restore"})
	f.advance(3*time.Minute + 10*time.Second)
	files := shareLogFiles(f, "mgc")
	if len(files) < 3 {
		t.Fatalf("want 3 share files, got %d", len(files))
	}
	s := f.session("secondary", sa)
	// A gap: the second file first.
	wantErrs(t, s.RestoreLog("mgc", files[1].Path, WithNoRecovery), 4305, 3013)
	if err := s.RestoreLog("mgc", files[0].Path, WithNoRecovery); err != nil {
		t.Fatalf("restore first file: %v", err)
	}
	// Already applied.
	wantErrs(t, s.RestoreLog("mgc", files[0].Path, WithNoRecovery), 4326, 3013)
	if err := s.RestoreLog("mgc", files[1].Path, WithStandby); err != nil {
		t.Fatalf("restore second file WITH STANDBY: %v", err)
	}
	if d := f.db("secondary", "mgc"); !d.Standby || d.State != StateOnline || !d.ReadOnly {
		t.Fatalf("after STANDBY restore: %+v", d)
	}
	if err := s.RestoreDatabaseRecovery("mgc"); err != nil {
		t.Fatalf("recover: %v", err)
	}
	// After recovery no log can be applied.
	wantErrs(t, s.RestoreLog("mgc", files[2].Path, WithNoRecovery), 3117, 3013)
	// A missing file.
	wantErrs(t, s.RestoreLog("mgc", `\\labshare\logship\mgc\nope.trn`, WithNoRecovery), 3117, 3013)
}

func TestRestoreForkMismatch(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Databases = []string{"mgc"}
		c.Instances = c.Instances[:1]
		c.Instances = append(c.Instances, InstanceConfig{Name: "SQLB1", Role: ConfigRoleSecondary, Site: "B", TimeZone: "Asia/Kolkata"})
	})
	f.inject(Fault{Kind: FaultJobStopped, Target: "secondary", Job: "restore"})
	f.advance(2*time.Minute + 20*time.Second)
	sec := f.session("secondary", sa)
	var copied []BackupFile
	for _, b := range f.inst("secondary").Files() {
		if b.Type == "L" {
			copied = append(copied, b)
		}
	}
	if len(copied) == 0 {
		t.Fatal("nothing copied")
	}
	// Recover the principal's database onto a new fork by a tail backup and a
	// recovery, then take another log backup: it is on a path the secondary has
	// never seen.
	p := f.session("principal", sa)
	if err := p.BackupLog("mgc", `C:\tail\mgc_tail.trn`, BackupOptions{NoRecovery: true}); err != nil {
		t.Fatalf("tail: %v", err)
	}
	if err := p.RestoreDatabaseRecovery("mgc"); err != nil {
		t.Fatalf("recover principal: %v", err)
	}
	if _, err := p.InsertMessage("mgc", "after fork"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := p.BackupLog("mgc", `\\labshare\logship\mgc\forked.trn`, BackupOptions{}); err != nil {
		t.Fatalf("backup on the new fork: %v", err)
	}
	for _, c := range copied {
		if err := sec.RestoreLog("mgc", c.Path, WithNoRecovery); err != nil {
			t.Fatalf("restore %s: %v", c.Path, err)
		}
	}
	// Skip the tail: the redo point is before the fork but the forked file starts at
	// the tail's end, which is too recent; restore the tail first, then the fork
	// mismatch shows once the secondary recovers on its own fork.
	if err := sec.RestoreLog("mgc", `\\labshare\logship\mgc\forked.trn`, WithNoRecovery); err == nil {
		t.Fatal("forked file applied without the tail")
	}
	if err := sec.RestoreDatabaseRecovery("mgc"); err != nil {
		t.Fatalf("recover secondary: %v", err)
	}
	// A database recovered on its own fork cannot take the primary's logs.
	wantErrs(t, sec.RestoreLog("mgc", `\\labshare\logship\mgc\forked.trn`, WithNoRecovery), 3117, 3013)
}

func TestForcedServiceForkBreaksSecondaryChain(t *testing.T) {
	// SAFETY OFF: the mirror trails; the principal ships a log backup past what the
	// mirror has; forced service on the mirror starts a new fork; the secondary,
	// having restored past the fork point, gets 4330 for the new principal's logs.
	f := newFixture(t, func(c *Config) {
		c.Databases = []string{"mgc"}
		c.Safety = "OFF"
		c.AsyncDelay = 30 * time.Second
	})
	f.inject(Fault{Kind: FaultCut, Target: "principal", Peer: "mirror"})
	f.advance(3 * time.Minute)
	if d := f.db("secondary", "mgc"); d.RedoStartLSN.Cmp(f.db("mirror", "mgc").EndOfLogLSN) <= 0 {
		t.Fatalf("secondary redo %s not past the mirror's end %s", d.RedoStartLSN, f.db("mirror", "mgc").EndOfLogLSN)
	}
	f.inject(Fault{Kind: FaultDown, Target: "principal"})
	m := f.session("mirror", sa)
	if err := m.BackupLog("mgc", `C:\x.trn`, BackupOptions{}); err == nil {
		t.Fatal("backup on a mirror succeeded")
	}
	if err := m.SetPartner("mgc", "FORCE_SERVICE_ALLOW_DATA_LOSS", 0); err != nil {
		t.Fatalf("force service: %v", err)
	}
	d := f.db("mirror", "mgc")
	if d.State != StateOnline || d.Mirroring.Role != RolePrincipal || d.Mirroring.State != MirrorSuspended {
		t.Fatalf("after force: %+v %+v", d, d.Mirroring)
	}
	f.advance(6 * time.Minute)
	msdb := f.inst("secondary").MSDB()
	var sawFork bool
	for _, h := range msdb.LSHistoryDetail {
		if h.SessionStatus == 3 && strings.Contains(h.Message, "recovery path") {
			sawFork = true
		}
	}
	if !sawFork {
		t.Fatal("restore job did not report the fork mismatch (4330)")
	}
}

func TestAutomaticFailoverNeedsWitness(t *testing.T) {
	for _, withWitness := range []bool{true, false} {
		name := "no_witness"
		if withWitness {
			name = "witness"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				if withWitness {
					*c = c.WithWitness()
				}
			})
			f.advance(20 * time.Second)
			before := f.db("principal", "mgc").Rows
			f.inject(Fault{Kind: FaultDown, Target: "principal"})
			f.advance(9 * time.Second)
			if r := f.db("mirror", "mgc").Mirroring.Role; r != RoleMirror {
				t.Fatalf("failed over before the partner timeout: role %s", r)
			}
			f.advance(5 * time.Second)
			m := f.db("mirror", "mgc")
			if withWitness {
				if m.Mirroring.Role != RolePrincipal || m.State != StateOnline || m.Mirroring.WitnessState != 1 {
					t.Fatalf("no automatic failover with a witness: %+v %+v", m, m.Mirroring)
				}
				if m.Rows < before {
					t.Fatalf("rows lost in a SAFETY FULL failover: %d < %d", m.Rows, before)
				}
				// The old principal returns as the mirror.
				f.topo.HealAll()
				f.advance(2 * time.Second)
				old := f.db("principal", "mgc")
				if old.Mirroring.Role != RoleMirror || old.State != StateRestoring {
					t.Fatalf("old principal after return: %+v %+v", old, old.Mirroring)
				}
				if st := f.db("mirror", "mgc").Mirroring.State; st != MirrorSynchronized {
					t.Fatalf("state after rejoin %s", st)
				}
				return
			}
			if m.Mirroring.Role != RoleMirror || m.State != StateRestoring || m.Mirroring.State != MirrorDisconnected {
				t.Fatalf("failed over without a witness: %+v %+v", m, m.Mirroring)
			}
		})
	}
}

func TestPrincipalWithoutQuorum(t *testing.T) {
	f := newFixture(t, func(c *Config) { *c = c.WithWitness() })
	f.advance(2 * time.Second)
	f.inject(Fault{Kind: FaultCut, Target: "principal", Peer: "mirror"})
	f.inject(Fault{Kind: FaultCut, Target: "principal", Peer: "witness"})
	f.advance(15 * time.Second)
	p := f.session("principal", sa)
	_, err := p.InsertMessage("mgc", "x")
	wantErrs(t, err, 955)
	if r := f.db("mirror", "mgc").Mirroring.Role; r != RolePrincipal {
		t.Fatalf("mirror with witness quorum did not take over: %s", r)
	}
}

func TestManualFailoverAndPartnerErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(2 * time.Second)
	m := f.session("mirror", sa)
	wantErrs(t, m.SetPartner("mgc", "FAILOVER", 0), 1470, 5069)
	wantErrs(t, m.SetPartner("mgc", "FORCE_SERVICE_ALLOW_DATA_LOSS", 0), 1455, 5069)
	p := f.session("principal", sa)
	wantErrs(t, f.session("principal", monitor).SetPartner("mgc", "FAILOVER", 0), 5011, 5069)
	wantErrs(t, p.SetPartner("master", "FAILOVER", 0), 1416, 5069)
	if err := p.SetPartner("mgc", "SAFETY OFF", 0); err != nil {
		t.Fatal(err)
	}
	wantErrs(t, p.SetPartner("mgc", "FAILOVER", 0), 1477, 5069)
	if err := p.SetPartner("mgc", "SAFETY FULL", 0); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second)
	if err := p.SetPartner("mgc", "FAILOVER", 0); err != nil {
		t.Fatalf("failover: %v", err)
	}
	if d := f.db("mirror", "mgc"); d.Mirroring.Role != RolePrincipal || d.State != StateOnline || d.Mirroring.RoleSequence != 2 {
		t.Fatalf("after failover: %+v %+v", d, d.Mirroring)
	}
	if d := f.db("principal", "mgc"); d.Mirroring.Role != RoleMirror || d.State != StateRestoring {
		t.Fatalf("old principal after failover: %+v", d)
	}
	// After a mirroring failover the new principal's backup job ships logs to the
	// same share and the secondary keeps restoring them: the chain is unbroken.
	f.advance(4 * time.Minute)
	sec := f.inst("secondary").MSDB()
	fromMirror := 0
	for _, b := range sec.BackupSets {
		if b.ServerName == "SQLA2" && b.Type == "L" {
			fromMirror++
		}
	}
	if fromMirror == 0 {
		t.Fatal("secondary restored nothing from the new principal")
	}
	for _, h := range sec.LSHistoryDetail {
		if h.SessionStatus == 3 {
			t.Fatalf("log shipping error after a mirroring failover: %s", h.Message)
		}
	}
	// The partners disconnected: FAILOVER needs both.
	f.inject(Fault{Kind: FaultCut, Target: "principal", Peer: "mirror"})
	f.advance(time.Second)
	wantErrs(t, m.SetPartner("mgc", "FAILOVER", 0), 1447, 5069)
}

func TestTailLogBackupRefusedWhileMirrored(t *testing.T) {
	f := newFixture(t, nil)
	f.advance(10 * time.Second)
	p := f.session("principal", sa)
	wantErrs(t, p.BackupLog("mgc", `\\labshare\logship\mgc\tail.trn`, BackupOptions{NoRecovery: true}), 1468, 3013)
	if err := p.BackupLog("mgc", `\\labshare\logship\mgc\plain.trn`, BackupOptions{}); err != nil {
		t.Fatalf("plain log backup of a mirrored principal: %v", err)
	}
	wantErrs(t, p.SetPartner("mgc", "BOGUS", 1), 102)
	if err := p.SetPartner("mgc", "OFF", 0); err != nil {
		t.Fatalf("partner off: %v", err)
	}
	if d := f.db("mirror", "mgc"); d.Mirroring != nil || d.State != StateRestoring {
		t.Fatalf("old mirror after OFF: %+v", d)
	}
	if err := p.BackupLog("mgc", `\\labshare\logship\mgc\tail.trn`, BackupOptions{NoRecovery: true}); err != nil {
		t.Fatalf("tail after OFF: %v", err)
	}
	d := f.db("principal", "mgc")
	if d.State != StateRestoring {
		t.Fatalf("principal after tail backup: %s", d.State)
	}
	h, err := p.RestoreHeaderOnly(`\\labshare\logship\mgc\tail.trn`)
	if err != nil || !h.IsForceOffline || h.LastLSN.Cmp(d.EndOfLogLSN) != 0 {
		t.Fatalf("tail header %+v, %v", h, err)
	}
	_, err = f.session("principal", monitor).RestoreHeaderOnly(`\\labshare\logship\mgc\tail.trn`)
	wantErrs(t, err, 262, 3013)
}

func TestAlterDatabaseInsideMirroring(t *testing.T) {
	f := newFixture(t, nil)
	p, m := f.session("principal", sa), f.session("mirror", sa)
	wantErrs(t, p.AlterDatabase("mgc", SetSingleUser, true), 1468, 5069)
	wantErrs(t, p.AlterDatabase("mgc", SetOffline, false), 1468, 5069)
	wantErrs(t, m.AlterDatabase("mgc", SetOffline, false), 5052, 5069)
	wantErrs(t, f.session("principal", monitor).AlterDatabase("mgc", SetOffline, false), 5011, 5069)
	if err := p.SetPartner("mgc", "OFF", 0); err != nil {
		t.Fatal(err)
	}
	other := f.session("principal", sa)
	if err := other.Use("mgc"); err != nil {
		t.Fatal(err)
	}
	wantErrs(t, p.AlterDatabase("mgc", SetOffline, false), 5061, 5069)
	if err := p.AlterDatabase("mgc", SetOffline, true); err != nil {
		t.Fatalf("offline with rollback immediate: %v", err)
	}
	if !other.Killed() {
		t.Fatal("session in the database survived ROLLBACK IMMEDIATE")
	}
	wantErrs(t, f.session("principal", sa).Use("mgc"), 942)
	if _, err := f.inst("principal").Connect(sa, "mgc", nil); err == nil {
		t.Fatal("login into an OFFLINE database succeeded")
	} else {
		wantErrs(t, err, 4060, 18456)
	}
	if err := p.AlterDatabase("mgc", SetOnline, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.InsertMessage("mgc", "back"); err != nil {
		t.Fatalf("insert after ONLINE: %v", err)
	}
}

// Found by TestPropertyRandomFaults: an old principal that comes back after an
// automatic failover must not be writable before it learns it was replaced.
func TestReturningPrincipalIsNeverWritableNextToTheNewOne(t *testing.T) {
	f := newFixture(t, func(c *Config) { *c = c.WithWitness(); c.Databases = []string{"mgc"} })
	f.advance(2 * time.Second)
	id := f.inject(Fault{Kind: FaultDown, Target: "principal"})
	f.advance(12 * time.Second)
	if r := f.db("mirror", "mgc").Mirroring.Role; r != RolePrincipal {
		t.Fatalf("no automatic failover: %s", r)
	}
	// The old principal returns while its link to the new principal is still cut:
	// only the witness can tell it.
	f.inject(Fault{Kind: FaultCut, Target: "principal", Peer: "mirror"})
	if err := f.topo.Heal(id); err != nil {
		t.Fatal(err)
	}
	old := f.db("principal", "mgc")
	if old.Available == nil || old.Available.Number != 955 {
		t.Fatalf("returning principal writable before any exchange: %+v", old.Available)
	}
	f.advance(time.Second)
	old = f.db("principal", "mgc")
	if old.Mirroring.Role != RoleMirror || old.State != StateRestoring {
		t.Fatalf("the witness did not demote the old principal: %+v %+v", old, old.Mirroring)
	}
	// A hung new principal: the old one takes over again; when the hung one wakes
	// up it must not serve next to it.
	f.topo.HealAll()
	f.advance(3 * time.Second)
	hung := f.inject(Fault{Kind: FaultHung, Target: "mirror"})
	f.advance(12 * time.Second)
	if r := f.db("principal", "mgc").Mirroring.Role; r != RolePrincipal {
		t.Fatalf("no failover away from the hung principal: %s", r)
	}
	if err := f.topo.Heal(hung); err != nil {
		t.Fatal(err)
	}
	if av := f.db("mirror", "mgc").Available; av == nil {
		t.Fatal("woken principal writable before it learned of the failover")
	}
	f.advance(time.Second)
	if d := f.db("mirror", "mgc"); d.Mirroring.Role != RoleMirror || d.State != StateRestoring {
		t.Fatalf("woken principal: %+v", d.Mirroring)
	}
}

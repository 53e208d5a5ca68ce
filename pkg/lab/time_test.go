package lab

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestBackupTimesAcrossDaylightSaving(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Databases = []string{"mgc"} })
	f.advance(70 * time.Minute) // New York springs forward at 07:00 UTC
	var before, after, unknown int
	var prevUTC time.Time
	for _, b := range f.inst("principal").MSDB().BackupSets {
		if b.Type != "L" {
			continue
		}
		if b.TimeZone == 127 {
			unknown++
			continue
		}
		switch b.TimeZone {
		case -20:
			before++
		case -16:
			after++
		default:
			t.Fatalf("time_zone %d", b.TimeZone)
		}
		// UTC = local - time_zone * 15 min (SQLSERVER.md §8 Q11), monotonic and
		// inside the simulated window.
		wall := time.Date(b.Finish.Year(), b.Finish.Month(), b.Finish.Day(), b.Finish.Hour(), b.Finish.Minute(), b.Finish.Second(), b.Finish.Nanosecond(), time.UTC)
		utc := wall.Add(-time.Duration(b.TimeZone) * 15 * time.Minute)
		if utc.Before(prevUTC) || utc.Before(f.topo.Config().Start) || utc.After(f.topo.Now()) {
			t.Fatalf("backup %d: local %v tz %d gives UTC %v (previous %v)", b.BackupSetID, b.Finish, b.TimeZone, utc, prevUTC)
		}
		prevUTC = utc
	}
	if before == 0 || after == 0 || unknown == 0 {
		t.Fatalf("EST rows %d, EDT rows %d, unknown %d: want all three", before, after, unknown)
	}
}

func TestClocks(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := clocktesting.NewFakeClock(time.Date(2030, 5, 5, 5, 5, 5, 0, time.UTC))
	sc, err := NewScaledClock(fake, start, 60)
	if err != nil {
		t.Fatal(err)
	}
	fake.Step(2 * time.Second)
	if got := sc.Now(); !got.Equal(start.Add(2 * time.Minute)) {
		t.Fatalf("speed 60: %v after 2s, want %v", got, start.Add(2*time.Minute))
	}
	if sc.RealDuration(time.Minute) != time.Second {
		t.Fatal("RealDuration")
	}
	if _, err := NewScaledClock(fake, start, 0); err == nil {
		t.Fatal("speed 0 accepted")
	}
	mc := NewManualClock(start)
	mc.Advance(time.Hour)
	if !mc.Now().Equal(start.Add(time.Hour)) {
		t.Fatal("manual clock")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("negative advance did not panic")
		}
	}()
	mc.Advance(-time.Second)
}

func TestForcedServiceLosesUnsentRows(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Databases = []string{"mgc"}
		c.Safety = "OFF"
		c.AsyncDelay = 5 * time.Second
	})
	f.advance(time.Minute)
	f.inject(Fault{Kind: FaultSiteDown, Target: "A"})
	f.topo.HealAll()
	// The principal alone is gone; the mirror trails by about async_delay.
	f.inject(Fault{Kind: FaultDown, Target: "principal"})
	f.advance(time.Second)
	principalRows := f.db("principal", "mgc").MaxID
	m := f.session("mirror", sa)
	if err := m.SetPartner("mgc", "FORCE_SERVICE_ALLOW_DATA_LOSS", 0); err != nil {
		t.Fatal(err)
	}
	got, err := m.Messages("mgc")
	if err != nil {
		t.Fatal(err)
	}
	lost := principalRows - got[len(got)-1].ID
	if lost < 3 || lost > 7 {
		t.Fatalf("lost %d rows; want about async_delay (5s) of 1 row/s", lost)
	}
	d := f.db("mirror", "mgc")
	if d.ForkGUID == d.FirstForkGUID || d.ForkPointLSN.IsZero() {
		t.Fatalf("forced service did not start a new fork: %+v", d)
	}
	// The old principal returns: it becomes a suspended mirror, its extra rows are
	// discarded on RESUME.
	f.topo.HealAll()
	f.advance(2 * time.Second)
	old := f.db("principal", "mgc")
	if old.Mirroring.Role != RoleMirror || old.Mirroring.State != MirrorSuspended {
		t.Fatalf("old principal: %+v", old.Mirroring)
	}
	if err := m.SetPartner("mgc", "RESUME", 0); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Second)
	old, now := f.db("principal", "mgc"), f.db("mirror", "mgc")
	// SAFETY OFF: the mirror trails, but on the new principal's fork.
	if old.EndOfLogLSN.Cmp(now.EndOfLogLSN) > 0 || old.ForkGUID != now.ForkGUID || old.MaxID > now.MaxID || old.State != StateRestoring {
		t.Fatalf("after resume: old %s/%d, new %s/%d", old.EndOfLogLSN, old.MaxID, now.EndOfLogLSN, now.MaxID)
	}
}

func TestRetentionBoundsHistory(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Databases = []string{"mgc"}
		c.HistoryRetention = time.Hour
		c.FileRetention = 2 * time.Hour
	})
	f.advance(5 * time.Hour)
	sec := f.inst("secondary").MSDB()
	if n := len(sec.RestoreHistory); n < 50 || n > 70 {
		t.Fatalf("restorehistory keeps %d rows; want about one hour (60)", n)
	}
	for _, r := range sec.RestoreHistory {
		found := false
		for _, b := range sec.BackupSets {
			found = found || b.BackupSetID == r.BackupSetID
		}
		if !found {
			t.Fatalf("restorehistory %d lost its backupset", r.RestoreHistoryID)
		}
	}
	if n := len(shareLogFiles(f, "mgc")); n < 100 || n > 130 {
		t.Fatalf("share keeps %d files; want about two hours (120)", n)
	}
	// Shipping goes on after pruning.
	before := f.db("secondary", "mgc").RedoStartLSN
	f.advance(3 * time.Minute)
	if f.db("secondary", "mgc").RedoStartLSN.Cmp(before) <= 0 {
		t.Fatal("log shipping stalled after pruning")
	}
}

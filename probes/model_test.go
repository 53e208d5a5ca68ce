package probes

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) // controller clock at the healthy probe

func upInstance(t *testing.T, name string, site Site, role Role, sets []ResultSet, rtt time.Duration) InstanceSnapshot {
	t.Helper()
	p, err := parseBatch(buildBatch(role, 1, DefaultRecentBackups), []string{"mgc"}, sets)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return InstanceSnapshot{Name: name, Site: site, Role: role, Reachability: ReachUp,
		Started: t0, Received: t0.Add(rtt), RTT: rtt,
		ServerName: p.serverName, Version: p.version, ServerUTC: p.serverUTC, Databases: p.databases}
}

func downInstance(name string, site Site, role Role, at time.Time) InstanceSnapshot {
	return InstanceSnapshot{Name: name, Site: site, Role: role, Reachability: ReachUnreachable,
		Started: at, Received: at.Add(5 * time.Second), RTT: 5 * time.Second, Err: "dial tcp: connection refused"}
}

func healthySnapshot(t *testing.T) *Snapshot {
	s := &Snapshot{Time: t0, Instances: []InstanceSnapshot{
		upInstance(t, "sqla", SiteA, RolePartner, principalSets(ts("2026-11-28 12:12:00")), 20*time.Millisecond),
		upInstance(t, "sqlb", SiteA, RolePartner, mirrorSets(ts("2026-11-28 12:12:00"), false), 20*time.Millisecond),
		upInstance(t, "sqlc", SiteB, RoleSecondary, secondarySets(ts("2026-11-28 12:12:30"), int64(-20)), 40*time.Millisecond),
	}}
	derivePending(s)
	return s
}

func TestSnapshotHelpers(t *testing.T) {
	s := healthySnapshot(t)
	p, d, ok := s.Principal("MGC")
	if !ok || p.Name != "sqla" || d.Mirroring.Role != MirroringRolePrincipal || s.PrincipalClaims("mgc") != 1 {
		t.Fatalf("principal = %v %v", p, ok)
	}
	if in, ok := s.Instance("sqlc"); !ok || in.Role != RoleSecondary {
		t.Error("Instance(sqlc)")
	}
	if _, ok := s.Instance("nope"); ok {
		t.Error("Instance(nope) found")
	}
	if !s.AnyUp(SiteA) || !s.AnyAlive(SiteB) || s.AnyUp("C") {
		t.Error("AnyUp/AnyAlive")
	}
	if w := s.WritableCopies("mgc"); len(w) != 1 || w[0].Name != "sqla" {
		t.Errorf("writable copies = %v", w)
	}
	s.Instances[0] = downInstance("sqla", SiteA, RolePartner, t0)
	if _, _, ok := s.Principal("mgc"); ok {
		t.Error("a mirror seen by a monitoring login must not count as principal")
	}
	s.Instances[1].Reachability = ReachRefusing
	if s.AnyUp(SiteA) || !s.AnyAlive(SiteA) {
		t.Error("a refusing instance is alive, not up")
	}
}

func TestClockOffset(t *testing.T) {
	in := InstanceSnapshot{Reachability: ReachUp, Started: t0, RTT: 100 * time.Millisecond,
		ServerUTC: t0.Add(10*time.Minute + 50*time.Millisecond)}
	off, unc, ok := in.ClockOffset()
	if !ok || off != 10*time.Minute || unc != 50*time.Millisecond {
		t.Errorf("offset = %v ± %v (%v)", off, unc, ok)
	}
	in.Reachability = ReachUnreachable
	if _, _, ok := in.ClockOffset(); ok {
		t.Error("offset of a down instance must be unknown")
	}
}

func TestComputeLagHealthy(t *testing.T) {
	s := healthySnapshot(t)
	lag := ComputeLag(s, "mgc")
	want := Lag{Database: "mgc",
		BackupAge:         Figure{Value: 2 * time.Minute, Known: true, Source: "sqla"},
		CopyAge:           Figure{Value: 6*time.Minute + 30*time.Second, Known: true, Source: "sqlc"},
		RestoreAge:        Figure{Value: 10*time.Minute + 30*time.Second, Known: true, Source: "sqlc"},
		UnrestoredFiles:   2,
		CopiedNotRestored: 1,
		UnrestoredKnown:   true,
	}
	if !reflect.DeepEqual(lag, want) {
		t.Fatalf("lag =\n%+v\nwant\n%+v", lag, want)
	}
	if lag.RestoreLatency.Known {
		t.Error("NULL latency must be unknown, not zero")
	}
}

func TestComputeLagClockSkew(t *testing.T) {
	// The secondary's clock runs 10 minutes fast: its own timestamps and its SYSUTCDATETIME move
	// together, so ages measured on its clock do not change; the controller's clock is not involved.
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		s := healthySnapshot(t)
		sec := &s.Instances[2]
		sec.ServerUTC = sec.ServerUTC.Add(skew)
		ls := sec.Databases[0].LSSecondary
		ls.LastCopiedUTC, ls.LastRestoredUTC = ls.LastCopiedUTC.Add(skew), ls.LastRestoredUTC.Add(skew)
		lag := ComputeLag(s, "mgc")
		if lag.CopyAge.Value != 6*time.Minute+30*time.Second || lag.RestoreAge.Value != 10*time.Minute+30*time.Second {
			t.Errorf("skew %v: ages %v %v", skew, lag.CopyAge.Value, lag.RestoreAge.Value)
		}
		if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known || w.Value != 7*time.Minute {
			t.Errorf("skew %v: window %+v, want 7m on the primary's clock", skew, w)
		}
	}
}

func TestComputeLagMissingAndMonitor(t *testing.T) {
	s := healthySnapshot(t)
	s.Instances[0] = downInstance("sqla", SiteA, RolePartner, t0)
	s.Instances[2] = downInstance("sqlc", SiteB, RoleSecondary, t0)
	lag := ComputeLag(s, "mgc")
	if lag.BackupAge.Known || lag.CopyAge.Known || lag.RestoreAge.Known || lag.UnrestoredKnown {
		t.Fatalf("missing readings must be unknown: %+v", lag)
	}
	// A monitor server still holds both rows: used, marked as from the monitor with their age.
	mon := upInstance(t, "mon", "C", RoleMonitor, []ResultSet{
		instanceSet("MON", ts("2026-11-28 12:20:00")),
		{Columns: databasesCols},
		principalSets(ts("2026-11-28 12:12:00"))[2],
		lsPrimaryConfigEmpty(),
		secondarySets(ts("2026-11-28 12:12:30"), int64(-20))[4],
		lsSecondaryConfigEmpty(), jobsEmpty(),
	}, time.Millisecond)
	s.Instances = append(s.Instances, mon)
	lag = ComputeLag(s, "mgc")
	if !lag.BackupAge.Known || !lag.BackupAge.FromMonitor || lag.BackupAge.Value != 10*time.Minute || lag.BackupAge.Source != "mon" ||
		lag.BackupAge.SourceAge != 10*time.Minute {
		t.Errorf("backup age from monitor = %+v", lag.BackupAge)
	}
	if !lag.CopyAge.FromMonitor || lag.CopyAge.Value != 14*time.Minute {
		t.Errorf("copy age from monitor = %+v", lag.CopyAge)
	}
}

func TestPendingAndHeld(t *testing.T) {
	s := healthySnapshot(t)
	sd := &s.Instances[2].Databases[0]
	if len(sd.PendingLogs) != 2 || !sd.PendingLogs[0].Copied || sd.PendingLogs[1].Copied ||
		sd.PendingLogs[0].Backup.FirstLSN.String() != lsn2 {
		t.Fatalf("pending = %+v", sd.PendingLogs)
	}
	held, ok := HeldAfterFinalRestore(sd, sd.PendingLogs)
	if !ok || held.LastLSN.String() != lsn3 {
		t.Errorf("held = %+v, want the copied backup ending at %s", held, lsn3)
	}
	// A gap: backup 2 missing from the principal's history (taken outside log shipping, or lost).
	backups := s.Instances[0].Databases[0].RecentLogBackups
	gapped := []LogBackup{backups[0], backups[2]}
	p := Pending(gapped, RestorePosition(sd), `mgc_20261128121000.trn`)
	held, _ = HeldAfterFinalRestore(sd, p)
	if held.LastLSN.String() != lsn2 {
		t.Errorf("with a gap the secondary holds only what it restored: %s", held.LastLSN)
	}
	if Pending(backups, LSN{}, "x") != nil {
		t.Error("unknown position must give unknown (nil) pending")
	}
	if p := Pending(backups, MustParseLSN(lsn4), "x"); p == nil || len(p) != 0 {
		t.Error("caught up must give an empty, known list")
	}
	copyOnly := append([]LogBackup(nil), backups...)
	copyOnly[0].CopyOnly = true
	if p := Pending(copyOnly, RestorePosition(sd), ""); len(p) != 1 {
		t.Errorf("copy-only backups do not count: %d", len(p))
	}
}

func TestDataLossWindowLiveAndFrozen(t *testing.T) {
	s := healthySnapshot(t)
	w := DataLossWindow(s, "mgc", LastGood{}, time.Time{})
	// Uncertainty: half the principal's round trip (10ms) + partner skew (same clocks: spread 0, plus
	// the 10ms uncertainty of each offset estimate).
	if !w.Known || w.Frozen || w.Value != 7*time.Minute || w.Uncertainty != 20*time.Millisecond {
		t.Fatalf("live window = %+v, want 7m (12:12 − 12:05) ± 20ms", w)
	}
	last := UpdateLastGood(LastGood{}, s, "mgc")
	if last.Instance != "sqla" || !last.PrincipalUTC.Equal(ts("2026-11-28 12:12:00")) || last.ObservedAt != t0.Add(20*time.Millisecond) {
		t.Fatalf("last good = %+v", last)
	}

	// The outage: site A unreachable; the first failed probe is 30s after the last good answer.
	firstFailed := last.ObservedAt.Add(30 * time.Second)
	out := healthySnapshot(t)
	out.Time = firstFailed
	out.Instances[0] = downInstance("sqla", SiteA, RolePartner, firstFailed)
	out.Instances[1] = downInstance("sqlb", SiteA, RolePartner, firstFailed)
	derivePending(out)
	if got := UpdateLastGood(last, out, "mgc"); !reflect.DeepEqual(got, last) {
		t.Error("a failed probe must keep the last good observation")
	}
	if lag := ComputeLag(out, "mgc"); lag.UnrestoredKnown {
		t.Errorf("without a principal and without the last good observation: %+v", lag)
	}
	if lag := ComputeLagWith(out, "mgc", last); !lag.UnrestoredKnown || !lag.UnrestoredFromLastGood ||
		lag.UnrestoredFiles != 2 || lag.CopiedNotRestored != 1 || lag.BackupAge.Known {
		t.Errorf("lag during the outage from the last good observation = %+v", lag)
	}
	if lag := ComputeLagWith(healthySnapshot(t), "mgc", last); lag.UnrestoredFromLastGood || lag.UnrestoredFiles != 2 {
		t.Errorf("live lag must not use the last good observation: %+v", lag)
	}
	w = DataLossWindow(out, "mgc", last, time.Time{})
	if !w.Known || !w.Frozen || w.Value != 7*time.Minute+30*time.Second || w.Uncertainty != 30*time.Second+20*time.Millisecond {
		t.Fatalf("frozen window = %+v, want 7m30s ± 30.02s", w)
	}
	// Ten minutes later the window has not grown.
	later := *out
	later.Time = firstFailed.Add(10 * time.Minute)
	if w2 := DataLossWindow(&later, "mgc", last, firstFailed); w2 != w {
		t.Errorf("window grew during the outage: %+v vs %+v", w2, w)
	}
	// No last good observation (e.g. started during the outage without state): unknown, never zero.
	if w := DataLossWindow(out, "mgc", LastGood{}, firstFailed); w.Known {
		t.Errorf("window without a last good = %+v", w)
	}
}

func TestDataLossWindowPartnerSkew(t *testing.T) {
	// The mirror's clock is 10 minutes behind the principal's: R may come from either clock after a
	// failover, so the skew is part of the uncertainty, and it is remembered in the last good
	// observation for the outage.
	s := healthySnapshot(t)
	s.Instances[1].ServerUTC = s.Instances[1].ServerUTC.Add(-10 * time.Minute)
	skew, ok := s.PartnerSkew()
	if !ok || skew != 10*time.Minute+10*time.Millisecond {
		t.Fatalf("partner skew = %v %v", skew, ok)
	}
	w := DataLossWindow(s, "mgc", LastGood{}, time.Time{})
	if w.Value != 7*time.Minute || w.Uncertainty != 10*time.Minute+20*time.Millisecond {
		t.Errorf("live window with skew = %+v", w)
	}
	last := UpdateLastGood(LastGood{}, s, "mgc")
	// Next cycle the mirror is down: the skew cannot be measured, the remembered one is used.
	s.Instances[1] = downInstance("sqlb", SiteA, RolePartner, t0)
	if _, ok := s.PartnerSkew(); ok {
		t.Error("skew needs two partners")
	}
	last = UpdateLastGood(last, s, "mgc")
	if last.PartnerSkew != 10*time.Minute+10*time.Millisecond {
		t.Errorf("remembered skew = %v", last.PartnerSkew)
	}
	if w := DataLossWindow(s, "mgc", last, time.Time{}); w.Uncertainty != 10*time.Minute+20*time.Millisecond {
		t.Errorf("live window with remembered skew = %+v", w)
	}
}

func TestDataLossWindowUnknowns(t *testing.T) {
	s := healthySnapshot(t)
	s.Instances[0].Databases[0].RecentLogBackups[1].FinishUTC = time.Time{} // the held backup had time_zone 127
	derivePending(s)
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); w.Known {
		t.Errorf("tz 127 on R: window %+v, want unknown", w)
	}
	s = healthySnapshot(t)
	s.Instances[2].Databases[0].NewestRestoredLog = nil
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); w.Known {
		t.Errorf("nothing restored: %+v", w)
	}
	s = healthySnapshot(t)
	s.Instances[2] = downInstance("sqlc", SiteB, RoleSecondary, t0)
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); w.Known {
		t.Errorf("secondary down: %+v", w)
	}
}

func TestDataLossWindowChainBrokenOutsideLogShipping(t *testing.T) {
	s := healthySnapshot(t)
	// Backup 2 was taken outside log shipping: the secondary can hold only what it restored (backup 1,
	// finished 12:00 UTC), so the window is 12 minutes, not 7.
	s.Instances[0].Databases[0].RecentLogBackups[1].OutsideLogShipping = true
	derivePending(s)
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known || w.Value != 12*time.Minute {
		t.Errorf("window = %+v, want 12m", w)
	}
	if lag := ComputeLag(s, "mgc"); lag.UnrestoredFiles != 2 || lag.CopiedNotRestored != 0 {
		t.Errorf("lag = %+v", lag)
	}
}

func TestGroupWindow(t *testing.T) {
	a := Window{Value: time.Minute, Uncertainty: time.Second, Known: true}
	b := Window{Value: 3 * time.Minute, Uncertainty: 0, Known: true, Frozen: true}
	g := GroupWindow([]Window{a, b})
	if !g.Known || g.Value != 3*time.Minute || g.Uncertainty != time.Second || !g.Frozen {
		t.Errorf("group = %+v", g)
	}
	if g := GroupWindow([]Window{a, {Reason: "x"}}); g.Known {
		t.Error("an unknown member makes the group unknown")
	}
	if g := GroupWindow(nil); g.Known {
		t.Error("empty group is unknown")
	}
}

func TestFollowsMirroringFailover(t *testing.T) {
	s := healthySnapshot(t)
	// SQLB took over (role sequence 4) and backs up; SQLA is now the mirror.
	b := principalSets(ts("2026-11-28 12:30:00"))
	b[0] = instanceSet("SQLB", ts("2026-11-28 12:30:00"))
	b[1].Rows[0][8] = int64(1)
	b[1].Rows[0][9] = int64(4)
	b[2].Rows[0][1] = "SQLB"
	b[2].Rows[0][6] = ts("2026-11-28 12:29:00")
	for _, r := range b[7].Rows {
		r[1] = "SQLB"
	}
	s.Instances[1] = upInstance(t, "sqlb", SiteA, RolePartner, b, time.Millisecond)
	a := mirrorSets(ts("2026-11-28 12:30:00"), true)
	a[1].Rows[0][9] = int64(4)
	s.Instances[0] = upInstance(t, "sqla", SiteA, RolePartner, a, time.Millisecond)
	p, _, ok := s.Principal("mgc")
	if !ok || p.Name != "sqlb" {
		t.Fatalf("principal after failover = %v", p)
	}
	if lag := ComputeLag(s, "mgc"); lag.BackupAge.Source != "sqlb" || lag.BackupAge.Value != time.Minute {
		t.Errorf("backup age after failover = %+v", lag.BackupAge)
	}
	// A stale old principal still claiming the role loses to the higher role sequence.
	s.Instances[0] = upInstance(t, "sqla", SiteA, RolePartner, principalSets(ts("2026-11-28 12:30:00")), time.Millisecond)
	if p, _, _ := s.Principal("mgc"); p.Name != "sqlb" || s.PrincipalClaims("mgc") != 2 {
		t.Errorf("two claims: principal %s, claims %d", p.Name, s.PrincipalClaims("mgc"))
	}
}

func TestPendingAcrossFailover(t *testing.T) {
	// SQLA took backups 1–2 (07:00, 07:05 EST) before failing over; SQLB, now principal, took backup 3
	// (12:10 UTC). The secondary restored 1 and copied 2: the pending list spans both partners.
	s := healthySnapshot(t)
	a := principalSets(ts("2026-11-28 12:12:00"))
	a[7].Rows = a[7].Rows[2:]  // SQLA holds only backups 2 and 1
	a[1].Rows[0][8] = int64(2) // now the mirror
	a[1].Rows[0][1] = "RESTORING"
	b := principalSets(ts("2026-11-28 12:12:00"))
	b[0] = instanceSet("SQLB", ts("2026-11-28 12:12:00"))
	b[1].Rows[0][9] = int64(4)
	b[7].Rows = [][]any{{"mgc", "SQLB", int64(3), dec(lsn3), dec(lsn4), ts("2026-11-28 07:10:00"), int64(-20), nil, nil, false, `\\share\mgc\mgc_20261128121000.trn`}}
	s.Instances[0] = upInstance(t, "sqla", SiteA, RolePartner, a, time.Millisecond)
	s.Instances[1] = upInstance(t, "sqlb", SiteA, RolePartner, b, time.Millisecond)
	s.Instances[2].Databases[0].PendingLogs = nil
	derivePending(s)
	if p, _, _ := s.Principal("mgc"); p.Name != "sqlb" {
		t.Fatalf("principal = %s", p.Name)
	}
	all := PartnerBackups(s, "mgc")
	if len(all) != 3 || all[0].Server != "SQLA" || all[2].Server != "SQLB" {
		t.Fatalf("partner backups = %+v", all)
	}
	pend := s.Instances[2].Databases[0].PendingLogs
	if len(pend) != 2 || pend[0].Backup.Server != "SQLA" || !pend[0].Copied || pend[1].Backup.Server != "SQLB" || pend[1].Copied {
		t.Fatalf("pending = %+v", pend)
	}
	if w := DataLossWindow(s, "mgc", LastGood{}, time.Time{}); !w.Known || w.Value != 7*time.Minute {
		t.Errorf("window across failover = %+v, want 7m (R = SQLA's copied backup 2 at 12:05)", w)
	}
}

func TestForkMismatch(t *testing.T) {
	s := healthySnapshot(t)
	pd, sd := &s.Instances[0].Databases[0], &s.Instances[2].Databases[0]
	if ForkMismatch(pd, sd) {
		t.Fatal("same fork reported as mismatch")
	}
	fork, _ := ParseGUID(newForkGUID)
	for i := range pd.RecentLogBackups {
		pd.RecentLogBackups[i].FirstForkGUID = fork
	}
	if !ForkMismatch(pd, sd) {
		t.Error("the next backup on another fork must be a mismatch")
	}
	pd.RecentLogBackups = nil
	pd.RecoveryForkGUID = fork
	if !ForkMismatch(pd, sd) {
		t.Error("principal on another fork with no pending backup must be a mismatch")
	}
	sd.RedoStartForkGUID = GUID{}
	if ForkMismatch(pd, sd) {
		t.Error("unknown fork must not be a mismatch")
	}
}

func TestLastGoodJSONRoundTrip(t *testing.T) {
	last := UpdateLastGood(LastGood{}, healthySnapshot(t), "mgc")
	b, err := json.Marshal(last)
	if err != nil {
		t.Fatal(err)
	}
	var back LastGood
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, last) {
		t.Errorf("round trip:\n%+v\n%+v", back, last)
	}
	if n := len(back.RecentLogBackups); n != 3 || back.RecentLogBackups[n-1].LastLSN.String() != lsn4 {
		t.Error("LSN above 2^63 must survive JSON exactly")
	}
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	s := healthySnapshot(t)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Reachability":"up"`, `"Role":"partner"`, `"State":"RESTORING"`, `"Visibility":"not_visible"`,
		`"Role":"PRINCIPAL"`, `"State":"SYNCHRONIZED"`, `"Safety":"FULL"`, `"WitnessState":"CONNECTED"`, `"FailoverLSN":"18446744073709551617"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("snapshot JSON lacks %s", want)
		}
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i := range back.Instances {
		back.Instances[i].byName = s.Instances[i].byName
	}
	if !reflect.DeepEqual(&back, s) {
		t.Error("snapshot does not survive a JSON round trip")
	}
	var r Reachability
	if err := r.UnmarshalText([]byte("sideways")); err == nil {
		t.Error("unknown reachability accepted")
	}
	if _, err := Reachability(99).MarshalText(); err == nil {
		t.Error("invalid reachability marshalled")
	}
}

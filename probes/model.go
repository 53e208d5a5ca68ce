package probes

import (
	"sort"
	"strings"
	"time"
)

// The data-loss model (DESIGN.md "Safety model"), as pure functions over snapshots. Every age is the
// difference of two timestamps from the same server, never the controller's clock minus a server's.
// A reading that is missing or cannot be trusted gives an unknown Figure, never zero.

// Figure is a duration that may be unknown.
type Figure struct {
	// Value is meaningful only when Known.
	Value time.Duration
	// Known is false when a reading was missing (instance down, NULL column, time_zone 127, …).
	Known bool
	// Source is the configured name of the instance whose clock and rows produced the figure.
	Source string
	// FromMonitor marks a figure taken from the log-shipping monitor server, a second source that
	// may be stale; SourceAge then says how old the underlying reading was on the monitor's clock.
	FromMonitor bool
	// SourceAge is, for a monitor figure, the age of the monitor row's timestamp on its own clock.
	SourceAge time.Duration
}

func known(d time.Duration, source string) Figure {
	return Figure{Value: d, Known: true, Source: source}
}

// Lag holds the log-shipping figures of one protected database.
type Lag struct {
	// Database is the protected database name.
	Database string
	// BackupAge is now − last log backup, both on the current principal's clock (or the monitor's).
	BackupAge Figure
	// CopyAge is now − last copy, both on the secondary's clock (or the monitor's).
	CopyAge Figure
	// RestoreAge is now − last restore, both on the secondary's clock (or the monitor's). It is not data
	// staleness: a restore that found no new file still counts (SQLSERVER.md §3.4(a)).
	RestoreAge Figure
	// RestoreLatency is log_shipping_monitor_secondary.last_restored_latency.
	RestoreLatency Figure
	// UnrestoredFiles is the number of the principal's log backups the secondary has not restored;
	// valid when UnrestoredKnown.
	UnrestoredFiles int
	// CopiedNotRestored is how many of those are already copied.
	CopiedNotRestored int
	// UnrestoredKnown is false when the principal's backup history or the secondary's position is
	// missing.
	UnrestoredKnown bool
	// UnrestoredFromLastGood marks counts computed from the last good observation (outage).
	UnrestoredFromLastGood bool
}

// ComputeLag derives the lag figures of a database from one snapshot. The backup age is read from the
// partner that is principal now; when no principal answered, from the monitor server, marked so.
func ComputeLag(s *Snapshot, db string) Lag { return ComputeLagWith(s, db, LastGood{}) }

// ComputeLagWith is ComputeLag, except that when no principal answered in s (an outage), the
// unrestored-file counts are taken from the last good observation of the principal's backups
// (UnrestoredFromLastGood marks it): what the secondary still lacks of what was last seen.
func ComputeLagWith(s *Snapshot, db string, last LastGood) Lag {
	lag := Lag{Database: db}
	if p, pd, ok := s.Principal(db); ok && pd.LSPrimary != nil && !pd.LSPrimary.LastBackupUTC.IsZero() {
		lag.BackupAge = known(p.ServerUTC.Sub(pd.LSPrimary.LastBackupUTC), p.Name)
	} else if m, md := monitorDB(s, db); md != nil && md.LSPrimary != nil && !md.LSPrimary.LastBackupUTC.IsZero() {
		age := m.ServerUTC.Sub(md.LSPrimary.LastBackupUTC)
		lag.BackupAge = Figure{Value: age, Known: true, Source: m.Name, FromMonitor: true, SourceAge: age}
	}
	sec, sd := secondaryDB(s, db)
	var ls *LSSecondaryMonitor
	src, srcFromMonitor := "", false
	var srcUTC time.Time
	if sd != nil && sd.LSSecondary != nil {
		ls, src, srcUTC = sd.LSSecondary, sec.Name, sec.ServerUTC
	} else if m, md := monitorDB(s, db); md != nil && md.LSSecondary != nil {
		ls, src, srcUTC, srcFromMonitor = md.LSSecondary, m.Name, m.ServerUTC, true
	}
	if ls != nil {
		mk := func(t time.Time) Figure {
			if t.IsZero() {
				return Figure{}
			}
			f := known(srcUTC.Sub(t), src)
			if srcFromMonitor {
				f.FromMonitor, f.SourceAge = true, f.Value
			}
			return f
		}
		lag.CopyAge = mk(ls.LastCopiedUTC)
		lag.RestoreAge = mk(ls.LastRestoredUTC)
		if ls.LatencyKnown {
			lag.RestoreLatency = known(ls.LastRestoredLatency, src)
			lag.RestoreLatency.FromMonitor = srcFromMonitor
		}
	}
	pending := []PendingLog(nil)
	if sd != nil {
		pending = sd.PendingLogs
		if _, _, live := s.Principal(db); pending == nil && !live && !last.IsZero() && strings.EqualFold(last.Database, db) {
			lastCopied := ""
			if sd.LSSecondary != nil {
				lastCopied = sd.LSSecondary.LastCopiedFile
			}
			pending = Pending(last.RecentLogBackups, RestorePosition(sd), lastCopied)
			lag.UnrestoredFromLastGood = pending != nil
		}
	}
	if pending != nil {
		lag.UnrestoredKnown = true
		lag.UnrestoredFiles = len(pending)
		for _, p := range pending {
			if p.Copied {
				lag.CopiedNotRestored++
			}
		}
	}
	return lag
}

func secondaryDB(s *Snapshot, db string) (*InstanceSnapshot, *DatabaseSnapshot) {
	for _, in := range s.InstancesWith(RoleSecondary) {
		if !in.Up() {
			continue
		}
		if d, ok := in.Database(db); ok && (d.Exists || d.LSSecondary != nil) {
			return in, d
		}
	}
	return nil, nil
}

func monitorDB(s *Snapshot, db string) (*InstanceSnapshot, *DatabaseSnapshot) {
	for _, in := range s.InstancesWith(RoleMonitor) {
		if !in.Up() {
			continue
		}
		if d, ok := in.Database(db); ok {
			return in, d
		}
	}
	return nil, nil
}

// RestorePosition is the LSN the secondary's next log restore must contain: sys.master_files
// redo_start_lsn when present, else the last_lsn of the newest restored log backup. Zero when unknown.
func RestorePosition(d *DatabaseSnapshot) LSN {
	if !d.RedoStartLSN.IsZero() {
		return d.RedoStartLSN
	}
	if d.NewestRestoredLog != nil {
		return d.NewestRestoredLog.LastLSN
	}
	return LSN{}
}

// Pending returns the log backups (from the principal's history, newest first or in any order) that a
// secondary at restore position pos has not restored yet, oldest first: non-copy-only backups with
// last_lsn > pos (last_lsn is exclusive, SQLSERVER.md §3.3). Each is marked copied when its file name
// sorts at or before lastCopied's (log-shipping file names embed a UTC timestamp) and it was taken by
// log shipping (a backup outside log shipping is never copied). It returns nil when
// pos is unknown, and an empty non-nil slice when nothing is pending.
func Pending(backups []LogBackup, pos LSN, lastCopied string) []PendingLog {
	if pos.IsZero() {
		return nil
	}
	out := []PendingLog{}
	copiedBase := strings.ToLower(baseName(lastCopied))
	for _, b := range backups {
		if b.CopyOnly || b.LastLSN.IsZero() || b.LastLSN.Compare(pos) <= 0 {
			continue
		}
		copied := !b.OutsideLogShipping && copiedBase != "" && strings.ToLower(baseName(b.File)) <= copiedBase
		out = append(out, PendingLog{Backup: b, Copied: copied})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Backup.FirstLSN.Less(out[j].Backup.FirstLSN) })
	return out
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// HeldAfterFinalRestore returns the newest log backup the secondary will hold after restoring every
// copied file it can: starting from the newest restored backup, it walks the copied pending backups
// in LSN order while each one contains the current restore position (first_lsn <= pos < last_lsn);
// a gap or an uncopied file stops the walk. ok is false when nothing has been restored yet.
func HeldAfterFinalRestore(d *DatabaseSnapshot, pending []PendingLog) (LogBackup, bool) {
	if d.NewestRestoredLog == nil {
		return LogBackup{}, false
	}
	held := *d.NewestRestoredLog
	pos := RestorePosition(d)
	for _, p := range pending {
		b := p.Backup
		if !p.Copied || pos.IsZero() || b.FirstLSN.Compare(pos) > 0 || b.LastLSN.Compare(pos) <= 0 {
			break
		}
		held, pos = b, b.LastLSN
	}
	return held, true
}

// PartnerBackups returns the recent log backups of db taken by every site-A partner that answered,
// without duplicates, ordered by first LSN. Both partners are log-shipping primaries on the same
// share (SQLSERVER.md §2.5): after a mirroring failover the backups the secondary still needs may
// have been taken by either of them.
func PartnerBackups(s *Snapshot, db string) []LogBackup {
	out := append([]LogBackup{}, partnerBackups(s, db)...) // a copy: never sort a partner's slice in place
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstLSN.Less(out[j].FirstLSN) })
	return out
}

// partnerBackups is PartnerBackups in no particular order; with a single contributing partner it
// returns that partner's slice itself (read-only).
func partnerBackups(s *Snapshot, db string) []LogBackup {
	var lists [][]LogBackup
	total := 0
	for k := range s.Instances {
		in := &s.Instances[k]
		if in.Role != RolePartner || !in.Up() {
			continue
		}
		if d, ok := in.Database(db); ok && len(d.RecentLogBackups) > 0 {
			lists = append(lists, d.RecentLogBackups)
			total += len(d.RecentLogBackups)
		}
	}
	switch len(lists) {
	case 0:
		return []LogBackup{}
	case 1:
		return lists[0]
	}
	out := make([]LogBackup, 0, total)
	seen := make(map[[2]string]bool, total)
	for _, l := range lists {
		for _, b := range l {
			key := [2]string{b.FirstLSN.String(), b.LastLSN.String()}
			if !seen[key] {
				seen[key] = true
				out = append(out, b)
			}
		}
	}
	return out
}

// LastGood is the last good observation of the current principal for one database: what the
// data-loss window needs once site A is gone. It is a plain value (JSON-serialisable; LSNs and GUIDs
// marshal as strings) that the controller persists in its state directory.
type LastGood struct {
	// Database is the protected database.
	Database string `json:"database"`
	// Instance is the configured name of the partner that was principal.
	Instance string `json:"instance"`
	// ObservedAt is the controller's clock when the answer arrived.
	ObservedAt time.Time `json:"observed_at"`
	// PrincipalUTC is the principal's SYSUTCDATETIME() in that answer.
	PrincipalUTC time.Time `json:"principal_utc"`
	// ClockUncertainty is half the round trip of that probe: how far PrincipalUTC may be from the
	// instant ObservedAt names.
	ClockUncertainty time.Duration `json:"clock_uncertainty"`
	// LastLogBackupLSN is sys.database_recovery_status.last_log_backup_lsn on the principal.
	LastLogBackupLSN LSN `json:"last_log_backup_lsn"`
	// LastBackupFile and LastBackupUTC are from log_shipping_monitor_primary on the principal.
	LastBackupFile string    `json:"last_backup_file,omitempty"`
	LastBackupUTC  time.Time `json:"last_backup_utc,omitempty"`
	// RecentLogBackups are the newest log backups taken by the site-A partners (PartnerBackups),
	// ordered by first LSN.
	RecentLogBackups []LogBackup `json:"recent_log_backups,omitempty"`
	// PartnerSkew is the last measured clock skew between the site-A partners (Snapshot.PartnerSkew),
	// kept from earlier observations while only one partner answers.
	PartnerSkew time.Duration `json:"partner_skew"`
}

// IsZero reports whether there is no observation.
func (l LastGood) IsZero() bool { return l.ObservedAt.IsZero() }

// UpdateLastGood returns the new last good observation of db: taken from the snapshot when a principal
// answered, otherwise prev unchanged.
func UpdateLastGood(prev LastGood, s *Snapshot, db string) LastGood {
	p, pd, ok := s.Principal(db)
	if !ok {
		return prev
	}
	lg := LastGood{
		Database:         db,
		Instance:         p.Name,
		ObservedAt:       p.Received,
		PrincipalUTC:     p.ServerUTC,
		ClockUncertainty: p.RTT / 2,
		LastLogBackupLSN: pd.LastLogBackupLSN,
		RecentLogBackups: PartnerBackups(s, db),
		PartnerSkew:      prev.PartnerSkew,
	}
	if skew, ok := s.PartnerSkew(); ok {
		lg.PartnerSkew = skew
	}
	if pd.LSPrimary != nil {
		lg.LastBackupFile, lg.LastBackupUTC = pd.LSPrimary.LastBackupFile, pd.LSPrimary.LastBackupUTC
	}
	return lg
}

// Window is the data-loss window of a database or group: what would be lost if the secondary were
// promoted now.
type Window struct {
	// Value is meaningful only when Known.
	Value time.Duration
	// Uncertainty bounds the error of Value.
	Uncertainty time.Duration
	// Known is false when R (or F) is unknown; an unknown window blocks automatic promotion.
	Known bool
	// Frozen is true once the outage has started: the window is F − R and does not grow.
	Frozen bool
	// Reason explains an unknown window, or names the inputs of a known one.
	Reason string
}

// DataLossWindow computes the window of db (DESIGN.md "Safety model").
//
// R is the backup finish time (principal's clock, UTC via time_zone) of the newest log backup the
// secondary will hold after the final copy and restore (HeldAfterFinalRestore over the partners'
// backups from this snapshot, or from last when no principal answered). While a principal answers in
// s, the window is live: now_primary − R, where now_primary is its SYSUTCDATETIME() in s, with an
// uncertainty of half that probe's round trip plus the estimated skew between the partners' clocks
// (R may come from the other partner's clock after a mirroring failover). Otherwise the outage has
// started and the window is frozen at F − R, F = last.PrincipalUTC + (firstFailed − last.ObservedAt)
// on the controller's clock; its uncertainty is that gap plus last.ClockUncertainty plus
// last.PartnerSkew. firstFailed is the controller's time of the
// first failed probe of the outage; zero means this snapshot's probe was the first.
func DataLossWindow(s *Snapshot, db string, last LastGood, firstFailed time.Time) Window {
	_, sd := secondaryDB(s, db)
	if sd == nil || !sd.Exists {
		return Window{Reason: "secondary database not observed"}
	}
	p, _, live := s.Principal(db)
	pending := sd.PendingLogs // derived by the Prober from the partners' backups when a principal answered
	if !live || pending == nil {
		backups := last.RecentLogBackups
		if live {
			backups = partnerBackups(s, db)
		}
		lastCopied := ""
		if sd.LSSecondary != nil {
			lastCopied = sd.LSSecondary.LastCopiedFile
		}
		pending = Pending(backups, RestorePosition(sd), lastCopied)
	}
	held, ok := HeldAfterFinalRestore(sd, pending)
	if !ok {
		return Window{Reason: "no restored log backup on the secondary"}
	}
	if held.FinishUTC.IsZero() {
		return Window{Reason: "finish time of the newest held log backup is unknown (time_zone 127)"}
	}
	r := held.FinishUTC
	if live {
		skew, ok := s.PartnerSkew()
		if !ok {
			skew = last.PartnerSkew
		}
		return Window{Value: nonNegative(p.ServerUTC.Sub(r)), Uncertainty: p.RTT/2 + skew, Known: true,
			Reason: "live: principal clock minus R"}
	}
	if last.IsZero() {
		return Window{Reason: "no principal answered and no last good observation"}
	}
	if firstFailed.IsZero() {
		firstFailed = s.Time
	}
	gap := firstFailed.Sub(last.ObservedAt)
	if gap < 0 {
		gap = 0
	}
	f := last.PrincipalUTC.Add(gap)
	return Window{Value: nonNegative(f.Sub(r)), Uncertainty: gap + last.ClockUncertainty + last.PartnerSkew, Known: true, Frozen: true,
		Reason: "frozen: F minus R"}
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// GroupWindow is a failover group's window: its worst member's. It is unknown if any member's is, or
// if the group is empty.
func GroupWindow(members []Window) Window {
	if len(members) == 0 {
		return Window{Reason: "empty group"}
	}
	var g Window
	for i, w := range members {
		if !w.Known {
			return Window{Reason: w.Reason}
		}
		if i == 0 || w.Value > g.Value {
			g.Value, g.Reason = w.Value, w.Reason
		}
		if w.Uncertainty > g.Uncertainty {
			g.Uncertainty = w.Uncertainty
		}
		g.Frozen = g.Frozen || w.Frozen
	}
	g.Known = true
	return g
}

// ForkMismatch reports whether the secondary's next restore is on another recovery fork than the
// principal's log (diagnosed before RESTORE fails with 4330): the next pending backup's first fork
// GUID, or else the principal's current recovery_fork_guid, differs from the secondary's
// redo_start_fork_guid. Unknown GUIDs never count as a mismatch.
func ForkMismatch(principal, secondary *DatabaseSnapshot) bool {
	want := secondary.RedoStartForkGUID
	if want.IsZero() {
		return false
	}
	lastCopied := ""
	if secondary.LSSecondary != nil {
		lastCopied = secondary.LSSecondary.LastCopiedFile
	}
	pending := Pending(principal.RecentLogBackups, RestorePosition(secondary), lastCopied)
	if len(pending) > 0 && !pending[0].Backup.FirstForkGUID.IsZero() {
		return pending[0].Backup.FirstForkGUID != want
	}
	return !principal.RecoveryForkGUID.IsZero() && principal.RecoveryForkGUID != want
}

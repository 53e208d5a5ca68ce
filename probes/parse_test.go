package probes

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, role Role, sets []ResultSet) parsed {
	t.Helper()
	b := buildBatch(role, 1, DefaultRecentBackups)
	p, err := parseBatch(b, []string{"MGC"}, sets) // configured in another case: names compare case-insensitively
	if err != nil {
		t.Fatalf("parseBatch: %v", err)
	}
	return p
}

func TestParsePrincipal(t *testing.T) {
	utc := ts("2026-11-28 12:12:00")
	p := mustParse(t, RolePartner, principalSets(utc))
	if p.serverName != "SQLA" || !p.serverUTC.Equal(utc) || !strings.Contains(p.version, "2019") {
		t.Fatalf("instance = %q %v %q", p.serverName, p.serverUTC, p.version)
	}
	d := p.databases[0]
	if d.Name != "MGC" || !d.Exists || d.State != DBOnline || !d.Writable() || d.RecoveryModel != RecoveryFull || d.UserAccess != MultiUser {
		t.Fatalf("database = %+v", d)
	}
	m := d.Mirroring
	if m.Visibility != MirroringPresent || m.Role != MirroringRolePrincipal || m.State != MirroringSynchronized ||
		m.Safety != SafetyFull || m.WitnessState != WitnessConnected || m.RoleSequence != 3 ||
		m.PartnerName != "TCP://sqlb.example:5022" || m.WitnessName != "TCP://witness.example:5022" {
		t.Fatalf("mirroring = %+v", m)
	}
	if m.GUID.String() != mirrorGUID {
		t.Errorf("mirroring guid = %s, want %s (wire byte order must be swapped)", m.GUID, mirrorGUID)
	}
	if m.FailoverLSN.String() != "18446744073709551617" {
		t.Errorf("failover lsn = %s", m.FailoverLSN)
	}
	if d.LastLogBackupLSN.String() != lsn4 || d.RecoveryForkGUID.String() != forkGUID || !d.RedoStartLSN.IsZero() {
		t.Errorf("recovery = %s %s %s", d.LastLogBackupLSN, d.RecoveryForkGUID, d.RedoStartLSN)
	}
	if d.LSPrimary == nil || d.LSPrimary.BackupThreshold != time.Hour || !d.LSPrimary.AlertEnabled ||
		d.LSPrimary.ThresholdAlert != 14420 || !d.LSPrimary.LastBackupUTC.Equal(ts("2026-11-28 12:10:00")) {
		t.Fatalf("ls primary = %+v", d.LSPrimary)
	}
	if d.BackupJob == nil || d.BackupJob.Name != "LSBackup_mgc" || !d.BackupJob.Enabled || d.BackupJob.Running {
		t.Errorf("backup job = %+v", d.BackupJob)
	}
	if len(d.RecentLogBackups) != 3 {
		t.Fatalf("recent backups = %d, want 3 (the RESTORE-written row of SQLOTHER dropped)", len(d.RecentLogBackups))
	}
	b := d.RecentLogBackups[0]
	// 07:10 local at time_zone -20 (UTC-5) is 12:10 UTC.
	if !b.FinishUTC.Equal(ts("2026-11-28 12:10:00")) || b.TimeZone != -20 || b.FirstLSN.String() != lsn3 || b.LastLSN.String() != lsn4 {
		t.Errorf("newest backup = %+v", b)
	}
	if d.LSSecondary != nil || d.CopyJob != nil || d.NewestRestoredLog != nil {
		t.Error("a partner has no secondary rows here")
	}
}

func TestParseMirrorMonitoringLogin(t *testing.T) {
	p := mustParse(t, RolePartner, mirrorSets(ts("2026-11-28 12:12:00"), false))
	d := p.databases[0]
	if d.State != DBRestoring || d.Writable() {
		t.Fatalf("state = %v", d.State)
	}
	if d.Mirroring.Visibility != MirroringNotVisible || d.Mirroring.Role != MirroringRoleNone {
		t.Errorf("monitoring login on the mirror: visibility = %v, want not_visible (never not_mirrored)", d.Mirroring.Visibility)
	}
	p = mustParse(t, RolePartner, mirrorSets(ts("2026-11-28 12:12:00"), true))
	if m := p.databases[0].Mirroring; m.Visibility != MirroringPresent || m.Role != MirroringRoleMirror {
		t.Errorf("sysadmin on the mirror: %+v", m)
	}
	if p.databases[0].RedoStartLSN.String() != lsn4 {
		t.Errorf("redo start = %s", p.databases[0].RedoStartLSN)
	}
}

func TestParseSecondary(t *testing.T) {
	p := mustParse(t, RoleSecondary, secondarySets(ts("2026-11-28 12:12:30"), int64(-20)))
	d := p.databases[0]
	if d.Mirroring.Visibility != MirroringNotVisible {
		t.Errorf("visibility = %v", d.Mirroring.Visibility)
	}
	s := d.LSSecondary
	if s == nil || s.RestoreThreshold != 45*time.Minute || s.LatencyKnown || s.LastCopiedFile != `D:\copy\mgc_20261128120500.trn` ||
		!s.LastRestoredUTC.Equal(ts("2026-11-28 12:02:00")) || s.PrimaryServer != "SQLA" || s.StandbyMode || s.ThresholdAlert != 14421 {
		t.Fatalf("ls secondary = %+v", s)
	}
	if d.CopyJob == nil || d.CopyJob.Running || !d.CopyJob.Enabled {
		t.Errorf("copy job = %+v (an unfinished row of an older Agent session is not running)", d.CopyJob)
	}
	if d.RestoreJob == nil || !d.RestoreJob.Running || d.RestoreJob.Enabled || d.RestoreJob.Name != "LSRestore_SQLA_mgc" {
		t.Errorf("restore job = %+v", d.RestoreJob)
	}
	n := d.NewestRestoredLog
	if n == nil || n.LastLSN.String() != lsn2 || !n.FinishUTC.Equal(ts("2026-11-28 12:00:00")) || n.Server != "SQLA" {
		t.Fatalf("newest restored = %+v", n)
	}
	// time_zone 127: the finish time is unknown, never guessed.
	p = mustParse(t, RoleSecondary, secondarySets(ts("2026-11-28 12:12:30"), int64(127)))
	if n := p.databases[0].NewestRestoredLog; !n.FinishUTC.IsZero() || n.TimeZone != 127 || n.FinishLocal.IsZero() {
		t.Errorf("tz 127: %+v", n)
	}
	// NULL time_zone is unknown too.
	p = mustParse(t, RoleSecondary, secondarySets(ts("2026-11-28 12:12:30"), nil))
	if n := p.databases[0].NewestRestoredLog; !n.FinishUTC.IsZero() || n.TimeZone != TimeZoneUnknown {
		t.Errorf("tz NULL: %+v", n)
	}
}

func TestParseMissingDatabase(t *testing.T) {
	sets := mirrorSets(ts("2026-11-28 12:12:00"), false)
	sets[1].Rows = nil
	p := mustParse(t, RolePartner, sets)
	if d := p.databases[0]; d.Exists || d.State != DBStateUnknown || d.Mirroring.Visibility != MirroringUnread || d.Writable() {
		t.Errorf("absent database = %+v", d)
	}
}

func TestParseRejectsBadShapes(t *testing.T) {
	utc := ts("2026-11-28 12:12:00")
	tests := []struct {
		name   string
		mutate func([]ResultSet) []ResultSet
		want   string
	}{
		{"too few result sets", func(s []ResultSet) []ResultSet { return s[:3] }, "result sets"},
		{"missing column", func(s []ResultSet) []ResultSet {
			s[1].Columns = append([]string(nil), s[1].Columns...)
			s[1].Columns[6] = "mirroring_guid_typo"
			return s
		}, `"mirroring_guid"`},
		{"lsn as float loses digits", func(s []ResultSet) []ResultSet {
			s[1].Rows[0][15] = float64(1.8446744073709552e19)
			return s
		}, "exact decimal"},
		{"short row", func(s []ResultSet) []ResultSet {
			s[2].Rows[0] = s[2].Rows[0][:3]
			return s
		}, "values for"},
		{"NULL server clock", func(s []ResultSet) []ResultSet {
			s[0].Rows[0][2] = nil
			return s
		}, "SYSUTCDATETIME"},
		{"bad guid length", func(s []ResultSet) []ResultSet {
			s[3].Rows[0][1] = []byte{1, 2, 3}
			return s
		}, "uniqueidentifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBatch(buildBatch(RolePartner, 1, 5), []string{"mgc"}, tt.mutate(principalSets(utc)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestBuildBatchOneRoundTripShape(t *testing.T) {
	for _, n := range []int{1, 3, 1000} {
		b := buildBatch(RolePartner, n, 16)
		if len(b.kinds) != 7+n {
			t.Errorf("partner, %d dbs: %d result sets, want %d", n, len(b.kinds), 7+n)
		}
		if !strings.Contains(b.text, "@p"+itoa(n)+")") || strings.Contains(b.text, "@p"+itoa(n+1)) {
			t.Errorf("partner, %d dbs: parameters not @p1…@p%d", n, n)
		}
		if !strings.Contains(b.text, "TOP (16)") {
			t.Error("recent backups TOP missing")
		}
		s := buildBatch(RoleSecondary, n, 16)
		if len(s.kinds) != 7+n || strings.Contains(s.text, "TOP (16)") {
			t.Errorf("secondary, %d dbs: %d result sets", n, len(s.kinds))
		}
		m := buildBatch(RoleMonitor, n, 16)
		if len(m.kinds) != 7 {
			t.Errorf("monitor: %d result sets, want 7", len(m.kinds))
		}
	}
	// Read-only: no statement with an effect.
	text := strings.ToUpper(buildBatch(RolePartner, 2, 4).text + buildBatch(RoleSecondary, 2, 4).text)
	for _, verb := range []string{"INSERT", "UPDATE", "DELETE", "EXEC", "EXECUTE", "ALTER", "RESTORE", "BACKUP", "DROP", "CREATE", "USE"} {
		if regexp.MustCompile(`\b` + verb + `\b`).MatchString(text) {
			t.Errorf("probe batch contains %q", verb)
		}
	}
}

func itoa(n int) string { return param(n - 1)[2:] }

func TestInDirectory(t *testing.T) {
	tests := []struct {
		file, dir string
		want      bool
	}{
		{`\\share\mgc\mgc_20261128121000.trn`, `\\share\mgc`, true},
		{`\\SHARE\MGC\mgc_1.trn`, `\\share\mgc\`, true},
		{`\\share\mgc\sub\mgc_1.trn`, `\\share\mgc`, false},
		{`C:\rogue\mgc_1.trn`, `\\share\mgc`, false},
		{`/var/opt/mssql/tlogs/mgc_1.trn`, `/var/opt/mssql/tlogs`, true},
		{`mgc_1.trn`, `\\share\mgc`, false},
	}
	for _, tt := range tests {
		if got := inDirectory(tt.file, tt.dir); got != tt.want {
			t.Errorf("inDirectory(%q, %q) = %v", tt.file, tt.dir, got)
		}
	}
}

func TestParseMarksBackupsOutsideLogShipping(t *testing.T) {
	sets := principalSets(ts("2026-11-28 12:12:00"))
	sets[7].Rows[2][10] = `C:\rogue\mgc_20261128120500.trn` // backup 2 taken by hand, elsewhere
	p := mustParse(t, RolePartner, sets)
	d := p.databases[0]
	if d.BackupDirectory != `\\share\mgc\` {
		t.Errorf("backup directory = %q", d.BackupDirectory)
	}
	rb := d.RecentLogBackups
	if rb[0].OutsideLogShipping || !rb[1].OutsideLogShipping || rb[2].OutsideLogShipping {
		t.Fatalf("outside flags = %v %v %v", rb[0].OutsideLogShipping, rb[1].OutsideLogShipping, rb[2].OutsideLogShipping)
	}
	// Its name sorts before the last copied file, but it was never on the share: not copied.
	pend := Pending(rb, MustParseLSN(lsn2), `mgc_20261128121000.trn`)
	if len(pend) != 2 || pend[0].Copied || !pend[1].Copied {
		t.Errorf("pending = %+v", pend)
	}
}

func TestBackupTimeUTC(t *testing.T) {
	local := ts("2026-03-08 01:30:00")
	tests := []struct {
		tz   int16
		want string
	}{
		{-20, "2026-03-08 06:30:00"}, // EST
		{-16, "2026-03-08 05:30:00"}, // EDT
		{4, "2026-03-08 00:30:00"},   // CET
		{22, "2026-03-07 20:00:00"},  // UTC+5:30
		{0, "2026-03-08 01:30:00"},
	}
	for _, tt := range tests {
		if got := BackupTimeUTC(local, tt.tz); !got.Equal(ts(tt.want)) {
			t.Errorf("tz %d: %v, want %s", tt.tz, got, tt.want)
		}
	}
	for _, tz := range []int16{127, 49, -49} {
		if got := BackupTimeUTC(local, tz); !got.IsZero() {
			t.Errorf("tz %d: %v, want unknown", tz, got)
		}
	}
}

// TestParseRedoStartStatus checks that a NULL redo_start_lsn is a fact ("not restoring") only where
// the documentation says it must be NULL, and unknown where sys.master_files hides the row from the
// login (a RESTORING, RECOVERY_PENDING or STANDBY database read by the monitoring login).
func TestParseRedoStartStatus(t *testing.T) {
	row := func(state string, standby bool, redo, fork any) []any {
		return []any{"mgc", state, false, standby, "MULTI_USER", "FULL",
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, wireGUID(forkGUID), nil, redo, fork}
	}
	cases := []struct {
		name     string
		row      []any
		want     RedoStartStatus
		wantRedo string
	}{
		{"restoring, read by sa", row("RESTORING", false, dec(lsn2), wireGUID(forkGUID)), RedoStartRead, lsn2},
		{"restoring, monitoring login (no sys.master_files rows)", row("RESTORING", false, nil, nil), RedoStartUnknown, ""},
		{"recovery pending, hidden", row("RECOVERY_PENDING", false, nil, nil), RedoStartUnknown, ""},
		{"standby, hidden", row("ONLINE", true, nil, nil), RedoStartUnknown, ""},
		{"standby, read", row("ONLINE", true, dec(lsn3), wireGUID(forkGUID)), RedoStartRead, lsn3},
		{"unknown state", row("SOMETHING_NEW", false, nil, nil), RedoStartUnknown, ""},
		{"online: NULL is documented", row("ONLINE", false, nil, nil), RedoStartNotRestoring, ""},
		{"offline: NULL is documented", row("OFFLINE", false, nil, nil), RedoStartNotRestoring, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sets := secondarySets(ts("2026-11-28 12:12:30"), int64(-20))
			sets[1] = ResultSet{Columns: databasesCols, Rows: [][]any{c.row}}
			d := mustParse(t, RoleSecondary, sets).databases[0]
			if d.RedoStart != c.want || d.RedoStartLSN.String() != c.wantRedo {
				t.Fatalf("redo start = %v %s, want %v %s", d.RedoStart, d.RedoStartLSN, c.want, c.wantRedo)
			}
		})
	}
	// A snapshot built without the field (the zero value) is unknown, never "not restoring".
	if (DatabaseSnapshot{}).RedoStart != RedoStartUnknown || RedoStartUnknown.String() != "unknown" ||
		RedoStartNotRestoring.String() != "not_restoring" || RedoStartRead.String() != "read" {
		t.Fatal("zero value or names of RedoStartStatus changed")
	}
}

// TestParseMonitoringSecondaryForkUnknown is the fixture of the monitoring login on a RESTORING
// secondary: redo_start_lsn and redo_start_fork_guid read NULL. The restore position is unknown, so
// no fork-mismatch is diagnosed against a principal on another fork; with sa's values it is.
func TestParseMonitoringSecondaryForkUnknown(t *testing.T) {
	sets := secondarySets(ts("2026-11-28 12:12:30"), int64(-20))
	sets[1].Rows[0] = append([]any(nil), sets[1].Rows[0]...)
	sets[1].Rows[0][19], sets[1].Rows[0][20] = nil, nil
	sec := mustParse(t, RoleSecondary, sets).databases[0]
	if sec.State != DBRestoring || sec.RedoStart != RedoStartUnknown || !sec.RedoStartForkGUID.IsZero() {
		t.Fatalf("monitoring login on the secondary: %v %v %s", sec.State, sec.RedoStart, sec.RedoStartForkGUID)
	}
	prin := mustParse(t, RolePartner, principalSets(ts("2026-11-28 12:12:00"))).databases[0]
	prin.RecoveryForkGUID, _ = ParseGUID(newForkGUID)
	prin.RecentLogBackups = nil
	if ForkMismatch(&prin, &sec) {
		t.Fatal("a permission gap (redo start unknown) was diagnosed as a fork mismatch")
	}
	full := mustParse(t, RoleSecondary, secondarySets(ts("2026-11-28 12:12:30"), int64(-20))).databases[0]
	if full.RedoStart != RedoStartRead || !ForkMismatch(&prin, &full) {
		t.Fatalf("sa's view: redo start %v, fork mismatch %v; want read and a mismatch", full.RedoStart, ForkMismatch(&prin, &full))
	}
}

// TestLabRedoStartByLogin reads the lab's RESTORING secondary with both logins over TDS: sa reads
// redo_start_lsn, the monitoring login sees no sys.master_files rows and gets "unknown".
func TestLabRedoStartByLogin(t *testing.T) {
	for _, c := range []struct {
		login string
		want  RedoStartStatus
	}{{"sa", RedoStartRead}, {labMonitorLogin, RedoStartUnknown}} {
		t.Run(c.login, func(t *testing.T) {
			e := startLabEnv(t, labConfig(), c.login, nil)
			e.step(5 * time.Minute)
			sd, ok := mustUp(t, e.probe(), "sqlb1").Database("mgc")
			if !ok || sd.State != DBRestoring {
				t.Fatalf("secondary mgc: %+v", sd)
			}
			if sd.RedoStart != c.want || (c.want == RedoStartRead) == sd.RedoStartLSN.IsZero() {
				t.Fatalf("redo start = %v %s, want %v", sd.RedoStart, sd.RedoStartLSN, c.want)
			}
			if p, _ := mustUp(t, e.probe(), "sqla1").Database("mgc"); p.RedoStart != RedoStartNotRestoring {
				t.Fatalf("principal (ONLINE): redo start = %v, want not_restoring", p.RedoStart)
			}
		})
	}
}

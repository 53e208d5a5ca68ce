package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/lab"
)

const (
	checkSAPassword  = "Lab-sa-Passw0rd"
	checkMonLogin    = "sqldr_monitor"
	checkMonPassword = "Lab-mon-Passw0rd"
)

// checkLab is a lab topology on a manual clock, with DSNs for the check's configuration.
type checkLab struct {
	t     *testing.T
	lab   *lab.Lab
	clk   *lab.ManualClock
	env   map[string]string // dsn_env name → DSN
	state string            // state_dir
	hook  string            // an executable hook
}

func startCheckLab(t *testing.T) *checkLab {
	t.Helper()
	cfg := lab.DefaultConfig()
	cfg.UnknownTimeZoneEvery = 0
	clk := lab.NewManualClock(cfg.Start)
	l, err := lab.Start(zap.NewNop(), cfg, lab.Options{Clock: clk, Tick: 5 * time.Millisecond,
		Credentials: lab.Credentials{SAPassword: checkSAPassword, MonitorLogin: checkMonLogin, MonitorPassword: checkMonPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	cl := &checkLab{t: t, lab: l, clk: clk, env: map[string]string{}}
	for _, name := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		cl.setLogin(name, "sa", checkSAPassword)
	}
	// Twenty simulated minutes of log shipping: backups, copies and restores every minute.
	cl.advance(20 * time.Minute)

	root := t.TempDir()
	cl.state = filepath.Join(root, "state")
	if err := os.Mkdir(cl.state, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(cl.state, "signals"), 0o750); err != nil {
		t.Fatal(err)
	}
	cl.hook = filepath.Join(root, "pchat-hook.sh")
	if err := os.WriteFile(cl.hook, []byte("#!/bin/sh\nexit 0\n"), 0o750); err != nil { //nolint:gosec // an executable hook
		t.Fatal(err)
	}
	return cl
}

func (cl *checkLab) setLogin(instance, user, password string) {
	srv, err := cl.lab.Server(instance)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.env["SQLDR_DSN_"+instance] = lab.DSN(srv.Addr(), user, password, "master")
}

func (cl *checkLab) advance(d time.Duration) {
	for step := time.Duration(0); step < d; step += time.Minute {
		cl.clk.Advance(time.Minute)
		cl.lab.Topology().Sync()
	}
}

// exec runs a statement as sa on an instance.
func (cl *checkLab) exec(instance, stmt string) {
	cl.t.Helper()
	dsn, err := cl.lab.DSN(instance)
	if err != nil {
		cl.t.Fatal(err)
	}
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		cl.t.Fatalf("%s on %s: %v", stmt, instance, err)
	}
}

// yaml returns the daemon configuration for the lab; extra is appended at the top level.
func (cl *checkLab) yaml(extra string) string {
	return fmt.Sprintf(`state_dir: %s
databases: [mgc]
monitored_databases: [mgccomp]
instances:
  - {name: SQLA1, site: A, role: partner, dsn_env: SQLDR_DSN_SQLA1, connect_timeout: 3s, query_timeout: 5s}
  - {name: SQLA2, site: A, role: partner, dsn_env: SQLDR_DSN_SQLA2, connect_timeout: 3s, query_timeout: 5s}
  - {name: SQLB1, site: B, role: secondary, dsn_env: SQLDR_DSN_SQLB1, connect_timeout: 3s, query_timeout: 5s}
hooks:
  post_promote:
    - {name: pchat-failover, command: %s, args: [failover]}
%s`, cl.state, cl.hook, extra)
}

func (cl *checkLab) check(extra string) *checkReport {
	cl.t.Helper()
	cfg, err := config.Parse([]byte(cl.yaml(extra)))
	if err != nil {
		cl.t.Fatal(err)
	}
	env := checkEnv{
		lookupEnv: func(k string) (string, bool) { v, ok := cl.env[k]; return v, ok },
		readFile:  os.ReadFile,
		uid:       os.Getuid(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runChecks(ctx, cfg, env)
}

// find returns the rows of a check (and subject, if not empty).
func find(rep *checkReport, check, subject string) []checkResult {
	var out []checkResult
	for _, r := range rep.results {
		if r.Check == check && (subject == "" || r.Subject == subject) {
			out = append(out, r)
		}
	}
	return out
}

func dump(rep *checkReport) string {
	var b bytes.Buffer
	_ = rep.write(&b)
	return b.String()
}

// want asserts that a check's row for subject has the level and mentions every fragment.
func want(t *testing.T, rep *checkReport, check, subject string, level checkLevel, fragments ...string) {
	t.Helper()
	rows := find(rep, check, subject)
	for _, r := range rows {
		if r.Level != level {
			continue
		}
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(r.Detail, f)
		}
		if ok {
			return
		}
	}
	t.Errorf("no %s row for %s %q containing %q; report:\n%s", level, check, subject, fragments, dump(rep))
}

func TestCheckCorrectSetup(t *testing.T) {
	cl := startCheckLab(t)
	rep := cl.check("")
	if rep.worst() == checkFail {
		t.Fatalf("a correct set-up failed:\n%s", dump(rep))
	}
	for _, in := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		want(t, rep, "connect", in, checkPass, "connected to "+in, "sysadmin: true")
		want(t, rep, "monitoring permissions", in, checkPass)
	}
	want(t, rep, "promotion permissions", "SQLB1", checkPass, "RESTORE")
	want(t, rep, "mirroring", "mgc", checkPass, "SQLA1 PRINCIPAL, SQLA2 MIRROR, SYNCHRONIZED, safety FULL")
	want(t, rep, "log-shipping primaries", "mgc", checkPass, `\\labshare\logship`)
	want(t, rep, "secondary jobs", "mgc", checkPass, "exist and are enabled")
	want(t, rep, "secondary jobs", "mgccomp", checkPass)
	want(t, rep, "sql agent", "SQLB1", checkPass, "next runs at")
	want(t, rep, "thresholds", "mgc", checkPass, "backup threshold")
	want(t, rep, "thresholds", "mgc", checkPass, "restore threshold")
	want(t, rep, "state directory", cl.state, checkPass, "writable, lockable")
	want(t, rep, "signal directory", filepath.Join(cl.state, "signals"), checkPass)
	want(t, rep, "hooks", "hooks.post_promote.pchat-failover", checkPass)
	// The lab has no sys.server_principals: the login check says it could not verify, as a warning.
	want(t, rep, "logins", "SQLB1", checkWarn, "sys.server_principals", "error 208")
}

func TestCheckCommandExitCodes(t *testing.T) {
	cl := startCheckLab(t)
	for k, v := range cl.env {
		t.Setenv(k, v)
	}
	cfgFile := filepath.Join(t.TempDir(), "sqldr.yml")
	if err := os.WriteFile(cfgFile, []byte(cl.yaml("")), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--config", cfgFile}, &stdout, &stderr); code != exitOK {
		t.Fatalf("check of a correct set-up exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "RESULT  CHECK") || !strings.Contains(stdout.String(), "0 failed") {
		t.Fatalf("no table or summary:\n%s", stdout.String())
	}

	t.Setenv("SQLDR_DSN_SQLA2", lab.DSN("127.0.0.1:1", "sa", "x", "master")) // nothing listens on port 1
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check", "--config", cfgFile}, &stdout, &stderr); code != exitFailure {
		t.Fatalf("check with an unreachable instance exited %d, want %d\n%s", code, exitFailure, stdout.String())
	}
	if !strings.Contains(stdout.String(), "FAIL    connect") || !strings.Contains(stderr.String(), "check failed") {
		t.Fatalf("the failure is not reported:\n%s\n%s", stdout.String(), stderr.String())
	}
	if code := run([]string{"check"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("check without --config exited %d, want %d", code, exitUsage)
	}
}

func TestCheckBrokenSetups(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, cl *checkLab) string // returns extra configuration
		check  string
		subj   func(cl *checkLab) string
		level  checkLevel
		frags  []string
	}{
		{
			name:   "wrong password",
			break_: func(_ *testing.T, cl *checkLab) string { cl.setLogin("SQLA2", "sa", "wrong"); return "" },
			check:  "connect", subj: func(*checkLab) string { return "SQLA2" }, level: checkFail,
			frags: []string{"error 18456", "Login failed"},
		},
		{
			name:   "dsn_env not set",
			break_: func(_ *testing.T, cl *checkLab) string { delete(cl.env, "SQLDR_DSN_SQLB1"); return "" },
			check:  "connect", subj: func(*checkLab) string { return "SQLB1" }, level: checkFail,
			frags: []string{"SQLDR_DSN_SQLB1 (dsn_env) is not set"},
		},
		{
			name: "monitoring-only login on the secondary",
			break_: func(_ *testing.T, cl *checkLab) string {
				cl.setLogin("SQLB1", checkMonLogin, checkMonPassword)
				return ""
			},
			check: "promotion permissions", subj: func(*checkLab) string { return "SQLB1" }, level: checkFail,
			frags: []string{"not sysadmin", "RESTORE", "14525"},
		},
		{
			name: "monitoring-only login cannot see sys.master_files",
			break_: func(_ *testing.T, cl *checkLab) string {
				cl.setLogin("SQLB1", checkMonLogin, checkMonPassword)
				return ""
			},
			check: "monitoring permissions", subj: func(*checkLab) string { return "SQLB1" }, level: checkWarn,
			frags: []string{"sys.master_files", "VIEW ANY DEFINITION"},
		},
		{
			name: "mirroring removed",
			break_: func(_ *testing.T, cl *checkLab) string {
				cl.exec("SQLA1", "ALTER DATABASE mgc SET PARTNER OFF")
				return ""
			},
			check: "mirroring", subj: func(*checkLab) string { return "mgc" }, level: checkFail,
			frags: []string{"not mirrored on SQLA1"},
		},
		{
			name: "restore job disabled",
			break_: func(t *testing.T, cl *checkLab) string {
				in, err := cl.lab.Topology().Instance("SQLB1")
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range in.MSDB().Jobs {
					if strings.Contains(j.Name, "Restore") && strings.HasSuffix(j.Name, "_mgc") {
						cl.exec("SQLB1", fmt.Sprintf("EXEC msdb.dbo.sp_update_job @job_name = N'%s', @enabled = 0", j.Name))
						return ""
					}
				}
				t.Fatal("no restore job for mgc in the lab")
				return ""
			},
			check: "secondary jobs", subj: func(*checkLab) string { return "mgc" }, level: checkFail,
			frags: []string{"restore job", "is disabled"},
		},
		{
			name: "log-shipping secondary removed",
			break_: func(_ *testing.T, cl *checkLab) string {
				cl.exec("SQLB1", "EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = N'mgc'")
				return ""
			},
			check: "secondary jobs", subj: func(*checkLab) string { return "mgc" }, level: checkFail,
			frags: []string{"is not a log-shipping secondary of mgc"},
		},
		{
			name: "agent no longer runs the restore job",
			break_: func(t *testing.T, cl *checkLab) string {
				if _, err := cl.lab.Topology().Inject(lab.Fault{Kind: lab.FaultJobStopped, Target: "SQLB1", Job: "restore"}); err != nil {
					t.Fatal(err)
				}
				cl.advance(30 * time.Minute)
				return ""
			},
			check: "sql agent", subj: func(*checkLab) string { return "SQLB1" }, level: checkFail,
			frags: []string{"LSRestore_SQLA1_mgc last ran", "usually runs every 1m0s", "Agent is not running it on schedule"},
		},
		{
			name:   "backup threshold below the backup interval",
			break_: func(*testing.T, *checkLab) string { return "log_shipping: {backup_threshold: 30s}\n" },
			check:  "thresholds", subj: func(*checkLab) string { return "mgc" }, level: checkFail,
			frags: []string{"backup threshold 30s (log_shipping.backup_threshold) is not above the backup interval (about 1m0s)"},
		},
		{
			name:   "restore threshold below 3 intervals",
			break_: func(*testing.T, *checkLab) string { return "log_shipping: {restore_threshold: 2m}\n" },
			check:  "thresholds", subj: func(*checkLab) string { return "mgc" }, level: checkWarn,
			frags: []string{"restore threshold 2m0s", "below 3 × the restore interval"},
		},
		{
			name:   "data-loss budget below the backup interval in auto mode",
			break_: func(*testing.T, *checkLab) string { return "mode: auto\nmax_data_loss: 20s\n" },
			check:  "thresholds", subj: func(*checkLab) string { return "mgc" }, level: checkWarn,
			frags: []string{"max_data_loss 20s is below the log backup interval (about 1m0s)"},
		},
		{
			name: "signal directory writable by others",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.Chmod(filepath.Join(cl.state, "signals"), 0o777); err != nil { //nolint:gosec // the broken set-up
					t.Fatal(err)
				}
				return ""
			},
			check: "signal directory", subj: func(cl *checkLab) string { return filepath.Join(cl.state, "signals") }, level: checkFail,
			frags: []string{"writable by others (mode 0777)", "every signal in it would be rejected"},
		},
		{
			name: "signal directory missing",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.Remove(filepath.Join(cl.state, "signals")); err != nil {
					t.Fatal(err)
				}
				return "signals: {operators_group: sqldr-operators}\n"
			},
			check: "signal directory", subj: func(cl *checkLab) string { return filepath.Join(cl.state, "signals") }, level: checkWarn,
			frags: []string{"does not exist yet", "sqldr-operators"},
		},
		{
			name: "state directory missing",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.RemoveAll(cl.state); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			check: "state directory", subj: func(cl *checkLab) string { return cl.state }, level: checkFail,
			frags: []string{"not writable"},
		},
		{
			name: "state directory locked by a running daemon",
			break_: func(t *testing.T, cl *checkLab) string {
				st, err := journal.Open(zap.NewNop(), journal.Options{Dir: cl.state})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				return ""
			},
			check: "state directory", subj: func(cl *checkLab) string { return cl.state }, level: checkWarn,
			frags: []string{"locked by another sqldr process"},
		},
		{
			name: "torn journal",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.WriteFile(filepath.Join(cl.state, journal.JournalFile), []byte(`{"seq":1,"kind":"x"`), 0o600); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			check: "state directory", subj: func(cl *checkLab) string { return cl.state }, level: checkFail,
			frags: []string{"would refuse to act"},
		},
		{
			name: "hook not executable",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.Chmod(cl.hook, 0o640); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			check: "hooks", subj: func(*checkLab) string { return "hooks.post_promote.pchat-failover" }, level: checkFail,
			frags: []string{"is not executable"},
		},
		{
			name: "hook missing",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.Remove(cl.hook); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			check: "hooks", subj: func(*checkLab) string { return "hooks.post_promote.pchat-failover" }, level: checkFail,
			frags: []string{"no such file"},
		},
		{
			name: "hook writable by others",
			break_: func(t *testing.T, cl *checkLab) string {
				if err := os.Chmod(cl.hook, 0o777); err != nil { //nolint:gosec // the broken set-up
					t.Fatal(err)
				}
				return ""
			},
			check: "hooks", subj: func(*checkLab) string { return "hooks.post_promote.pchat-failover" }, level: checkFail,
			frags: []string{"writable by others"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := startCheckLab(t)
			extra := tt.break_(t, cl)
			rep := cl.check(extra)
			want(t, rep, tt.check, tt.subj(cl), tt.level, tt.frags...)
			if tt.level == checkFail && rep.worst() != checkFail {
				t.Errorf("worst result %s, want FAIL", rep.worst())
			}
		})
	}
}

func TestJudgeMirroring(t *testing.T) {
	prin := mirroringRow{instance: "SQLA1", server: "SQLA1", present: true, state: "ONLINE", mirrored: true, role: "PRINCIPAL",
		mstate: "SYNCHRONIZED", partner: "SQLA2", safety: "FULL"}
	mir := mirroringRow{instance: "SQLA2", server: "SQLA2", present: true, state: "RESTORING", mirrored: true, role: "MIRROR",
		mstate: "SYNCHRONIZED", partner: "SQLA1", safety: "FULL"}
	hidden := mirroringRow{instance: "SQLA2", server: "SQLA2", present: true, state: "RESTORING"}
	with := func(r mirroringRow, f func(*mirroringRow)) mirroringRow { f(&r); return r }
	tests := []struct {
		name      string
		rows      []mirroringRow
		partners  int
		level     checkLevel
		frag      string
		principal string
	}{
		{"healthy", []mirroringRow{prin, mir}, 2, checkPass, "SQLA1 PRINCIPAL, SQLA2 MIRROR", "SQLA1"},
		{"failed over", []mirroringRow{with(prin, func(r *mirroringRow) { r.role, r.partner = "MIRROR", "SQLA2" }),
			with(mir, func(r *mirroringRow) { r.role, r.partner = "PRINCIPAL", "SQLA1" })}, 2, checkPass, "SQLA2 PRINCIPAL, SQLA1 MIRROR", "SQLA2"},
		{"mirror hidden from a non-sysadmin", []mirroringRow{prin, hidden}, 2, checkPass, "hidden from a non-sysadmin", "SQLA1"},
		{"synchronizing", []mirroringRow{with(prin, func(r *mirroringRow) { r.mstate = "SYNCHRONIZING" }), mir}, 2, checkWarn, "not SYNCHRONIZED", "SQLA1"},
		{"two principals", []mirroringRow{prin, with(mir, func(r *mirroringRow) { r.role = "PRINCIPAL" })}, 2, checkFail, "both SQLA1 and SQLA2", ""},
		{"no principal", []mirroringRow{mir}, 2, checkFail, "no reachable partner is PRINCIPAL", ""},
		{"wrong partner", []mirroringRow{with(prin, func(r *mirroringRow) { r.partner = "SQLX9" }), mir}, 2, checkFail, "partner is SQLX9", "SQLA1"},
		{"missing database", []mirroringRow{prin, {instance: "SQLA2"}}, 2, checkFail, "does not exist on SQLA2", ""},
		{"not mirrored", []mirroringRow{with(prin, func(r *mirroringRow) { r.mirrored = false })}, 2, checkFail, "not mirrored on SQLA1", ""},
		{"one partner configured", []mirroringRow{prin}, 1, checkWarn, "only one partner is configured", "SQLA1"},
		{"other partner unreachable", []mirroringRow{prin}, 2, checkWarn, "could not be checked", "SQLA1"},
	}
	for _, tt := range tests {
		level, detail, p := judgeMirroring(tt.rows, tt.partners)
		if level != tt.level || !strings.Contains(detail, tt.frag) || p != tt.principal {
			t.Errorf("%s: %s %q principal %q; want %s containing %q, principal %q", tt.name, level, detail, p, tt.level, tt.frag, tt.principal)
		}
	}
}

func TestJudgeLogins(t *testing.T) {
	logins := []principalEntry{{"app", []byte{1, 2}, "S"}, {"reporting", []byte{9, 9}, "S"}, {`DOM\pchat`, []byte{5}, "U"}}
	tests := []struct {
		name  string
		users []principalEntry
		level checkLevel
		frag  string
	}{
		{"all mapped", []principalEntry{{"app", []byte{1, 2}, "S"}, {`DOM\pchat`, []byte{5}, "U"}}, checkPass, "2 database users"},
		{"mapped by SID under another name", []principalEntry{{"application", []byte{1, 2}, "S"}}, checkPass, "1 database users"},
		{"same name, other SID", []principalEntry{{"reporting", []byte{7, 7}, "S"}}, checkFail, "login reporting exists on SQLB1 with a different SID (0x0909, user has 0x0707)"},
		{"no login", []principalEntry{{"ghost", []byte{0xAB}, "S"}}, checkFail, "user ghost (SID 0xAB) has no login on SQLB1"},
		{"no users", nil, checkPass, "0 database users"},
	}
	for _, tt := range tests {
		level, detail := judgeLogins(tt.users, logins, "SQLB1")
		if level != tt.level || !strings.Contains(detail, tt.frag) {
			t.Errorf("%s: %s %q; want %s containing %q", tt.name, level, detail, tt.level, tt.frag)
		}
	}
}

func TestMedianGapAndJudgeThreshold(t *testing.T) {
	base := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)
	var ts []time.Time
	for _, m := range []int{0, 1, 2, 3, 30, 31} { // one long outage does not move the median
		ts = append(ts, base.Add(time.Duration(m)*time.Minute))
	}
	ts = append(ts, ts[2]) // a duplicate is ignored
	if every, n := medianGap(ts); every != time.Minute || n != 5 {
		t.Fatalf("medianGap = %s over %d gaps, want 1m over 5", every, n)
	}
	if every, n := medianGap(ts[:1]); every != 0 || n != 0 {
		t.Fatalf("medianGap of one instant = %s, %d", every, n)
	}
	tests := []struct {
		every     time.Duration
		n         int
		threshold time.Duration
		level     checkLevel
		frag      string
	}{
		{time.Minute, 5, 15 * time.Minute, checkPass, "≥ 3 ×"},
		{time.Minute, 5, 3 * time.Minute, checkPass, "≥ 3 ×"},
		{time.Minute, 5, 2 * time.Minute, checkWarn, "below 3 ×"},
		{time.Minute, 5, time.Minute, checkFail, "not above"},
		{time.Minute, 1, 15 * time.Minute, checkWarn, "too little backup history"},
		{time.Minute, 5, 0, checkWarn, "no backup threshold"},
	}
	for _, tt := range tests {
		level, detail := judgeThreshold("backup", tt.every, tt.n, tt.threshold, "src")
		if level != tt.level || !strings.Contains(detail, tt.frag) {
			t.Errorf("judgeThreshold(%s, %d, %s) = %s %q; want %s containing %q", tt.every, tt.n, tt.threshold, level, detail, tt.level, tt.frag)
		}
	}
}

func TestJudgeJobRuns(t *testing.T) {
	now := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	next := func(d time.Duration) sql.NullTime { return sql.NullTime{Time: now.Add(d), Valid: true} }
	every := func(last time.Duration, n int) []time.Time {
		var out []time.Time
		for i := range n {
			out = append(out, now.Add(-last-time.Duration(i)*time.Minute))
		}
		return out
	}
	tests := []struct {
		name  string
		next  sql.NullTime
		runs  []time.Time
		level checkLevel
		frag  string
	}{
		{"on schedule", next(30 * time.Second), every(30*time.Second, 10), checkPass, "next runs at 12:00:30"},
		{"no history yet", next(30 * time.Second), nil, checkPass, "next runs at"},
		{"no next run", sql.NullTime{}, every(0, 3), checkWarn, "no scheduled next run"},
		{"next run a little overdue", next(-5 * time.Minute), every(5*time.Minute, 3), checkWarn, "overdue"},
		{"next run long overdue", next(-time.Hour), every(time.Hour, 3), checkFail, "Agent is not running it"},
		{"last run stale", next(time.Minute), every(8*time.Minute, 10), checkWarn, "last ran 8m0s ago"},
		{"last run very stale", next(time.Minute), every(30*time.Minute, 10), checkFail, "usually runs every 1m0s"},
	}
	for _, tt := range tests {
		level, note := judgeJobRuns("LSRestore_x", tt.next, now, tt.runs)
		if level != tt.level || !strings.Contains(note, tt.frag) {
			t.Errorf("%s: %s %q; want %s containing %q", tt.name, level, note, tt.level, tt.frag)
		}
	}
}

func TestSameShareAndPartnerServer(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{`\\labshare\logship\mgc`, `\\LABSHARE\LogShip\mgc\`, true},
		{`\\labshare\logship\mgc`, `\\labshare\logship\mgccomp`, false},
		{`\\a\s`, `\\b\s`, false},
	} {
		if got := sameShare(tt.a, tt.b); got != tt.want {
			t.Errorf("sameShare(%s, %s) = %t", tt.a, tt.b, got)
		}
	}
	cfg, err := config.Parse([]byte(`state_dir: /x
instances:
  - {name: SQLA1, site: A, role: partner, dsn_env: A1}
  - {name: SQLA2, site: A, role: partner, dsn_env: A2}
  - {name: SQLB1, site: B, role: secondary, dsn_env: B1}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{cfg: cfg, conns: map[string]*checkConn{"SQLA2": {server: `SQLA2\PCHAT`}}}
	for name, want := range map[string]bool{"sqla1": true, `SQLA2\PCHAT`: true, "SQLB1": false, "OLDPRIMARY": false} {
		if got := c.isPartnerServer(name); got != want {
			t.Errorf("isPartnerServer(%s) = %t, want %t", name, got, want)
		}
	}
}

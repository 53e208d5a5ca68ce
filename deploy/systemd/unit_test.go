// Package systemd_test checks the shipped unit file: systemd itself accepts it (`systemd-analyze
// verify`, with warnings treated as errors), and it carries the directives the daemon relies on
// (Type=notify with a watchdog, the sandbox, the state directory of the example configuration).
package systemd_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/config"
)

const (
	unitFile      = "sqldr.service"
	exampleConfig = "../sqldr.example.yml"
)

// unit is a parsed unit file: section → key → values in order (a key may repeat).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, data []byte) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a KEY=VALUE line in a section: %q", unitFile, n, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// last returns the effective (last) value of a key.
func (u unit) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// systemdDuration parses the time spans used here ("2min", "31min", "5s", "90").
func systemdDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	r := strings.NewReplacer("min", "m", "sec", "s", " ", "")
	v := r.Replace(s)
	if !strings.ContainsAny(v, "hms") {
		v += "s"
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("time span %q: %v", s, err)
	}
	return d
}

func readUnit(t *testing.T) ([]byte, unit) {
	t.Helper()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return data, parseUnit(t, data)
}

func TestUnitDirectives(t *testing.T) {
	_, u := readUnit(t)
	cfg, err := config.Load(exampleConfig)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := map[string]string{
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"User":                    "sqldr",
		"Group":                   "sqldr",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"RestrictSUIDSGID":        "yes",
		"CapabilityBoundingSet":   "",
		"KillMode":                "mixed",
		"Restart":                 "on-failure",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		if _, ok := u["Service"][k]; !ok {
			t.Errorf("[Service] %s is missing (want %q)", k, v)
			continue
		}
		if got := u.last("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	// The daemon needs network protocols and AF_UNIX for sd_notify.
	fams := strings.Fields(u.last("Service", "RestrictAddressFamilies"))
	for _, f := range []string{"AF_UNIX", "AF_INET", "AF_INET6"} {
		if !slices.Contains(fams, f) {
			t.Errorf("RestrictAddressFamilies %v lacks %s", fams, f)
		}
	}
	// PrivateUsers would map the operators' group to nobody and every signal would be rejected.
	if u.last("Service", "PrivateUsers") == "yes" {
		t.Error("PrivateUsers=yes breaks signal-file owner checks")
	}

	// The state directory of the example configuration is writable, and the only one.
	rw := strings.Fields(strings.Join(u["Service"]["ReadWritePaths"], " "))
	if !slices.Contains(rw, cfg.StateDir) {
		t.Errorf("ReadWritePaths %v does not contain the example state_dir %s", rw, cfg.StateDir)
	}
	if sd := u.last("Service", "StateDirectory"); "/var/lib/"+sd != cfg.StateDir {
		t.Errorf("StateDirectory=%s is not the example state_dir %s", sd, cfg.StateDir)
	}

	// `sqldr service run` is the entry point that speaks the notify protocol (cmd/sqldr/service_other.go).
	// Nobody but the daemon writes the state directory (operators write only in signals/).
	if mode, err := strconv.ParseUint(u.last("Service", "StateDirectoryMode"), 8, 32); err != nil || mode&0o022 != 0 {
		t.Errorf("StateDirectoryMode=%q must parse and not be group- or world-writable", u.last("Service", "StateDirectoryMode"))
	}
	exec := strings.Fields(u.last("Service", "ExecStart"))
	if len(exec) != 5 || !filepath.IsAbs(exec[0]) || exec[1] != "service" || exec[2] != "run" || exec[3] != "--config" || !filepath.IsAbs(exec[4]) {
		t.Errorf("ExecStart=%q, want <absolute sqldr> service run --config <absolute file>", u.last("Service", "ExecStart"))
	}

	// The watchdog must outlast one healthy reconcile cycle at the default settings: the interval,
	// plus a probe that takes its full connect and query timeouts.
	wd := systemdDuration(t, u.last("Service", "WatchdogSec"))
	cycle := config.DefaultInterval + config.DefaultConnectTimeout + config.DefaultQueryTimeout
	if wd < 2*cycle {
		t.Errorf("WatchdogSec=%s is shorter than two worst-case reconcile cycles (%s)", wd, 2*cycle)
	}
	// A stop waits for a running runbook step: the longest default step timeout must fit.
	stop := systemdDuration(t, u.last("Service", "TimeoutStopSec"))
	longest := time.Duration(0)
	for _, d := range config.DefaultStepTimeouts {
		longest = max(longest, d)
	}
	if stop <= longest {
		t.Errorf("TimeoutStopSec=%s does not cover the longest runbook step (%s)", stop, longest)
	}
	if got := u.last("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q", got)
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checker on the unit. ExecStart must name an existing
// executable for it, so a copy of the unit points ExecStart at this test binary. Any warning (an
// unknown key, an unparsable value) fails the test. Without systemd-analyze the test is skipped,
// except in CI (CI=true), where it must be installed (Debian package systemd).
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is not installed (apt-get install systemd); CI must run this check")
		}
		t.Skip("systemd-analyze is not installed")
	}
	data, u := readUnit(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := strings.Fields(u.last("Service", "ExecStart"))[0]
	dir := t.TempDir()
	copyPath := filepath.Join(dir, unitFile)
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(data, []byte(bin), []byte(self)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", copyPath).CombinedOutput() //nolint:gosec // fixed tool, test-owned file
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}

	// The check itself catches mistakes (guards against a verify that accepts anything).
	bad := bytes.Replace(bytes.ReplaceAll(data, []byte(bin), []byte(self)), []byte("ProtectSystem=strict"), []byte("ProtectSytem=strict"), 1)
	if err := os.WriteFile(copyPath, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command(tool, "verify", copyPath).CombinedOutput() //nolint:gosec // as above
	if !strings.Contains(string(out), "ProtectSytem") {
		t.Fatalf("systemd-analyze did not report a misspelt key: %s", out)
	}
}

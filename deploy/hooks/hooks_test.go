package hooks

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePwsh records its arguments and environment instead of running PowerShell.
const fakePwsh = `#!/bin/sh
echo "ARGS $*"
`

func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "pwsh")
	if err := os.WriteFile(fake, []byte(fakePwsh), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("./pchat-hook.sh", args...)
	cmd.Env = append([]string{"PATH=" + dir + ":/usr/bin:/bin"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestWrapperFailover(t *testing.T) {
	out, err := run(t, []string{"PCHAT_POOL_FQDN=pchat.example.com", "PCHAT_ACTIVE_SERVERS=b1.example.com,b2.example.com",
		"SQLDR_PLAN_ID=mgc-4", "SQLDR_EVENT=post_promote", "SQLDR_NEW_PRIMARY=SQLB1"}, "failover")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{
		"sqldr plan mgc-4 event post_promote: failover pool pchat.example.com (new primary SQLB1)",
		"-File " + mustAbs(t, "pchat-failover.ps1") + " -PoolFqdn pchat.example.com -ActiveServers b1.example.com,b2.example.com -PlanId mgc-4 -Remote",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output %q lacks %q", out, want)
		}
	}
}

func TestWrapperCheckAndUsage(t *testing.T) {
	out, err := run(t, []string{"PCHAT_POOL_FQDN=pchat.example.com"}, "check")
	if err != nil || !strings.Contains(out, "pchat-check.ps1 -PoolFqdn pchat.example.com") {
		t.Fatalf("check: %v %q", err, out)
	}
	out, err = run(t, nil, "failover")
	var ee *exec.ExitError
	if err == nil || !strings.Contains(out, "PCHAT_POOL_FQDN is not set") {
		t.Fatalf("missing pool: %v %q", err, out)
	}
	out, err = run(t, nil, "bogus")
	if !errors.As(err, &ee) || ee.ExitCode() != 64 || !strings.Contains(out, "usage:") {
		t.Fatalf("usage: %v %q", err, out)
	}
}

func TestScriptsUseTheDocumentedCmdlets(t *testing.T) {
	b, err := os.ReadFile("pchat-failover.ps1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Set-CsPersistentChatState -Identity $identity -PoolState FailedOver", "Set-CsPersistentChatActiveServer -Identity $identity -ActiveServers"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("pchat-failover.ps1 lacks %q", want)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

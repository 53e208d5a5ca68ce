package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/signal"
)

func TestCheckConfig(t *testing.T) {
	out := runCLI(t, "check-config", filepath.Join("..", "..", "deploy", "sqldr.example.yml"))
	if !strings.Contains(out, ": ok (group mgc, mode approval, 3 instances") {
		t.Fatalf("check-config printed %q", out)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"check-config", filepath.Join("..", "..", "pkg", "config", "testdata", "values.bad.yml")}, &stdout, &stderr)
	if code != exitFailure {
		t.Fatalf("bad config: exit %d", code)
	}
	// Every problem at once, each naming its key.
	for _, key := range []string{"interval:", "state_dir:", "mode:", "instances[1].role:", "observers.quorum:", "runbook.timeouts.recover:"} {
		if !strings.Contains(stderr.String(), key) {
			t.Errorf("check-config output lacks %s:\n%s", key, stderr.String())
		}
	}
}

func TestOperatorUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"check-config"},
		{"approve", "--state-dir", dir},
		{"approve", "--plan", "not a plan", "--state-dir", dir},
		{"ack", "--plan", "mgc-1"},
		{"retry", "--plan", "mgc-1", "--state-dir", dir, "--config", "x.yml"},
		{"pause", "extra"},
		{"status", "--config", "x.yml", "--addr", "127.0.0.1:1"},
		{"run"},
		{"demo", "--mode", "yolo"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("sqldr %s: exit %d, want %d (%s)", strings.Join(args, " "), code, exitUsage, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"run", "--config", filepath.Join(dir, "missing.yml")}, &out, &errOut); code != exitFailure {
		t.Errorf("run with a missing config: exit %d", code)
	}
	if code := run([]string{"approve", "--plan", "mgc-1", "--state-dir", filepath.Join(dir, "missing")}, &out, &errOut); code != exitFailure {
		t.Errorf("approve into a missing state directory: exit %d", code)
	}
	if code := run([]string{"status", "--addr", "127.0.0.1:1"}, &out, &errOut); code != exitFailure {
		t.Errorf("status with no daemon: exit %d", code)
	}
}

// TestSignalCommands writes every signal as an operator would: the files are what pkg/signal
// accepts (well formed, private signal directory), and resume removes the pause.
func TestSignalCommands(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cmd  string
		kind signal.Kind
	}{{"approve", signal.KindApprove}, {"ack", signal.KindAck}, {"retry", signal.KindRetry}} {
		runCLI(t, c.cmd, "--plan", "mgc-20260308T070000Z-1", "--state-dir", dir)
		b, err := os.ReadFile(filepath.Join(dir, "signals", c.kind.String()))
		if err != nil {
			t.Fatal(err)
		}
		if plan, err := signal.Parse(b); err != nil || plan != "mgc-20260308T070000Z-1" {
			t.Fatalf("%s file %q: %q %v", c.cmd, b, plan, err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "signals"))
	if err != nil || fi.Mode().Perm()&0o002 != 0 {
		t.Fatalf("signal directory %v mode %v", err, fi.Mode())
	}
	runCLI(t, "pause", "--state-dir", dir)
	if _, err := os.Stat(filepath.Join(dir, "signals", "pause")); err != nil {
		t.Fatalf("pause file: %v", err)
	}
	// The reader sees the pause, and the approval of a plan it expects.
	r, err := signal.NewReader(zap.NewNop(), signal.Options{Dir: filepath.Join(dir, "signals"), DaemonUID: uint32(os.Getuid())})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.Scan(time.Now(), signal.Expect{PendingPlan: "mgc-20260308T070000Z-1", PlanCreated: time.Now().Add(-time.Hour)})
	if err != nil || !sc.Paused || len(sc.Accepted) != 1 || sc.Accepted[0].Kind != signal.KindApprove {
		t.Fatalf("scan: %+v %v", sc, err)
	}
	runCLI(t, "resume", "--state-dir", dir)
	if _, err := os.Stat(filepath.Join(dir, "signals", "pause")); !os.IsNotExist(err) {
		t.Fatalf("pause file after resume: %v", err)
	}
	runCLI(t, "resume", "--state-dir", dir) // nothing to resume is fine
}

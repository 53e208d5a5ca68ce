//go:build unix

package hook

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunPassesStructuredEnvironment(t *testing.T) {
	r := NewRunner(zaptest.NewLogger(t), Options{
		Scrub: []string{"SECRET_DSN"},
		Environ: func() []string {
			return []string{"PATH=" + os.Getenv("PATH"), "SECRET_DSN=sqlserver://sa:pw@x", "SQLDR_PLAN_ID=forged"}
		},
	})
	res, err := r.Run(context.Background(), Spec{Name: "pc-state", Command: script(t, "env.sh"), Args: []string{"-PoolState", "FailedOver", "a b"},
		Env: map[string]string{"EXTRA_POOL": "pchat.example.com"}},
		Context{Event: EventPostPromote, PlanID: "mgc-7", Group: "mgc", Databases: []string{"mgc", "mgc2"},
			OldPrimary: "SQLA1", NewPrimary: "SQLB1", DataLossKnown: true, DataLoss: 72*time.Second + 900*time.Millisecond, DataLossUncertainty: 5 * time.Second})
	if err != nil {
		t.Fatalf("run: %v (output %q)", err, res.Output)
	}
	want := []string{
		"EXTRA_POOL=pchat.example.com",
		"SQLDR_DATABASES=mgc,mgc2",
		"SQLDR_DATA_LOSS_KNOWN=true",
		"SQLDR_DATA_LOSS_SECONDS=72",
		"SQLDR_DATA_LOSS_UNCERTAINTY_SECONDS=5",
		"SQLDR_EVENT=post_promote",
		"SQLDR_FENCE_DATABASES=",
		"SQLDR_FENCE_INSTANCE=",
		"SQLDR_GROUP=mgc",
		"SQLDR_HOOK=pc-state",
		"SQLDR_NEW_PRIMARY=SQLB1",
		"SQLDR_OLD_PRIMARY=SQLA1",
		"SQLDR_PLAN_ID=mgc-7",
		"args: -PoolState FailedOver a b",
	}
	got := strings.Split(strings.TrimSpace(res.Output), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("environment:\n got %q\nwant %q", got, want)
	}
	if res.ExitCode != 0 || res.Truncated {
		t.Fatalf("result %+v", res)
	}
}

func TestRunUnknownDataLossIsEmpty(t *testing.T) {
	env := Context{Event: EventPrePromote, DataLoss: time.Minute}.Env("h")
	for _, kv := range env {
		if strings.HasPrefix(kv, "SQLDR_DATA_LOSS_SECONDS=") && kv != "SQLDR_DATA_LOSS_SECONDS=" {
			t.Fatalf("unknown data loss rendered as %q", kv)
		}
	}
}

func TestRunNonZeroExitNamesHookAndCode(t *testing.T) {
	r := NewRunner(zaptest.NewLogger(t), Options{})
	res, err := r.Run(context.Background(), Spec{Name: "veto", Command: script(t, "fail.sh")}, Context{Event: EventPrePromote})
	var herr *Error
	if !errors.As(err, &herr) {
		t.Fatalf("want *Error, got %v", err)
	}
	wantMsg := `hook "veto" (` + script(t, "fail.sh") + `) exited with code 3: pool is not ready: refusing`
	if err.Error() != wantMsg {
		t.Fatalf("message\n got %q\nwant %q", err.Error(), wantMsg)
	}
	if herr.ExitCode != 3 || res.ExitCode != 3 || herr.TimedOut {
		t.Fatalf("error %+v result %+v", herr, res)
	}
	if !strings.Contains(res.Output, "checking pool state") {
		t.Fatalf("stdout not captured: %q", res.Output)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	r := NewRunner(zaptest.NewLogger(t), Options{})
	_, err := r.Run(context.Background(), Spec{Name: "slow", Command: script(t, "hang.sh"), Args: []string{pidFile}, Timeout: time.Second},
		Context{Event: EventFence})
	var herr *Error
	if !errors.As(err, &herr) || !herr.TimedOut {
		t.Fatalf("want a timeout error, got %v", err)
	}
	if !strings.Contains(err.Error(), `hook "slow"`) || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("message %q", err.Error())
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("child pid: %v", rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The killed child is reaped by init; until then it may linger as a zombie.
		if kerr := syscall.Kill(pid, 0); errors.Is(kerr, syscall.ESRCH) || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the hook survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

func TestRunBoundsOutput(t *testing.T) {
	r := NewRunner(zaptest.NewLogger(t), Options{MaxOutput: 1000})
	res, err := r.Run(context.Background(), Spec{Name: "loud", Command: script(t, "loud.sh")}, Context{Event: EventPostPromote})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 1000 || !res.Truncated || !strings.HasPrefix(res.Output, "line 0 of") {
		t.Fatalf("output len %d truncated %v", len(res.Output), res.Truncated)
	}
}

func TestRunMissingCommand(t *testing.T) {
	r := NewRunner(zaptest.NewLogger(t), Options{})
	_, err := r.Run(context.Background(), Spec{Name: "gone", Command: "/nonexistent/sqldr-hook"}, Context{Event: EventPrePromote})
	var herr *Error
	if !errors.As(err, &herr) || herr.TimedOut || herr.ExitCode != -1 || !strings.Contains(err.Error(), `hook "gone" (/nonexistent/sqldr-hook) failed:`) {
		t.Fatalf("got %v", err)
	}
}

func TestSpecValidate(t *testing.T) {
	err := Spec{Timeout: -time.Second, Env: map[string]string{"SQLDR_X": "1", "bad-name": "2"}}.Validate()
	for _, want := range []string{"name: must not be empty", "command: must not be empty", "timeout: -1s must not be negative",
		"env.SQLDR_X: SQLDR_ variables are set by sqldr", "env.bad-name: not a valid environment variable name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q in %v", want, err)
		}
	}
}

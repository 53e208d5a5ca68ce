//go:build !windows

package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
)

type fakeLoop struct {
	ready     bool
	state     controller.State
	untrusted string
}

func (f fakeLoop) Ready(time.Time) bool { return f.ready }
func (f fakeLoop) Status() controller.Status {
	return controller.Status{Group: "mgc", State: f.state}
}
func (f fakeLoop) Untrusted() string { return f.untrusted }

func TestLoopHealth(t *testing.T) {
	tests := []struct {
		name  string
		loop  fakeLoop
		alive bool
		frag  string
	}{
		{"reconciling", fakeLoop{ready: true, state: controller.StateHealthy}, true, "group mgc: Healthy"},
		{"stuck", fakeLoop{ready: false, state: controller.StateDegraded}, false, "no reconcile finished recently"},
		{"long promotion step", fakeLoop{ready: false, state: controller.StatePromoting}, true, "a runbook step is running"},
		{"untrusted state dir", fakeLoop{ready: true, state: controller.StateUnknown, untrusted: "torn"}, true, "observing only"},
	}
	for _, tt := range tests {
		alive, status := loopHealth(tt.loop)(time.Now())
		if alive != tt.alive || !strings.Contains(status, tt.frag) {
			t.Errorf("%s: alive %t status %q; want %t containing %q", tt.name, alive, status, tt.alive, tt.frag)
		}
	}
}

func TestUnsafePath(t *testing.T) {
	dir := t.TempDir()
	safe := filepath.Join(dir, "safe")
	open := filepath.Join(dir, "open")
	for _, p := range []string{safe, open} {
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil { //nolint:gosec // the unsafe case
		t.Fatal(err)
	}
	if problem, err := unsafePath(safe, os.Getuid(), ""); err != nil || problem != "" {
		t.Fatalf("own 0750 directory: %q, %v", problem, err)
	}
	if problem, _ := unsafePath(open, os.Getuid(), ""); !strings.Contains(problem, "writable by others (mode 0777)") {
		t.Fatalf("0777 directory: %q", problem)
	}
	// Owned by someone else (this process is not uid 4242), without an operators group.
	if os.Getuid() != 0 {
		t.Skip("the ownership case needs a file owned by root or another user")
	}
	if problem, _ := unsafePath(safe, 4242, ""); problem != "" {
		t.Fatalf("root-owned directory must be accepted: %q", problem)
	}
	if err := os.Chown(safe, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	if problem, _ := unsafePath(safe, 1000, ""); !strings.Contains(problem, "owned by uid 4242 gid 4343") {
		t.Fatalf("foreign owner: %q", problem)
	}
	if problem, err := unsafePath(safe, 1000, "4343"); err != nil || problem != "" {
		t.Fatalf("operators group by GID: %q, %v", problem, err)
	}
	if _, err := unsafePath(safe, 1000, "no-such-group-sqldr"); err == nil {
		t.Fatal("an unknown operators group was accepted")
	}
}

// TestServiceRunNotifiesSystemd runs the daemon as `sqldr service run` does, against the lab, with a
// real $NOTIFY_SOCKET: READY=1 arrives after the first reconcile with the group's state, WATCHDOG=1
// keeps coming, and STOPPING=1 is the last word when the daemon is stopped.
func TestServiceRunNotifiesSystemd(t *testing.T) {
	cl := startCheckLab(t)
	for k, v := range cl.env {
		t.Setenv(k, v)
	}
	sockDir, err := os.MkdirTemp("", "sdn") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200ms
	t.Setenv("WATCHDOG_PID", "")

	cfg, err := config.Parse([]byte(cl.yaml("interval: 1s\nhttp: {listen: 127.0.0.1:0}\n")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runSupervised(ctx, zap.NewNop(), cfg, reconcile.OpenOptions{}) }()

	recv := func() string {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 1024)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	var got []string
	for len(got) < 50 {
		m := recv()
		got = append(got, m)
		if strings.HasPrefix(m, "READY=1") {
			break
		}
	}
	last := got[len(got)-1]
	if !strings.HasPrefix(last, "READY=1\nSTATUS=group mgc: ") || !strings.HasSuffix(last, "WATCHDOG=1") {
		t.Fatalf("notifications %q: want READY=1 with the group's status and a watchdog ping", got)
	}
	if m := recv(); !strings.Contains(m, "WATCHDOG=1") {
		t.Fatalf("after READY: %q, want a watchdog ping", m)
	}
	cancel()
	for i := 0; ; i++ {
		m := recv()
		if strings.HasPrefix(m, "STOPPING=1") {
			break
		}
		if i > 20 {
			t.Fatalf("no STOPPING=1 after the daemon was stopped (last %q)", m)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop")
	}
}

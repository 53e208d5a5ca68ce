package sdnotify

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen opens a unixgram socket as systemd would and returns its path and a receive function.
func listen(t *testing.T) (string, func() string) {
	t.Helper()
	// Socket paths are limited to 108 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return path, func() string {
		t.Helper()
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no datagram received: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifySendsOneDatagram(t *testing.T) {
	path, recv := listen(t)
	n, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	if !n.Enabled() {
		t.Fatal("notifier with a socket is not enabled")
	}
	if err := n.Notify(Ready, Status("healthy\nsecond line")); err != nil {
		t.Fatal(err)
	}
	if got, want := recv(), "READY=1\nSTATUS=healthy second line"; got != want {
		t.Fatalf("datagram %q, want %q", got, want)
	}
	if err := n.Notify(Watchdog); err != nil {
		t.Fatal(err)
	}
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("datagram %q, want WATCHDOG=1", got)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "@sqldr-sdnotify-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Skipf("abstract sockets unavailable here: %v", err)
	}
	defer func() { _ = conn.Close() }()
	n, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	k, err := conn.Read(buf)
	if err != nil || string(buf[:k]) != "STOPPING=1" {
		t.Fatalf("read %q, %v; want STOPPING=1", buf[:k], err)
	}
}

func TestNotifyErrors(t *testing.T) {
	if _, err := New("relative/socket"); err == nil || !strings.Contains(err.Error(), "neither an absolute path") {
		t.Fatalf("New(relative) error = %v", err)
	}
	off, err := New("")
	if err != nil || off.Enabled() {
		t.Fatalf("New(\"\") = %v, %v; want a disabled notifier", off, err)
	}
	if err := off.Notify(Ready); err != nil {
		t.Fatalf("disabled notifier returned %v", err)
	}
	var nilN *Notifier
	if err := nilN.Notify(Ready); err != nil {
		t.Fatalf("nil notifier returned %v", err)
	}
	path, _ := listen(t)
	n, _ := New(path)
	if err := n.Notify("READY=1\nWATCHDOG=1"); err == nil {
		t.Fatal("a value with a newline was sent")
	}
	if err := n.Notify("READY"); err == nil {
		t.Fatal("an assignment without = was sent")
	}
	if err := n.Notify(); err == nil {
		t.Fatal("an empty notification was sent")
	}
	gone, _ := New(filepath.Join(t.TempDir(), "absent"))
	if err := gone.Notify(Ready); err == nil || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("send to a missing socket: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		usec, pid string
		want      time.Duration
		wantErr   bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"30000000", "42", 30 * time.Second, false},
		{"30000000", "43", 0, false}, // meant for another process
		{"0", "", 0, true},
		{"-5", "", 0, true},
		{"soon", "", 0, true},
		{"30000000", "x", 0, true},
	}
	for _, tt := range tests {
		got, err := WatchdogInterval(tt.usec, tt.pid, 42)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("WatchdogInterval(%q, %q) = %v, %v; want %v, error %v", tt.usec, tt.pid, got, err, tt.want, tt.wantErr)
		}
	}
}

// fakeHealth is a Health whose answer the test sets.
type fakeHealth struct {
	mu     sync.Mutex
	alive  bool
	status string
}

func (f *fakeHealth) set(alive bool, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alive, f.status = alive, status
}

func (f *fakeHealth) health(time.Time) (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive, f.status
}

func TestSuperviseReadyWatchdogStopping(t *testing.T) {
	path, recv := listen(t)
	n, _ := New(path)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &fakeHealth{status: "starting: no reconcile yet"}
	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, zap.New(core), n, clk, h.health, SuperviseOptions{Watchdog: 20 * time.Second, Poll: time.Minute})
	}()

	// Not alive yet: only the status, never READY or WATCHDOG.
	if got := recv(); got != "STATUS=starting: no reconcile yet" {
		t.Fatalf("first datagram %q", got)
	}
	waitTicker(t, clk)
	h.set(true, "Healthy")
	clk.Step(10 * time.Second) // Watchdog/2 is shorter than Poll
	if got := recv(); got != "READY=1\nSTATUS=Healthy\nWATCHDOG=1" {
		t.Fatalf("datagram after the first reconcile %q", got)
	}
	clk.Step(10 * time.Second)
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("keep-alive %q", got)
	}
	// Stuck loop: the status changes, and no WATCHDOG=1 goes out (systemd will restart the unit).
	h.set(false, "no reconcile for 2m")
	clk.Step(10 * time.Second)
	if got := recv(); got != "STATUS=no reconcile for 2m" {
		t.Fatalf("datagram of a stuck loop %q", got)
	}
	h.set(true, "Healthy")
	clk.Step(10 * time.Second)
	if got := recv(); got != "STATUS=Healthy\nWATCHDOG=1" { // READY=1 is sent once only
		t.Fatalf("datagram after recovery %q", got)
	}
	cancel()
	if got := recv(); got != "STOPPING=1\nSTATUS=stopping" {
		t.Fatalf("last datagram %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if logs.FilterMessage("systemd_notified_ready").Len() != 1 {
		t.Fatalf("want one systemd_notified_ready log entry, got %v", logs.All())
	}
}

func TestSuperviseDisabledReturnsAtOnce(t *testing.T) {
	n, _ := New("")
	clk := clocktesting.NewFakeClock(time.Now())
	if err := Supervise(context.Background(), zap.NewNop(), n, clk, (&fakeHealth{}).health, SuperviseOptions{}); err != nil {
		t.Fatal(err)
	}
	path, _ := listen(t)
	on, _ := New(path)
	if err := Supervise(context.Background(), zap.NewNop(), on, clk, nil, SuperviseOptions{}); err == nil {
		t.Fatal("Supervise without a health function did not fail")
	}
}

func TestSuperviseLogsSendFailureOnce(t *testing.T) {
	n, _ := New(filepath.Join(t.TempDir(), "absent"))
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &fakeHealth{alive: true, status: "Healthy"}
	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, zap.New(core), n, clk, h.health, SuperviseOptions{Watchdog: 2 * time.Second})
	}()
	for range 3 {
		waitTicker(t, clk)
		clk.Step(time.Second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := logs.FilterMessage("systemd_notify_failed").Len(); got != 1 {
		t.Fatalf("send failure logged %d times, want once", got)
	}
}

// waitTicker waits until the supervisor holds a ticker on the fake clock.
func waitTicker(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("supervisor never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkNotify measures one READY/STATUS/WATCHDOG datagram to a real unixgram socket (dial, send,
// close), the cost the watchdog pays every WatchdogSec/2.
func BenchmarkNotify(b *testing.B) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	n, err := New(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Notify(Status("group mgc: Healthy"), Watchdog); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = conn.Close()
	<-drained
}

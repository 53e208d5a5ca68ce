//go:build windows

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/windows/svc"
)

// TestServiceHandlerStop drives the SCM handler with fake channels: it reports StartPending then
// Running, answers Interrogate, and on Stop cancels the daemon, reports StopPending and returns once
// the daemon has returned.
func TestServiceHandlerStop(t *testing.T) {
	stopped := make(chan struct{})
	h := &serviceHandler{log: zap.NewNop(), run: func(ctx context.Context, _ *zap.Logger) error {
		<-ctx.Done()
		close(stopped)
		return nil
	}}
	req := make(chan svc.ChangeRequest)
	status := make(chan svc.Status, 16)
	type result struct {
		specific bool
		code     uint32
	}
	done := make(chan result, 1)
	go func() { s, c := h.Execute(nil, req, status); done <- result{s, c} }()
	next := func() svc.Status {
		t.Helper()
		select {
		case s := <-status:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no status reported")
			return svc.Status{}
		}
	}
	if s := next(); s.State != svc.StartPending {
		t.Fatalf("first status %v, want StartPending", s.State)
	}
	if s := next(); s.State != svc.Running || s.Accepts&svc.AcceptStop == 0 || s.Accepts&svc.AcceptShutdown == 0 {
		t.Fatalf("second status %+v, want Running accepting Stop and Shutdown", s)
	}
	req <- svc.ChangeRequest{Cmd: svc.Interrogate, CurrentStatus: svc.Status{State: svc.Running}}
	if s := next(); s.State != svc.Running {
		t.Fatalf("interrogate answered %v", s.State)
	}
	req <- svc.ChangeRequest{Cmd: svc.Stop}
	if s := next(); s.State != svc.StopPending || s.CheckPoint != 1 {
		t.Fatalf("after Stop: %+v, want StopPending checkpoint 1", s)
	}
	<-stopped
	if r := <-done; r.specific || r.code != 0 {
		t.Fatalf("Execute returned %+v, want a clean exit", r)
	}
}

func TestServiceHandlerDaemonFailure(t *testing.T) {
	h := &serviceHandler{log: zap.NewNop(), run: func(context.Context, *zap.Logger) error { return errors.New("state directory locked") }}
	status := make(chan svc.Status, 16)
	specific, code := h.Execute(nil, make(chan svc.ChangeRequest), status)
	if !specific || code != 1 || h.err == nil {
		t.Fatalf("Execute = %t, %d, err %v; want a service-specific failure", specific, code, h.err)
	}
}

func TestIsExecutableWindows(t *testing.T) {
	t.Setenv("PATHEXT", ".COM;.EXE;.BAT;.CMD")
	for path, want := range map[string]bool{`C:\x\hook.exe`: true, `C:\x\hook.CMD`: true, `C:\x\hook.ps1`: false, `C:\x\hook`: false} {
		if got := isExecutable(path, nil); got != want {
			t.Errorf("isExecutable(%s) = %t, want %t", path, got, want)
		}
	}
	dir := t.TempDir()
	if problem, err := unsafePath(dir, 0, ""); err != nil || problem != "" {
		t.Fatalf("a fresh temp dir of this user: %q, %v", problem, err)
	}
	if _, err := unsafePath(filepath.Join(dir, "absent"), 0, ""); err == nil || !os.IsNotExist(errors.Unwrap(err)) {
		t.Fatalf("missing path: %v", err)
	}
}

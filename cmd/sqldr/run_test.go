package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/journal"
)

// TestRunDaemon runs the daemon as `sqldr run` wires it, against the lab: it serves /readyz and
// /status on the configured address, holds the state directory's lock while it runs, and shuts
// down cleanly, releasing it.
func TestRunDaemon(t *testing.T) {
	demoCheckLeaks(t)
	log := zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))
	w, err := startDemoWorld(log, t.TempDir(), demoOptions{mode: "approval", speed: 60,
		start: time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDaemon(ctx, log, w.cfg, reconcile.OpenOptions{Clock: w.clk}, func(_ *reconcile.Daemon, a net.Addr) { addrc <- a })
	}()
	var addr string
	select {
	case a := <-addrc:
		addr = a.String()
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("never ready: %v", err)
		}
		tm := time.NewTimer(10 * time.Millisecond)
		<-tm.C
	}
	out := runCLI(t, "status", "--addr", addr, "--json")
	if !strings.Contains(out, `"group": "mgc"`) || !strings.Contains(out, `"trusted": true`) || !strings.Contains(out, `"name": "SQLB1"`) {
		t.Fatalf("status --json: %.800s", out)
	}
	if _, err := journal.Open(zap.NewNop(), journal.Options{Dir: w.stateDir}); err == nil {
		t.Fatal("the state directory is not locked while the daemon runs")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	st, err := journal.Open(zap.NewNop(), journal.Options{Dir: w.stateDir})
	if err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	var status map[string]any
	found, _, err := st.Status(&status)
	_ = st.Close()
	if err != nil || !found || status["group"] != "mgc" {
		t.Fatalf("persisted status %v %v %v", found, err, status)
	}
}

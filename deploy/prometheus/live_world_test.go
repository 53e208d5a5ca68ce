package prometheus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/lab"
)

// liveWorld is the lab's default topology (principal and mirror in site A, the log-shipping
// secondary SQLB1 in site B) running on an accelerated clock, watched by an in-process sqldr daemon
// (reconcile.Open + Daemon.Run, exactly what `sqldr run` wires) that serves /metrics on loopback.
//
// The daemon runs on the real clock, as it does in production: the log-shipping ages it exports are
// measured on the SQL Server instances' own clocks (the lab's), so they grow at the lab's speed
// while the reconcile interval, the scrapes and Prometheus' `for:` hold run in wall time.
type liveWorld struct {
	lab *lab.Lab
	// addr is the daemon's HTTP address (host:port).
	addr string
	// speed is the lab's acceleration (simulated seconds per real second).
	speed float64
}

// liveWorldOptions are the knobs of a live world.
type liveWorldOptions struct {
	// speed is the lab's acceleration (default 60: a simulated minute per real second).
	speed float64
	// restoreThreshold is the daemon's log_shipping.restore_threshold (simulated time).
	restoreThreshold time.Duration
}

// liveInstances are the lab instances the daemon watches and their sqldr roles.
var liveInstances = []struct{ name, role string }{
	{"SQLA1", config.RolePartner}, {"SQLA2", config.RolePartner}, {"SQLB1", config.RoleSecondary},
}

// startLiveWorld starts the lab and the daemon and waits until the daemon has finished a reconcile
// cycle (/readyz answers 200). Everything is stopped by t.Cleanup.
func startLiveWorld(t *testing.T, o liveWorldOptions) *liveWorld {
	t.Helper()
	if o.speed <= 0 {
		o.speed = 60
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	dir := t.TempDir()
	saPassword := "Live-" + randomHex(t, 8) + "!a1"

	lcfg := lab.DefaultConfig()
	// The simulated clock starts at the wall-clock instant so that the daemon's real clock and the
	// instances' clocks agree at the start (they then drift apart at the lab's speed).
	lcfg.Start = time.Now().UTC()
	l, err := lab.Start(log.Named("lab"), lcfg, lab.Options{Speed: o.speed,
		Credentials: lab.Credentials{SAPassword: saPassword}})
	if err != nil {
		t.Fatalf("start the lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close the lab: %v", err)
		}
	})

	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	var inst strings.Builder
	for _, in := range liveInstances {
		srv, err := l.Server(in.name)
		if err != nil {
			t.Fatalf("lab instance %s: %v", in.name, err)
		}
		dsnFile := filepath.Join(dir, in.name+".dsn")
		if err := os.WriteFile(dsnFile, []byte(lab.DSN(srv.Addr(), "sa", saPassword, "master")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		site := "A"
		if in.role == config.RoleSecondary {
			site = "B"
		}
		fmt.Fprintf(&inst, "  - name: %s\n    site: %s\n    role: %s\n    dsn_file: %s\n    connect_timeout: 3s\n    query_timeout: 5s\n",
			in.name, site, in.role, dsnFile)
	}
	var ls string
	if o.restoreThreshold > 0 {
		ls = fmt.Sprintf("log_shipping:\n  restore_threshold: %s\n", o.restoreThreshold)
	}
	// mode monitor: the daemon never acts, it only observes and exports.
	cfgText := fmt.Sprintf(`state_dir: %s
http:
  listen: 127.0.0.1:0
interval: 1s
mode: monitor
group: mgc
databases: [mgc]
monitored_databases: [mgccomp]
target: SQLB1
instances:
%s%s`, stateDir, inst.String(), ls)
	cfgPath := filepath.Join(dir, "sqldr.yml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("the live test's daemon configuration:\n%v", err)
	}
	d, err := reconcile.Open(log.Named("sqldr"), cfg, reconcile.OpenOptions{Clock: clock.RealClock{},
		ApproveFlags: "--config " + cfgPath})
	if err != nil {
		t.Fatalf("open the daemon: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = d.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the daemon did not stop within 30s of its context's end")
		}
		if err := d.Close(); err != nil {
			t.Errorf("close the daemon: %v", err)
		}
		httpClient.CloseIdleConnections()
	})
	w := &liveWorld{lab: l, addr: ln.Addr().String(), speed: o.speed}
	waitFor(t, "the daemon's first reconcile cycle (/readyz 200)", 30*time.Second, 100*time.Millisecond, func() (bool, error) {
		code, _, err := httpGet(ctx, "http://"+w.addr+"/readyz")
		return code == http.StatusOK, err
	})
	return w
}

// scrape returns the daemon's /metrics in the text exposition format (what Prometheus would get
// without content negotiation).
func (w *liveWorld) scrape(t *testing.T) string {
	t.Helper()
	code, body, err := httpGet(context.Background(), "http://"+w.addr+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape /metrics: status %d, %v", code, err)
	}
	return body
}

// realDuration converts a simulated duration into the wall time the lab takes to live through it.
func (w *liveWorld) realDuration(sim time.Duration) time.Duration {
	return time.Duration(float64(sim) / w.speed)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// httpGet fetches url and returns the status code and the body. A connection error is returned, not
// fatal: callers poll.
func httpGet(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}

// errNotYet is what a polled condition reports while it is still false, when there is something
// to say about why.
var errNotYet = errors.New("not yet")

// waitFor polls cond every interval until it returns true, failing the test if it does not within
// timeout. The last error cond returned is in the failure message. The loop is bounded in time and
// therefore in count (timeout/interval polls).
func waitFor(t *testing.T, what string, timeout, interval time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s (last: %v)", timeout, what, last)
		case <-tick.C:
		}
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

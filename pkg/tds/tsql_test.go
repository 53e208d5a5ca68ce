package tds

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFreeTDSClient drives FreeTDS tsql, an independent TDS implementation, against the server.
// With CI=true a missing tsql is a failure (.ci/run installs freetds-bin).
func TestFreeTDSClient(t *testing.T) {
	path, err := exec.LookPath("tsql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tsql (Debian package freetds-bin) is required when CI=true")
		}
		t.Skip("tsql not installed (apt-get install freetds-bin)")
	}
	ts := startServer(t, Options{ServerName: "SQLB"})
	host, port, _ := net.SplitHostPort(ts.addr)
	run := func(t *testing.T, tdsver, user, input string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-H", host, "-p", port, "-U", user, "-P", "pw")
		cmd.Stdin = strings.NewReader(input)
		// Keep FreeTDS away from the user's configuration, and pin the protocol version.
		cmd.Env = append(os.Environ(), "TDSVER="+tdsver, "FREETDSCONF=/dev/null", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("tsql timed out; output:\n%s", out)
		}
		_ = err // tsql's exit status after "exit" is not meaningful; the output is checked instead
		return string(out)
	}
	for _, ver := range []string{"7.4", "7.3"} {
		t.Run("TDS "+ver, func(t *testing.T) {
			out := run(t, ver, "sa", "rows 3\ngo\ntypes\ngo\nerrors 4305 3013\ngo\nuse db2\ngo\ndb\ngo\nexit\n")
			for _, want := range []string{
				"row 0", "row 2", // result set of rows
				"héllo ✓", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "123456789012345678901234",
				"-12345678901234567890123456789012.3456", "Feb 29 2024 01:45PM", "3.1415926535897931",
				"Msg 4305", "Msg 3013", "SQLB", // errors with number and server name
				"db2", // USE changed the database
			} {
				if !strings.Contains(out, want) {
					t.Errorf("tsql output lacks %q:\n%s", want, out)
				}
			}
			if ts.h.lastLogin().ClientLibrary != "TDS-Library" {
				t.Errorf("client library %q", ts.h.lastLogin().ClientLibrary)
			}
		})
	}
	t.Run("captured LOGIN7 parses", func(t *testing.T) {
		// FreeTDS lays out LOGIN7 differently from go-mssqldb (extension pointer before the library
		// name, FeatureExt with UTF8_SUPPORT); capture it, parse it, and keep it as a fuzz seed.
		h := newTestHandler()
		srv, err := NewServer(zapNop(), h, Options{})
		if err != nil {
			t.Fatal(err)
		}
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := &recordingListener{Listener: inner}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		_, p, _ := net.SplitHostPort(inner.Addr().String())
		saved := port
		port = p
		run(t, "7.4", "sa", "rows 1\ngo\nexit\n")
		port = saved
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
		l.mu.Lock()
		raw := l.conns[0].Bytes()
		l.mu.Unlock()
		checkCaptured(t, raw, "sa", "pw", "")
	})
	t.Run("bad password", func(t *testing.T) {
		out := run(t, "7.4", "nobody", "select 1\ngo\nexit\n")
		if !strings.Contains(out, "18456") {
			t.Errorf("tsql output lacks 18456:\n%s", out)
		}
	})
	t.Run("TDS 7.1 refused", func(t *testing.T) {
		out := run(t, "7.1", "sa", "select 1\ngo\nexit\n")
		if !strings.Contains(out, "18456") || !strings.Contains(out, "7.3") {
			t.Errorf("tsql output lacks the 18456 refusal:\n%s", out)
		}
	})
}

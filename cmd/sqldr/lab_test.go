package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"go.uber.org/goleak"
)

// syncBuffer is a goroutine-safe output sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func labWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
}

// startLabCmd runs `sqldr lab` as a user would (through the command tree) and
// returns its printed DSNs by role and the control URL.
func startLabCmd(t *testing.T, args ...string) (map[string]string, string) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(out, io.Discard)
		root.SetArgs(append([]string{"lab", "--base-port", "0", "--control", "127.0.0.1:0"}, args...))
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sqldr lab: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("sqldr lab did not stop")
		}
		goleak.VerifyNone(t, ignore)
	})
	labWaitUntil(t, "lab ready", func() bool { return strings.Contains(out.String(), "lab ready") })
	dsns := map[string]string{}
	control := ""
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "control" {
			control = f[1]
		}
		if len(f) >= 5 && strings.HasPrefix(f[4], "sqlserver://") {
			dsns[f[0]] = f[4]
		}
	}
	if control == "" || len(dsns) != 3 {
		t.Fatalf("output did not list 3 DSNs and the control address:\n%s", out.String())
	}
	return dsns, control
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != exitOK {
		t.Fatalf("sqldr %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

func TestLabCommandServesFaultsAndHeals(t *testing.T) {
	dsns, control := startLabCmd(t, "--password", "Cli-Passw0rd!", "--speed", "60")
	if !strings.Contains(dsns["principal"], "Cli-Passw0rd") {
		t.Fatalf("DSN without the password: %s", dsns["principal"])
	}
	db, err := sql.Open("sqlserver", dsns["principal"])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name, role string
	if err := db.QueryRowContext(ctx, `SELECT @@SERVERNAME, m.mirroring_role_desc FROM sys.database_mirroring AS m
		WHERE m.database_id = DB_ID(N'mgc')`).Scan(&name, &role); err != nil || name != "SQLA1" || role != "PRINCIPAL" {
		t.Fatalf("query: %q %q %v", name, role, err)
	}
	// At speed 60 log shipping moves within seconds of real time.
	sec, _ := sql.Open("sqlserver", dsns["secondary"])
	defer func() { _ = sec.Close() }()
	labWaitUntil(t, "a restored log backup on the secondary", func() bool {
		var n int
		return sec.QueryRowContext(ctx, `SELECT COUNT(*) FROM msdb.dbo.restorehistory WHERE restore_type = 'L'`).Scan(&n) == nil && n > 0
	})

	out := runCLI(t, "lab", "fault", "principal", "down", "--control", control)
	if !strings.HasPrefix(out, "fault 1: down principal") {
		t.Fatalf("fault output: %q", out)
	}
	addr := strings.TrimPrefix(strings.SplitN(strings.SplitN(dsns["principal"], "@", 2)[1], "?", 2)[0], "")
	labWaitUntil(t, "principal refusing connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	})
	if st := runCLI(t, "lab", "status", "--control", control); !strings.Contains(st, "fault 1: down principal") || !strings.Contains(st, "SQLA1  principal site A  down") {
		t.Fatalf("status:\n%s", st)
	}
	if out := runCLI(t, "lab", "heal", "--control", control); !strings.Contains(out, "healed 1 fault(s)") {
		t.Fatalf("heal: %q", out)
	}
	labWaitUntil(t, "principal answering again", func() bool { return db.PingContext(ctx) == nil })

	if out := runCLI(t, "lab", "workload", "secondary", "on", "--control", control); out != "workload on secondary: on\n" {
		t.Fatalf("workload: %q", out)
	}

	// Usage errors exit 2.
	var errOut bytes.Buffer
	if code := run([]string{"lab", "fault", "principal", "explode", "--control", control}, io.Discard, &errOut); code != exitUsage {
		t.Fatalf("unknown fault: exit %d %s", code, errOut.String())
	}
	if code := run([]string{"lab", "fault", "nosuch", "down", "--control", control}, io.Discard, &errOut); code != exitFailure {
		t.Fatalf("unknown target: exit %d", code)
	}
}

func TestLabTopologyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topo.yml")
	yml := "databases: [app]\nbackup_interval: 30s\ninstances:\n" +
		"  - {name: P1, role: principal, site: A, time_zone: Europe/Paris}\n" +
		"  - {name: M1, role: mirror, site: A, time_zone: Europe/Paris}\n" +
		"  - {name: S1, role: secondary, site: B, time_zone: Australia/Sydney}\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	dsns, _ := startLabCmd(t, "--topology", path)
	db, _ := sql.Open("sqlserver", dsns["secondary"])
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name, state string
	if err := db.QueryRowContext(ctx, `SELECT @@SERVERNAME, state_desc FROM sys.databases WHERE name = N'app'`).Scan(&name, &state); err != nil || name != "S1" || state != "RESTORING" {
		t.Fatalf("topology file: %q %q %v", name, state, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	_ = os.WriteFile(bad, []byte("databasez: [x]\n"), 0o600)
	var errOut bytes.Buffer
	if code := run([]string{"lab", "--topology", bad}, io.Discard, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "databasez") {
		t.Fatalf("unknown key: exit %d %s", code, errOut.String())
	}
}

func TestLabSingleContract(t *testing.T) {
	t.Setenv("ACCEPT_EULA", "")
	t.Setenv("MSSQL_SA_PASSWORD", "Single-Passw0rd!")
	var errOut bytes.Buffer
	if code := run([]string{"lab", "single", "--addr", "127.0.0.1:0"}, io.Discard, &errOut); code != exitFailure || !strings.Contains(errOut.String(), "ACCEPT_EULA") {
		t.Fatalf("without ACCEPT_EULA: exit %d %s", code, errOut.String())
	}
	t.Setenv("ACCEPT_EULA", "Y")
	t.Setenv("MSSQL_SA_PASSWORD", "weak")
	if code := run([]string{"lab", "single", "--addr", "127.0.0.1:0"}, io.Discard, &errOut); code != exitFailure {
		t.Fatalf("weak password: exit %d", code)
	}
	t.Setenv("MSSQL_SA_PASSWORD", "Single-Passw0rd!")
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(out, io.Discard)
		root.SetArgs([]string{"lab", "single", "--addr", "127.0.0.1:0"})
		done <- root.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sqldr lab single: %v", err)
		}
		goleak.VerifyNone(t, ignore)
	}()
	labWaitUntil(t, "Recovery is complete.", func() bool { return strings.Contains(out.String(), "Recovery is complete.") })
	line := strings.SplitN(out.String(), "\n", 2)[0]
	addr := line[strings.LastIndex(line, " ")+1:]
	db, _ := sql.Open("sqlserver", "sqlserver://sa:Single-Passw0rd%21@"+addr+"?encrypt=disable")
	defer func() { _ = db.Close() }()
	qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer qcancel()
	if _, err := db.ExecContext(qctx, `INSERT INTO mgc.dbo.messages (body) VALUES (N'x')`); err != nil {
		t.Fatalf("insert on the single instance: %v", err)
	}
	_, err := db.ExecContext(qctx, `RESTORE LOG mgc FROM DISK = N'C:\none.trn' WITH NORECOVERY`)
	var me mssql.Error
	if !errors.As(err, &me) || me.All[0].Number != 3117 {
		t.Fatalf("restore on an online database: %v", err)
	}
}

// TestLabBinaryStopsOnSIGTERM builds sqldr, runs `sqldr lab` as a user would, queries it,
// faults and heals it through the CLI binary, and stops it with SIGTERM.
func TestLabBinaryStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "sqldr")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "lab", "--base-port", "0", "--control", "127.0.0.1:0", "--databases", "mgc")
	cmd.Env = append(os.Environ(), "MSSQL_SA_PASSWORD=Env-Passw0rd!")
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	labWaitUntil(t, "lab ready", func() bool { return strings.Contains(out.String(), "lab ready") })
	var dsn, control string
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "principal" {
			dsn = f[4]
		}
		if len(f) >= 2 && f[0] == "control" {
			control = f[1]
		}
	}
	if !strings.Contains(dsn, "Env-Passw0rd") {
		t.Fatalf("DSN does not carry MSSQL_SA_PASSWORD: %q", dsn)
	}
	db, _ := sql.Open("sqlserver", dsn)
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sys.databases").Scan(&n); err != nil || n < 5 {
		t.Fatalf("query: %d %v", n, err)
	}
	if o, err := exec.Command(bin, "lab", "fault", "principal", "hung", "--control", control).CombinedOutput(); err != nil {
		t.Fatalf("fault: %v %s", err, o)
	}
	if o, err := exec.Command(bin, "lab", "heal", "--control", control).CombinedOutput(); err != nil || !strings.Contains(string(o), "healed 1") {
		t.Fatalf("heal: %v %s", err, o)
	}
	labWaitUntil(t, "principal answering after heal", func() bool { return db.PingContext(ctx) == nil })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sqldr lab exited with %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sqldr lab did not stop on SIGTERM")
	}
	if !strings.Contains(out.String(), "lab stopping") {
		t.Fatalf("no clean-stop line:\n%s", out.String())
	}
}

func labFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	_ = l.Close()
	return a
}

// TestLabSplitCommands runs `sqldr lab --split` and one `sqldr lab instance` per
// instance, queries the principal through its instance process, and stops the
// mirror's process: the principal then reports the mirror DISCONNECTED.
func TestLabSplitCommands(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 4)
	go func() {
		root := newRootCmd(out, io.Discard)
		root.SetArgs([]string{"lab", "--split", "--base-port", "0", "--control", "127.0.0.1:0", "--databases", "mgc", "--speed", "20"})
		done <- root.ExecuteContext(ctx)
	}()
	running := 1
	defer func() {
		cancel()
		for ; running > 0; running-- {
			if err := <-done; err != nil {
				t.Errorf("command: %v", err)
			}
		}
		goleak.VerifyNone(t, ignore)
	}()
	labWaitUntil(t, "world ready", func() bool { return strings.Contains(out.String(), "lab ready") })
	var control string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "control" {
			control = f[1]
		}
	}
	names := []string{"SQLA1", "SQLA2", "SQLB1"}
	links, tdsAddr := map[string]string{}, map[string]string{}
	for _, n := range names {
		links[n], tdsAddr[n] = labFreeAddr(t), labFreeAddr(t)
	}
	cancels := map[string]context.CancelFunc{}
	for _, n := range names {
		args := []string{"lab", "instance", "--name", n, "--world", control, "--listen", tdsAddr[n], "--link", links[n]}
		for _, p := range names {
			if p != n {
				args = append(args, "--peer", p+"="+links[p])
			}
		}
		ictx, icancel := context.WithCancel(ctx)
		cancels[n] = icancel
		running++
		go func() {
			root := newRootCmd(io.Discard, io.Discard)
			root.SetArgs(args)
			done <- root.ExecuteContext(ictx)
		}()
	}
	db, _ := sql.Open("sqlserver", "sqlserver://sa:"+strings.ReplaceAll(labDefaultPassword, "!", "%21")+"@"+tdsAddr["SQLA1"]+"?encrypt=disable")
	defer func() { _ = db.Close() }()
	qctx, qcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer qcancel()
	state := func() string {
		var s string
		if err := db.QueryRowContext(qctx, `SELECT mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID(N'mgc')`).Scan(&s); err != nil {
			return ""
		}
		return s
	}
	labWaitUntil(t, "SYNCHRONIZED through the instance processes", func() bool { return state() == "SYNCHRONIZED" })
	// Stop the mirror's process.
	cancels["SQLA2"]()
	if err := <-done; err != nil {
		t.Errorf("instance SQLA2: %v", err)
	}
	running--
	labWaitUntil(t, "DISCONNECTED after the mirror's process stopped", func() bool { return state() == "DISCONNECTED" })
}

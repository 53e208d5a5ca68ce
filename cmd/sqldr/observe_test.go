package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/probes"
)

func observeWriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestObserveConfigExample(t *testing.T) {
	st, err := loadObserveConfig("../../deploy/observer.example.yml")
	if err != nil {
		t.Fatalf("the example config does not load:\n%v", err)
	}
	s := st.server
	if s.Name != "obs-dc3" || s.Addr != "0.0.0.0:9725" || s.TokenFile != "/etc/sqldr/observer.token" ||
		s.TLSCertFile != "/etc/sqldr/observer.crt" || s.TLSKeyFile != "/etc/sqldr/observer.key" ||
		s.Interval != 10*time.Second || s.Timeout != 15*time.Second {
		t.Fatalf("server options %+v", s)
	}
	p := st.probe
	if len(p.Targets) != 2 || len(p.Databases) != 2 || p.Databases[1] != "mgccomp" {
		t.Fatalf("probe options %+v", p)
	}
	a1, a2 := p.Targets[0], p.Targets[1]
	if a1.Name != "SQLA1" || a1.DSNEnv != "SQLDR_OBSERVER_SQLA1_DSN" || a1.Site != probes.SiteA || a1.Role != probes.RolePartner ||
		a1.ConnectTimeout != 5*time.Second || a1.QueryTimeout != 10*time.Second {
		t.Fatalf("SQLA1 %+v", a1)
	}
	if a2.Name != "SQLA2" || a2.DSNFile != "/etc/sqldr/sqla2.dsn" || a2.ConnectTimeout != probes.DefaultConnectTimeout {
		t.Fatalf("SQLA2 %+v", a2)
	}
	if st.sourceAddr.IsValid() || st.logLevel != zapcore.InfoLevel {
		t.Fatalf("source %v level %v", st.sourceAddr, st.logLevel)
	}
	// The probe options it yields pass the probes package's own validation.
	if err := p.Validate(); err != nil {
		t.Fatalf("probes rejects the example: %v", err)
	}
}

func TestObserveConfigDefaults(t *testing.T) {
	st, err := parseObserveConfig([]byte("name: o\ntoken_file: /t\ndatabases: [mgc]\ninstances: [{name: SQLA1, dsn_env: DSN1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.server.Addr != "127.0.0.1:9725" || st.server.Interval != 10*time.Second || st.server.Timeout != 15*time.Second ||
		st.server.TLSCertFile != "" || st.logLevel != zapcore.InfoLevel {
		t.Fatalf("defaults %+v", st)
	}
	st, err = parseObserveConfig([]byte("name: o\ntoken_file: /t\ninterval: 3s\nsource_address: 127.0.0.3\nlog_level: debug\n" +
		"databases: [mgc]\ninstances: [{name: SQLA1, dsn_file: /d}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.server.Timeout != 15*time.Second || st.sourceAddr.String() != "127.0.0.3" || st.logLevel != zapcore.DebugLevel {
		t.Fatalf("%+v", st)
	}
}

func TestObserveConfigProblems(t *testing.T) {
	doc := `
listen: nowhere
interval: 10
timeout: -5s
source_address: host.example
tls:
  cert_file: /c
databases: [mgc, MGC, "bad]name"]
instances:
  - name: SQLA1
    dsn: sqlserver://sa:secret@sqla1
    dsn_env: 1BAD
  - name: sqla1
    dsn_env: A
    dsn_file: /f
    query_timeout: soon
  - dsn_file: /g
log_level: loud
extra: 1
`
	_, err := parseObserveConfig([]byte(doc))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"instances[0].dsn: unknown key (line 11); secrets are never written in the config: use dsn_env or dsn_file",
		"extra: unknown key (line 19)",
		`name: is required`,
		`listen: "nowhere" is not host:port`,
		`token_file: is required`,
		`interval: "10" is not a duration`,
		`timeout: -5s must be positive`,
		`source_address: "host.example" is not an IP address`,
		`tls: cert_file and key_file must be given together`,
		`databases[1]: "MGC" is listed twice`,
		`databases[2]: database name "bad]name" contains the character ']'`,
		`instances[0].dsn_env: "1BAD" is not an environment variable name`,
		`instances[1].name: "sqla1" is listed twice`,
		`instances[1]: dsn_env and dsn_file are exclusive`,
		`instances[1].query_timeout: "soon" is not a duration`,
		`instances[2].name: is required`,
		`log_level: "loud"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(msg, "secret@") {
		t.Error("the inline DSN leaked into the error")
	}
	if t.Failed() {
		t.Logf("error:\n%s", msg)
	}

	for _, tt := range []struct{ doc, want string }{
		{"", "the file is empty"},
		{"name: [", "not valid YAML"},
		{"name: o\ntoken_file: /t\ndatabases: mgc\ninstances: [{name: A, dsn_env: X}]\n", "databases: cannot unmarshal"},
		{"name: o\ntoken_file: /t\ndatabases: [mgc]\ninstances: []\n", "instances: at least one site-A instance is required"},
		{"name: o\ntoken_file: /t\ninstances: [{name: A}]\n", "instances[0]: one of dsn_env or dsn_file is required"},
		{"name: o\ntoken_file: /t\ntimeout: 6s\ndatabases: [mgc]\ninstances: [{name: A, dsn_env: X}, {name: B, dsn_env: Y, query_timeout: 20s}]\n",
			"timeout: 6s is shorter than instances[1].connect_timeout + query_timeout (25s)"},
	} {
		_, err := parseObserveConfig([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestObserveCommand(t *testing.T) {
	dir := t.TempDir()
	tok := observeWriteFile(t, dir, "token", "0123456789abcdef0123\n")
	dsn := observeWriteFile(t, dir, "dsn", "sqlserver://u:p@127.0.0.1:1?database=master")
	good := observeWriteFile(t, dir, "good.yml", "name: o\ntoken_file: "+tok+"\ndatabases: [mgc]\ninstances:\n  - {name: SQLA1, dsn_file: "+dsn+"}\n")
	missing := observeWriteFile(t, dir, "missing.yml", "name: o\ntoken_file: "+dir+"/nope\ndatabases: [mgc]\n"+
		"instances:\n  - {name: SQLA1, dsn_env: SQLDR_TEST_UNSET_DSN_7}\n  - {name: SQLA2, dsn_file: "+dir+"/nodsn}\n")
	bad := observeWriteFile(t, dir, "bad.yml", "name: o\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		out, errs  string
		notInError string
	}{
		{name: "config required", args: []string{"observe"}, code: exitUsage, errs: "--config FILE is required"},
		{name: "stray argument", args: []string{"observe", "x"}, code: exitUsage, errs: `unknown command "x"`},
		{name: "help", args: []string{"observe", "--help"}, code: exitOK, out: "GET /v1/observation"},
		{name: "check ok", args: []string{"observe", "--check", "--config", good}, code: exitOK, out: "ok (observer o, 1 instances, 1 databases)"},
		{name: "check reports missing files", args: []string{"observe", "--check", "--config", missing}, code: exitFailure,
			errs: "token_file: read token file"},
		{name: "invalid config", args: []string{"observe", "--config", bad}, code: exitFailure, errs: "token_file: is required"},
		{name: "unreadable config", args: []string{"observe", "--config", dir + "/none.yml"}, code: exitFailure, errs: "read config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errs) {
				t.Fatalf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout %q, stderr %q", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.out, tt.errs)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	run([]string{"observe", "--check", "--config", missing}, &stdout, &stderr)
	for _, want := range []string{"instances[0].dsn_env: environment variable SQLDR_TEST_UNSET_DSN_7 is not set", "instances[1].dsn_file:"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--check output lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestCorroborationFor(t *testing.T) {
	for _, v := range observer.Verdicts {
		c := reconcile.Corroboration(observer.Result{Verdict: v, Detail: "why " + v.String()})
		if c.Verdict.String() != v.String() || c.Detail != "why "+v.String() {
			t.Errorf("%s maps to %s %q", v, c.Verdict, c.Detail)
		}
		var back controller.CorroborationVerdict
		if err := back.UnmarshalText([]byte(v.String())); err != nil || back != c.Verdict {
			t.Errorf("%s: the controller spells it differently (%v)", v, err)
		}
	}
	if c := reconcile.Corroboration(observer.Result{Verdict: observer.Verdict(42)}); c.Verdict != controller.CorroborationNone {
		t.Errorf("an unknown verdict maps to %s, want none", c.Verdict)
	}
}

func TestObservedInstances(t *testing.T) {
	snap := &probes.Snapshot{Instances: []probes.InstanceSnapshot{
		{Name: "SQLA1", Site: probes.SiteA, Role: probes.RolePartner, Reachability: probes.ReachUp, Databases: []probes.DatabaseSnapshot{
			{Name: "mgc", Exists: true, State: probes.DBOnline, Mirroring: probes.Mirroring{Role: probes.MirroringRolePrincipal}},
			{Name: "mgccomp", Exists: true, State: probes.DBOnline, ReadOnly: true},
			{Name: "gone"},
		}},
		{Name: "SQLA2", Reachability: probes.ReachUp, Databases: []probes.DatabaseSnapshot{
			{Name: "mgc", Exists: true, State: probes.DBRestoring, Mirroring: probes.Mirroring{Role: probes.MirroringRoleMirror}},
		}},
		{Name: "SQLA3", Reachability: probes.ReachRefusing, SQLErrorNumber: 18456, Err: "login failed"},
		{Name: "SQLA4", Reachability: probes.ReachUnreachable, Err: "refused"},
		{Name: "SQLA5", Reachability: probes.ReachUnknown},
	}}
	got := observeInstances(snap)
	if len(got) != 5 {
		t.Fatalf("%d instances", len(got))
	}
	a1 := got[0]
	if !a1.Serving() || a1.Databases[0] != (observer.Database{Name: "mgc", Exists: true, State: "ONLINE", MirroringRole: "principal", Writable: true}) {
		t.Errorf("SQLA1 %+v", a1)
	}
	if a1.Databases[1].Writable || a1.Databases[1].State != "ONLINE" || a1.Databases[1].MirroringRole != "" {
		t.Errorf("read-only database %+v", a1.Databases[1])
	}
	if a1.Databases[2] != (observer.Database{Name: "gone"}) {
		t.Errorf("missing database %+v", a1.Databases[2])
	}
	if got[1].Serving() || got[1].Databases[0].State != "RESTORING" || got[1].Databases[0].MirroringRole != "mirror" {
		t.Errorf("SQLA2 %+v", got[1])
	}
	if got[2].Reachability != observer.ReachRefusing || got[2].SQLErrorNumber != 18456 || got[2].Error != "login failed" {
		t.Errorf("SQLA3 %+v", got[2])
	}
	if got[3].Reachability != observer.ReachUnreachable || got[4].Reachability != observer.ReachUnknown {
		t.Errorf("SQLA4/5 %+v %+v", got[3], got[4])
	}
	rep := observer.Report{Observer: "o", BootID: "b", Sequence: 1, Instances: got}
	if err := rep.Validate(); err != nil {
		t.Fatalf("converted instances do not make a valid report: %v", err)
	}
}

// The scenarios below run everything in-process over TCP: the lab (pkg/lab) serves site A (SQLA1
// principal, SQLA2 mirror) and site B (SQLB1 secondary) on loopback ports; the observer (`sqldr
// observe`, built from a YAML config) probes site A from 127.0.0.3; the controller's prober probes
// from 127.0.0.2; the lab cuts paths by client source address. The controller (mode auto) decides on
// its own snapshot and on the observers' verdict, mapped by reconcile.Corroboration.

const (
	obsLabPassword      = "Lab-Passw0rd"
	obsMonitorLogin     = "monitor"
	obsMonitorPassword  = "Mon-Passw0rd"
	obsToken            = "observer-test-token-0123456789"
	obsControllerSource = "127.0.0.2"
	obsObserverSource   = "127.0.0.3"
	obsInterval         = 10 * time.Second
	obsMaxAge           = 30 * time.Second
	obsCtrlCycle        = 10 * time.Second
)

type observeLab struct {
	t        *testing.T
	dir      string
	log      *zap.Logger
	lab      *lab.Lab
	cfgPath  string
	addr     string // the observer's listen address ("" before the first start)
	obs      *observer.Server
	obsClk   *clocktesting.FakeClock
	stopObs  func()
	client   *observer.Client
	ctrlClk  *clocktesting.FakePassiveClock
	prober   *probes.Prober
	ctrl     *controller.Controller
	status   controller.Status
	lastSnap *probes.Snapshot
	lastCorr observer.Result
}

func newObserveLab(t *testing.T, clientToken string) *observeLab {
	t.Helper()
	e := &observeLab{t: t, dir: t.TempDir(), log: zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))}
	clk := lab.NewManualClock(lab.DefaultConfig().Start)
	l, err := lab.Start(zap.NewNop(), lab.DefaultConfig(), lab.Options{Clock: clk, Tick: 5 * time.Millisecond,
		Credentials: lab.Credentials{SAPassword: obsLabPassword, MonitorLogin: obsMonitorLogin, MonitorPassword: obsMonitorPassword}})
	if err != nil {
		t.Fatal(err)
	}
	e.lab = l
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	dsn := func(name, user, pw string) string {
		srv, err := l.Server(name)
		if err != nil {
			t.Fatal(err)
		}
		return observeWriteFile(t, e.dir, name+"-"+user+".dsn", lab.DSN(srv.Addr(), user, pw, "master"))
	}

	// The observer, configured as a user would.
	tok := observeWriteFile(t, e.dir, "observer.token", obsToken+"\n")
	e.cfgPath = observeWriteFile(t, e.dir, "observer.yml", `
name: obs-dc3
listen: 127.0.0.1:0
token_file: `+tok+`
interval: 10s
timeout: 12s
source_address: `+obsObserverSource+`
databases: [mgc, mgccomp]
instances:
  - name: SQLA1
    dsn_file: `+dsn("SQLA1", obsMonitorLogin, obsMonitorPassword)+`
    connect_timeout: 5s
    query_timeout: 5s
  - name: SQLA2
    dsn_file: `+dsn("SQLA2", obsMonitorLogin, obsMonitorPassword)+`
    connect_timeout: 5s
    query_timeout: 5s
`)
	e.startObserver()

	// The controller side: its observer client, its prober and the decision.
	e.ctrlClk = clocktesting.NewFakePassiveClock(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC))
	ctok := observeWriteFile(t, e.dir, "controller.token", clientToken)
	c, err := observer.NewClient(e.log, observer.ClientOptions{
		Observers: []observer.Endpoint{{Name: "obs-dc3", URL: "http://" + e.addr, TokenFile: ctok, Timeout: 3 * time.Second}},
		Rule:      observer.Rule{MaxAge: obsMaxAge, Instances: []string{"SQLA1", "SQLA2"}},
	}, e.ctrlClk)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	t.Cleanup(c.Close)
	var targets []probes.Target
	for _, in := range []struct {
		name string
		site probes.Site
		role probes.Role
	}{{"SQLA1", probes.SiteA, probes.RolePartner}, {"SQLA2", probes.SiteA, probes.RolePartner}, {"SQLB1", probes.SiteB, probes.RoleSecondary}} {
		targets = append(targets, probes.Target{Name: in.name, Site: in.site, Role: in.role, DSNFile: dsn(in.name, "sa", obsLabPassword),
			ConnectTimeout: 5 * time.Second, QueryTimeout: 5 * time.Second,
			SourceAddress: netip.MustParseAddr(obsControllerSource)})
	}
	p, err := probes.New(e.log, probes.Options{Targets: targets, Databases: []string{"mgc", "mgccomp"}}, e.ctrlClk)
	if err != nil {
		t.Fatalf("controller prober: %v", err)
	}
	e.prober = p
	t.Cleanup(func() { _ = p.Close() })
	opts := controller.DefaultOptions()
	opts.Mode = controller.ModeAuto
	opts.ConfirmAfter = 60 * time.Second
	opts.MinFailedProbes = 2
	ctrl, err := controller.New(e.log, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.ctrl, e.status = ctrl, ctrl.NewStatus()
	return e
}

// startObserver runs `sqldr observe` (its config, prober and server) on a fake clock and waits for
// its first observation.
func (e *observeLab) startObserver() {
	t := e.t
	t.Helper()
	st, err := loadObserveConfig(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if e.addr != "" {
		st.server.Addr = e.addr // a restart comes back on the same address
	}
	e.obsClk = clocktesting.NewFakeClock(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *observer.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- runObserver(ctx, e.log.Named("observe"), st, e.obsClk, func(s *observer.Server) { started <- s })
	}()
	select {
	case e.obs = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("observer did not start: %v", err)
	}
	e.addr = e.obs.Addr()
	var once sync.Once
	e.stopObs = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("observer: %v", err)
			}
		})
	}
	t.Cleanup(e.stopObs)
	observeWaitUntil(t, "the observer's first observation", func() bool { _, ok := e.obs.Latest(); return ok })
}

// observeCheckLeaks verifies, after every other cleanup of the test, that no goroutine it started is left.
func observeCheckLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func observeWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// observeOnce lets the observer's schedule tick once and waits for the new observation.
func (e *observeLab) observeOnce() observer.Report {
	e.t.Helper()
	r, _ := e.obs.Latest()
	e.obsClk.Step(obsInterval)
	var next observer.Report
	observeWaitUntil(e.t, "the next observation", func() bool {
		var ok bool
		next, ok = e.obs.Latest()
		return ok && next.Sequence > r.Sequence
	})
	return next
}

// observeUntil ticks the observer (at most 50 times) until its latest report satisfies cond.
func (e *observeLab) observeUntil(what string, cond func(observer.Report) bool) {
	e.t.Helper()
	for range 50 {
		if r, ok := e.obs.Latest(); ok && cond(r) {
			return
		}
		e.observeOnce()
	}
	r, _ := e.obs.Latest()
	e.t.Fatalf("the observer never saw %s; latest: %+v", what, r)
}

// cycle is one controller cycle: probe, ask the observers, decide.
func (e *observeLab) cycle() controller.Result {
	e.t.Helper()
	e.ctrlClk.SetTime(e.ctrlClk.Now().Add(obsCtrlCycle))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e.lastSnap = e.prober.Probe(ctx)
	e.lastCorr = e.client.Check(ctx)
	res, err := e.ctrl.Decide(e.status, controller.Input{Snapshot: e.lastSnap, Corroboration: reconcile.Corroboration(e.lastCorr),
		DataLoss: controller.DataLoss{Known: true, Window: 5 * time.Second, Uncertainty: time.Second}}, e.ctrlClk.Now())
	if err != nil {
		e.t.Fatalf("decide: %v", err)
	}
	e.status = res.Status
	return res
}

func observeAllUnreachable(r observer.Report) bool {
	for _, in := range r.Instances {
		if in.Reachability != observer.ReachUnreachable {
			return false
		}
	}
	return len(r.Instances) == 2
}

func observeAnyServing(r observer.Report) bool {
	for _, in := range r.Instances {
		if in.Serving() {
			return true
		}
	}
	return false
}

func (e *observeLab) inject(f lab.Fault) {
	e.t.Helper()
	if _, err := e.lab.Topology().Inject(f); err != nil {
		e.t.Fatalf("inject %+v: %v", f, err)
	}
}

// runCycles runs at most n controller cycles, ticking the observer before each if asked, until the
// controller starts promoting; it returns whether it did.
func (e *observeLab) runCycles(n int, tickObserver bool) (promoted bool) {
	e.t.Helper()
	for range n {
		if tickObserver {
			e.observeOnce()
		}
		e.cycle()
		if e.status.State == controller.StatePromoting {
			return true
		}
	}
	return false
}

func (e *observeLab) corroborationBlocker() string {
	for _, b := range e.status.Verdict.Blocked {
		if b.Gate == controller.GateCorroborated {
			return b.Detail
		}
	}
	return ""
}

func TestObserveLabSiteADown(t *testing.T) {
	observeCheckLeaks(t)
	e := newObserveLab(t, obsToken)
	e.observeUntil("site A serving", observeAnyServing)
	// Healthy: the observer sees the principal serving, which is a veto (nothing to corroborate).
	e.cycle()
	e.observeOnce()
	e.cycle()
	if e.lastCorr.Verdict != observer.VerdictVetoed || !e.lastSnap.AnyUp(probes.SiteA) ||
		(e.status.State != controller.StateHealthy && e.status.State != controller.StateDegraded) {
		t.Fatalf("healthy: verdict %s (%s), controller sees site A up %v, state %s", e.lastCorr.Verdict, e.lastCorr.Detail,
			e.lastSnap.AnyUp(probes.SiteA), e.status.State)
	}

	// Site A really goes down: both vantage points see it; the observer corroborates and the
	// controller in auto mode starts the promotion.
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.observeUntil("site A down", observeAllUnreachable)
	if !e.runCycles(12, true) {
		t.Fatalf("no automatic promotion: state %s, verdict %s, corroboration %s (%s)", e.status.State, e.status.Verdict,
			e.lastCorr.Verdict, e.lastCorr.Detail)
	}
	if e.lastCorr.Verdict != observer.VerdictDown || e.lastSnap.AnyAlive(probes.SiteA) {
		t.Fatalf("promoted with corroboration %s, controller sees site A alive %v", e.lastCorr.Verdict, e.lastSnap.AnyAlive(probes.SiteA))
	}
	if st := e.lastCorr.Observers[0]; st.State != observer.StateFresh || st.View != observer.ViewDown {
		t.Fatalf("observer status %+v", st)
	}
	if p := e.status.Plan; p == nil || p.Approval == nil || p.Approval.By != "auto" {
		t.Fatalf("plan %+v: want an automatic approval", p)
	}
}

func TestObserveLabOnlyControllerPathCut(t *testing.T) {
	observeCheckLeaks(t)
	e := newObserveLab(t, obsToken)
	// The link from the controller (127.0.0.2) to site A is cut; the observer (127.0.0.3) still
	// reaches it. The controller has not connected yet, so no pooled connection survives the cut.
	for _, inst := range []string{"SQLA1", "SQLA2"} {
		e.inject(lab.Fault{Kind: lab.FaultRefuse, Target: inst, Addrs: []string{obsControllerSource}})
	}
	if e.runCycles(12, true) {
		t.Fatal("promoted although the observer sees site A serving")
	}
	if e.lastSnap.AnyAlive(probes.SiteA) {
		t.Fatal("the controller still reaches site A: the cut did not apply")
	}
	if e.lastCorr.Verdict != observer.VerdictVetoed || !strings.Contains(e.lastCorr.Detail, "obs-dc3 sees SQLA1 serving") {
		t.Fatalf("corroboration %s (%s), want vetoed by SQLA1 serving", e.lastCorr.Verdict, e.lastCorr.Detail)
	}
	if e.status.State != controller.StateAwaitingApproval && e.status.State != controller.StateSiteDown {
		t.Fatalf("state %s, want site down waiting for an operator", e.status.State)
	}
	if d := e.corroborationBlocker(); !strings.Contains(d, "vetoed") {
		t.Fatalf("corroborated gate: %q, want a veto", d)
	}

	// The observer's own metrics, behind the token, pass promtool's lint rules.
	req, err := http.NewRequest(http.MethodGet, "http://"+e.addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+obsToken)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{`sqldr_observer_instance_reachability{instance="SQLA1",reachability="up"} 1`,
		`sqldr_observer_http_requests_total{code="200"}`, "go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %v", problems, err)
	}
}

func TestObserveLabObserverDownStaleAndReturning(t *testing.T) {
	observeCheckLeaks(t)
	e := newObserveLab(t, obsToken)
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.observeUntil("site A down", observeAllUnreachable)

	// Stale: the observer answers, but its observation no longer advances (its schedule is stuck);
	// the controller, polling every 10s, stops counting it once the last advance is 30s old, before
	// site A is confirmed down (60s after the first failed probe).
	e.runCycles(1, true)
	e.runCycles(1, true)
	if e.lastCorr.Verdict != observer.VerdictDown || e.status.State != controller.StateSiteSuspect {
		t.Fatalf("fresh: %s (%s), state %s", e.lastCorr.Verdict, e.lastCorr.Detail, e.status.State)
	}
	if e.runCycles(6, false) {
		t.Fatal("promoted on a stale observation")
	}
	if st := e.lastCorr.Observers[0]; st.State != observer.StateStale || e.lastCorr.Verdict != observer.VerdictNone {
		t.Fatalf("stuck observer: verdict %s, state %s (%s)", e.lastCorr.Verdict, st.State, st.Detail)
	}
	if d := e.corroborationBlocker(); !strings.Contains(d, "no fresh corroboration") {
		t.Fatalf("corroborated gate: %q", d)
	}
	if e.status.State != controller.StateAwaitingApproval {
		t.Fatalf("state %s, want awaiting approval (auto behaves as approval)", e.status.State)
	}

	// Down: the observer process stops; its last report does not count.
	e.stopObs()
	e.cycle()
	if st := e.lastCorr.Observers[0]; st.State != observer.StateUnreachable || e.lastCorr.Verdict != observer.VerdictNone {
		t.Fatalf("observer down: verdict %s, state %s (%s)", e.lastCorr.Verdict, st.State, st.Detail)
	}
	if e.status.State == controller.StatePromoting {
		t.Fatal("promoted while the observer is down")
	}

	// It returns (a new run on the same address): its first answer sets the baseline, the next
	// advance makes it fresh again, and the plan waiting for approval is promoted automatically.
	e.startObserver()
	e.observeUntil("site A down", observeAllUnreachable)
	e.cycle()
	if st := e.lastCorr.Observers[0]; st.State != observer.StateStale || st.Sequence == 0 {
		t.Fatalf("first answer after the return: %+v", st)
	}
	if !e.runCycles(3, true) {
		t.Fatalf("no promotion after the observer returned: state %s, corroboration %s (%s), verdict %s",
			e.status.State, e.lastCorr.Verdict, e.lastCorr.Detail, e.status.Verdict)
	}
	if e.lastCorr.Observers[0].State != observer.StateFresh {
		t.Fatalf("observer %+v", e.lastCorr.Observers[0])
	}
}

func TestObserveLabWrongToken(t *testing.T) {
	observeCheckLeaks(t)
	e := newObserveLab(t, "a-token-that-is-not-the-observers")
	e.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"})
	e.observeUntil("site A down", observeAllUnreachable)
	if e.runCycles(6, true) {
		t.Fatal("promoted on the word of an observer that rejected the token")
	}
	st := e.lastCorr.Observers[0]
	if st.State != observer.StateUnauthorized || st.Sequence != 0 || e.lastCorr.Verdict != observer.VerdictNone {
		t.Fatalf("verdict %s, observer %+v", e.lastCorr.Verdict, st)
	}
	if n := e.obs.Unauthorized(); n != 6 {
		t.Fatalf("the observer counted %d rejected requests, want 6", n)
	}
	if d := e.corroborationBlocker(); !strings.Contains(d, "unauthorized") {
		t.Fatalf("corroborated gate: %q", d)
	}
}

func TestObserveLabOnlyObserverPathCut(t *testing.T) {
	observeCheckLeaks(t)
	e := newObserveLab(t, obsToken)
	// The observer's own path to site A is cut (it restarts, so no pooled connection survives):
	// it reports site A unreachable, but the controller still reaches it, so nothing is confirmed
	// and the observer's word alone promotes nothing.
	for _, inst := range []string{"SQLA1", "SQLA2"} {
		e.inject(lab.Fault{Kind: lab.FaultRefuse, Target: inst, Addrs: []string{obsObserverSource}})
	}
	e.stopObs()
	e.startObserver()
	e.observeUntil("site A unreachable from the observer", observeAllUnreachable)
	if e.runCycles(8, true) {
		t.Fatal("promoted although the controller reaches site A")
	}
	if e.lastCorr.Verdict != observer.VerdictDown || !e.lastSnap.AnyUp(probes.SiteA) {
		t.Fatalf("corroboration %s, controller sees site A up %v", e.lastCorr.Verdict, e.lastSnap.AnyUp(probes.SiteA))
	}
	if e.status.State != controller.StateHealthy && e.status.State != controller.StateDegraded {
		t.Fatalf("state %s, want site A serving", e.status.State)
	}
}

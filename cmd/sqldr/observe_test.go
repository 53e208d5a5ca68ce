package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/probes"
)

func writeTestFile(t *testing.T, dir, name, content string) string {
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
		s.Interval != 10*time.Second || s.Timeout != 10*time.Second {
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
	if st.server.Addr != "127.0.0.1:9725" || st.server.Interval != 10*time.Second || st.server.Timeout != 10*time.Second ||
		st.server.TLSCertFile != "" || st.logLevel != zapcore.InfoLevel {
		t.Fatalf("defaults %+v", st)
	}
	st, err = parseObserveConfig([]byte("name: o\ntoken_file: /t\ninterval: 3s\nsource_address: 127.0.0.3\nlog_level: debug\n" +
		"databases: [mgc]\ninstances: [{name: SQLA1, dsn_file: /d}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.server.Timeout != 3*time.Second || st.sourceAddr.String() != "127.0.0.3" || st.logLevel != zapcore.DebugLevel {
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
	} {
		_, err := parseObserveConfig([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestObserveCommand(t *testing.T) {
	dir := t.TempDir()
	tok := writeTestFile(t, dir, "token", "0123456789abcdef0123\n")
	dsn := writeTestFile(t, dir, "dsn", "sqlserver://u:p@127.0.0.1:1?database=master")
	good := writeTestFile(t, dir, "good.yml", "name: o\ntoken_file: "+tok+"\ndatabases: [mgc]\ninstances:\n  - {name: SQLA1, dsn_file: "+dsn+"}\n")
	missing := writeTestFile(t, dir, "missing.yml", "name: o\ntoken_file: "+dir+"/nope\ndatabases: [mgc]\n"+
		"instances:\n  - {name: SQLA1, dsn_env: SQLDR_TEST_UNSET_DSN_7}\n  - {name: SQLA2, dsn_file: "+dir+"/nodsn}\n")
	bad := writeTestFile(t, dir, "bad.yml", "name: o\n")
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
		c := corroborationFor(observer.Result{Verdict: v, Detail: "why " + v.String()})
		if c.Verdict.String() != v.String() || c.Detail != "why "+v.String() {
			t.Errorf("%s maps to %s %q", v, c.Verdict, c.Detail)
		}
		var back controller.CorroborationVerdict
		if err := back.UnmarshalText([]byte(v.String())); err != nil || back != c.Verdict {
			t.Errorf("%s: the controller spells it differently (%v)", v, err)
		}
	}
	if c := corroborationFor(observer.Result{Verdict: observer.Verdict(42)}); c.Verdict != controller.CorroborationNone {
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
	got := observedInstances(snap)
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

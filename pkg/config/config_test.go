package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/hook"
)

func TestBadFiles(t *testing.T) {
	cases := map[string][]string{
		"unknown_keys.bad.yml": {
			"intervall: unknown key (line 2)",
			"instances[1].dsn: unknown key (line 8); secrets are never written in the config: use dsn_env or dsn_file",
			"http.tls: unknown key (line 11)",
		},
		"values.bad.yml": {
			`interval: "10" is not a duration (write it like "45s", "5m" or "1h30m")`,
			"confirm_after: -5s must not be negative",
			`state_dir: "var/lib/sqldr" must be an absolute path`,
			`mode: "yolo" is not monitor, approval or auto`,
			`group: "mgc group" must be 1 to 64 letters, digits, _ or - (it is part of plan IDs)`,
			"history_size: 0 is outside 1…10000",
			"min_failed_probes: 0 must be at least 1",
			`databases[1]: "MGC" is already listed as databases[0]`,
			`databases[2]: "master" is a system database`,
			`databases[3]: "a]b" contains the character ']'`,
			`monitored_databases[0]: "mgc" is already listed as databases[0]`,
			`instances[0].dsn_env: "1BAD" is not an environment variable name`,
			`instances[1].name: "sqla1" is already the name of instances[0]`,
			"instances[1].site: is required (A for the mirroring partners, B for the secondary)",
			`instances[1].role: "primary" is not partner, secondary or monitor`,
			"instances[1]: dsn_env and dsn_file are both set; keep one",
			"instances[2]: one of dsn_env or dsn_file is required",
			`instances[2].source_address: "127.0.0.300" is not an IP address`,
			"instances: no instance has role secondary (the log-shipping secondary to promote)",
			`target: "SQLA1" has role partner; the target must be a secondary`,
			`observers.endpoints[0].url: "ftp://obs" is not an http:// or https:// URL`,
			"observers.endpoints[0].token_file: is required (the file holding the observer's bearer token)",
			`observers.endpoints[1].token_file: "obs2.token" must be an absolute path`,
			"observers.endpoints[1].ca_file: is set but url http://obs2:9725 is not https",
			"observers.quorum: 3 must be between 1 and the number of endpoints (2)",
			"hooks.pre_promote[0].command: must not be empty",
			`hooks.pre_promote[1].timeout: "5 minutes" is not a duration (write it like "45s", "5m" or "1h30m")`,
			`hooks.pre_promote[1].name: "a" is used twice in hooks.pre_promote`,
			"hooks.pre_promote[1].env.SQLDR_PLAN_ID: SQLDR_ variables are set by sqldr",
			"fence.method: is hook but hooks.fence lists no hook",
			"runbook.timeouts.final_restor: unknown step (want one of recheck, pre_promote_hooks, record_config, final_copy, final_restore, disable_jobs, recover, post_promote_hooks, undo, fence)",
			"runbook.timeouts.recover: must be positive",
		},
		"types.bad.yml": {
			"min_failed_probes: cannot unmarshal !!str `three` into int (line 2)",
			"instances[1].connect_timeout: cannot unmarshal !!seq into string (line 5)",
		},
		"empty.bad.yml": {"the file is empty"},
	}
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Fatalf("%d bad files, %d cases: every bad file needs its expected errors", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", name))
			if err == nil {
				t.Fatalf("loaded: %+v", c)
			}
			msg := err.Error()
			prefix := "config testdata/" + name + ": "
			if !strings.HasPrefix(msg, prefix) {
				t.Fatalf("error does not name the file: %q", msg)
			}
			got := strings.Split(strings.TrimPrefix(msg, prefix), "\n")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestMinimalDefaults(t *testing.T) {
	c, err := Load("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		StateDir: "/var/lib/sqldr", HTTP: HTTP{Listen: "127.0.0.1:9724"}, Interval: 15 * time.Second, Mode: "approval",
		Group: "mgc", Databases: []string{"mgc"}, ConfirmAfter: time.Minute, MinFailedProbes: 3, MaxDataLoss: 5 * time.Minute,
		Cooldown: time.Hour, ApprovalTTL: 15 * time.Minute, HistorySize: 100,
		Instances: []Instance{
			{Name: "SQLA1", Site: "A", Role: "partner", DSNEnv: "SQLDR_DSN_A1", ConnectTimeout: 5 * time.Second, QueryTimeout: 10 * time.Second},
			{Name: "SQLB1", Site: "B", Role: "secondary", DSNFile: "/etc/sqldr/b1.dsn", ConnectTimeout: 5 * time.Second, QueryTimeout: 10 * time.Second},
		},
		Observers: Observers{MaxAge: 30 * time.Second},
		Fence:     Fence{Method: "offline"},
		Runbook:   Runbook{PollInterval: 2 * time.Second, Timeouts: DefaultStepTimeouts},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	if s, ok := c.Secondary(); !ok || s.Name != "SQLB1" {
		t.Fatalf("secondary %+v %v", s, ok)
	}
	if n := c.DSNEnvNames(); !reflect.DeepEqual(n, []string{"SQLDR_DSN_A1"}) {
		t.Fatalf("dsn env names %v", n)
	}
}

func TestFullFile(t *testing.T) {
	c, err := Load("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "[::1]:9800" || c.Mode != "auto" || c.Group != "pchat" || c.Target != "SQLB1" ||
		c.ConfirmAfter != 90*time.Second || c.MinFailedProbes != 4 || c.MaxDataLoss != 2*time.Minute {
		t.Fatalf("top level %+v", c)
	}
	if !reflect.DeepEqual(c.MonitoredDatabases, []string{"mgccomp"}) || !reflect.DeepEqual(c.Databases, []string{"mgc"}) {
		t.Fatalf("databases %v %v", c.Databases, c.MonitoredDatabases)
	}
	a1 := c.Instances[0]
	if a1.ConnectTimeout != 3*time.Second || a1.QueryTimeout != 8*time.Second || a1.SourceAddress != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("instance %+v", a1)
	}
	if c.Observers.Quorum != 2 || c.Observers.MaxAge != 45*time.Second || c.Observers.Endpoints[0].Name != "obs1.example.net:9725" ||
		c.Observers.Endpoints[0].Timeout != 5*time.Second || c.Observers.Endpoints[1].Timeout != 2*time.Second {
		t.Fatalf("observers %+v", c.Observers)
	}
	if c.Signals.OperatorsGroup != "sqldr-operators" || c.Fence.Method != FenceHook || c.LogShipping.CopyThreshold != 20*time.Minute {
		t.Fatalf("signals/fence/log_shipping %+v %+v %+v", c.Signals, c.Fence, c.LogShipping)
	}
	wantPre := []hook.Spec{{Name: "check-pool", Command: "/usr/local/bin/check-pool", Args: []string{"--pool", "pchat"}, Timeout: 30 * time.Second}}
	if !reflect.DeepEqual(c.Hooks.PrePromote, wantPre) {
		t.Fatalf("pre hooks %+v", c.Hooks.PrePromote)
	}
	if h := c.Hooks.PostPromote[0]; h.Timeout != hook.DefaultTimeout || h.Env["PCHAT_POOL_FQDN"] != "x" {
		t.Fatalf("post hook %+v", h)
	}
	if c.Runbook.PollInterval != 500*time.Millisecond || c.Runbook.Timeouts["final_restore"] != time.Hour ||
		c.Runbook.Timeouts["recover"] != 45*time.Minute || c.Runbook.Timeouts["recheck"] != time.Minute || len(c.Runbook.Timeouts) != len(RunbookSteps) {
		t.Fatalf("runbook %+v", c.Runbook)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../deploy/sqldr.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Instances) != 3 || c.Mode != "approval" || len(c.Hooks.PostPromote) == 0 {
		t.Fatalf("example config %+v", c)
	}
}

func TestDefaultsDoNotAlias(t *testing.T) {
	c, err := Parse([]byte("state_dir: /s\ninstances: [{name: a, site: A, role: partner, dsn_env: A}, {name: b, site: B, role: secondary, dsn_env: B}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Runbook.Timeouts["recover"] = time.Second
	if DefaultStepTimeouts["recover"] != 30*time.Minute {
		t.Fatal("runtime config shares the defaults map")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("got %v", err)
	}
}

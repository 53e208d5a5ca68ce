package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/metrics"
	"github.com/sqldr/sqldr/probes"
)

const labPassword = "Lab-Passw0rd"

// labConfig starts the lab topology and writes a daemon configuration for it; sources gives each
// instance's source_address.
func labConfig(t *testing.T, sources map[string]string, extra string) (*config.Config, *lab.Lab) {
	t.Helper()
	cfg := lab.DefaultConfig()
	l, err := lab.Start(zap.NewNop(), cfg, lab.Options{Clock: lab.NewManualClock(cfg.Start), Tick: 5 * time.Millisecond,
		Credentials: lab.Credentials{SAPassword: labPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nmode: auto\ninstances:\n", dir)
	for _, in := range []struct{ name, site, role string }{{"SQLA1", "A", "partner"}, {"SQLA2", "A", "partner"}, {"SQLB1", "B", "secondary"}} {
		srv, err := l.Server(in.name)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, in.name+".dsn")
		if err := os.WriteFile(f, []byte(lab.DSN(srv.Addr(), "sa", labPassword, "master")), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - name: %s\n    site: %s\n    role: %s\n    dsn_file: %s\n    connect_timeout: 2s\n    query_timeout: 5s\n", in.name, in.site, in.role, f)
		if s := sources[in.name]; s != "" {
			fmt.Fprintf(&b, "    source_address: %s\n", s)
		}
	}
	b.WriteString(extra)
	c, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	return c, l
}

// TestProbeOptionsBindEachSourceAddress: each instance's probe connections leave from its own
// configured source address, so a partition by client address hits exactly that instance.
func TestProbeOptionsBindEachSourceAddress(t *testing.T) {
	cfg, l := labConfig(t, map[string]string{"SQLA1": "127.0.0.2", "SQLA2": "127.0.0.3", "SQLB1": "127.0.0.4"}, "")
	// Refuse 127.0.0.3 on SQLA1 and 127.0.0.4 on SQLA2: neither is the address those use.
	// Refuse 127.0.0.4 on SQLB1: that one is.
	for _, f := range []lab.Fault{
		{Kind: lab.FaultRefuse, Target: "SQLA1", Addrs: []string{"127.0.0.3"}},
		{Kind: lab.FaultRefuse, Target: "SQLA2", Addrs: []string{"127.0.0.4"}},
		{Kind: lab.FaultRefuse, Target: "SQLB1", Addrs: []string{"127.0.0.4"}},
	} {
		if _, err := l.Topology().Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	p, err := probes.New(zap.NewNop(), ProbeOptions(cfg), clocktesting.NewFakeClock(t0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	snap := p.Probe(ctx)
	want := map[string]probes.Reachability{"SQLA1": probes.ReachUp, "SQLA2": probes.ReachUp, "SQLB1": probes.ReachUnreachable}
	for name, r := range want {
		in, ok := snap.Instance(name)
		if !ok || in.Reachability != r {
			t.Errorf("%s: %v (%s), want %s", name, in.Reachability, in.Err, r)
		}
	}
}

func TestOptionsFromConfig(t *testing.T) {
	cfg, _ := labConfig(t, nil, "monitored_databases: [mgccomp]\nsignals:\n  operators_group: \"4242\"\nmax_data_loss: 2m\n")
	co, err := ControllerOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if co.Mode != controller.ModeAuto || co.Target != "SQLB1" || co.MaxDataLoss != 2*time.Minute || co.Group != "mgc" {
		t.Fatalf("controller options %+v", co)
	}
	so, err := SignalOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if so.OperatorsGID == nil || *so.OperatorsGID != 4242 || so.Dir != filepath.Join(cfg.StateDir, "signals") {
		t.Fatalf("signal options %+v", so)
	}
	cfg.Signals.OperatorsGroup = "no-such-group-sqldr"
	if _, err := SignalOptions(cfg); err == nil || !strings.Contains(err.Error(), "signals.operators_group") {
		t.Fatalf("unknown group: %v", err)
	}
	mo := MetricsOptions(cfg, metrics.Build{})
	roles := map[string]string{}
	for _, in := range mo.Instances {
		roles[in.Name] = in.Role
	}
	if roles["SQLA1"] != metrics.RolePrincipal || roles["SQLA2"] != metrics.RoleMirror || roles["SQLB1"] != metrics.RoleSecondary {
		t.Fatalf("roles %v", roles)
	}
	if len(mo.Databases) != 2 || mo.Databases[1].Name != "mgccomp" || mo.Groups[0].DataLossBudget != 2*time.Minute {
		t.Fatalf("metrics options %+v", mo)
	}
	if _, err := metrics.New(prometheus.NewRegistry(), mo); err != nil {
		t.Fatalf("metrics.New rejects the options: %v", err)
	}
}

package integration

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/sqldr/sqldr/pkg/lab"
)

// The networks of an estate. mgmt is the management path: the lab backplane (world ↔ instance
// processes) and the ports published to 127.0.0.1 for the test itself; scenarios never cut it,
// and no SQL client inside the estate uses it (the instances' aliases live only on the site and
// WAN networks, which are internal: no gateway, no published ports, no way off the machine).
const (
	netMgmt  = "mgmt"
	netSiteA = "site-a"
	netSiteB = "site-b"
	netSiteC = "site-c"
	netWAN   = "wan-ab" // site A ↔ site B: the link whose loss looks like a lost site from B
	netWANAC = "wan-ac" // site A ↔ the third site (observer, witness)
	netWANBC = "wan-bc" // site B ↔ the third site (controller → observer)
)

var estateNets = []string{netMgmt, netSiteA, netSiteB, netSiteC, netWAN, netWANAC, netWANBC}

// Credentials and ports every lab container uses.
const (
	labPassword = "Itest-Passw0rd!"
	worldPort   = "14330"
	tdsPort     = "1433/tcp"
	linkPort    = "5022"
)

// instSpec places one lab instance of the default topology (with witness) in the estate.
type instSpec struct {
	Name  string
	Alias string
	Site  string
	Nets  []string
	Peers []string
}

// labInstances is the default topology: principal and mirror in site A, the log-shipping secondary
// in site B, the mirroring witness in the third site (reached from site A over wan-ac).
var labInstances = []instSpec{
	{Name: "SQLA1", Alias: "sqla1", Site: "A", Nets: []string{netSiteA, netWAN, netWANAC}, Peers: []string{"SQLA2", "SQLW1"}},
	{Name: "SQLA2", Alias: "sqla2", Site: "A", Nets: []string{netSiteA, netWAN, netWANAC}, Peers: []string{"SQLA1", "SQLW1"}},
	{Name: "SQLB1", Alias: "sqlb1", Site: "B", Nets: []string{netSiteB}},
	{Name: "SQLW1", Alias: "sqlw1", Site: "C", Nets: []string{netSiteC, netWANAC}, Peers: []string{"SQLA1", "SQLA2"}},
}

func specOf(name string) instSpec {
	for _, s := range labInstances {
		if s.Name == name {
			return s
		}
	}
	panic("no lab instance " + name)
}

// estate is one multi-site deployment for one test: networks, the lab world, one container per
// instance, and whatever daemons the test adds.
type estate struct {
	t     *testing.T
	cli   *testcontainers.DockerClient
	nets  map[string]*testcontainers.DockerNetwork
	world *testcontainers.DockerContainer
	nodes map[string]*testcontainers.DockerContainer
	mu    sync.Mutex
	// worldURL is the world's control API through the management path.
	worldURL string
}

// estateOptions tune the lab world.
type estateOptions struct {
	// Speed is the lab's simulated seconds per real second.
	Speed float64
	// Topology is a YAML topology for the world (sqldr lab --topology), e.g. labTopology.
	Topology string
}

// newEstate builds the networks, the lab world and the four instance containers, and waits until
// every instance answers a login through the management path.
func newEstate(t *testing.T, opts estateOptions) *estate {
	t.Helper()
	needDocker(t)
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	e := &estate{t: t, cli: cli, nets: map[string]*testcontainers.DockerNetwork{}, nodes: map[string]*testcontainers.DockerContainer{}}
	for _, n := range estateNets {
		opts := []network.NetworkCustomizer{network.WithLabels(map[string]string{"sqldr.itest": t.Name()})}
		if n != netMgmt {
			opts = append(opts, network.WithInternal())
		}
		nw, err := network.New(ctx, opts...)
		if err != nil {
			t.Fatalf("create network %s: %v", n, err)
		}
		testcontainers.CleanupNetwork(t, nw)
		e.nets[n] = nw
	}
	worldCmd := []string{"/usr/local/bin/labrelay", "-mode", "world", "-control", "127.0.0.1:" + worldPort, "--",
		"/usr/local/bin/sqldr", "lab", "--split", "--witness", "--base-port", "0",
		"--control", "127.0.0.1:" + worldPort, "--speed", fmt.Sprint(opts.Speed), "--password", labPassword}
	var files []testcontainers.ContainerFile
	if opts.Topology != "" {
		worldCmd = append(worldCmd, "--topology", "/etc/sqldr-lab/topology.yml")
		files = append(files, file(opts.Topology, "/etc/sqldr-lab/topology.yml"))
	}
	e.world, err = e.startEnv(ctx, "world", nil, []string{worldPort + "/tcp"}, worldCmd,
		map[string][]string{netMgmt: {"world"}}, wait.ForLog("labrelay ready"), files)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := e.world.PortEndpoint(ctx, worldPort+"/tcp", "http")
	if err != nil {
		t.Fatalf("world endpoint: %v", err)
	}
	e.worldURL = ep
	var wg sync.WaitGroup
	errs := make(chan error, len(labInstances))
	for _, s := range labInstances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.startInstance(ctx, s); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range labInstances {
		e.waitSQL(s.Name, 60*time.Second)
	}
	return e
}

// startInstance runs one instance process (sqldr lab instance) in its own container.
func (e *estate) startInstance(ctx context.Context, s instSpec) error {
	cmd := []string{"/usr/local/bin/labrelay", "-mode", "instance", "-control", "world:" + worldPort, "--",
		"/usr/local/bin/sqldr", "lab", "instance", "--name", s.Name, "--world", "http://127.0.0.1:" + worldPort,
		"--listen", "0.0.0.0:1433", "--link", "0.0.0.0:" + linkPort}
	for _, p := range s.Peers {
		cmd = append(cmd, "--peer", p+"="+specOf(p).Alias+":"+linkPort)
	}
	aliases := map[string][]string{netMgmt: nil}
	for _, n := range s.Nets {
		aliases[n] = []string{s.Alias}
	}
	ctr, err := e.start(ctx, s.Name, []string{tdsPort}, cmd, aliases, wait.ForLog("instance "+s.Name+": tds"))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.nodes[s.Name] = ctr
	e.mu.Unlock()
	return nil
}

func (e *estate) start(ctx context.Context, name string, ports, cmd []string, aliases map[string][]string, w wait.Strategy) (*testcontainers.DockerContainer, error) {
	return e.startEnv(ctx, name, nil, ports, cmd, aliases, w, nil)
}

// startEnv creates a container of testImage attached first to mgmt (so that its published ports,
// bound to 127.0.0.1 only, ride on the network no scenario cuts), then to each other network of
// aliases with its aliases, and starts it. files are copied in before the start; binds are
// host:container bind mounts.
func (e *estate) startEnv(ctx context.Context, name string, env map[string]string, ports, cmd []string,
	aliases map[string][]string, w wait.Strategy, files []testcontainers.ContainerFile, binds ...string) (*testcontainers.DockerContainer, error) {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEntrypoint(cmd[0]),
		testcontainers.WithCmd(cmd[1:]...),
		testcontainers.WithExposedPorts(ports...),
		testcontainers.WithLabels(map[string]string{"sqldr.itest": e.t.Name(), "sqldr.itest.node": name}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = mobynet.PortMap{}
			for _, p := range ports {
				hc.PortBindings[mobynet.MustParsePort(p)] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
			}
			hc.Binds = append(hc.Binds, binds...)
		}),
		network.WithNetwork(aliases[netMgmt], e.nets[netMgmt]),
		testcontainers.WithNoStart(),
	}
	if env != nil {
		opts = append(opts, testcontainers.WithEnv(env))
	}
	if len(files) > 0 {
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	if w != nil {
		opts = append(opts, testcontainers.WithWaitStrategyAndDeadline(60*time.Second, w))
	}
	ctr, err := testcontainers.Run(ctx, testImage, opts...)
	testcontainers.CleanupContainer(e.t, ctr)
	if err != nil {
		return nil, fmt.Errorf("create %s container: %w", name, err)
	}
	for _, n := range estateNets {
		al, ok := aliases[n]
		if !ok || n == netMgmt {
			continue
		}
		if err := e.connect(ctx, ctr.GetContainerID(), n, al); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := ctr.Start(ctx); err != nil {
		return nil, fmt.Errorf("start %s container: %w\n%s", name, err, containerLogs(ctr))
	}
	return ctr, nil
}

// containerLogs returns the tail of a container's output, for failure messages.
func containerLogs(ctr *testcontainers.DockerContainer) string {
	if ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs: %v)", err)
	}
	defer func() { _ = rc.Close() }()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	s := string(b)
	if len(s) > 6000 {
		s = "…" + s[len(s)-6000:]
	}
	return s
}

func (e *estate) connect(ctx context.Context, id, n string, aliases []string) error {
	_, err := e.cli.NetworkConnect(ctx, e.nets[n].ID, client.NetworkConnectOptions{Container: id,
		EndpointConfig: &mobynet.EndpointSettings{Aliases: aliases}})
	if err != nil {
		return fmt.Errorf("connect to network %s: %w", n, err)
	}
	return nil
}

// node returns a container by instance or daemon name.
func (e *estate) node(name string) *testcontainers.DockerContainer {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.nodes[name]
	if !ok {
		e.t.Fatalf("no container %s in the estate", name)
	}
	return c
}

// mgmtAddr is the 127.0.0.1 address of a node's published port.
func (e *estate) mgmtAddr(name, port string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ep, err := e.node(name).PortEndpoint(ctx, port, "")
	if err != nil {
		return "", fmt.Errorf("published port %s of %s: %w", port, name, err)
	}
	return ep, nil
}

// dsn is the sa DSN of an instance through the management path.
func (e *estate) dsn(name string) (string, error) {
	addr, err := e.mgmtAddr(name, tdsPort)
	if err != nil {
		return "", err
	}
	return lab.DSN(addr, "sa", labPassword, "master") + "&dial+timeout=2&connection+timeout=4", nil
}

// waitSQL waits until an instance answers a query through the management path.
func (e *estate) waitSQL(name string, within time.Duration) {
	e.t.Helper()
	eventually(e.t, within, 250*time.Millisecond, name+" answers SQL", func() error {
		dsn, err := e.dsn(name)
		if err != nil {
			return err
		}
		_, err = queryOne(dsn, "SELECT @@SERVERNAME")
		return err
	})
}

// Faults. Each one acts on containers or networks, never through the lab's fault API.

// kill sends SIGKILL to the named containers (the processes die at once, as in a power loss).
func (e *estate) kill(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		if _, err := e.cli.ContainerKill(ctx, e.node(n).GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			e.t.Fatalf("kill %s: %v", n, err)
		}
	}
}

// stop stops the named containers (SIGTERM, then SIGKILL after a second).
func (e *estate) stop(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		d := time.Second
		if err := e.node(n).Stop(ctx, &d); err != nil {
			e.t.Fatalf("stop %s: %v", n, err)
		}
	}
}

// startAgain starts stopped or killed containers again (same networks and aliases), waiting for
// their wait strategy.
func (e *estate) startAgain(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range names {
		if err := e.node(n).Start(ctx); err != nil {
			e.t.Fatalf("start %s again: %v\n%s", n, err, containerLogs(e.node(n)))
		}
	}
}

// pause freezes the named containers (docker pause: every process hangs; TCP handshakes still
// complete in the kernel, nothing answers: a hung server).
func (e *estate) pause(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		if _, err := e.cli.ContainerPause(ctx, e.node(n).GetContainerID(), client.ContainerPauseOptions{}); err != nil {
			e.t.Fatalf("pause %s: %v", n, err)
		}
	}
}

// unpause thaws paused containers.
func (e *estate) unpause(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		if _, err := e.cli.ContainerUnpause(ctx, e.node(n).GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
			e.t.Fatalf("unpause %s: %v", n, err)
		}
	}
}

// cut disconnects the named containers from network n.
func (e *estate) cut(n string, names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n == netMgmt {
		e.t.Fatal("the management network is never cut")
	}
	for _, name := range names {
		if _, err := e.cli.NetworkDisconnect(ctx, e.nets[n].ID, client.NetworkDisconnectOptions{
			Container: e.node(name).GetContainerID(), Force: true}); err != nil {
			e.t.Fatalf("disconnect %s from %s: %v", name, n, err)
		}
	}
}

// mend reconnects the named instance containers to network n with their aliases.
func (e *estate) mend(n string, names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range names {
		if err := e.connect(ctx, e.node(name).GetContainerID(), n, []string{strings.ToLower(name)}); err != nil {
			e.t.Fatalf("reconnect %s: %v", name, err)
		}
	}
}

// worldStatus reads the lab world's status through the management path (for diagnostics and
// for facts only the world knows, like which partner is principal).
func (e *estate) worldStatus() (lab.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := (&lab.ControlClient{BaseURL: e.worldURL}).Status(ctx)
	if err != nil {
		return lab.Status{}, fmt.Errorf("world status: %w", err)
	}
	return st, nil
}

// injectLab injects a fault through the world's control API: only for what no container or
// network fault can make (a log-shipping job that stops running).
func (e *estate) injectLab(t *testing.T, f lab.Fault) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := (&lab.ControlClient{BaseURL: e.worldURL}).Inject(ctx, f)
	if err != nil {
		t.Fatalf("inject %+v: %v", f, err)
	}
	return id
}

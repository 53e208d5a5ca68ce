package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.uber.org/zap/zaptest"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/journal"
)

// The daemons: `sqldr run` (the controller) in site B and `sqldr observe` in the third site, each in
// its own container of the same image.

const (
	statusPort   = "9724/tcp"
	observerPort = "9725/tcp"
	// daemonUID is the image's numeric user (Dockerfile: USER 65532:65532).
	daemonUID = 65532
	// observerToken is the bearer token the controller presents to the observer.
	observerToken = "itest-observer-token-0123456789"
)

// labTopology is the world's topology for daemon scenarios: the simulated clock starts now and runs
// at real speed (the controller compares server clocks with its own), and the log-shipping jobs run
// every few seconds so that a scenario sees many backups, copies and restores within its 90 s.
func labTopology(jobEvery time.Duration) string {
	return labTopologyJobs(jobEvery, jobEvery, jobEvery)
}

// labTopologyJobs is labTopology with each job's schedule.
func labTopologyJobs(backup, copyEvery, restore time.Duration) string {
	return fmt.Sprintf("start: %s\nbackup_interval: %s\ncopy_interval: %s\nrestore_interval: %s\nunknown_time_zone_every: 0\n",
		time.Now().UTC().Format(time.RFC3339), backup, copyEvery, restore)
}

// ctrlOptions configure one controller container.
type ctrlOptions struct {
	// Name of the container in the estate ("controller" by default).
	Name string
	// Mode is auto or approval.
	Mode string
	// MaxDataLoss is the budget of automatic promotion (default 2m).
	MaxDataLoss time.Duration
	// ConfirmAfter is how long site A must stay unreachable (default 6s).
	ConfirmAfter time.Duration
	// StateDir is the host directory mounted as the state volume (default: a new one).
	StateDir string
	// Wait for the daemon_started line (default true; false for a daemon expected to refuse).
	NoWait bool
	// Extra YAML appended to the configuration.
	Extra string
	// QueryTimeout of every instance (default 3s).
	QueryTimeout time.Duration
}

// stateVolume makes a host directory the daemon's user owns, to mount as its state volume.
func stateVolume(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(d, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, daemonUID, daemonUID); err != nil {
		t.Skipf("cannot give the state volume to uid %d (the image's user): %v", daemonUID, err)
	}
	return d
}

func file(content, path string) testcontainers.ContainerFile {
	return testcontainers.ContainerFile{Reader: strings.NewReader(content), ContainerFilePath: path, FileMode: 0o644}
}

// instanceDSN is the DSN a daemon inside the estate uses for an instance: its alias on the site and
// WAN networks, never the management path.
func instanceDSN(name, login string) string {
	return "sqlserver://" + login + ":" + strings.ReplaceAll(labPassword, "!", "%21") + "@" + specOf(name).Alias +
		":1433?database=master&encrypt=disable&dial+timeout=2"
}

// startObserver runs `sqldr observe` in the third site: it sees site A over wan-ac and is reached by
// the controller over wan-bc.
func (e *estate) startObserver() {
	e.t.Helper()
	cfg := `name: obs-c
listen: 0.0.0.0:9725
token_file: /etc/sqldr/observer.token
interval: 1s
timeout: 5s
databases: [mgc, mgccomp]
instances:
  - name: SQLA1
    dsn_file: /etc/sqldr/SQLA1.dsn
    connect_timeout: 2s
    query_timeout: 3s
  - name: SQLA2
    dsn_file: /etc/sqldr/SQLA2.dsn
    connect_timeout: 2s
    query_timeout: 3s
`
	files := []testcontainers.ContainerFile{file(cfg, "/etc/sqldr/observer.yml"), file(observerToken+"\n", "/etc/sqldr/observer.token"),
		file(instanceDSN("SQLA1", "sqldr_monitor"), "/etc/sqldr/SQLA1.dsn"), file(instanceDSN("SQLA2", "sqldr_monitor"), "/etc/sqldr/SQLA2.dsn")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctr, err := e.startEnv(ctx, "observer", nil, []string{observerPort},
		[]string{"/usr/local/bin/sqldr", "observe", "--config", "/etc/sqldr/observer.yml"},
		map[string][]string{netMgmt: nil, netSiteC: {"observer"}, netWANAC: {"observer"}, netWANBC: {"observer"}},
		wait.ForLog("observer_started"), files)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.nodes["observer"] = ctr
	e.mu.Unlock()
}

// startController runs `sqldr run` in site B: it reaches SQLB1 over site-b, site A over wan-ab and
// the observer over wan-bc.
func (e *estate) startController(o ctrlOptions) string {
	e.t.Helper()
	if o.Name == "" {
		o.Name = "controller"
	}
	if o.MaxDataLoss == 0 {
		o.MaxDataLoss = 2 * time.Minute
	}
	if o.ConfirmAfter == 0 {
		o.ConfirmAfter = 6 * time.Second
	}
	if o.StateDir == "" {
		o.StateDir = stateVolume(e.t)
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = 3 * time.Second
	}
	var inst strings.Builder
	for _, n := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		role := "partner"
		if n == "SQLB1" {
			role = "secondary"
		}
		fmt.Fprintf(&inst, "  - name: %s\n    site: %s\n    role: %s\n    dsn_file: /etc/sqldr/%s.dsn\n    connect_timeout: 2s\n    query_timeout: %s\n",
			n, specOf(n).Site, role, n, o.QueryTimeout)
	}
	cfg := fmt.Sprintf(`state_dir: /var/lib/sqldr
http:
  listen: 0.0.0.0:9724
interval: 1s
mode: %s
group: mgc
databases: [mgc]
monitored_databases: [mgccomp]
target: SQLB1
confirm_after: %s
min_failed_probes: 3
max_data_loss: %s
cooldown: 1h
approval_ttl: 15m
instances:
%sobservers:
  quorum: 1
  max_age: 10s
  endpoints:
    - name: obs-c
      url: http://observer:9725
      token_file: /etc/sqldr/observer.token
      timeout: 2s
runbook:
  poll_interval: 500ms
%s`, o.Mode, o.ConfirmAfter, o.MaxDataLoss, inst.String(), o.Extra)
	files := []testcontainers.ContainerFile{file(cfg, "/etc/sqldr/sqldr.yml"), file(observerToken+"\n", "/etc/sqldr/observer.token")}
	for _, n := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		files = append(files, file(instanceDSN(n, "sa"), "/etc/sqldr/"+n+".dsn"))
	}
	var w wait.Strategy = wait.ForLog("daemon_started")
	if o.NoWait {
		w = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctr, err := e.startVolume(ctx, o.Name, []string{statusPort},
		[]string{"/usr/local/bin/sqldr", "run", "--config", "/etc/sqldr/sqldr.yml"},
		map[string][]string{netMgmt: nil, netSiteB: {o.Name}, netWAN: {o.Name}, netWANBC: {o.Name}}, w, files, o.StateDir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.nodes[o.Name] = ctr
	e.mu.Unlock()
	return o.StateDir
}

// startVolume is startEnv with a host directory mounted as /var/lib/sqldr.
func (e *estate) startVolume(ctx context.Context, name string, ports, cmd []string, aliases map[string][]string,
	w wait.Strategy, files []testcontainers.ContainerFile, stateDir string) (*testcontainers.DockerContainer, error) {
	return e.startEnv(ctx, name, nil, ports, cmd, aliases, w, files, stateDir+":/var/lib/sqldr")
}

// daemonStatus is the part of the controller's /status the scenarios read.
type daemonStatus struct {
	State   string `json:"state"`
	Reason  string `json:"reason"`
	Trusted bool   `json:"trusted"`
	Verdict struct {
		WouldPromote bool `json:"would_promote"`
		Blocked      []struct {
			Gate   string `json:"gate"`
			Detail string `json:"detail"`
		} `json:"blocked"`
	} `json:"verdict"`
	VerdictText string `json:"verdict_text"`
	DataLoss    struct {
		Known         bool     `json:"known"`
		WindowSeconds *float64 `json:"window_seconds"`
		Text          string   `json:"text"`
	} `json:"data_loss"`
	Plan *struct {
		ID         string `json:"id"`
		FailedStep string `json:"failed_step"`
		FailReason string `json:"fail_reason"`
		Steps      []struct {
			Step  string `json:"step"`
			Phase string `json:"phase"`
		} `json:"steps"`
		DataLoss struct {
			Known  bool  `json:"known"`
			Window int64 `json:"window"`
		} `json:"data_loss"`
	} `json:"plan"`
	ApproveCommand string `json:"approve_command"`
	Transitions    []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
		Plan   string `json:"plan"`
	} `json:"transitions"`
	Cycles    uint64 `json:"cycles"`
	LastError string `json:"last_error"`
}

// status reads a controller's /status through the management path.
func (e *estate) status(name string) (daemonStatus, error) {
	var st daemonStatus
	addr, err := e.mgmtAddr(name, statusPort)
	if err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return st, fmt.Errorf("status request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("get /status of %s: %w", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return st, fmt.Errorf("read /status of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decode /status of %s: %w", name, err)
	}
	return st, nil
}

// waitState waits until the controller reports state, and returns that status.
func (e *estate) waitState(name, state string, within time.Duration) daemonStatus {
	e.t.Helper()
	var last daemonStatus
	eventually(e.t, within, 250*time.Millisecond, name+" in state "+state, func() error {
		st, err := e.status(name)
		if err != nil {
			return err
		}
		last = st
		if st.State != state {
			failed := ""
			if st.Plan != nil && st.Plan.FailedStep != "" {
				failed = fmt.Sprintf("; failed step %s: %s", st.Plan.FailedStep, st.Plan.FailReason)
			}
			return fmt.Errorf("%w: state %s (%s; %s%s)", errNotYet, st.State, st.Reason, st.VerdictText, failed)
		}
		return nil
	})
	return last
}

// holdState checks that the controller stays out of the forbidden states for d, polling; it
// returns the last status.
func (e *estate) holdState(name string, d time.Duration, forbidden ...string) daemonStatus {
	e.t.Helper()
	var last daemonStatus
	err := poll(context.Background(), d, 250*time.Millisecond, func() error {
		st, err := e.status(name)
		if err != nil {
			return nil //nolint:nilerr // a missed poll is not a violation; keep watching
		}
		last = st
		for _, f := range forbidden {
			if st.State == f {
				return fmt.Errorf("controller went %s: %s (%s)", st.State, st.Reason, st.VerdictText)
			}
		}
		return errNotYet
	})
	if err != nil && !errors.Is(err, errNotYet) {
		e.t.Fatal(err)
	}
	return last
}

// approve runs `sqldr approve --plan ID` inside the controller's container, as an operator would.
func (e *estate) approve(name, plan string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, out, err := e.node(name).Exec(ctx, []string{"/usr/local/bin/sqldr", "approve", "--plan", plan, "--config", "/etc/sqldr/sqldr.yml"})
	if err != nil {
		e.t.Fatalf("exec sqldr approve: %v", err)
	}
	b, _ := io.ReadAll(out)
	if code != 0 {
		e.t.Fatalf("sqldr approve --plan %s: exit %d: %s", plan, code, b)
	}
}

// stepRecords reads the journal of a state volume whose daemon has stopped.
func stepRecords(t *testing.T, stateDir string) []controller.StepResult {
	t.Helper()
	st, err := journal.Open(zaptest.NewLogger(t), journal.Options{Dir: stateDir})
	if err != nil {
		t.Fatalf("open the journal in %s: %v", stateDir, err)
	}
	defer func() { _ = st.Close() }()
	recs, err := controller.StepRecords(st.Records())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// stepCounts counts, per step, the start records and the completions (done, or found done by a
// re-check after a restart), and lists failures.
func stepCounts(recs []controller.StepResult) (started, completed map[string]int, failed []string) {
	started, completed = map[string]int{}, map[string]int{}
	for _, r := range recs {
		switch r.Outcome {
		case controller.OutcomeStarted:
			started[r.Step.String()]++
		case controller.OutcomeDone, controller.OutcomeCheckedDone:
			completed[r.Step.String()]++
		case controller.OutcomeFailed:
			failed = append(failed, r.Step.String()+": "+r.Err)
		}
	}
	return started, completed, failed
}

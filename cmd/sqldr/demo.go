package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/lab"
	"github.com/sqldr/sqldr/pkg/observer"
)

// The demo's loopback source addresses: the lab partitions by client address, so the controller's
// and the observer's paths to site A can be cut separately.
const (
	demoControllerSource = "127.0.0.2"
	demoObserverSource   = "127.0.0.3"
	demoMonitorLogin     = "sqldr_monitor"
	demoGroup            = "mgc"
)

// demoTiming is the daemon's and the observer's timing, in simulated time.
type demoTiming struct {
	interval, confirmAfter, observerInterval, observerMaxAge, poll, cooldown time.Duration
	minFailed                                                                int
}

func defaultDemoTiming() demoTiming {
	return demoTiming{interval: 10 * time.Second, confirmAfter: 30 * time.Second, observerInterval: 10 * time.Second,
		observerMaxAge: time.Minute, poll: 2 * time.Second, cooldown: time.Hour, minFailed: 3}
}

// demoOptions configure a demo world: the lab, the observer and the daemon, all on one simulated
// clock driven at an accelerated pace.
type demoOptions struct {
	mode   string
	speed  float64 // simulated seconds per real second
	timing demoTiming
	// start is the simulated start instant. It lies in the past so that signal files (stamped by the
	// real clock) are newer than the plans they approve.
	start time.Time
	// labConfig adjusts the lab's topology.
	labConfig func(*lab.Config)
	// extraYAML is appended to the daemon's configuration (e.g. hooks).
	extraYAML string
	// observer runs a third-site observer (default in the demo).
	observer bool
	// maxDataLoss is the data-loss budget (default 5m).
	maxDataLoss time.Duration
}

// demoWorld is a running lab, observer and (configured) daemon on one simulated clock.
type demoWorld struct {
	log      *zap.Logger
	dir      string
	stateDir string
	cfgPath  string
	cfg      *config.Config
	clk      *clocktesting.FakeClock
	speed    atomic.Uint64 // math.Float64bits of the current speed ×1000 (integer for atomics)
	lab      *lab.Lab
	topo     *lab.Topology
	sa       map[string]*sql.DB
	saDSN    func(inst, db string) (string, error) // a sysadmin DSN of an instance, for tests and proofs

	// sources is true when the loopback source addresses can be bound (not on every OS: macOS
	// configures only 127.0.0.1); without them the controller and the observer share one address.
	sources bool

	stopDrive func()
	stopObs   func() error
	obsAddr   string
}

// startDemoWorld starts the lab, the clock driver and the observer, and writes the daemon's
// configuration. The daemon is opened by openDaemon.
func startDemoWorld(log *zap.Logger, dir string, o demoOptions) (_ *demoWorld, err error) {
	if o.speed <= 0 {
		o.speed = 30
	}
	if o.timing == (demoTiming{}) {
		o.timing = defaultDemoTiming()
	}
	if o.maxDataLoss == 0 {
		o.maxDataLoss = 5 * time.Minute
	}
	w := &demoWorld{log: log, dir: dir, clk: clocktesting.NewFakeClock(o.start), sa: map[string]*sql.DB{},
		sources: demoSourcesAvailable()}
	w.setSpeed(o.speed)
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	saPassword, monPassword := "Demo-"+randomHex(8)+"!a1", "Mon-"+randomHex(8)+"!a1"
	lcfg := lab.DefaultConfig()
	lcfg.Start = o.start
	// Every backupset row carries its time zone here: with time_zone 127 rows (the lab's default
	// trap, covered by the probes' and the controller's tests) the window is unknown whenever the
	// newest restorable backup is one of them, and the story would stop at an approval in auto mode.
	lcfg.UnknownTimeZoneEvery = 0
	if o.labConfig != nil {
		o.labConfig(&lcfg)
	}
	w.lab, err = lab.Start(log.Named("lab"), lcfg, lab.Options{Clock: w.clk, Tick: 5 * time.Millisecond,
		Credentials: lab.Credentials{SAPassword: saPassword, MonitorLogin: demoMonitorLogin, MonitorPassword: monPassword}})
	if err != nil {
		return nil, fmt.Errorf("start the lab: %w", err)
	}
	w.topo = w.lab.Topology()
	w.stopDrive = w.drive()
	w.saDSN = func(inst, db string) (string, error) {
		srv, err := w.lab.Server(inst)
		if err != nil {
			return "", fmt.Errorf("lab instance %s: %w", inst, err)
		}
		return lab.DSN(srv.Addr(), "sa", saPassword, db), nil
	}

	dsnFile := func(inst, user, pw string) (string, error) {
		srv, err := w.lab.Server(inst)
		if err != nil {
			return "", fmt.Errorf("lab instance %s: %w", inst, err)
		}
		return w.writeFile(inst+"-"+user+".dsn", lab.DSN(srv.Addr(), user, pw, "master"))
	}
	for _, in := range w.topo.Instances() {
		if in.Role() == lab.ConfigRoleWitness {
			continue
		}
		srv, err := w.lab.Server(in.Name())
		if err != nil {
			return nil, fmt.Errorf("lab instance %s: %w", in.Name(), err)
		}
		db, err := sql.Open("sqlserver", lab.DSN(srv.Addr(), "sa", saPassword, "master"))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", in.Name(), err)
		}
		db.SetMaxOpenConns(2)
		w.sa[in.Name()] = db
	}

	w.stateDir = filepath.Join(dir, "state")
	if err := os.Mkdir(w.stateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	var obsYAML string
	if o.observer {
		if err := w.startObserver(dsnFile, monPassword, o.timing); err != nil {
			return nil, err
		}
		tok := filepath.Join(dir, "observer.token")
		obsYAML = fmt.Sprintf(`observers:
  quorum: 1
  max_age: %s
  endpoints:
    - name: obs-dc3
      url: http://%s
      token_file: %s
      timeout: 3s
`, o.timing.observerMaxAge, w.obsAddr, tok)
	}
	var inst strings.Builder
	for _, name := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		in, err := w.topo.Instance(name)
		if err != nil {
			return nil, fmt.Errorf("lab instance %s: %w", name, err)
		}
		role := config.RolePartner
		if in.Role() == lab.ConfigRoleSecondary {
			role = config.RoleSecondary
		}
		f, err := dsnFile(name, "sa", saPassword)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&inst, "  - name: %s\n    site: %s\n    role: %s\n    dsn_file: %s\n    connect_timeout: 3s\n    query_timeout: 5s\n",
			name, in.Site(), role, f)
		if w.sources {
			fmt.Fprintf(&inst, "    source_address: %s\n", demoControllerSource)
		}
	}
	cfgText := fmt.Sprintf(`state_dir: %s
http:
  listen: 127.0.0.1:0
interval: %s
mode: %s
group: %s
databases: [mgc]
monitored_databases: [mgccomp]
target: SQLB1
confirm_after: %s
min_failed_probes: %d
max_data_loss: %s
cooldown: %s
approval_ttl: 15m
instances:
%s%srunbook:
  poll_interval: %s
%s`, w.stateDir, o.timing.interval, o.mode, demoGroup, o.timing.confirmAfter, o.timing.minFailed, o.maxDataLoss,
		o.timing.cooldown, inst.String(), obsYAML, o.timing.poll, o.extraYAML)
	if w.cfgPath, err = w.writeFile("sqldr.yml", cfgText); err != nil {
		return nil, err
	}
	if w.cfg, err = config.Load(w.cfgPath); err != nil {
		return nil, fmt.Errorf("the demo's configuration: %w", err)
	}
	return w, nil
}

// startObserver runs `sqldr observe` (its configuration file, prober and server) in-process, dialing
// from its own source address.
func (w *demoWorld) startObserver(dsnFile func(inst, user, pw string) (string, error), monPassword string, t demoTiming) error {
	src := ""
	if w.sources {
		src = "source_address: " + demoObserverSource + "\n"
	}
	tok, err := w.writeFile("observer.token", randomHex(24)+"\n")
	if err != nil {
		return err
	}
	a1, err := dsnFile("SQLA1", demoMonitorLogin, monPassword)
	if err != nil {
		return err
	}
	a2, err := dsnFile("SQLA2", demoMonitorLogin, monPassword)
	if err != nil {
		return err
	}
	path, err := w.writeFile("observer.yml", fmt.Sprintf(`name: obs-dc3
listen: 127.0.0.1:0
token_file: %s
interval: %s
timeout: 8s
%sdatabases: [mgc, mgccomp]
instances:
  - name: SQLA1
    dsn_file: %s
    connect_timeout: 3s
    query_timeout: 5s
  - name: SQLA2
    dsn_file: %s
    connect_timeout: 3s
    query_timeout: 5s
`, tok, t.observerInterval, src, a1, a2))
	if err != nil {
		return err
	}
	st, err := loadObserveConfig(path)
	if err != nil {
		return fmt.Errorf("the demo observer's configuration: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *observer.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- runObserver(ctx, w.log.Named("observe"), st, w.clk, func(s *observer.Server) { started <- s })
	}()
	select {
	case s := <-started:
		w.obsAddr = s.Addr()
	case err := <-done:
		cancel()
		return fmt.Errorf("start the observer: %w", err)
	}
	var once sync.Once
	var stopErr error
	w.stopObs = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	return nil
}

func (w *demoWorld) writeFile(name, content string) (string, error) {
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return p, nil
}

func (w *demoWorld) setSpeed(s float64) { w.speed.Store(uint64(s * 1000)) }

// drive moves the simulated clock forward in small steps at the configured speed until stopped.
func (w *demoWorld) drive() (stop func()) {
	const realTick = 5 * time.Millisecond
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(realTick)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				w.clk.Step(time.Duration(float64(realTick) * float64(w.speed.Load()) / 1000))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// openDaemon opens the daemon on the demo's configuration and simulated clock.
func (w *demoWorld) openDaemon(oo reconcile.OpenOptions) (*reconcile.Daemon, error) {
	oo.Clock = w.clk
	if oo.ApproveFlags == "" {
		oo.ApproveFlags = "--state-dir " + w.stateDir
	}
	return reconcile.Open(w.log.Named("sqldr"), w.cfg, oo)
}

// runDaemon runs d (HTTP on a free loopback port) until the returned stop is called; stop closes
// the daemon and returns the first error.
func (w *demoWorld) runDaemon(d *reconcile.Daemon) (addr string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = d.Close()
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	var once sync.Once
	var stopErr error
	return ln.Addr().String(), func() error {
		once.Do(func() {
			cancel()
			stopErr = errors.Join(<-done, d.Close())
		})
		return stopErr
	}, nil
}

// close stops everything the world started.
func (w *demoWorld) close() {
	if w.stopObs != nil {
		if err := w.stopObs(); err != nil {
			w.log.Warn("observer_stop_failed", zap.Error(err))
		}
	}
	for _, db := range w.sa {
		_ = db.Close()
	}
	if w.stopDrive != nil {
		w.stopDrive()
	}
	if w.lab != nil {
		if err := w.lab.Close(); err != nil {
			w.log.Warn("lab_close_failed", zap.Error(err))
		}
	}
}

func (w *demoWorld) inject(f lab.Fault) error {
	if _, err := w.topo.Inject(f); err != nil {
		return fmt.Errorf("inject %s: %w", f.Kind, err)
	}
	return nil
}

// rowsOver counts dbo.messages of db on inst over TDS.
func (w *demoWorld) rowsOver(ctx context.Context, inst, db string) (int, error) {
	var n int
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.sa[inst].QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db+".dbo.messages").Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s.dbo.messages on %s: %w", db, inst, err)
	}
	return n, nil
}

// insert proves that db on inst takes writes: an INSERT over TDS.
func (w *demoWorld) insert(ctx context.Context, inst, db string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.sa[inst].ExecContext(ctx, "INSERT INTO "+db+".dbo.messages (body) VALUES (N'written after promotion')"); err != nil {
		return fmt.Errorf("insert into %s.dbo.messages on %s: %w", db, inst, err)
	}
	return nil
}

// rowsIn is the number of rows of db on inst in the world model (readable while the instance is down).
func (w *demoWorld) rowsIn(inst, db string) int {
	in, err := w.topo.Instance(inst)
	if err != nil {
		return -1
	}
	d, ok := in.Database(db)
	if !ok {
		return -1
	}
	return d.Rows
}

// demoSourcesAvailable reports whether both demo source addresses can be bound.
func demoSourcesAvailable() bool {
	for _, a := range []string{demoControllerSource, demoObserverSource} {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, "0"))
		if err != nil {
			return false
		}
		_ = ln.Close()
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newDemoCmd builds `sqldr demo`.
func newDemoCmd() *cobra.Command {
	var mode string
	var speed float64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk through a disaster: the lab, a third-site observer and the daemon in one process",
		Long: `demo starts the simulated topology (principal and mirror in site A, log-shipping secondary in
site B) on loopback, a third-site observer and the daemon, all on one accelerated clock, and tells
the story: healthy and shipping; site A lost; suspect; confirmed; plan; promotion step by step;
promoted. It ends with a summary: detection and promotion times, the predicted data-loss window
beside the rows actually lost, and every instance's final state. It exits 0 only when the secondary
is ONLINE and takes an INSERT.

--mode approval stops at the plan and prints the approve command: run it in another terminal.
Nothing but Go is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != "auto" && mode != "approval" {
				return usagef("--mode must be auto or approval, not %q", mode)
			}
			if speed < 1 || speed > 1000 {
				return usagef("--speed must be between 1 and 1000")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			dir, err := os.MkdirTemp("", "sqldr-demo-")
			if err != nil {
				return fmt.Errorf("demo directory: %w", err)
			}
			defer func() { _ = os.RemoveAll(dir) }()
			logf, err := os.Create(filepath.Join(dir, "sqldr.log"))
			if err != nil {
				return fmt.Errorf("demo log: %w", err)
			}
			defer func() { _ = logf.Close() }()
			log := newDemoLogger(logf)
			return runDemo(ctx, log, cmd.OutOrStdout(), dir, demoOptions{mode: mode, speed: speed, observer: true,
				start: time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)})
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "auto", "auto (promote unattended) or approval (wait for 'sqldr approve')")
	cmd.Flags().Float64Var(&speed, "speed", 30, "simulated seconds per real second")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long (real time)")
	return cmd
}

func newDemoLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}

// demoStory is the timeline printer's memory.
type demoStory struct {
	out   io.Writer
	w     *demoWorld
	start time.Time
	seen  int
	steps map[string]string
	plans map[string]bool
}

func (s *demoStory) say(format string, args ...any) {
	el := s.w.clk.Now().Sub(s.start).Round(time.Second)
	fmt.Fprintf(s.out, "[+%7s] %s\n", el, fmt.Sprintf(format, args...))
}

// update prints the transitions, the plan and the step progress not printed yet, in the order they
// happened: a promotion's steps before the transition that ends it.
func (s *demoStory) update(v reconcile.View) {
	for _, t := range v.Transitions[min(s.seen, len(v.Transitions)):] {
		if t.From == controller.StatePromoting {
			s.printSteps(v.Plan)
		}
		s.say("%s → %s: %s", t.From, t.To, transitionText(t))
		if (t.To == controller.StatePromoting || t.To == controller.StateAwaitingApproval) && v.Plan != nil && !s.plans[v.Plan.ID] {
			s.plans[v.Plan.ID] = true
			s.say("plan %s: promote %s (%s), predicted data loss %s", v.Plan.ID, v.Plan.Target,
				strings.Join(v.Plan.Databases, ", "), v.Plan.DataLoss)
		}
	}
	s.seen = max(s.seen, len(v.Transitions))
	s.printSteps(v.Plan)
}

func (s *demoStory) printSteps(p *controller.Plan) {
	if p == nil {
		return
	}
	for _, st := range p.Steps {
		key := p.ID + "/" + st.Step.String()
		if ph := st.Phase.String(); s.steps[key] != ph && (st.Phase == controller.PhaseStarted ||
			st.Phase == controller.PhaseDone || st.Phase == controller.PhaseFailed) {
			s.steps[key] = ph
			line := fmt.Sprintf("  step %-18s %s", st.Step, ph)
			if st.Err != "" {
				line += ": " + st.Err
			}
			s.say("%s", line)
		}
	}
}

// runDemo tells the story and prints the summary. It returns nil only when the secondary was
// promoted and took an INSERT.
func runDemo(ctx context.Context, log *zap.Logger, out io.Writer, dir string, o demoOptions) error {
	fmt.Fprintf(out, "sqldr demo (%s mode): lab, observer and daemon on one clock at %gx; files in %s\n", o.mode, o.speed, dir)
	w, err := startDemoWorld(log, dir, o)
	if err != nil {
		return err
	}
	defer w.close()
	d, err := w.openDaemon(reconcile.OpenOptions{})
	if err != nil {
		return fmt.Errorf("open the daemon: %w", err)
	}
	addr, stopDaemon, err := w.runDaemon(d)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopDaemon(); err != nil {
			log.Warn("daemon_stop_failed", zap.Error(err))
		}
	}()
	story := &demoStory{out: out, w: w, start: w.clk.Now(), steps: map[string]string{}, plans: map[string]bool{}}
	story.say("lab up: SQLA1 (principal) and SQLA2 (mirror) in site A, SQLB1 (log-shipping secondary) in site B")
	story.say("daemon on http://%s/status (sqldr status --addr %s), observer obs-dc3 in a third site", addr, addr)

	poll := func(what string, cond func(reconcile.View) bool) (reconcile.View, error) {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			v := d.Loop.View()
			story.update(v)
			if cond(v) {
				return v, nil
			}
			select {
			case <-ctx.Done():
				return v, fmt.Errorf("waiting for %s (state %s): %w", what, v.State, ctx.Err())
			case <-tk.C:
			}
		}
	}

	// Healthy and shipping: wait until a shipped log was restored and the window is known.
	v, err := poll("a healthy estate", func(v reconcile.View) bool {
		return v.State == controller.StateHealthy && v.DataLoss.Known && w.clk.Now().Sub(story.start) >= 3*time.Minute
	})
	if err != nil {
		return err
	}
	for _, l := range v.Lag {
		story.say("shipping %s: last backup %s ago, last copy %s ago, last restore %s ago", l.Database,
			secText(l.BackupAgeSeconds), secText(l.CopyAgeSeconds), secText(l.RestoreAgeSeconds))
	}
	story.say("healthy: a promotion now would lose %s", v.DataLoss.Text)

	if o.observer && !w.sources {
		story.say("(%s and %s cannot be bound here: the cut-link part of the story is skipped)", demoControllerSource, demoObserverSource)
	}
	if o.observer && w.sources {
		if err := demoCutLink(w, story, poll); err != nil {
			return err
		}
		if _, err := poll("a healthy estate again", func(v reconcile.View) bool {
			return v.State == controller.StateHealthy && v.DataLoss.Known
		}); err != nil {
			return err
		}
	}

	// Disaster.
	if err := w.inject(lab.Fault{Kind: lab.FaultSiteDown, Target: "A"}); err != nil {
		return err
	}
	lostAt := w.clk.Now()
	rowsA := w.rowsIn("SQLA1", "mgc")
	story.say("SITE A LOST: SQLA1 and SQLA2 are down (%d rows committed in mgc.dbo.messages on site A)", rowsA)

	v, err = poll("a plan", func(v reconcile.View) bool {
		return v.State == controller.StateAwaitingApproval || v.State == controller.StatePromoting ||
			v.State == controller.StatePromoted || v.State == controller.StatePromotionFailed
	})
	if err != nil {
		return err
	}
	var confirmed time.Time
	for _, t := range v.Transitions {
		if t.To == controller.StateSiteDown && confirmed.IsZero() && !t.At.Before(lostAt) {
			confirmed = t.At
		}
	}
	if v.State == controller.StateAwaitingApproval {
		w.setSpeed(1) // real time while a person decides
		story.say("waiting for approval (%s); run in another terminal:", v.VerdictText)
		fmt.Fprintf(out, "\n    go run ./cmd/sqldr %s\n\n", strings.TrimPrefix(v.ApproveCommand, "sqldr "))
		approveFile := filepath.Join(w.stateDir, "signals", "approve")
		if _, err := poll("the approval", func(v reconcile.View) bool {
			if _, err := os.Stat(approveFile); err == nil {
				w.setSpeed(o.speed) // written: on with the story at full speed
			}
			return v.State != controller.StateAwaitingApproval
		}); err != nil {
			return err
		}
		w.setSpeed(o.speed)
		story.say("approved")
	}
	v, err = poll("the end of the promotion", func(v reconcile.View) bool {
		return v.State == controller.StatePromoted || v.State == controller.StatePromotionFailed
	})
	if err != nil {
		return err
	}
	var promoting, promoted time.Time
	for _, t := range v.Transitions {
		if t.To == controller.StatePromoting {
			promoting = t.At
		}
		if t.To == controller.StatePromoted {
			promoted = t.At
		}
	}
	return demoSummary(ctx, out, w, v, demoTimes{lost: lostAt, confirmed: confirmed, promoting: promoting, promoted: promoted}, rowsA)
}

// demoCutLink cuts only the controller's path to site A: from site B it looks like a lost site,
// but the observer in the third site still sees site A serving and vetoes automatic promotion. The
// link comes back before anyone approves, and the plan is cancelled.
func demoCutLink(w *demoWorld, story *demoStory, poll func(string, func(reconcile.View) bool) (reconcile.View, error)) error {
	var ids []int
	for _, inst := range []string{"SQLA1", "SQLA2"} {
		id, err := w.topo.Inject(lab.Fault{Kind: lab.FaultRefuse, Target: inst, Addrs: []string{demoControllerSource}})
		if err != nil {
			return fmt.Errorf("cut the link: %w", err)
		}
		ids = append(ids, id)
	}
	// The lab refuses new connections from the controller's address; the controller's pooled
	// connections are cut the way a failing link cuts them: reset (a moment's restart of the
	// listeners resets every open connection; the observer simply reconnects).
	if err := demoResetConnections(w, "SQLA1", "SQLA2"); err != nil {
		return err
	}
	story.say("WAN LINK CUT between site B and site A (the observer in the third site still reaches site A)")
	v, err := poll("the observer's veto", func(v reconcile.View) bool {
		return (v.State == controller.StateSiteDown || v.State == controller.StateAwaitingApproval) &&
			v.Verdict.Blocks(controller.GateCorroborated)
	})
	if err != nil {
		return err
	}
	for _, b := range v.Verdict.Blocked {
		if b.Gate == controller.GateCorroborated {
			story.say("no automatic promotion: %s", b.Detail)
		}
	}
	for _, id := range ids {
		if err := w.topo.Heal(id); err != nil {
			return fmt.Errorf("heal the link: %w", err)
		}
	}
	story.say("WAN link back")
	_, err = poll("site A answering again", func(v reconcile.View) bool {
		return v.State == controller.StateHealthy || v.State == controller.StateDegraded
	})
	return err
}

// demoResetConnections resets every open connection to the instances: each is taken down until
// its listener refuses connections (bounded), then brought back.
func demoResetConnections(w *demoWorld, insts ...string) error {
	for _, inst := range insts {
		srv, err := w.lab.Server(inst)
		if err != nil {
			return fmt.Errorf("lab instance %s: %w", inst, err)
		}
		id, err := w.topo.Inject(lab.Fault{Kind: lab.FaultDown, Target: inst})
		if err != nil {
			return fmt.Errorf("reset connections to %s: %w", inst, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", srv.Addr(), 200*time.Millisecond)
			if err != nil {
				break
			}
			_ = c.Close()
			if time.Now().After(deadline) {
				return fmt.Errorf("reset connections to %s: the listener stayed open", inst)
			}
			tm := time.NewTimer(5 * time.Millisecond)
			<-tm.C
		}
		if err := w.topo.Heal(id); err != nil {
			return fmt.Errorf("reset connections to %s: %w", inst, err)
		}
	}
	return nil
}

type demoTimes struct{ lost, confirmed, promoting, promoted time.Time }

// demoSummary prints the summary and proves the secondary writable.
func demoSummary(ctx context.Context, out io.Writer, w *demoWorld, v reconcile.View, t demoTimes, rowsA int) error {
	fmt.Fprintf(out, "\nSummary\n")
	if !t.confirmed.IsZero() {
		fmt.Fprintf(out, "  detection:  site A confirmed down %s after it was lost\n", t.confirmed.Sub(t.lost).Round(time.Second))
	}
	if !t.promoted.IsZero() && !t.promoting.IsZero() {
		fmt.Fprintf(out, "  promotion:  %s from start to writable (%s after the loss)\n",
			t.promoted.Sub(t.promoting).Round(time.Second), t.promoted.Sub(t.lost).Round(time.Second))
	}
	predicted := "unknown"
	if v.Plan != nil {
		predicted = v.Plan.DataLoss.String()
	}
	rowsB, cerr := w.rowsOver(ctx, "SQLB1", "mgc")
	if cerr == nil {
		rate := w.topo.Config().WorkloadRate
		lost := rowsA - rowsB
		fmt.Fprintf(out, "  data loss:  predicted window %s; rows actually lost %d (committed on site A %d, present on SQLB1 %d", predicted, lost, rowsA, rowsB)
		if rate > 0 {
			fmt.Fprintf(out, "; at %g rows/s that is %s of writes", rate, (time.Duration(float64(lost) / rate * float64(time.Second))).Round(time.Second))
		}
		fmt.Fprintln(out, ")")
	} else {
		fmt.Fprintf(out, "  data loss:  predicted window %s; rows on SQLB1 could not be counted: %v\n", predicted, cerr)
	}
	fmt.Fprintf(out, "  final state:\n")
	for _, in := range w.topo.Instances() {
		if in.Role() == lab.ConfigRoleWitness {
			continue
		}
		var dbs []string
		for _, d := range in.Databases() {
			if !d.Protected {
				continue
			}
			s := fmt.Sprintf("%s %s", d.Name, d.State)
			switch {
			case d.Standby:
				s += " (standby)"
			case d.ReadOnly:
				s += " (read-only)"
			}
			dbs = append(dbs, s)
		}
		up := "up"
		if in.Net().Health != lab.HealthUp {
			up = "DOWN"
		}
		fmt.Fprintf(out, "    %-6s site %s  %-4s  %s\n", in.Name(), in.Site(), up, strings.Join(dbs, ", "))
	}
	if v.State != controller.StatePromoted {
		return fmt.Errorf("the promotion ended in %s: %s", v.State, planFailure(v.Plan))
	}
	if err := w.insert(ctx, "SQLB1", "mgc"); err != nil {
		return fmt.Errorf("SQLB1 is not writable after promotion: %w", err)
	}
	fmt.Fprintf(out, "  proof:      INSERT INTO mgc.dbo.messages on SQLB1 succeeded: the secondary is ONLINE and writable\n")
	return nil
}

func planFailure(p *controller.Plan) string {
	if p == nil {
		return "no plan"
	}
	return fmt.Sprintf("step %s: %s", p.FailedStep, p.FailReason)
}

package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/metrics"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/pkg/signal"
	"github.com/sqldr/sqldr/probes"
)

// Default log-shipping alert thresholds when neither the configuration nor the monitor tables give
// one: SQL Server's own defaults (backup_threshold 60 minutes, restore_threshold 45 minutes).
const (
	defaultBackupThreshold  = 60 * time.Minute
	defaultRestoreThreshold = 45 * time.Minute
)

// OpenOptions are what Open needs besides the configuration.
type OpenOptions struct {
	// Clock is the daemon's clock; nil means clock.RealClock{}.
	Clock clock.WithTicker
	// Registry receives the metrics; nil means a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// Build fills sqldr_build_info.
	Build metrics.Build
	// ApproveFlags are appended to the approve command shown to operators (e.g. "--config FILE").
	ApproveFlags string
	// WrapJournal, if set, wraps the journal the executor writes its step records to (tests inject
	// a crash between a statement and its journal record with it).
	WrapJournal func(runbook.Journal) runbook.Journal
	// WrapExecutor, if set, wraps the executor (tests inject crashes at step boundaries with it).
	WrapExecutor func(Executor) Executor
}

// Daemon is a configured, wired sqldr daemon: the locked state directory, the prober, the
// observers' client, the signal reader, the runbook executor, the metrics and the loop.
type Daemon struct {
	log      *zap.Logger
	cfg      *config.Config
	clk      clock.WithTicker
	registry *prometheus.Registry

	// Loop is the reconcile loop.
	Loop *Loop

	store   *journal.Store
	prober  *probes.Prober
	pools   *runbook.Pools
	obs     *observer.Client
	closers sync.Once
}

// Open wires a daemon from a validated configuration. It refuses to start when the state directory
// is missing or locked by another daemon. A state directory whose journal or status cannot be
// trusted (torn or corrupt) does not stop it: the loop then only observes and reports why in
// /status and the log, and never acts.
func Open(logger *zap.Logger, cfg *config.Config, oo OpenOptions) (_ *Daemon, err error) {
	if oo.Clock == nil {
		oo.Clock = clock.RealClock{}
	}
	if oo.Registry == nil {
		oo.Registry = prometheus.NewRegistry()
	}
	d := &Daemon{log: logger, cfg: cfg, clk: oo.Clock, registry: oo.Registry}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	copts, err := ControllerOptions(cfg)
	if err != nil {
		return nil, err
	}
	ctrl, err := controller.New(logger.Named("controller"), copts)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}

	var storeErr error
	d.store, err = journal.Open(logger.Named("journal"), journal.Options{Dir: cfg.StateDir})
	switch {
	case err == nil:
	case errors.Is(err, journal.ErrTornTail), errors.Is(err, journal.ErrCorrupt):
		storeErr = fmt.Errorf("state directory %s cannot be trusted: %w", cfg.StateDir, err)
	default:
		return nil, fmt.Errorf("open state directory: %w", err)
	}

	popts := ProbeOptions(cfg)
	d.prober, err = probes.New(logger.Named("probes"), popts, oo.Clock)
	if err != nil {
		return nil, fmt.Errorf("probes: %w", err)
	}
	if len(cfg.Observers.Endpoints) > 0 {
		d.obs, err = observer.NewClient(logger.Named("observers"), ObserverOptions(cfg), oo.Clock)
		if err != nil {
			return nil, fmt.Errorf("observers: %w", err)
		}
		if err := oo.Registry.Register(d.obs); err != nil {
			return nil, fmt.Errorf("register observer metrics: %w", err)
		}
	}
	sopts, err := SignalOptions(cfg)
	if err != nil {
		return nil, err
	}
	sig, err := signal.NewReader(logger.Named("signals"), sopts)
	if err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	met, err := metrics.New(oo.Registry, MetricsOptions(cfg, oo.Build))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}

	d.pools, err = runbook.OpenPools(cfg)
	if err != nil {
		return nil, fmt.Errorf("runbook pools: %w", err)
	}
	var jr runbook.Journal = refusingJournal{storeErr}
	var history []journal.Record
	if d.store != nil {
		jr, history = d.store, d.store.Records()
	}
	if oo.WrapJournal != nil {
		jr = oo.WrapJournal(jr)
	}
	ex, err := runbook.New(logger.Named("runbook"), runbook.FromConfig(cfg), runbook.Deps{
		Clock:   oo.Clock,
		Journal: jr,
		Conn:    d.pools.Conn,
		Prober:  d.prober,
		Hooks:   hook.NewRunner(logger.Named("hook"), hook.Options{Scrub: cfg.DSNEnvNames()}),
		History: history,
	})
	if err != nil {
		return nil, fmt.Errorf("runbook: %w", err)
	}
	var exec Executor = ex
	if oo.WrapExecutor != nil {
		exec = oo.WrapExecutor(exec)
	}
	deps := Deps{Clock: oo.Clock, Controller: ctrl, Store: d.store, StoreErr: storeErr, Prober: d.prober,
		Signals: sig, Executor: exec, Metrics: met}
	if d.obs != nil {
		deps.Observers = d.obs
	}
	lopts := Options{Interval: cfg.Interval, Databases: append(append([]string{}, cfg.Databases...), cfg.MonitoredDatabases...),
		MirroringInstances: partnerNames(cfg), ApproveFlags: oo.ApproveFlags}
	d.Loop, err = New(logger, lopts, deps)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// refusingJournal stands in for a state directory that could not be trusted: nothing is journaled,
// so nothing runs (the loop does not act in that case anyway).
type refusingJournal struct{ err error }

func (r refusingJournal) Append(string, time.Time, any) (journal.Record, error) {
	return journal.Record{}, fmt.Errorf("journal: %w", r.err)
}

// Registry returns the daemon's metrics registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.registry }

// Handler returns the HTTP handler of /metrics, /healthz, /readyz and /status.
func (d *Daemon) Handler() http.Handler { return d.Loop.Handler(d.registry) }

// Run serves HTTP on ln (nil: listen on the configured address) and runs the loop until ctx is
// cancelled; then it shuts the HTTP server down and returns. A running step completes first.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", d.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s (http.listen): %w", d.cfg.HTTP.Listen, err)
		}
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	d.log.Info("http_listening", zap.String("addr", ln.Addr().String()))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	loopErr := d.Loop.Run(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	if shutErr != nil {
		return fmt.Errorf("http shutdown: %w", shutErr)
	}
	return loopErr
}

// Close releases the prober, the pools, the observers' client and the state directory's lock.
func (d *Daemon) Close() error {
	var errs []error
	d.closers.Do(func() {
		if d.obs != nil {
			d.obs.Close()
		}
		if d.prober != nil {
			if err := d.prober.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close prober: %w", err))
			}
		}
		if d.pools != nil {
			if err := d.pools.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close pools: %w", err))
			}
		}
		if d.store != nil {
			if err := d.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close state directory: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// ControllerOptions maps the configuration onto the controller's options.
func ControllerOptions(cfg *config.Config) (controller.Options, error) {
	o := controller.DefaultOptions()
	mode, err := controller.ParseMode(cfg.Mode)
	if err != nil {
		return o, fmt.Errorf("mode: %w", err)
	}
	o.Group, o.Databases, o.Target, o.Mode = cfg.Group, cfg.Databases, cfg.Target, mode
	if o.Target == "" {
		if s, ok := cfg.Secondary(); ok {
			o.Target = s.Name
		}
	}
	o.ConfirmAfter, o.MinFailedProbes, o.MaxDataLoss = cfg.ConfirmAfter, cfg.MinFailedProbes, cfg.MaxDataLoss
	o.Cooldown, o.ApprovalTTL = cfg.Cooldown, cfg.ApprovalTTL
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("controller options: %w", err)
	}
	return o, nil
}

// ProbeOptions maps the configuration onto the prober's options. A configured source_address is
// bound by each target's dialer (probes.Target.SourceAddress).
func ProbeOptions(cfg *config.Config) probes.Options {
	o := probes.Options{Databases: append(append([]string{}, cfg.Databases...), cfg.MonitoredDatabases...)}
	for _, in := range cfg.Instances {
		role := probes.RoleMonitor
		switch in.Role {
		case config.RolePartner:
			role = probes.RolePartner
		case config.RoleSecondary:
			role = probes.RoleSecondary
		}
		o.Targets = append(o.Targets, probes.Target{Name: in.Name, Site: probes.Site(in.Site), Role: role,
			DSNEnv: in.DSNEnv, DSNFile: in.DSNFile, ConnectTimeout: in.ConnectTimeout, QueryTimeout: in.QueryTimeout,
			SourceAddress: in.SourceAddress})
	}
	return o
}

// ObserverOptions maps the configuration onto the observers' client options. The rule covers the
// site-A partners.
func ObserverOptions(cfg *config.Config) observer.ClientOptions {
	o := observer.ClientOptions{Rule: observer.Rule{Quorum: cfg.Observers.Quorum, MaxAge: cfg.Observers.MaxAge,
		Instances: partnerNames(cfg)}}
	for _, e := range cfg.Observers.Endpoints {
		o.Observers = append(o.Observers, observer.Endpoint{Name: e.Name, URL: e.URL, TokenFile: e.TokenFile,
			CAFile: e.CAFile, Timeout: e.Timeout})
	}
	return o
}

// SignalOptions maps the configuration onto the signal reader's options.
func SignalOptions(cfg *config.Config) (signal.Options, error) {
	o := signal.Options{Dir: filepath.Join(cfg.StateDir, "signals"), DaemonUID: uint32(os.Getuid()), ApprovalTTL: cfg.ApprovalTTL}
	if g := cfg.Signals.OperatorsGroup; g != "" {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			grp, lerr := user.LookupGroup(g)
			if lerr != nil {
				return o, fmt.Errorf("signals.operators_group: %w", lerr)
			}
			gid, err = strconv.ParseUint(grp.Gid, 10, 32)
			if err != nil {
				return o, fmt.Errorf("signals.operators_group: group %s has a non-numeric GID %q", g, grp.Gid)
			}
		}
		v := uint32(gid)
		o.OperatorsGID = &v
	}
	return o, nil
}

// MetricsOptions maps the configuration onto the metrics' label sets. The first site-A partner is
// labelled principal and the second mirror (their configured, initial roles: labels never change).
func MetricsOptions(cfg *config.Config, b metrics.Build) metrics.Options {
	o := metrics.Options{Build: b, RuntimeCollectors: true,
		Groups: []metrics.Group{{Name: cfg.Group, DataLossBudget: cfg.MaxDataLoss}}}
	for _, g := range controller.Gates {
		o.BlockReasons = append(o.BlockReasons, BlockReason(g))
	}
	o.RejectReasons = append(o.RejectReasons, metrics.DefaultRejectReasons...)
	for _, r := range signal.Reasons {
		if !slices.Contains(o.RejectReasons, string(r)) {
			o.RejectReasons = append(o.RejectReasons, string(r))
		}
	}
	bt, rt := cfg.LogShipping.BackupThreshold, cfg.LogShipping.RestoreThreshold
	if bt <= 0 {
		bt = defaultBackupThreshold
	}
	if rt <= 0 {
		rt = defaultRestoreThreshold
	}
	partners := 0
	for _, in := range cfg.Instances {
		role := in.Role
		switch in.Role {
		case config.RolePartner:
			role = metrics.RolePrincipal
			if partners > 0 {
				role = metrics.RoleMirror
			}
			partners++
		case config.RoleSecondary:
			role = metrics.RoleSecondary
		case config.RoleMonitor:
			role = metrics.RoleMonitor
		}
		o.Instances = append(o.Instances, metrics.Instance{Name: in.Name, Site: in.Site, Role: role})
	}
	for _, db := range append(append([]string{}, cfg.Databases...), cfg.MonitoredDatabases...) {
		o.Databases = append(o.Databases, metrics.Database{Name: db, Mirrored: partners > 0, BackupThreshold: bt, RestoreThreshold: rt})
	}
	return o
}

// BlockReason is the sqldr_promotion_blocked reason label of a controller gate: the vocabulary of
// pkg/metrics (and of docs/alerts.md), plus plan_in_flight and target_unreachable for the two gates
// it does not name.
func BlockReason(g controller.Gate) string {
	switch g {
	case controller.GateMode:
		return metrics.BlockApprovalMode
	case controller.GateSiteConfirmed:
		return metrics.BlockNotConfirmedDown
	case controller.GateCorroborated:
		return metrics.BlockNotCorroborated
	case controller.GateDataLossKnown:
		return metrics.BlockDataLossUnknown
	case controller.GateDataLossBudget:
		return metrics.BlockDataLossOverBudget
	case controller.GateCooldown:
		return metrics.BlockCooldown
	case controller.GatePaused:
		return metrics.BlockPaused
	case controller.GateNoPlanInFlight:
		return "plan_in_flight"
	case controller.GateSecondaryTarget:
		return "target_unreachable"
	}
	return string(g)
}

// partnerNames are the site-A partner instances, in configuration order.
func partnerNames(cfg *config.Config) []string {
	var out []string
	for _, in := range cfg.Instances {
		if in.Role == config.RolePartner {
			out = append(out, in.Name)
		}
	}
	return out
}

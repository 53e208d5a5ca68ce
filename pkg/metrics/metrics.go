package metrics

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// ErrUnknownLabel is wrapped by the errors of update methods called with a group, database, instance,
// state or reason that the configuration did not declare. Accepting it would create series nobody
// pre-created and that dashboards and alerts do not expect.
var ErrUnknownLabel = errors.New("label value not declared")

// Group is a failover group: the databases that fail over together.
type Group struct {
	// Name is the group's name (the group label), e.g. "mgc".
	Name string
	// DataLossBudget is the group's max_data_loss: automatic promotion is blocked above it. Required,
	// greater than zero. Exported as sqldr_data_loss_budget_seconds.
	DataLossBudget time.Duration
}

// Database is a protected database, monitored whether or not it belongs to a failover group.
type Database struct {
	// Name is the database name (the database label), e.g. "mgc".
	Name string
	// Mirrored says the database is in a mirroring session in site A; its sqldr_mirroring_state series
	// are pre-created for every principal and mirror instance.
	Mirrored bool
	// BackupThreshold is the log backup age above which the log-backup-stale alert fires. Required,
	// greater than zero (SQL Server's backup_threshold defaults to 60 minutes).
	BackupThreshold time.Duration
	// RestoreThreshold is the time since the last restore above which the restore-stale alert fires.
	// Required, greater than zero.
	RestoreThreshold time.Duration
}

// Instance is a SQL Server instance the controller probes.
type Instance struct {
	// Name is the instance name as configured (the sql_instance label), e.g. "sqla1".
	Name string
	// Site is the data center the instance is in (the site label), e.g. "A".
	Site string
	// Role is the configured role (the role label): RolePrincipal, RoleMirror, RoleSecondary,
	// RoleMonitor, or another short word.
	Role string
}

// Transition is an allowed (from, to) pair of controller states.
type Transition struct {
	// From is the state left.
	From string
	// To is the state entered.
	To string
}

// Build identifies the running binary (sqldr_build_info).
type Build struct {
	// Version is the module version, e.g. "v0.3.0" or "(devel)". Empty means "unknown".
	Version string
	// Revision is the VCS revision. Empty means "unknown".
	Revision string
	// GoVersion is the Go version the binary was built with. Empty means runtime.Version().
	GoVersion string
}

// Options is what New needs to know to pre-create every label set.
type Options struct {
	// Groups are the failover groups.
	Groups []Group
	// Databases are the monitored databases.
	Databases []Database
	// Instances are the probed SQL Server instances.
	Instances []Instance
	// Build fills sqldr_build_info.
	Build Build
	// Transitions are the state transitions pre-created in sqldr_transitions_total for every group.
	// Nil means every ordered pair of distinct States. Transition may still count a pair not listed.
	Transitions []Transition
	// BlockReasons are the promotion gates of sqldr_promotion_blocked. Nil means DefaultBlockReasons.
	BlockReasons []string
	// RejectReasons are the signal rejection reasons of sqldr_signals_rejected_total. Nil means
	// DefaultRejectReasons.
	RejectReasons []string
	// RuntimeCollectors adds the standard process_* and go_* collectors to the registry.
	RuntimeCollectors bool
}

// Metrics holds sqldr's collectors. Its methods are safe for concurrent use.
type Metrics struct {
	instances map[string]Instance
	databases map[string]Database
	groups    map[string]Group
	rejects   []string

	buildInfo         *prometheus.GaugeVec
	probeUp           *prometheus.GaugeVec
	probeDuration     *prometheus.HistogramVec
	backupAge         *prometheus.GaugeVec
	copyAge           *prometheus.GaugeVec
	restoreAge        *prometheus.GaugeVec
	restoreLatency    *prometheus.GaugeVec
	unrestoredFiles   *prometheus.GaugeVec
	backupThreshold   *prometheus.GaugeVec
	restoreThreshold  *prometheus.GaugeVec
	lossWindow        *prometheus.GaugeVec
	lossKnown         *prometheus.GaugeVec
	lossUncertainty   *prometheus.GaugeVec
	lossBudget        *prometheus.GaugeVec
	mirroringState    *enum
	state             *enum
	transitions       *prometheus.CounterVec
	promotionBlocked  *enum
	approvalPending   *prometheus.GaugeVec
	promotions        *prometheus.CounterVec
	promotionDuration *prometheus.HistogramVec
	signalsRejected   *prometheus.CounterVec
	lastReconcile     prometheus.Gauge
}

// ProbeDurationBuckets are the buckets of sqldr_probe_duration_seconds: a probe is one round trip per
// instance, bounded by a timeout of a few seconds.
var ProbeDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// PromotionDurationBuckets are the buckets of sqldr_promotion_duration_seconds: a promotion restores
// the remaining log backups, which takes from seconds to hours.
var PromotionDurationBuckets = []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}

// New validates opts, creates sqldr's metrics with every label set opts implies, and registers them on
// reg. Figures not yet observed start as NaN (unknown), counters and flags at 0, every group in state
// Unknown and every mirroring state UNKNOWN.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registerer")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("metrics: invalid options: %w", err)
	}
	m := &Metrics{
		instances: map[string]Instance{},
		databases: map[string]Database{},
		groups:    map[string]Group{},
		rejects:   orDefault(opts.RejectReasons, DefaultRejectReasons),
	}
	gauge := func(name string) *prometheus.GaugeVec {
		d := lookup(name)
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
	}
	counter := func(name string) *prometheus.CounterVec {
		d := lookup(name)
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
	}
	histogram := func(name string, buckets []float64) *prometheus.HistogramVec {
		d := lookup(name)
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: buckets}, d.Labels)
	}
	m.buildInfo = gauge(NameBuildInfo)
	m.probeUp = gauge(NameProbeUp)
	m.probeDuration = histogram(NameProbeDuration, ProbeDurationBuckets)
	m.backupAge = gauge(NameBackupAge)
	m.copyAge = gauge(NameCopyAge)
	m.restoreAge = gauge(NameRestoreAge)
	m.restoreLatency = gauge(NameRestoreLatency)
	m.unrestoredFiles = gauge(NameUnrestoredFiles)
	m.backupThreshold = gauge(NameBackupThreshold)
	m.restoreThreshold = gauge(NameRestoreThreshold)
	m.lossWindow = gauge(NameDataLossWindow)
	m.lossKnown = gauge(NameDataLossWindowKnown)
	m.lossUncertainty = gauge(NameDataLossUncertainty)
	m.lossBudget = gauge(NameDataLossBudget)
	m.mirroringState = newEnum(lookup(NameMirroringState), MirroringStates, true)
	m.state = newEnum(lookup(NameState), States, true)
	m.transitions = counter(NameTransitions)
	m.promotionBlocked = newEnum(lookup(NamePromotionBlocked), orDefault(opts.BlockReasons, DefaultBlockReasons), false)
	m.approvalPending = gauge(NameApprovalPending)
	m.promotions = counter(NamePromotions)
	m.promotionDuration = histogram(NamePromotionDuration, PromotionDurationBuckets)
	m.signalsRejected = counter(NameSignalsRejected)
	lr := lookup(NameLastReconcileTimestamp)
	m.lastReconcile = prometheus.NewGauge(prometheus.GaugeOpts{Name: lr.Name, Help: lr.Help})

	b := opts.Build
	m.buildInfo.WithLabelValues(orUnknown(b.Version), orUnknown(b.Revision), cmpOr(b.GoVersion, runtime.Version())).Set(1)

	for _, in := range opts.Instances {
		m.instances[in.Name] = in
		m.probeUp.WithLabelValues(in.Name, in.Site, in.Role).Set(0)
		m.probeDuration.WithLabelValues(in.Name, in.Site, in.Role)
	}
	nan := math.NaN()
	for _, db := range opts.Databases {
		m.databases[db.Name] = db
		for _, g := range []*prometheus.GaugeVec{m.backupAge, m.copyAge, m.restoreAge, m.restoreLatency, m.unrestoredFiles} {
			g.WithLabelValues(db.Name).Set(nan)
		}
		m.backupThreshold.WithLabelValues(db.Name).Set(db.BackupThreshold.Seconds())
		m.restoreThreshold.WithLabelValues(db.Name).Set(db.RestoreThreshold.Seconds())
		if !db.Mirrored {
			continue
		}
		for _, in := range opts.Instances {
			if in.Role == RolePrincipal || in.Role == RoleMirror {
				m.mirroringState.add([]string{db.Name, in.Name}, "UNKNOWN")
			}
		}
	}
	transitions := opts.Transitions
	if transitions == nil {
		for _, from := range States {
			for _, to := range States {
				if from != to {
					transitions = append(transitions, Transition{from, to})
				}
			}
		}
	}
	for _, g := range opts.Groups {
		m.groups[g.Name] = g
		m.lossWindow.WithLabelValues(g.Name).Set(nan)
		m.lossKnown.WithLabelValues(g.Name).Set(0)
		m.lossUncertainty.WithLabelValues(g.Name).Set(nan)
		m.lossBudget.WithLabelValues(g.Name).Set(g.DataLossBudget.Seconds())
		m.state.add([]string{g.Name}, "Unknown")
		for _, t := range transitions {
			m.transitions.WithLabelValues(g.Name, t.From, t.To)
		}
		m.promotionBlocked.add([]string{g.Name})
		m.approvalPending.WithLabelValues(g.Name).Set(0)
		for _, r := range PromotionResults {
			m.promotions.WithLabelValues(g.Name, r)
		}
		m.promotionDuration.WithLabelValues(g.Name)
	}
	for _, r := range m.rejects {
		m.signalsRejected.WithLabelValues(r)
	}

	cs := []prometheus.Collector{
		m.buildInfo, m.probeUp, m.probeDuration, m.backupAge, m.copyAge, m.restoreAge, m.restoreLatency,
		m.unrestoredFiles, m.backupThreshold, m.restoreThreshold, m.lossWindow, m.lossKnown,
		m.lossUncertainty, m.lossBudget, m.mirroringState, m.state, m.transitions, m.promotionBlocked,
		m.approvalPending, m.promotions, m.promotionDuration, m.signalsRejected, m.lastReconcile,
	}
	if opts.RuntimeCollectors {
		cs = append(cs, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] { // leave the registry as it was
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register collector: %w", err)
		}
	}
	return m, nil
}

// validate reports every problem of opts at once, each naming the field.
func (o Options) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, g := range o.Groups {
		errs = append(errs, checkName(fmt.Sprintf("groups[%d].name", i), g.Name, seen))
		if g.DataLossBudget <= 0 {
			errs = append(errs, fmt.Errorf("groups[%d].data_loss_budget: must be greater than zero, got %s", i, g.DataLossBudget))
		}
	}
	seen = map[string]bool{}
	for i, d := range o.Databases {
		errs = append(errs, checkName(fmt.Sprintf("databases[%d].name", i), d.Name, seen))
		if d.BackupThreshold <= 0 {
			errs = append(errs, fmt.Errorf("databases[%d].backup_threshold: must be greater than zero, got %s", i, d.BackupThreshold))
		}
		if d.RestoreThreshold <= 0 {
			errs = append(errs, fmt.Errorf("databases[%d].restore_threshold: must be greater than zero, got %s", i, d.RestoreThreshold))
		}
	}
	seen = map[string]bool{}
	for i, in := range o.Instances {
		errs = append(errs, checkName(fmt.Sprintf("instances[%d].name", i), in.Name, seen))
		if strings.TrimSpace(in.Site) == "" {
			errs = append(errs, fmt.Errorf("instances[%d].site: empty", i))
		}
		if strings.TrimSpace(in.Role) == "" {
			errs = append(errs, fmt.Errorf("instances[%d].role: empty", i))
		}
	}
	for i, t := range o.Transitions {
		if !slices.Contains(States, t.From) {
			errs = append(errs, fmt.Errorf("transitions[%d].from: %q is not a state (want one of %s)", i, t.From, strings.Join(States, ", ")))
		}
		if !slices.Contains(States, t.To) {
			errs = append(errs, fmt.Errorf("transitions[%d].to: %q is not a state (want one of %s)", i, t.To, strings.Join(States, ", ")))
		}
	}
	for _, list := range []struct {
		field  string
		values []string
	}{{"block_reasons", o.BlockReasons}, {"reject_reasons", o.RejectReasons}} {
		seen = map[string]bool{}
		for i, v := range list.values {
			errs = append(errs, checkName(fmt.Sprintf("%s[%d]", list.field, i), v, seen))
		}
	}
	return errors.Join(errs...)
}

// checkName rejects an empty or duplicate label value.
func checkName(field, v string, seen map[string]bool) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s: empty", field)
	case seen[v]:
		return fmt.Errorf("%s: duplicate %q", field, v)
	}
	seen[v] = true
	return nil
}

func orDefault(v, def []string) []string {
	if v == nil {
		return slices.Clone(def)
	}
	return slices.Clone(v)
}

func orUnknown(s string) string { return cmpOr(s, "unknown") }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Figure is a measured quantity that may be unknown; an unknown figure is exported as NaN.
type Figure struct {
	// Value is the figure in base units (seconds, files).
	Value float64
	// Known is false when the figure could not be measured.
	Known bool
}

// Unknown is the figure of something that could not be measured.
var Unknown = Figure{}

// Seconds returns a known duration figure, in seconds.
func Seconds(d time.Duration) Figure { return Figure{Value: d.Seconds(), Known: true} }

// Count returns a known count figure.
func Count(n int) Figure { return Figure{Value: float64(n), Known: true} }

func (f Figure) float() float64 {
	if !f.Known {
		return math.NaN()
	}
	return f.Value
}

// LogShipping are the log-shipping figures of one database from one snapshot.
type LogShipping struct {
	// BackupAge is the primary's UTC now minus the newest log backup's finish (primary's clock).
	BackupAge Figure
	// CopyAge is the secondary's UTC now minus its last copy (secondary's clock).
	CopyAge Figure
	// RestoreAge is the secondary's UTC now minus its last restore (secondary's clock).
	RestoreAge Figure
	// RestoreLatency is the secondary's last_restored_latency.
	RestoreLatency Figure
	// UnrestoredFiles is the number of copied but not restored log backup files.
	UnrestoredFiles Figure
}

// ObserveProbe records one probe of an instance: whether it succeeded and how long it took.
func (m *Metrics) ObserveProbe(instance string, up bool, took time.Duration) error {
	in, ok := m.instances[instance]
	if !ok {
		return fmt.Errorf("observe probe of instance %q: %w", instance, ErrUnknownLabel)
	}
	v := 0.0
	if up {
		v = 1
	}
	m.probeUp.WithLabelValues(in.Name, in.Site, in.Role).Set(v)
	m.probeDuration.WithLabelValues(in.Name, in.Site, in.Role).Observe(took.Seconds())
	return nil
}

// SetLogShipping sets the log-shipping figures of a database.
func (m *Metrics) SetLogShipping(database string, ls LogShipping) error {
	if _, ok := m.databases[database]; !ok {
		return fmt.Errorf("set log shipping figures of database %q: %w", database, ErrUnknownLabel)
	}
	m.backupAge.WithLabelValues(database).Set(ls.BackupAge.float())
	m.copyAge.WithLabelValues(database).Set(ls.CopyAge.float())
	m.restoreAge.WithLabelValues(database).Set(ls.RestoreAge.float())
	m.restoreLatency.WithLabelValues(database).Set(ls.RestoreLatency.float())
	m.unrestoredFiles.WithLabelValues(database).Set(ls.UnrestoredFiles.float())
	return nil
}

// SetDataLoss sets a group's data-loss window and its uncertainty; an unknown window also sets
// sqldr_data_loss_window_known to 0.
func (m *Metrics) SetDataLoss(group string, window, uncertainty Figure) error {
	if _, ok := m.groups[group]; !ok {
		return fmt.Errorf("set data-loss window of group %q: %w", group, ErrUnknownLabel)
	}
	known := 0.0
	if window.Known {
		known = 1
	}
	m.lossWindow.WithLabelValues(group).Set(window.float())
	m.lossKnown.WithLabelValues(group).Set(known)
	m.lossUncertainty.WithLabelValues(group).Set(uncertainty.float())
	return nil
}

// SetMirroringState sets the mirroring state of a database as seen on a partner instance.
// state is sys.database_mirroring.mirroring_state_desc in any case; "" (NULL) means UNKNOWN.
func (m *Metrics) SetMirroringState(database, instance, state string) error {
	s := normalizeMirroringState(state)
	if err := m.mirroringState.set([]string{database, instance}, s); err != nil {
		return fmt.Errorf("set mirroring state of database %q on instance %q: %w", database, instance, err)
	}
	return nil
}

// SetState makes state the current state of a group (one-hot), without counting a transition; use it
// when the controller starts from a persisted status.
func (m *Metrics) SetState(group, state string) error {
	if err := m.state.set([]string{group}, state); err != nil {
		return fmt.Errorf("set state of group %q: %w", group, err)
	}
	return nil
}

// Transition counts a transition of a group and makes to its current state.
func (m *Metrics) Transition(group, from, to string) error {
	if !slices.Contains(States, from) {
		return fmt.Errorf("count transition of group %q from %q: state %w", group, from, ErrUnknownLabel)
	}
	if err := m.SetState(group, to); err != nil {
		return err
	}
	m.transitions.WithLabelValues(group, from, to).Inc()
	return nil
}

// SetPromotionBlocked sets the gates that currently block an automatic promotion of a group; every
// other gate is set to 0. No reasons means nothing blocks.
func (m *Metrics) SetPromotionBlocked(group string, reasons ...string) error {
	if err := m.promotionBlocked.set([]string{group}, reasons...); err != nil {
		return fmt.Errorf("set promotion gates of group %q: %w", group, err)
	}
	return nil
}

// SetApprovalPending says whether a plan of the group waits for an operator's approval.
func (m *Metrics) SetApprovalPending(group string, pending bool) error {
	if _, ok := m.groups[group]; !ok {
		return fmt.Errorf("set approval pending of group %q: %w", group, ErrUnknownLabel)
	}
	v := 0.0
	if pending {
		v = 1
	}
	m.approvalPending.WithLabelValues(group).Set(v)
	return nil
}

// PromotionEnded counts a finished promotion of a group (result is one of PromotionResults) and
// records how long it took.
func (m *Metrics) PromotionEnded(group, result string, took time.Duration) error {
	if _, ok := m.groups[group]; !ok {
		return fmt.Errorf("count promotion of group %q: %w", group, ErrUnknownLabel)
	}
	if !slices.Contains(PromotionResults, result) {
		return fmt.Errorf("count promotion of group %q with result %q: %w", group, result, ErrUnknownLabel)
	}
	m.promotions.WithLabelValues(group, result).Inc()
	m.promotionDuration.WithLabelValues(group).Observe(took.Seconds())
	return nil
}

// SignalRejected counts a rejected signal file.
func (m *Metrics) SignalRejected(reason string) error {
	if !slices.Contains(m.rejects, reason) {
		return fmt.Errorf("count rejected signal with reason %q: %w", reason, ErrUnknownLabel)
	}
	m.signalsRejected.WithLabelValues(reason).Inc()
	return nil
}

// Reconciled records the end of a reconcile cycle at the given instant.
func (m *Metrics) Reconciled(at time.Time) {
	m.lastReconcile.Set(float64(at.UnixNano()) / 1e9)
}

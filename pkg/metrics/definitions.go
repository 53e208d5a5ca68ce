package metrics

import (
	"slices"
	"strings"
)

// Kind is the Prometheus type of a metric family.
type Kind uint8

const (
	// KindGauge is a value that goes up and down (ages, figures, one-hot enumerations).
	KindGauge Kind = iota
	// KindCounter only goes up (its name ends in _total).
	KindCounter
	// KindHistogram is a distribution exposed as _bucket, _sum and _count series.
	KindHistogram
)

// String returns the Prometheus TYPE keyword of the kind.
func (k Kind) String() string {
	switch k {
	case KindGauge:
		return "gauge"
	case KindCounter:
		return "counter"
	case KindHistogram:
		return "histogram"
	default:
		return "unknown"
	}
}

// Definition describes one metric family sqldr exports. The table below is the single place the
// names, HELP texts and label names are written; the constructor builds the collectors from it.
type Definition struct {
	// Name is the full metric family name, with the sqldr_ prefix.
	Name string
	// Help is the HELP text, written for the DBA who reads it in Prometheus or Grafana.
	Help string
	// Kind is the Prometheus type.
	Kind Kind
	// Labels are the label names, in order. Every label has a bounded set of values.
	Labels []string
}

// Metric family names. They are fixed by DESIGN.md ("Metrics"); dashboards and alert rules depend on
// them, so they are never renamed. The *_threshold_seconds, sqldr_data_loss_budget_seconds and
// sqldr_data_loss_window_known families are additions that let the alert rules compare against the
// configured limits instead of numbers hard-coded in the rules.
const (
	NameBuildInfo              = "sqldr_build_info"
	NameProbeUp                = "sqldr_probe_up"
	NameProbeDuration          = "sqldr_probe_duration_seconds"
	NameBackupAge              = "sqldr_logship_backup_age_seconds"
	NameCopyAge                = "sqldr_logship_copy_age_seconds"
	NameRestoreAge             = "sqldr_logship_restore_age_seconds"
	NameRestoreLatency         = "sqldr_logship_restore_latency_seconds"
	NameUnrestoredFiles        = "sqldr_logship_unrestored_files"
	NameBackupThreshold        = "sqldr_logship_backup_threshold_seconds"
	NameRestoreThreshold       = "sqldr_logship_restore_threshold_seconds"
	NameDataLossWindow         = "sqldr_data_loss_window_seconds"
	NameDataLossWindowKnown    = "sqldr_data_loss_window_known"
	NameDataLossUncertainty    = "sqldr_data_loss_uncertainty_seconds"
	NameDataLossBudget         = "sqldr_data_loss_budget_seconds"
	NameMirroringState         = "sqldr_mirroring_state"
	NameState                  = "sqldr_state"
	NameTransitions            = "sqldr_transitions_total"
	NamePromotionBlocked       = "sqldr_promotion_blocked"
	NameApprovalPending        = "sqldr_approval_pending"
	NamePromotions             = "sqldr_promotions_total"
	NamePromotionDuration      = "sqldr_promotion_duration_seconds"
	NameSignalsRejected        = "sqldr_signals_rejected_total"
	NameLastReconcileTimestamp = "sqldr_last_reconcile_timestamp_seconds"
)

// Label names. The SQL Server instance label is sql_instance, not instance: Prometheus attaches its own
// instance label (the scrape target) to every series, and with the default honor_labels: false a
// scraped "instance" label would be renamed exported_instance.
const (
	labelGroup     = "group"
	labelDatabase  = "database"
	labelInstance  = "sql_instance"
	labelSite      = "site"
	labelRole      = "role"
	labelState     = "state"
	labelReason    = "reason"
	labelResult    = "result"
	labelFrom      = "from"
	labelTo        = "to"
	labelVersion   = "version"
	labelRevision  = "revision"
	labelGoVersion = "goversion"
)

// definitions is the metric set, in exposition order.
var definitions = []Definition{
	{NameBuildInfo, "Build of the running sqldr controller; the value is always 1.", KindGauge,
		[]string{labelVersion, labelRevision, labelGoVersion}},
	{NameProbeUp, "1 if the last probe of this SQL Server instance succeeded (connected to master and read the catalog), 0 if it failed: unreachable, timed out, or the server answered but refused.", KindGauge,
		[]string{labelInstance, labelSite, labelRole}},
	{NameProbeDuration, "How long one probe of this SQL Server instance took, including connecting, in seconds; failed probes count too.", KindHistogram,
		[]string{labelInstance, labelSite, labelRole}},
	{NameBackupAge, "Age of the newest log backup of this database on the log-shipping primary, in seconds, on the primary's own clock (its UTC now minus the backup's finish time). NaN when it cannot be read.", KindGauge,
		[]string{labelDatabase}},
	{NameCopyAge, "Time since the secondary's copy job last copied a log backup file of this database, in seconds, on the secondary's own clock. NaN when it cannot be read.", KindGauge,
		[]string{labelDatabase}},
	{NameRestoreAge, "Time since the secondary last restored a log backup of this database, in seconds, on the secondary's own clock. NaN when it cannot be read.", KindGauge,
		[]string{labelDatabase}},
	{NameRestoreLatency, "How far the restored copy of this database lags the primary, in seconds: the time between the newest restored log backup's creation on the primary and its restore on the secondary (last_restored_latency). NaN when it cannot be read.", KindGauge,
		[]string{labelDatabase}},
	{NameUnrestoredFiles, "Log backup files of this database copied to the secondary but not yet restored. NaN when it cannot be read.", KindGauge,
		[]string{labelDatabase}},
	{NameBackupThreshold, "Configured limit on the log backup age of this database, in seconds; the log-backup-stale alert fires above it.", KindGauge,
		[]string{labelDatabase}},
	{NameRestoreThreshold, "Configured limit on the time since the last restore of this database on the secondary, in seconds; the restore-stale alert fires above it.", KindGauge,
		[]string{labelDatabase}},
	{NameDataLossWindow, "Data that would be lost if the log-shipping secondary were promoted now, in seconds of the primary's transactions: the primary's time (frozen at the start of an outage) minus the finish time of the newest log backup the secondary can restore. Worst database of the failover group. NaN when unknown.", KindGauge,
		[]string{labelGroup}},
	{NameDataLossWindowKnown, "1 if the data-loss window of this failover group is known, 0 if not (then automatic promotion is blocked).", KindGauge,
		[]string{labelGroup}},
	{NameDataLossUncertainty, "Uncertainty of the data-loss window, in seconds: the gap between the last successful and the first failed probe of the primary plus the estimated clock skew. NaN when unknown.", KindGauge,
		[]string{labelGroup}},
	{NameDataLossBudget, "Configured maximum data-loss window of this failover group (max_data_loss), in seconds; automatic promotion is blocked above it.", KindGauge,
		[]string{labelGroup}},
	{NameMirroringState, "Database mirroring state of this database as seen on this partner instance (sys.database_mirroring.mirroring_state_desc); 1 for the current state, 0 for the others. UNKNOWN when the instance is unreachable or the columns read NULL.", KindGauge,
		[]string{labelDatabase, labelInstance, labelState}},
	{NameState, "Controller state of this failover group; 1 for the current state, 0 for the others.", KindGauge,
		[]string{labelGroup, labelState}},
	{NameTransitions, "State transitions of this failover group since the controller started.", KindCounter,
		[]string{labelGroup, labelFrom, labelTo}},
	{NamePromotionBlocked, "1 if this gate currently blocks an automatic promotion of this failover group, 0 if it does not.", KindGauge,
		[]string{labelGroup, labelReason}},
	{NameApprovalPending, "1 if a promotion plan of this failover group is published and waits for an operator's approval (sqldr approve --plan ID), 0 otherwise.", KindGauge,
		[]string{labelGroup}},
	{NamePromotions, "Promotions of the log-shipping secondary of this failover group that ended, by result.", KindCounter,
		[]string{labelGroup, labelResult}},
	{NamePromotionDuration, "How long a promotion of this failover group took, from the first runbook step to its end, in seconds.", KindHistogram,
		[]string{labelGroup}},
	{NameSignalsRejected, "Signal files (approve, pause, ack, retry) the controller rejected, by reason; a rejected signal never acts.", KindCounter,
		[]string{labelReason}},
	{NameLastReconcileTimestamp, "When the controller last finished a reconcile cycle (observe, decide, act), as a Unix timestamp in seconds; 0 before the first one.", KindGauge,
		nil},
}

// Definitions returns the metric families sqldr exports (a copy), in exposition order.
func Definitions() []Definition {
	out := make([]Definition, len(definitions))
	for i, d := range definitions {
		d.Labels = slices.Clone(d.Labels)
		out[i] = d
	}
	return out
}

// Names returns the names of the metric families sqldr exports, sorted.
func Names() []string {
	out := make([]string, 0, len(definitions))
	for _, d := range definitions {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

// IsDefined reports whether a series name is one sqldr exports: a family name, or the _bucket, _sum or
// _count series of a histogram family. Rule and dashboard tests use it to catch references to metrics
// that do not exist.
func IsDefined(series string) bool {
	for _, d := range definitions {
		if series == d.Name {
			return true
		}
		if d.Kind == KindHistogram {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if series == d.Name+suffix {
					return true
				}
			}
		}
	}
	return false
}

// lookup returns the definition of a family; the names come from the constants above, so a miss is a
// programming error.
func lookup(name string) Definition {
	for _, d := range definitions {
		if d.Name == name {
			return d
		}
	}
	panic("metrics: no definition named " + name)
}

// States are the controller states of a failover group (DESIGN.md, "State machine"), the values of
// sqldr_state's state label and of sqldr_transitions_total's from and to labels.
var States = []string{
	"Unknown", "Healthy", "Degraded", "SiteSuspect", "SiteDown",
	"AwaitingApproval", "Promoting", "Promoted", "PromotionFailed", "SplitBrainRisk",
}

// MirroringStates are the values of sqldr_mirroring_state's state label: SQL Server's
// mirroring_state_desc values, plus UNKNOWN for an unreachable instance or a NULL column.
var MirroringStates = []string{
	"UNKNOWN", "SUSPENDED", "DISCONNECTED", "SYNCHRONIZING", "PENDING_FAILOVER", "SYNCHRONIZED", "UNSYNCHRONIZED",
}

// Gates that can block an automatic promotion (DESIGN.md, "State machine"): the default values of
// sqldr_promotion_blocked's reason label.
const (
	BlockNotConfirmedDown   = "site_not_confirmed_down"
	BlockNotCorroborated    = "not_corroborated"
	BlockDataLossUnknown    = "data_loss_unknown"
	BlockDataLossOverBudget = "data_loss_over_budget"
	BlockCooldown           = "cooldown"
	BlockPaused             = "paused"
	BlockApprovalMode       = "approval_mode"
)

// DefaultBlockReasons is the default set of promotion gates, pre-created for every group.
var DefaultBlockReasons = []string{
	BlockNotConfirmedDown, BlockNotCorroborated, BlockDataLossUnknown, BlockDataLossOverBudget,
	BlockCooldown, BlockPaused, BlockApprovalMode,
}

// Reasons a signal file is rejected (DESIGN.md, "Signal files"): the default values of
// sqldr_signals_rejected_total's reason label.
const (
	RejectMalformed       = "malformed"
	RejectWrongPlan       = "wrong_plan"
	RejectStale           = "stale"
	RejectWrongOwner      = "wrong_owner"
	RejectUnsafeDirectory = "unsafe_directory"
	RejectUnknownSignal   = "unknown_signal"
)

// DefaultRejectReasons is the default set of signal rejection reasons, pre-created at zero.
var DefaultRejectReasons = []string{
	RejectMalformed, RejectWrongPlan, RejectStale, RejectWrongOwner, RejectUnsafeDirectory, RejectUnknownSignal,
}

// Results of a promotion: the values of sqldr_promotions_total's result label.
const (
	// ResultPromoted: the secondary is the writable primary.
	ResultPromoted = "promoted"
	// ResultFailed: a step failed after which nothing more was tried (PromotionFailed).
	ResultFailed = "failed"
	// ResultAborted: the runbook stopped before any RECOVERY and undid what it could.
	ResultAborted = "aborted"
)

// PromotionResults are the values of sqldr_promotions_total's result label.
var PromotionResults = []string{ResultPromoted, ResultFailed, ResultAborted}

// Instance roles: the values of the role label. Mirroring series are pre-created for the partners.
const (
	RolePrincipal = "principal"
	RoleMirror    = "mirror"
	RoleSecondary = "secondary"
	RoleMonitor   = "monitor"
)

// normalizeMirroringState maps a mirroring_state_desc value (any case, possibly empty for NULL) to a
// label value.
func normalizeMirroringState(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" || s == "NULL" {
		return "UNKNOWN"
	}
	return s
}

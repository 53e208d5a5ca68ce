package probes

import (
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/sqlerr"
)

// Snapshot is everything observed in one probe cycle. A Snapshot is never modified after the Prober
// returns it; consumers must treat it (and the slices and pointers inside it) as read-only.
type Snapshot struct {
	// Time is the controller's clock when the cycle started.
	Time time.Time
	// Instances holds one entry per configured target, in configuration order.
	Instances []InstanceSnapshot
}

// Site names a data centre. SiteA is the primary site (principal and mirror), SiteB the backup site
// (log-shipping secondary). Other values are allowed (e.g. a third site for a monitor server).
type Site string

const (
	// SiteA is the primary data centre.
	SiteA Site = "A"
	// SiteB is the backup data centre.
	SiteB Site = "B"
)

// Role is the role an instance was given in the configuration. The current mirroring role of a
// partner is observed per database (Mirroring.Role); the configured role never changes at run time.
type Role uint8

const (
	// RoleUnknown is the zero value; a configured target always has another role.
	RoleUnknown Role = iota
	// RolePartner is a database-mirroring partner in site A (principal or mirror, whichever it is now);
	// both partners are configured as log-shipping primaries.
	RolePartner
	// RoleSecondary is the log-shipping secondary in site B.
	RoleSecondary
	// RoleMonitor is the optional log-shipping monitor server (a second source of monitor rows).
	RoleMonitor
)

var roleNames = [...]string{RoleUnknown: "unknown", RolePartner: "partner", RoleSecondary: "secondary", RoleMonitor: "monitor"}

// String returns the role's lower-case name.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "invalid"
}

// Reachability is how an instance answered the probe.
type Reachability uint8

const (
	// ReachUnknown means the instance was not probed (yet), the probe was canceled, or it failed in a
	// way nobody classified (e.g. a TLS handshake error): nothing is known.
	ReachUnknown Reachability = iota
	// ReachUp means the batch ran and every result set was read.
	ReachUp
	// ReachUnreachable means no SQL Server answered: TCP refused, timeout, reset, a hung instance.
	ReachUnreachable
	// ReachRefusing means the server answered with an error (e.g. 18456, 4060, 927): alive, not usable.
	// InstanceSnapshot.SQLErrorNumber holds the number.
	ReachRefusing
)

var reachNames = [...]string{ReachUnknown: "unknown", ReachUp: "up", ReachUnreachable: "unreachable", ReachRefusing: "refusing"}

// String returns the reachability's lower-case name.
func (r Reachability) String() string {
	if int(r) < len(reachNames) {
		return reachNames[r]
	}
	return "invalid"
}

// InstanceSnapshot is what one instance answered in a cycle.
type InstanceSnapshot struct {
	// Name is the configured target name (not @@SERVERNAME).
	Name string
	// Site is the configured site of the instance.
	Site Site
	// Role is the configured role of the instance.
	Role Role

	// Reachability classifies the probe's outcome.
	Reachability Reachability
	// SQLErrorNumber is the most significant SQL Server error number when Reachability is
	// ReachRefusing (0 otherwise).
	SQLErrorNumber int32
	// Err is the error text of a failed probe ("" when Up). It never contains the DSN.
	Err string
	// ErrClass is the sqlerr class of the probe's error (sqlerr.ClassNone when Up).
	ErrClass sqlerr.Class

	// Started is the controller's clock when the probe was sent.
	Started time.Time
	// Received is the controller's clock when the answer (or the failure) arrived.
	Received time.Time
	// RTT is Received − Started on the controller's monotonic clock (connect included).
	RTT time.Duration

	// ServerName is @@SERVERNAME ("" unless Up).
	ServerName string
	// Version is @@VERSION ("" unless Up).
	Version string
	// ServerUTC is the instance's own SYSUTCDATETIME(), read in the same batch (zero unless Up).
	ServerUTC time.Time

	// Databases holds one entry per protected database, in configuration order (empty unless Up).
	Databases []DatabaseSnapshot

	// byName indexes Databases by lower-cased name (built by the Prober; nil in hand-built values).
	byName map[string]int
}

// Up reports whether the probe of this instance succeeded.
func (i *InstanceSnapshot) Up() bool { return i.Reachability == ReachUp }

// Alive reports whether a SQL Server process answered, even if it refused the request.
func (i *InstanceSnapshot) Alive() bool {
	return i.Reachability == ReachUp || i.Reachability == ReachRefusing
}

// Database returns the named protected database as seen on this instance (case-insensitive, as
// SQL Server's default collation compares names).
func (i *InstanceSnapshot) Database(name string) (*DatabaseSnapshot, bool) {
	if i.byName != nil {
		if k, ok := i.byName[strings.ToLower(name)]; ok && k < len(i.Databases) {
			return &i.Databases[k], true
		}
		return nil, false
	}
	for k := range i.Databases {
		if strings.EqualFold(i.Databases[k].Name, name) {
			return &i.Databases[k], true
		}
	}
	return nil, false
}

// ClockOffset estimates the instance's clock minus the controller's clock, assuming the server read
// SYSUTCDATETIME() half-way through the round trip. The uncertainty is RTT/2. ok is false unless Up.
func (i *InstanceSnapshot) ClockOffset() (offset, uncertainty time.Duration, ok bool) {
	if !i.Up() || i.ServerUTC.IsZero() || i.Started.IsZero() {
		return 0, 0, false
	}
	mid := i.Started.Add(i.RTT / 2)
	return i.ServerUTC.Sub(mid), i.RTT / 2, true
}

// DatabaseSnapshot is one protected database as seen on one instance. On a monitor server the
// database usually does not exist (Exists false) but the log-shipping monitor rows may be present.
type DatabaseSnapshot struct {
	// Name is the configured database name.
	Name string
	// Exists reports whether sys.databases showed a row for it (a low-privilege login cannot see
	// OFFLINE databases, SQLSERVER.md §3.2).
	Exists bool
	// State is sys.databases.state_desc.
	State DBState
	// ReadOnly is sys.databases.is_read_only.
	ReadOnly bool
	// Standby is sys.databases.is_in_standby.
	Standby bool
	// UserAccess is sys.databases.user_access_desc.
	UserAccess UserAccess
	// RecoveryModel is sys.databases.recovery_model_desc.
	RecoveryModel RecoveryModel

	// Mirroring is the sys.database_mirroring row.
	Mirroring Mirroring

	// RecoveryForkGUID is sys.database_recovery_status.recovery_fork_guid (zero when NULL).
	RecoveryForkGUID GUID
	// LastLogBackupLSN is sys.database_recovery_status.last_log_backup_lsn: the first LSN of the next
	// log backup (zero when NULL: SIMPLE model or no full backup yet).
	LastLogBackupLSN LSN
	// RedoStartLSN is sys.master_files.redo_start_lsn of file_id 1: the LSN the next log restore must
	// contain (zero unless RESTORING or RECOVERY_PENDING, SQLSERVER.md §8 Q12). Zero is only a fact
	// when RedoStart is RedoStartNotRestoring; see RedoStart.
	RedoStartLSN LSN
	// RedoStartForkGUID is sys.master_files.redo_start_fork_guid of file_id 1: the fork the next log
	// backup's first fork GUID must match (zero when NULL; read with RedoStartLSN, known under the
	// same RedoStart).
	RedoStartForkGUID GUID
	// RedoStart says what RedoStartLSN and RedoStartForkGUID mean: read, documented NULL (the
	// database is not restoring), or unknown (a login without VIEW ANY DEFINITION sees no
	// sys.master_files rows, so a RESTORING database reads NULL). Checks that compare the restore
	// position or fork must treat RedoStartUnknown as "cannot tell", never as "not restoring".
	RedoStart RedoStartStatus

	// LSPrimary is the msdb.dbo.log_shipping_monitor_primary row for this database (nil if none).
	LSPrimary *LSPrimaryMonitor
	// BackupJob is the log-shipping backup job from log_shipping_primary_databases (nil if none).
	BackupJob *Job
	// BackupDirectory is log_shipping_primary_databases.backup_directory ("" if not configured here).
	BackupDirectory string
	// RecentLogBackups are the newest log backups of this database recorded in this instance's
	// msdb.dbo.backupset (type L, taken here), newest first, at most Options.RecentBackups of them.
	RecentLogBackups []LogBackup

	// LSSecondary is the msdb.dbo.log_shipping_monitor_secondary row for this database (nil if none).
	LSSecondary *LSSecondaryMonitor
	// CopyJob and RestoreJob are the log-shipping jobs from msdb.dbo.log_shipping_secondary (nil if
	// not configured here).
	CopyJob, RestoreJob *Job
	// NewestRestoredLog is the newest log backup restored into this database according to
	// msdb.dbo.restorehistory joined to backupset (nil if none).
	NewestRestoredLog *LogBackup
	// PendingLogs are the log backups taken by the site-A partners that this (secondary) database has
	// not restored yet, oldest first, each marked whether it has been copied. The Prober derives them
	// from the partners' RecentLogBackups (PartnerBackups) in the same cycle; nil when no principal
	// answered.
	PendingLogs []PendingLog
}

// Writable reports whether the database accepts writes: ONLINE, READ_WRITE and not in STANDBY
// (DESIGN.md "Never two writable copies").
func (d *DatabaseSnapshot) Writable() bool {
	return d.Exists && d.State == DBOnline && !d.ReadOnly && !d.Standby
}

// RedoStartStatus tells what a DatabaseSnapshot's RedoStartLSN and RedoStartForkGUID mean. The zero
// value is RedoStartUnknown, so a snapshot built without it holds, as unknown values must.
type RedoStartStatus uint8

const (
	// RedoStartUnknown: not read, or read as NULL where the documentation says it is set (a RESTORING
	// or RECOVERY_PENDING database, or one in STANDBY). sys.master_files shows a row only to a login
	// with CREATE DATABASE, ALTER ANY DATABASE or VIEW ANY DEFINITION
	// (sys-master-files-transact-sql.md, Permissions), so for the monitoring login of SQLSERVER.md
	// §8 Q14 the LEFT JOIN yields NULL: a permission gap, not a fact. Legal next: any.
	RedoStartUnknown RedoStartStatus = iota
	// RedoStartNotRestoring: redo_start_lsn is NULL and the database's state says it must be (ONLINE
	// and not in STANDBY, OFFLINE, …: "NULL unless state = RESTORING or state = RECOVERY_PENDING").
	// Legal next: any.
	RedoStartNotRestoring
	// RedoStartRead: redo_start_lsn was read; RedoStartLSN holds it. Legal next: any.
	RedoStartRead
)

var redoStartNames = [...]string{RedoStartUnknown: "unknown", RedoStartNotRestoring: "not_restoring", RedoStartRead: "read"}

// String names the status ("unknown", "not_restoring", "read").
func (s RedoStartStatus) String() string {
	if int(s) < len(redoStartNames) {
		return redoStartNames[s]
	}
	return "invalid"
}

// DBState is sys.databases.state_desc (SQLSERVER.md §3.2).
type DBState uint8

const (
	// DBStateUnknown is NULL, an unseen database, or a value not in the documentation.
	DBStateUnknown DBState = iota
	// DBOnline is ONLINE (0).
	DBOnline
	// DBRestoring is RESTORING (1): a mirror, or a log-shipping secondary WITH NORECOVERY.
	DBRestoring
	// DBRecovering is RECOVERING (2).
	DBRecovering
	// DBRecoveryPending is RECOVERY_PENDING (3).
	DBRecoveryPending
	// DBSuspect is SUSPECT (4).
	DBSuspect
	// DBEmergency is EMERGENCY (5).
	DBEmergency
	// DBOffline is OFFLINE (6).
	DBOffline
	// DBCopying is COPYING (7, Azure SQL Database only).
	DBCopying
	// DBOfflineSecondary is OFFLINE_SECONDARY (10, Azure SQL Database only).
	DBOfflineSecondary
)

var dbStateNames = [...]string{
	DBStateUnknown: "UNKNOWN", DBOnline: "ONLINE", DBRestoring: "RESTORING", DBRecovering: "RECOVERING",
	DBRecoveryPending: "RECOVERY_PENDING", DBSuspect: "SUSPECT", DBEmergency: "EMERGENCY",
	DBOffline: "OFFLINE", DBCopying: "COPYING", DBOfflineSecondary: "OFFLINE_SECONDARY",
}

// String returns the state_desc spelling of the state.
func (s DBState) String() string {
	if int(s) < len(dbStateNames) {
		return dbStateNames[s]
	}
	return "INVALID"
}

// UserAccess is sys.databases.user_access_desc.
type UserAccess uint8

const (
	// UserAccessUnknown is NULL or an undocumented value.
	UserAccessUnknown UserAccess = iota
	// MultiUser is MULTI_USER (0).
	MultiUser
	// SingleUser is SINGLE_USER (1).
	SingleUser
	// RestrictedUser is RESTRICTED_USER (2).
	RestrictedUser
)

var userAccessNames = [...]string{UserAccessUnknown: "UNKNOWN", MultiUser: "MULTI_USER", SingleUser: "SINGLE_USER", RestrictedUser: "RESTRICTED_USER"}

// String returns the user_access_desc spelling.
func (u UserAccess) String() string {
	if int(u) < len(userAccessNames) {
		return userAccessNames[u]
	}
	return "INVALID"
}

// RecoveryModel is sys.databases.recovery_model_desc.
type RecoveryModel uint8

const (
	// RecoveryModelUnknown is NULL or an undocumented value.
	RecoveryModelUnknown RecoveryModel = iota
	// RecoveryFull is FULL (1).
	RecoveryFull
	// RecoveryBulkLogged is BULK_LOGGED (2).
	RecoveryBulkLogged
	// RecoverySimple is SIMPLE (3).
	RecoverySimple
)

var recoveryModelNames = [...]string{RecoveryModelUnknown: "UNKNOWN", RecoveryFull: "FULL", RecoveryBulkLogged: "BULK_LOGGED", RecoverySimple: "SIMPLE"}

// String returns the recovery_model_desc spelling.
func (m RecoveryModel) String() string {
	if int(m) < len(recoveryModelNames) {
		return recoveryModelNames[m]
	}
	return "INVALID"
}

// MirroringVisibility tells "not mirrored" apart from "cannot see" (SQLSERVER.md §1.1, §8 Q14).
type MirroringVisibility uint8

const (
	// MirroringUnread means no row was read (instance down, or the database has no sys.databases row).
	MirroringUnread MirroringVisibility = iota
	// MirroringPresent means the row carried mirroring values (mirroring_guid not NULL).
	MirroringPresent
	// MirroringNotMirrored means the columns were NULL for an ONLINE database, which the login can see
	// (VIEW ANY DATABASE suffices for an ONLINE database): the database is not in a mirroring session.
	MirroringNotMirrored
	// MirroringNotVisible means the columns were NULL for a database that is not ONLINE. Only sysadmin
	// sees a mirror's values, and a non-ONLINE database reads NULL too, so this may be a mirror seen by
	// a monitoring login, or an unmirrored RESTORING database: the role is unknown, never "not mirrored".
	MirroringNotVisible
)

var visibilityNames = [...]string{MirroringUnread: "unread", MirroringPresent: "present", MirroringNotMirrored: "not_mirrored", MirroringNotVisible: "not_visible"}

// String returns the visibility's snake_case name.
func (v MirroringVisibility) String() string {
	if int(v) < len(visibilityNames) {
		return visibilityNames[v]
	}
	return "invalid"
}

// Mirroring is the sys.database_mirroring row of a database (SQLSERVER.md §1.1). All fields other than
// Visibility are meaningful only when Visibility is MirroringPresent.
type Mirroring struct {
	// Visibility says whether the values below were visible.
	Visibility MirroringVisibility
	// GUID is mirroring_guid.
	GUID GUID
	// Role is mirroring_role (1 principal, 2 mirror).
	Role MirroringRole
	// RoleSequence is mirroring_role_sequence: how many times the partners swapped roles.
	RoleSequence int32
	// State is mirroring_state.
	State MirroringState
	// Safety is mirroring_safety_level.
	Safety SafetyLevel
	// PartnerName is mirroring_partner_name (TCP://host:port).
	PartnerName string
	// PartnerInstance is mirroring_partner_instance.
	PartnerInstance string
	// WitnessName is mirroring_witness_name ("" means no witness).
	WitnessName string
	// WitnessState is mirroring_witness_state.
	WitnessState WitnessState
	// FailoverLSN is mirroring_failover_lsn: newest log record hardened on both partners.
	FailoverLSN LSN
	// EndOfLogLSN is mirroring_end_of_log_lsn: the local end of log flushed to disk.
	EndOfLogLSN LSN
}

// MirroringRole is sys.database_mirroring.mirroring_role.
type MirroringRole uint8

const (
	// MirroringRoleNone is NULL (not mirrored or not visible).
	MirroringRoleNone MirroringRole = iota
	// MirroringRolePrincipal is 1.
	MirroringRolePrincipal
	// MirroringRoleMirror is 2.
	MirroringRoleMirror
)

var mirroringRoleNames = [...]string{MirroringRoleNone: "NONE", MirroringRolePrincipal: "PRINCIPAL", MirroringRoleMirror: "MIRROR"}

// String returns the mirroring_role_desc spelling.
func (r MirroringRole) String() string {
	if int(r) < len(mirroringRoleNames) {
		return mirroringRoleNames[r]
	}
	return "INVALID"
}

// MirroringState is sys.database_mirroring.mirroring_state. Codes 5 and 6 are undocumented in
// practice (SQLSERVER.md §8 Q10) and map to MirroringStateUnknown.
type MirroringState uint8

const (
	// MirroringStateUnknown is NULL, 5, 6 or any undocumented code.
	MirroringStateUnknown MirroringState = iota
	// MirroringSuspended is 0.
	MirroringSuspended
	// MirroringDisconnected is 1.
	MirroringDisconnected
	// MirroringSynchronizing is 2.
	MirroringSynchronizing
	// MirroringPendingFailover is 3.
	MirroringPendingFailover
	// MirroringSynchronized is 4.
	MirroringSynchronized
)

var mirroringStateNames = [...]string{
	MirroringStateUnknown: "UNKNOWN", MirroringSuspended: "SUSPENDED", MirroringDisconnected: "DISCONNECTED",
	MirroringSynchronizing: "SYNCHRONIZING", MirroringPendingFailover: "PENDING_FAILOVER", MirroringSynchronized: "SYNCHRONIZED",
}

// String returns the mirroring_state_desc spelling.
func (s MirroringState) String() string {
	if int(s) < len(mirroringStateNames) {
		return mirroringStateNames[s]
	}
	return "INVALID"
}

// SafetyLevel is sys.database_mirroring.mirroring_safety_level.
type SafetyLevel uint8

const (
	// SafetyUnknown is NULL or 0 (UNKNOWN).
	SafetyUnknown SafetyLevel = iota
	// SafetyOff is 1: asynchronous.
	SafetyOff
	// SafetyFull is 2: synchronous.
	SafetyFull
)

var safetyNames = [...]string{SafetyUnknown: "UNKNOWN", SafetyOff: "OFF", SafetyFull: "FULL"}

// String returns the mirroring_safety_level_desc spelling.
func (s SafetyLevel) String() string {
	if int(s) < len(safetyNames) {
		return safetyNames[s]
	}
	return "INVALID"
}

// WitnessState is sys.database_mirroring.mirroring_witness_state.
type WitnessState uint8

const (
	// WitnessNone is NULL: no witness (or not visible).
	WitnessNone WitnessState = iota
	// WitnessUnknown is 0.
	WitnessUnknown
	// WitnessConnected is 1.
	WitnessConnected
	// WitnessDisconnected is 2.
	WitnessDisconnected
)

var witnessNames = [...]string{WitnessNone: "NONE", WitnessUnknown: "UNKNOWN", WitnessConnected: "CONNECTED", WitnessDisconnected: "DISCONNECTED"}

// String returns the mirroring_witness_state_desc spelling ("NONE" for NULL).
func (w WitnessState) String() string {
	if int(w) < len(witnessNames) {
		return witnessNames[w]
	}
	return "INVALID"
}

// LSPrimaryMonitor is a msdb.dbo.log_shipping_monitor_primary row (SQLSERVER.md §2.2).
type LSPrimaryMonitor struct {
	// PrimaryServer is primary_server.
	PrimaryServer string
	// LastBackupFile is last_backup_file ("" when NULL).
	LastBackupFile string
	// LastBackupUTC is last_backup_date_utc (zero when NULL).
	LastBackupUTC time.Time
	// BackupThreshold is backup_threshold (minutes in SQL Server).
	BackupThreshold time.Duration
	// ThresholdAlert is threshold_alert (the error number raised, normally 14420).
	ThresholdAlert int32
	// AlertEnabled is threshold_alert_enabled.
	AlertEnabled bool
}

// LSSecondaryMonitor is a msdb.dbo.log_shipping_monitor_secondary row joined with the secondary's
// configuration (SQLSERVER.md §2.2).
type LSSecondaryMonitor struct {
	// PrimaryServer is primary_server. It does not change after a mirroring failover (§2.5).
	PrimaryServer string
	// PrimaryDatabase is primary_database.
	PrimaryDatabase string
	// LastCopiedFile is last_copied_file ("" when NULL).
	LastCopiedFile string
	// LastCopiedUTC is last_copied_date_utc (zero when NULL).
	LastCopiedUTC time.Time
	// LastRestoredFile is last_restored_file ("" when NULL).
	LastRestoredFile string
	// LastRestoredUTC is last_restored_date_utc (zero when NULL).
	LastRestoredUTC time.Time
	// LastRestoredLatency is last_restored_latency (minutes in SQL Server); valid when LatencyKnown.
	LastRestoredLatency time.Duration
	// LatencyKnown is false while last_restored_latency is NULL (before the first restore).
	LatencyKnown bool
	// RestoreThreshold is restore_threshold (minutes in SQL Server).
	RestoreThreshold time.Duration
	// ThresholdAlert is threshold_alert.
	ThresholdAlert int32
	// AlertEnabled is threshold_alert_enabled.
	AlertEnabled bool
	// RestoreDelay is log_shipping_secondary_databases.restore_delay (minutes); zero when not configured here.
	RestoreDelay time.Duration
	// StandbyMode is log_shipping_secondary_databases.restore_mode = 1 (STANDBY).
	StandbyMode bool
}

// Job is a SQL Server Agent job used by log shipping (msdb.dbo.sysjobs, sysjobactivity).
type Job struct {
	// ID is the job_id.
	ID GUID
	// Name is sysjobs.name ("" if the job row was not found).
	Name string
	// Found reports whether msdb.dbo.sysjobs had a row for ID.
	Found bool
	// Enabled is sysjobs.enabled.
	Enabled bool
	// Running reports whether sysjobactivity shows a run started and not stopped.
	Running bool
}

// LogBackup is one log backup from msdb.dbo.backupset + backupmediafamily (SQLSERVER.md §3.1). On a
// secondary the row was written by RESTORE and carries the primary's times and time_zone (§8 Q11).
type LogBackup struct {
	// BackupSetID is backup_set_id on the instance that reported it.
	BackupSetID int32
	// Server is backupset.server_name: the server that took the backup (on a secondary, the primary
	// whose backup was restored).
	Server string
	// FirstLSN is first_lsn (inclusive).
	FirstLSN LSN
	// LastLSN is last_lsn (exclusive upper bound).
	LastLSN LSN
	// FinishLocal is backup_finish_date as stored: local wall-clock time of the server that took the
	// backup, carried in a time.Time with location UTC but NOT normalised.
	FinishLocal time.Time
	// TimeZone is backupset.time_zone: offset from UTC in 15-minute steps; 127 means unknown.
	TimeZone int16
	// FinishUTC is FinishLocal normalised with TimeZone; zero (unknown) when TimeZone is 127 or
	// out of the documented range.
	FinishUTC time.Time
	// File is backupmediafamily.physical_device_name.
	File string
	// FirstForkGUID is first_recovery_fork_guid; LastForkGUID is last_recovery_fork_guid.
	FirstForkGUID, LastForkGUID GUID
	// CopyOnly is is_copy_only: a copy-only backup does not move the log chain.
	CopyOnly bool
	// OutsideLogShipping marks a backup (taken on a log-shipping primary) whose file is not in that
	// instance's log_shipping_primary_databases.backup_directory: the secondary never receives it, so
	// the chain is broken there (SQLSERVER.md §3.4(c)). False when the directory is not known.
	OutsideLogShipping bool
}

// PendingLog is a log backup the secondary has not restored yet.
type PendingLog struct {
	// Backup is the principal's record of the backup.
	Backup LogBackup
	// Copied reports whether the secondary's copy job has copied the file: it was taken by log
	// shipping and its file name sorts at or before log_shipping_monitor_secondary.last_copied_file
	// (log-shipping file names embed a UTC timestamp).
	Copied bool
}

// Principal returns the site-A partner that reports itself PRINCIPAL for the database now, read from
// sys.database_mirroring on each partner in this cycle. If two partners claim it (stale or split),
// the one with the higher mirroring_role_sequence wins, and ok is still true; see PrincipalClaims.
// A partner whose database is writable and not mirrored also counts (mirroring removed).
func (s *Snapshot) Principal(db string) (inst *InstanceSnapshot, d *DatabaseSnapshot, ok bool) {
	for k := range s.Instances {
		in := &s.Instances[k]
		if in.Role != RolePartner || !in.Up() {
			continue
		}
		dd, found := in.Database(db)
		if !found || !isPrincipal(dd) {
			continue
		}
		if d == nil || dd.Mirroring.RoleSequence > d.Mirroring.RoleSequence {
			inst, d = in, dd
		}
	}
	return inst, d, inst != nil
}

// PrincipalClaims counts the partners that report themselves principal for the database. More than
// one means a stale view or a split brain; the controller decides what it means.
func (s *Snapshot) PrincipalClaims(db string) int {
	n := 0
	for k := range s.Instances {
		in := &s.Instances[k]
		if in.Role != RolePartner || !in.Up() {
			continue
		}
		if dd, found := in.Database(db); found && isPrincipal(dd) {
			n++
		}
	}
	return n
}

func isPrincipal(d *DatabaseSnapshot) bool {
	if !d.Exists {
		return false
	}
	switch d.Mirroring.Visibility {
	case MirroringPresent:
		return d.Mirroring.Role == MirroringRolePrincipal
	case MirroringNotMirrored:
		return d.Writable()
	default:
		return false
	}
}

// Instance returns the snapshot of the configured target with this name.
func (s *Snapshot) Instance(name string) (*InstanceSnapshot, bool) {
	for k := range s.Instances {
		if s.Instances[k].Name == name {
			return &s.Instances[k], true
		}
	}
	return nil, false
}

// InstancesWith returns the instances with the given configured role, in configuration order.
func (s *Snapshot) InstancesWith(role Role) []*InstanceSnapshot {
	var out []*InstanceSnapshot
	for k := range s.Instances {
		if s.Instances[k].Role == role {
			out = append(out, &s.Instances[k])
		}
	}
	return out
}

// Secondary returns the first configured log-shipping secondary.
func (s *Snapshot) Secondary() (*InstanceSnapshot, bool) {
	in := s.InstancesWith(RoleSecondary)
	if len(in) == 0 {
		return nil, false
	}
	return in[0], true
}

// AnyUp reports whether any instance of the site answered the probe successfully.
func (s *Snapshot) AnyUp(site Site) bool {
	for k := range s.Instances {
		if s.Instances[k].Site == site && s.Instances[k].Up() {
			return true
		}
	}
	return false
}

// AnyAlive reports whether any instance of the site answered at all (Up or Refusing): a server that
// refuses a login is alive, not dead.
func (s *Snapshot) AnyAlive(site Site) bool {
	for k := range s.Instances {
		if s.Instances[k].Site == site && s.Instances[k].Alive() {
			return true
		}
	}
	return false
}

// PartnerSkew estimates the clock skew between the site-A partners: the spread (max − min) of their
// ClockOffset estimates, plus the largest offset uncertainty. After a mirroring failover the newest
// log backup may come from the other partner's clock than the current principal's, so the data-loss
// window's uncertainty includes it. ok is false unless at least two partners answered.
func (s *Snapshot) PartnerSkew() (skew time.Duration, ok bool) {
	var lo, hi, unc time.Duration
	n := 0
	for k := range s.Instances {
		in := &s.Instances[k]
		if in.Role != RolePartner {
			continue
		}
		off, u, good := in.ClockOffset()
		if !good {
			continue
		}
		if n == 0 || off < lo {
			lo = off
		}
		if n == 0 || off > hi {
			hi = off
		}
		if u > unc {
			unc = u
		}
		n++
	}
	if n < 2 {
		return 0, false
	}
	return hi - lo + unc, true
}

// WritableCopies returns the instances on which the database is writable now. More than one is a
// split brain.
func (s *Snapshot) WritableCopies(db string) []*InstanceSnapshot {
	var out []*InstanceSnapshot
	for k := range s.Instances {
		in := &s.Instances[k]
		if !in.Up() {
			continue
		}
		if d, ok := in.Database(db); ok && d.Writable() {
			out = append(out, in)
		}
	}
	return out
}

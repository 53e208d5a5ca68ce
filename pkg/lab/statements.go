package lab

import (
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// BackupOptions are the WITH options of BACKUP LOG the lab understands.
type BackupOptions struct {
	NoRecovery bool
	CopyOnly   bool
}

// BackupLog runs BACKUP LOG db TO DISK = path WITH opts.
func (s *Session) BackupLog(db, path string, opts BackupOptions) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := s.target(db, errBackupPermission, terminating(kindBackupLog))
	if errs != nil {
		return errs
	}
	switch {
	case d.inMirroring() && d.mir.role == RoleMirror:
		return Errors{errNotRestoringOnMirror(), terminating(kindBackupLog)}
	case d.state == StateOffline:
		return Errors{errOffline(d.name), terminating(kindBackupLog)}
	case d.state == StateRestoring:
		return Errors{errRestoring(d.name), terminating(kindBackupLog)}
	case d.standby:
		return Errors{errStandbyBackup(d.name), terminating(kindBackupLog)}
	case d.recovery == RecoverySimple:
		return Errors{errSimpleRecovery(), terminating(kindBackupLog)}
	case opts.NoRecovery && d.inMirroring():
		// §4.2 / §8 Q5: a tail-log backup is refused inside a mirroring session;
		// the number is the lab's choice (1468).
		return Errors{errInMirroringSession(d.name), terminating(kindBackupLog)}
	}
	if _, exists := t.resolveExisting(i, path); exists {
		return Errors{sqlErr(3266, 16, 1, "The backup data at the end of \"%s\" is incorrectly formatted. Backup sets on the media might be damaged and unusable. To determine the backup sets on the media, use RESTORE HEADERONLY. To determine the usability of the backup sets, run RESTORE VERIFYONLY. If all of the backup sets are incomplete, reformat the media using BACKUP WITH FORMAT, which destroys all the backup sets.", path), terminating(kindBackupLog)}
	}
	if _, errs := t.takeLogBackup(i, d, path, opts.CopyOnly, opts.NoRecovery, s.login.Name); errs != nil {
		return errs
	}
	t.log.Info("lab_backup_log", zap.String("instance", i.name), zap.String("database", d.name),
		zap.String("file", path), zap.Bool("norecovery", opts.NoRecovery))
	return nil
}

// RestoreMode is how a RESTORE leaves the database.
type RestoreMode uint8

// Restore modes.
const (
	WithNoRecovery RestoreMode = iota
	WithRecovery
	WithStandby
)

// RestoreLog runs RESTORE LOG db FROM DISK = path WITH mode.
func (s *Session) RestoreLog(db, path string, mode RestoreMode) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := s.target(db, errRestorePermission, terminating(kindRestoreLog))
	if errs != nil {
		return errs
	}
	if errs := t.restorePrecheck(s, d, kindRestoreLog); errs != nil {
		return errs
	}
	if d.state == StateOnline && !d.standby {
		return Errors{errNoFilesReady(), terminating(kindRestoreLog)}
	}
	f, e := t.resolveFile(i, path)
	if e != nil {
		return Errors{*e, terminating(kindRestoreLog)}
	}
	if f == nil {
		return Errors{errCannotOpenBackupDevice(path), terminating(kindRestoreLog)}
	}
	if f.Type != "L" {
		return Errors{sqlErr(3135, 16, 2, "The backup set in file '%s' was created by BACKUP DATABASE and cannot be used for this restore operation.", path), terminating(kindRestoreLog)}
	}
	if errs := t.applyLog(i, d, f, mode == WithStandby, mode == WithRecovery, s.login.Name); errs != nil {
		return errs
	}
	t.log.Info("lab_restore_log", zap.String("instance", i.name), zap.String("database", d.name),
		zap.String("file", path), zap.Stringer("redo_start_lsn", d.endLSN))
	return nil
}

// target finds db for a statement only sysadmin may run on it: 911 when it does
// not exist, denied(name) for any other login, each followed by the statement's
// trailer (3013 or 5069), in the order SQL Server sends them. Errors is nil when
// the statement may go on.
func (s *Session) target(db string, denied func(db string) SQLError, trailer SQLError) (*Database, Errors) {
	d := s.inst.db(db)
	if d == nil {
		return nil, Errors{errDBNotExist(db), trailer}
	}
	if !s.login.Sysadmin {
		return nil, Errors{denied(d.name), trailer}
	}
	return d, nil
}

// restorePrecheck applies the checks common to RESTORE LOG and RESTORE DATABASE:
// mirroring (3104), offline (942), exclusive access (3101).
func (t *Topology) restorePrecheck(s *Session, d *Database, kind string) Errors {
	if d.inMirroring() {
		return Errors{errRestoreOnMirrored(d.name), terminating(kind)}
	}
	if d.state == StateOffline {
		return Errors{errOffline(d.name), terminating(kind)}
	}
	if d.state == StateOnline && d.inst.sessionsIn(d.name, nil) > 0 && (d.standby || kind == kindRestoreDatabase) {
		return Errors{errExclusiveAccess(), terminating(kind)}
	}
	_ = s
	return nil
}

// RestoreDatabaseRecovery runs RESTORE DATABASE db WITH RECOVERY (no FROM clause):
// it brings a RESTORING or STANDBY database online on a new recovery fork.
func (s *Session) RestoreDatabaseRecovery(db string) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := s.target(db, errRestorePermission, terminating(kindRestoreDatabase))
	if errs != nil {
		return errs
	}
	if errs := t.restorePrecheck(s, d, kindRestoreDatabase); errs != nil {
		return errs
	}
	if d.state == StateOnline && !d.standby {
		return Errors{sqlErr(3153, 16, 1, "The database is already fully recovered."), terminating(kindRestoreDatabase)}
	}
	t.recover(d)
	t.log.Info("lab_database_recovered", zap.String("instance", i.name), zap.String("database", d.name),
		zap.Stringer("end_of_log_lsn", d.endLSN))
	return nil
}

// RestoreHeaderOnly runs RESTORE HEADERONLY FROM DISK = path.
func (s *Session) RestoreHeaderOnly(path string) (*BackupFile, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return nil, Errors{errCreateDatabasePermission(), terminating(kindRestoreHeaderOnly)}
	}
	f, e := t.resolveFile(i, path)
	if e != nil {
		return nil, Errors{*e, terminating(kindRestoreHeaderOnly)}
	}
	if f == nil {
		return nil, Errors{errCannotOpenBackupDevice(path), terminating(kindRestoreHeaderOnly)}
	}
	if f.Partial {
		return nil, Errors{sqlErr(3241, 16, 0, "The media family on device '%s' is incorrectly formed. SQL Server cannot process this media family.", path), terminating(kindRestoreHeaderOnly)}
	}
	c := *f
	c.rows, c.times = nil, nil
	return &c, nil
}

// AlterOption is an ALTER DATABASE … SET option the lab implements.
type AlterOption uint8

// ALTER DATABASE options.
const (
	SetOnline AlterOption = iota
	SetOffline
	SetSingleUser
	SetRestrictedUser
	SetMultiUser
)

// AlterDatabase runs ALTER DATABASE db SET option [WITH ROLLBACK IMMEDIATE].
func (s *Session) AlterDatabase(db string, opt AlterOption, rollbackImmediate bool) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := s.target(db, errAlterPermission, alterFailed())
	if errs != nil {
		return errs
	}
	if d.inMirroring() {
		if d.mir.role == RoleMirror || d.state == StateRestoring {
			return Errors{errNotPermittedInState("Restoring"), alterFailed()}
		}
		if opt != SetMultiUser && opt != SetOnline {
			return Errors{errInMirroringSession(d.name), alterFailed()}
		}
	}
	if d.state == StateRestoring {
		return Errors{errNotPermittedInState("Restoring"), alterFailed()}
	}
	if d.state == StateOffline && opt != SetOnline && opt != SetOffline {
		return Errors{errOffline(d.name), alterFailed()}
	}
	others := d.inst.sessionsIn(d.name, s)
	needExclusive := opt == SetOffline || opt == SetSingleUser || opt == SetRestrictedUser
	if needExclusive && others > 0 {
		if !rollbackImmediate {
			return Errors{sqlErr(5061, 16, 1, "ALTER DATABASE failed because a lock could not be placed on database '%s'. Try again later.", d.name), alterFailed()}
		}
		i.killSessionsIn(d.name, s)
	}
	switch opt {
	case SetOnline:
		d.state = StateOnline
	case SetOffline:
		if d.state != StateOffline {
			i.killSessionsIn(d.name, nil)
			d.state = StateOffline
		}
	case SetSingleUser:
		d.access = SingleUser
	case SetRestrictedUser:
		d.access = RestrictedUser
	case SetMultiUser:
		d.access = MultiUser
	}
	t.log.Info("lab_alter_database", zap.String("instance", i.name), zap.String("database", d.name),
		zap.Uint8("option", uint8(opt)), zap.String("state", d.state.String()), zap.String("user_access", d.access.String()))
	return nil
}

// InsertMessage inserts one row into db's dbo.messages and returns it; it fails
// where SQL Server would (927, 942, 954, 955, 3906).
func (s *Session) InsertMessage(db, body string) (Message, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := i.messagesDB(db)
	if errs != nil {
		return Message{}, errs
	}
	if e := d.writableErr(); e != nil {
		return Message{}, Errors{*e}
	}
	return d.insert(body), nil
}

// messagesDB finds the database whose dbo.messages a statement uses: 911 when it
// does not exist, 208 when it has no such table (only protected databases do).
func (i *Instance) messagesDB(db string) (*Database, Errors) {
	d := i.db(db)
	if d == nil {
		return nil, Errors{errDBNotExist(db)}
	}
	if !d.protected {
		return nil, Errors{fromEngine(engine.ErrInvalidObject("dbo.messages"))}
	}
	return d, nil
}

// Messages returns db's dbo.messages rows, failing where a read would fail.
func (s *Session) Messages(db string) ([]Message, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := i.messagesDB(db)
	if errs != nil {
		return nil, errs
	}
	if e := d.readErr(); e != nil {
		return nil, Errors{*e}
	}
	return append([]Message(nil), d.rows...), nil
}

// findJob finds a job by id or name (exactly one of them set).
func (i *Instance) findJob(jobID *GUID, jobName string) (*Job, error) {
	for _, j := range i.jobs {
		if (jobID != nil && j.id == *jobID) || (jobID == nil && strings.EqualFold(j.name, jobName)) {
			return j, nil
		}
	}
	if jobID != nil {
		return nil, Errors{errJobNotFound("@job_id", jobID.String())}
	}
	return nil, Errors{errJobNotFound("@job_name", jobName)}
}

// UpdateJobEnabled runs msdb.dbo.sp_update_job @job_id|@job_name, @enabled. It
// changes future scheduled runs only; a run in progress continues (§8 Q9).
func (s *Session) UpdateJobEnabled(jobID *GUID, jobName string, enabled bool) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return Errors{errExecutePermission("sp_update_job", "msdb")}
	}
	j, err := i.findJob(jobID, jobName)
	if err != nil {
		return err
	}
	j.enabled = enabled
	j.modified = i.localNow()
	j.version++
	return nil
}

// StartJob runs msdb.dbo.sp_start_job: the job starts now, also when disabled;
// it returns the 14243 informational message.
func (s *Session) StartJob(jobID *GUID, jobName string) (SQLError, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return SQLError{}, Errors{errExecutePermission("sp_start_job", "msdb")}
	}
	j, err := i.findJob(jobID, jobName)
	if err != nil {
		return SQLError{}, err
	}
	if j.running {
		return SQLError{}, Errors{errJobAlreadyRunning(j.name, s.login.Name)}
	}
	t.startRun(i, j, s.login.Name)
	return infoJobStarted(j.name), nil
}

// StopJob runs msdb.dbo.sp_stop_job: the running instance is cancelled and its
// effect (a partial copy, for instance) is discarded.
func (s *Session) StopJob(jobID *GUID, jobName string) (SQLError, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return SQLError{}, Errors{errExecutePermission("sp_stop_job", "msdb")}
	}
	j, err := i.findJob(jobID, jobName)
	if err != nil {
		return SQLError{}, err
	}
	if !j.running {
		return SQLError{}, Errors{errJobNotRunning(j.name, s.login.Name)}
	}
	t.abortCopy(i, j)
	t.history(i, j, 3, "The job was stopped prior to completion by User "+s.login.Name+".")
	t.endRun(i, j, 3, "The job was stopped prior to completion by User "+s.login.Name+".")
	return infoJobStopped(j.name), nil
}

// DeleteLogShippingSecondaryDatabase runs
// master.dbo.sp_delete_log_shipping_secondary_database @secondary_database: it
// removes the database's secondary configuration and monitor row, and when no
// other database shares its secondary_id also the log_shipping_secondary row and
// the copy and restore jobs; it deletes the local log-shipping history
// (SQLSERVER.md §4.2).
func (s *Session) DeleteLogShippingSecondaryDatabase(db string) error {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return Errors{errExecutePermission("sp_delete_log_shipping_secondary_database", "master")}
	}
	sec, sdb, _ := i.lsSecondaryFor(db)
	if sdb == nil {
		return Errors{errLogShippingSecondaryNotFound(db)}
	}
	sid := sdb.SecondaryID
	i.lsSecondaryDBs = removeIf(i.lsSecondaryDBs, func(r *LSSecondaryDatabaseRow) bool { return r == sdb })
	i.lsMonSecondary = removeIf(i.lsMonSecondary, func(r *LSMonitorSecondaryRow) bool { return strings.EqualFold(r.SecondaryDatabase, db) })
	shared := false
	for _, r := range i.lsSecondaryDBs {
		if r.SecondaryID == sid {
			shared = true
		}
	}
	if !shared && sec != nil {
		i.lsSecondary = removeIf(i.lsSecondary, func(r *LSSecondaryRow) bool { return r == sec })
		i.jobs = removeIf(i.jobs, func(j *Job) bool { return j.id == sec.CopyJobID || j.id == sec.RestoreJobID })
	}
	var kept []LSHistoryDetailRow
	for _, h := range i.lsHistory {
		if h.AgentID != sid {
			kept = append(kept, h)
		}
	}
	i.lsHistory = kept
	t.log.Info("lab_log_shipping_secondary_deleted", zap.String("instance", i.name), zap.String("database", db))
	return nil
}

func removeIf[T any](list []T, drop func(T) bool) []T {
	out := list[:0]
	for _, x := range list {
		if !drop(x) {
			out = append(out, x)
		}
	}
	return out
}

// DirEntry is one row of xp_dirtree: a file or subdirectory name.
type DirEntry struct {
	Name   string
	Depth  int32
	IsFile bool
}

// DirTree lists a folder on the share or on the instance's disk, like
// master.sys.xp_dirtree N'path', 1, 1. Partial files are listed: they exist on disk.
func (s *Session) DirTree(dir string) ([]DirEntry, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return nil, Errors{errExecutePermission("xp_dirtree", "mssqlsystemresource")}
	}
	dir = strings.TrimRight(dir, `\`)
	files := i.files
	if t.onShare(dir+`\x`) || strings.EqualFold(dir, t.share.Path) {
		if t.shareDown {
			return nil, nil
		}
		files = t.share.files
	}
	prefix := strings.ToLower(dir) + `\`
	seen := map[string]bool{}
	var out []DirEntry
	for key, f := range files {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		rest := f.Path[len(prefix):]
		if k := strings.Index(rest, `\`); k >= 0 {
			sub := rest[:k]
			if !seen[strings.ToLower(sub)] {
				seen[strings.ToLower(sub)] = true
				out = append(out, DirEntry{Name: sub, Depth: 1})
			}
			continue
		}
		out = append(out, DirEntry{Name: rest, Depth: 1, IsFile: true})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// SetWorkload turns the simulated application's inserts on or off for this
// instance (on by default for the principal and the mirror; after a promotion a
// test can turn it on for the secondary).
func (i *Instance) SetWorkload(on bool) {
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	i.topo.syncLocked()
	i.workload = on
}

// UnsupportedAlter answers an ALTER DATABASE option the lab does not simulate:
// refused inside a mirroring session (1468, §8 Q3) and otherwise reported as
// unsupported, never silently accepted.
func (s *Session) UnsupportedAlter(db, option string) error {
	i := s.inst
	t := i.topo
	t.mu.Lock()
	defer t.mu.Unlock()
	d, errs := s.target(db, errAlterPermission, alterFailed())
	if errs != nil {
		return errs
	}
	if d.inMirroring() {
		if d.mir.role == RoleMirror {
			return Errors{errNotPermittedInState("Restoring"), alterFailed()}
		}
		return Errors{errInMirroringSession(d.name), alterFailed()}
	}
	return Errors{sqlErr(5058, 16, 1, "Option '%s' cannot be set in database '%s'.", option, d.name), alterFailed()}
}

// Kill ends a session (KILL spid).
func (i *Instance) Kill(login Login, spid int32) error {
	t := i.topo
	t.mu.Lock()
	defer t.mu.Unlock()
	if !login.Sysadmin {
		return Errors{fromEngine(engine.ErrKillPermission())}
	}
	s, ok := i.sessions[spid]
	if !ok {
		return Errors{sqlErr(6106, 16, 2, "Process ID %d is not an active process ID.", spid)}
	}
	i.kill(s)
	return nil
}

// MonitorResult is one row of msdb.dbo.sp_dbmmonitorresults (SQLSERVER.md §1.3).
// The lab counts 1 KB of log per inserted row.
type MonitorResult struct {
	Database        string
	Role            MirrorRole
	State           MirrorState
	WitnessStatus   uint8
	UnsentLogKB     int32
	TransactionsSec int32
	TimeRecorded    time.Time
	TimeBehind      time.Time
	LocalTime       time.Time
}

// MirroringMonitor runs sp_dbmmonitorresults @database_name, 0 (the latest row).
// It needs sysadmin (the dbm_monitor role is not simulated).
func (s *Session) MirroringMonitor(db string) (MonitorResult, error) {
	i := s.inst
	t := i.topo
	defer t.lockSynced()()
	if !s.login.Sysadmin {
		return MonitorResult{}, Errors{errExecutePermission("sp_dbmmonitorresults", "msdb")}
	}
	d := i.db(db)
	if d == nil {
		return MonitorResult{}, Errors{errDBNotExist(db)}
	}
	if !d.inMirroring() {
		return MonitorResult{}, Errors{sqlErr(32039, 16, 1, "The database '%s' is not configured for database mirroring.", d.name)}
	}
	now := i.localNow()
	r := MonitorResult{Database: d.name, Role: d.mir.role, State: d.mir.state, TimeRecorded: now, TimeBehind: now, LocalTime: now,
		TransactionsSec: int32(t.cfg.WorkloadRate)}
	if s := d.mir.s; s.witness != nil {
		r.WitnessStatus = 2
		if t.reachable(i, s.witness) {
			r.WitnessStatus = 1
		}
	}
	if d.mir.role == RolePrincipal {
		k := d.firstRowAt(d.mir.failoverLSN)
		r.UnsentLogKB = int32(len(d.rows) - k)
		if k < len(d.rows) {
			r.TimeBehind = d.rowTimes[k].Add(i.skew).In(i.loc)
		}
	}
	return r, nil
}

package lab

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Share is the backup share both partners write log backups to and the
// secondary's copy job reads from.
type Share struct {
	Path  string
	files map[string]*BackupFile
}

// BackupFile is a backup on the share or on an instance's local disk: its header
// (what RESTORE HEADERONLY returns) and the dbo.messages rows of its LSN range.
type BackupFile struct {
	Path           string
	Type           string // D database, L log
	Database       string
	Server         string
	FirstLSN       LSN
	LastLSN        LSN
	CheckpointLSN  LSN
	DatabaseBackup LSN
	Start          time.Time // local time of the server that took it
	Finish         time.Time
	FinishUTC      time.Time
	TimeZone       int16
	FirstForkGUID  GUID
	LastForkGUID   GUID
	ForkPointLSN   LSN
	DatabaseGUID   GUID
	FamilyGUID     GUID
	BackupSetGUID  GUID
	RecoveryModel  string
	IsCopyOnly     bool
	IsForceOffline bool
	// Partial is true while a copy is still writing the file.
	Partial bool
	rows    []Message
	times   []time.Time
}

// Name is the file name without its directory.
func (f *BackupFile) Name() string { return baseName(f.Path) }

func baseName(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	return path.Base(p)
}

func joinPath(dir, name string) string { return strings.TrimRight(dir, `\`) + `\` + name }

// JobKind is the kind of a log-shipping Agent job.
type JobKind uint8

// Job kinds; the values are log_shipping_monitor_history_detail.agent_type.
const (
	JobBackup  JobKind = 0
	JobCopy    JobKind = 1
	JobRestore JobKind = 2
)

// String is the job kind as the fault API spells it.
func (k JobKind) String() string {
	switch k {
	case JobCopy:
		return "copy"
	case JobRestore:
		return "restore"
	}
	return "backup"
}

// ParseJobKind parses backup, copy or restore.
func ParseJobKind(s string) (JobKind, error) {
	switch strings.ToLower(s) {
	case "backup":
		return JobBackup, nil
	case "copy":
		return JobCopy, nil
	case "restore":
		return JobRestore, nil
	}
	return 0, fmt.Errorf("lab: unknown job kind %q: want backup, copy or restore", s)
}

// Job is a SQL Server Agent job of log shipping.
type Job struct {
	id       GUID
	name     string
	kind     JobKind
	db       string // primary database (backup) or secondary database (copy, restore)
	agentID  GUID   // primary_id or secondary_id
	enabled  bool
	interval time.Duration
	created  time.Time
	modified time.Time
	version  int32
	nextRun  time.Time

	running     bool
	runStart    time.Time
	runEnd      time.Time
	requestedBy string
	requestedAt time.Time
	lastStop    time.Time
	lastHistID  int32
	lsSession   int32
	copying     []*BackupFile
	// resultMsg/resultErr hold the outcome of a backup or restore run: those take
	// effect when the run starts (the file list is read then) and report at its end.
	resultMsg string
	resultErr error
}

const (
	backupRunTime  = 1 * time.Second
	copyRunTime    = 2 * time.Second
	restoreRunTime = 1 * time.Second
)

func (t *Topology) backupDir(db string) string { return joinPath(t.share.Path, db) }

func (t *Topology) copyDir(db string) string { return joinPath(t.cfg.CopyDir, db) }

func (t *Topology) newJob(inst *Instance, kind JobKind, name, db string, agentID GUID, interval, offset time.Duration) *Job {
	j := &Job{id: t.newGUID(), name: name, kind: kind, db: db, agentID: agentID, enabled: true,
		interval: interval, created: inst.localNow(), modified: inst.localNow(), version: 1,
		nextRun: t.now.Add(offset)}
	inst.jobs = append(inst.jobs, j)
	return j
}

// configurePrimary sets inst up as a log-shipping primary of db on the share
// (both partners are, SQLSERVER.md §2.5).
func (t *Topology) configurePrimary(inst *Instance, db string) {
	pid := t.newGUID()
	job := t.newJob(inst, JobBackup, "LSBackup_"+db, db, pid, t.cfg.BackupInterval, t.cfg.BackupInterval)
	inst.lsPrimary = append(inst.lsPrimary, &LSPrimaryDatabaseRow{
		PrimaryID: pid, PrimaryDatabase: db, BackupDirectory: t.backupDir(db), BackupShare: t.backupDir(db),
		BackupRetentionPeriod: 4320, BackupJobID: job.id, BackupCompression: 2,
	})
	inst.lsMonPrimary = append(inst.lsMonPrimary, &LSMonitorPrimaryRow{
		PrimaryID: pid, PrimaryServer: inst.name, PrimaryDatabase: db, BackupThreshold: 60,
		ThresholdAlert: 14420, ThresholdAlertEnabled: true, HistoryRetentionPeriod: 5760,
	})
}

// configureSecondary sets inst up as the log-shipping secondary of db, primary
// server = the original principal (it does not change after a mirroring failover).
func (t *Topology) configureSecondary(inst, primary *Instance, db string) {
	sid := t.newGUID()
	cj := t.newJob(inst, JobCopy, "LSCopy_"+primary.name+"_"+db, db, sid, t.cfg.CopyInterval, t.cfg.CopyInterval+15*time.Second)
	rj := t.newJob(inst, JobRestore, "LSRestore_"+primary.name+"_"+db, db, sid, t.cfg.RestoreInterval, t.cfg.RestoreInterval+30*time.Second)
	inst.lsSecondary = append(inst.lsSecondary, &LSSecondaryRow{
		SecondaryID: sid, PrimaryServer: primary.name, PrimaryDatabase: db, BackupSourceDirectory: t.backupDir(db),
		BackupDestinationDirectory: t.copyDir(db), FileRetentionPeriod: 4320, CopyJobID: cj.id, RestoreJobID: rj.id,
		MonitorServerSecurityMode: true,
	})
	inst.lsSecondaryDBs = append(inst.lsSecondaryDBs, &LSSecondaryDatabaseRow{
		SecondaryDatabase: db, SecondaryID: sid, RestoreAll: true, RestoreMode: strings.EqualFold(t.cfg.RestoreMode, "standby"),
		BlockSize: -1, BufferCount: -1,
	})
	inst.lsMonSecondary = append(inst.lsMonSecondary, &LSMonitorSecondaryRow{
		SecondaryServer: inst.name, SecondaryDatabase: db, SecondaryID: sid, PrimaryServer: primary.name,
		PrimaryDatabase: db, RestoreThreshold: 45, ThresholdAlert: 14421, ThresholdAlertEnabled: true,
		HistoryRetentionPeriod: 5760,
	})
}

// fullBackup takes the full backup that starts the log chain (not on the share;
// the lab keeps it on the principal's disk).
func (t *Topology) fullBackup(d *Database) *BackupFile {
	inst := d.inst
	d.fullBackupLSN = d.endLSN
	d.lastLogBackupLSN = d.endLSN
	f := t.newBackupFile(d, "D", joinPath(`C:\backup`, d.name+"_full.bak"), d.endLSN, d.endLSN, false, false)
	inst.files[strings.ToLower(f.Path)] = f
	t.recordBackup(inst, f, "sa")
	return f
}

func (t *Topology) newBackupFile(d *Database, typ, p string, first, last LSN, copyOnly, forceOffline bool) *BackupFile {
	inst := d.inst
	local := inst.localNow()
	inst.backupCount++
	tz := inst.timeZoneCode(local)
	if n := t.cfg.UnknownTimeZoneEvery; n > 0 && inst.backupCount%n == 0 {
		tz = 127
	}
	f := &BackupFile{
		Path: p, Type: typ, Database: d.name, Server: inst.name, FirstLSN: first, LastLSN: last,
		CheckpointLSN: first, DatabaseBackup: d.fullBackupLSN, Start: local.Add(-backupRunTime / 2), Finish: local,
		FinishUTC: inst.utcNow(), TimeZone: tz, FirstForkGUID: d.forkGUID, LastForkGUID: d.forkGUID,
		DatabaseGUID: d.guid, FamilyGUID: d.familyGUID, BackupSetGUID: t.newGUID(), RecoveryModel: d.recovery.String(),
		IsCopyOnly: copyOnly, IsForceOffline: forceOffline,
	}
	if !d.forkPointLSN.IsZero() && d.forkPointLSN.Cmp(first) > 0 && d.forkPointLSN.Cmp(last) <= 0 {
		f.FirstForkGUID = d.firstForkAt(first)
		f.ForkPointLSN = d.forkPointLSN
	}
	for i := d.firstRowAt(first); i < len(d.rows) && d.rows[i].LSN.Cmp(last) < 0; i++ {
		f.rows = append(f.rows, d.rows[i])
		f.times = append(f.times, d.rowTimes[i])
	}
	return f
}

// firstForkAt is the fork GUID that was current at lsn. The lab keeps only the
// current fork and the one before it (enough for one forced failover in a range).
func (d *Database) firstForkAt(lsn LSN) GUID {
	if !d.forkPointLSN.IsZero() && lsn.Cmp(d.forkPointLSN) < 0 {
		return d.prevForkGUID()
	}
	return d.forkGUID
}

func (d *Database) prevForkGUID() GUID {
	if !d.prevFork.IsZero() {
		return d.prevFork
	}
	return d.forkGUID
}

// recordBackup writes backupset + backupmediafamily rows on inst.
func (t *Topology) recordBackup(inst *Instance, f *BackupFile, user string) int32 {
	id := inst.nextSetID
	inst.nextSetID++
	media := inst.nextMediaID
	inst.nextMediaID++
	inst.backupSets = append(inst.backupSets, BackupSetRow{
		BackupSetID: id, MediaSetID: media, FirstLSN: f.FirstLSN, LastLSN: f.LastLSN, CheckpointLSN: f.CheckpointLSN,
		DatabaseBackupLSN: f.DatabaseBackup, Start: f.Start, Finish: f.Finish, TimeZone: f.TimeZone, Type: f.Type,
		DatabaseName: f.Database, ServerName: f.Server, MachineName: f.Server, RecoveryModel: f.RecoveryModel,
		IsCopyOnly: f.IsCopyOnly, BeginsLogChain: f.Type == "D", IsForceOffline: f.IsForceOffline,
		FirstForkGUID: f.FirstForkGUID, LastForkGUID: f.LastForkGUID, ForkPointLSN: f.ForkPointLSN,
		DatabaseGUID: f.DatabaseGUID, FamilyGUID: f.FamilyGUID, BackupSetGUID: f.BackupSetGUID, UserName: user,
		PhysicalDeviceName: f.Path, MediaFamilyID: t.newGUID(),
	})
	return id
}

// recordRestore writes the backupset copy of the header, backupmediafamily and
// restorehistory rows on the restoring instance (SQLSERVER.md §8 Q11).
func (t *Topology) recordRestore(inst *Instance, d *Database, f *BackupFile, restoreType string, recovery bool) {
	id := t.recordBackup(inst, f, "sa")
	inst.restores = append(inst.restores, RestoreHistoryRow{
		RestoreHistoryID: inst.nextRestoreID, RestoreDate: inst.localNow(), DestinationDatabaseName: d.name,
		UserName: "sa", BackupSetID: id, RestoreType: restoreType, Recovery: recovery, DeviceCount: 1,
	})
	inst.nextRestoreID++
}

// resolveFile finds a backup file by path on the share (when reachable from
// inst) or on inst's local disk.
func (t *Topology) resolveFile(inst *Instance, p string) (*BackupFile, *SQLError) {
	key := strings.ToLower(p)
	if t.onShare(p) {
		if t.shareDown || !inst.up() {
			e := errCannotWriteBackupDevice(p)
			return nil, &e
		}
		return t.share.files[key], nil
	}
	return inst.files[key], nil
}

func (t *Topology) onShare(p string) bool {
	return strings.HasPrefix(strings.ToLower(p), strings.ToLower(t.share.Path)+`\`)
}

func (t *Topology) storeFile(inst *Instance, f *BackupFile) {
	if t.onShare(f.Path) {
		t.share.files[strings.ToLower(f.Path)] = f
		return
	}
	inst.files[strings.ToLower(f.Path)] = f
}

// logBackupName is the log-shipping file name pattern, <db>_<yyyyMMddHHmmss>.trn
// in UTC, made unique within its directory.
func (t *Topology) logBackupName(inst *Instance, dir, db string) string {
	base := db + "_" + inst.utcNow().Format("20060102150405")
	p := joinPath(dir, base+".trn")
	for n := 1; ; n++ {
		if _, exists := t.resolveExisting(inst, p); !exists {
			return p
		}
		p = joinPath(dir, fmt.Sprintf("%s_%d.trn", base, n))
	}
}

func (t *Topology) resolveExisting(inst *Instance, p string) (*BackupFile, bool) {
	key := strings.ToLower(p)
	if t.onShare(p) {
		f, ok := t.share.files[key]
		return f, ok
	}
	f, ok := inst.files[key]
	return f, ok
}

// stepJobs runs the Agent of every running instance: finishes runs that are
// due, then starts scheduled runs.
func (t *Topology) stepJobs() {
	for _, inst := range t.instances {
		if !inst.up() {
			continue
		}
		for _, j := range inst.jobs {
			if j.running && !t.now.Before(j.runEnd) {
				t.finishRun(inst, j)
			}
			if !t.now.Before(j.nextRun) {
				for !t.now.Before(j.nextRun) {
					j.nextRun = j.nextRun.Add(j.interval)
				}
				if j.enabled && !inst.jobStopped[j.kind] && !j.running {
					t.startRun(inst, j, "Schedule")
				}
			}
		}
	}
}

func (t *Topology) startRun(inst *Instance, j *Job, source string) {
	j.running = true
	j.runStart = t.now
	j.requestedBy = source
	j.requestedAt = t.now
	j.lsSession = inst.nextLSSession
	inst.nextLSSession++
	t.history(inst, j, 0, "Starting transaction log "+j.kind.String()+".")
	j.resultMsg, j.resultErr = "", nil
	failing := inst.jobFailing[j.kind]
	switch j.kind {
	case JobBackup:
		j.runEnd = t.now.Add(backupRunTime)
		if !failing {
			j.resultMsg, j.resultErr = t.runBackupJob(inst, j)
		}
	case JobCopy:
		j.runEnd = t.now.Add(copyRunTime)
		if !failing {
			t.beginCopy(inst, j)
		}
	case JobRestore:
		j.runEnd = t.now.Add(restoreRunTime)
		if !failing {
			j.resultMsg, j.resultErr = t.runRestoreJob(inst, j)
		}
	}
}

func (t *Topology) history(inst *Instance, j *Job, status uint8, msg string) {
	dbName := j.db
	if j.kind == JobCopy {
		dbName = ""
	}
	inst.lsHistory = append(inst.lsHistory, LSHistoryDetailRow{
		AgentID: j.agentID, AgentType: uint8(j.kind), SessionID: j.lsSession, DatabaseName: dbName,
		SessionStatus: status, LogTime: inst.localNow(), LogTimeUTC: inst.utcNow(), Message: msg,
	})
}

// finishRun completes a run: the job's effect happens at the end of its run.
func (t *Topology) finishRun(inst *Instance, j *Job) {
	var err error
	var msg string
	switch {
	case inst.jobFailing[j.kind]:
		err = fmt.Errorf("the %s job failed: injected fault", j.kind)
		t.abortCopy(inst, j)
	case j.kind == JobCopy:
		msg, err = t.finishCopy(inst, j)
	default:
		msg, err = j.resultMsg, j.resultErr
	}
	status, runStatus := uint8(2), int32(1)
	if err != nil {
		status, runStatus, msg = 3, 0, "*** Error: "+err.Error()
		t.log.Info("lab_job_failed", zap.String("instance", inst.name), zap.String("job", j.name), zap.Error(err))
	}
	t.history(inst, j, status, msg)
	t.endRun(inst, j, runStatus, msg)
}

func (t *Topology) endRun(inst *Instance, j *Job, runStatus int32, msg string) {
	j.running = false
	j.lastStop = t.now
	start := j.runStart.Add(inst.skew).In(inst.loc)
	dur := t.now.Sub(j.runStart)
	h, m, s := int32(dur.Hours()), int32(dur.Minutes())%60, int32(dur.Seconds())%60
	inst.jobHistory = append(inst.jobHistory, JobHistoryRow{
		InstanceID: inst.nextJobHistID, JobID: j.id, StepID: 0, StepName: "(Job outcome)", Message: msg,
		RunStatus: runStatus, RunDate: int32(start.Year()*10000 + int(start.Month())*100 + start.Day()),
		RunTime: int32(start.Hour()*10000 + start.Minute()*100 + start.Second()), RunDuration: h*10000 + m*100 + s,
	})
	j.lastHistID = inst.nextJobHistID
	inst.nextJobHistID++
}

func (t *Topology) runBackupJob(inst *Instance, j *Job) (string, error) {
	d := inst.db(j.db)
	if d == nil {
		return "", fmt.Errorf("database '%s' does not exist", j.db)
	}
	if d.mir != nil && d.mir.role == RoleMirror {
		// §2.5: the mirror/primary's job cannot back up a RESTORING database; it
		// says so in its history and succeeds, so no alert fires.
		return fmt.Sprintf("Skipping log backup for database '%s' because it is acting as a mirror database.", d.name), nil
	}
	if d.state != StateOnline || d.standby {
		return "", fmt.Errorf("database '%s' is %s and cannot be backed up", d.name, d.state)
	}
	p := t.logBackupName(inst, t.backupDir(d.name), d.name)
	f, errs := t.takeLogBackup(inst, d, p, false, false, "sa")
	if errs != nil {
		return "", errs
	}
	for _, r := range inst.lsPrimary {
		if strings.EqualFold(r.PrimaryDatabase, d.name) {
			name, at := f.Path, f.Finish
			r.LastBackupFile, r.LastBackupDate = &name, &at
		}
	}
	for _, r := range inst.lsMonPrimary {
		if strings.EqualFold(r.PrimaryDatabase, d.name) {
			name, at, utc := f.Path, f.Finish, f.FinishUTC
			r.LastBackupFile, r.LastBackupDate, r.LastBackupDateUTC = &name, &at, &utc
		}
	}
	return fmt.Sprintf("Backed up log of database '%s' to file '%s'.", d.name, f.Path), nil
}

// takeLogBackup writes a log backup of d covering [last_log_backup_lsn, end of log).
func (t *Topology) takeLogBackup(inst *Instance, d *Database, p string, copyOnly, noRecovery bool, user string) (*BackupFile, Errors) {
	if t.onShare(p) && (t.shareDown || !inst.up()) {
		return nil, Errors{errCannotWriteBackupDevice(p), terminating(kindBackupLog)}
	}
	f := t.newBackupFile(d, "L", p, d.lastLogBackupLSN, d.endLSN, copyOnly, noRecovery)
	t.storeFile(inst, f)
	if !copyOnly {
		d.lastLogBackupLSN = d.endLSN
	}
	t.recordBackup(inst, f, user)
	if noRecovery {
		d.state = StateRestoring
		inst.killSessionsIn(d.name, nil)
	}
	return f, nil
}

// lsSecondaryFor finds the secondary configuration of db on inst.
func (inst *Instance) lsSecondaryFor(db string) (*LSSecondaryRow, *LSSecondaryDatabaseRow, *LSMonitorSecondaryRow) {
	var sdb *LSSecondaryDatabaseRow
	for _, r := range inst.lsSecondaryDBs {
		if strings.EqualFold(r.SecondaryDatabase, db) {
			sdb = r
		}
	}
	if sdb == nil {
		return nil, nil, nil
	}
	var sec *LSSecondaryRow
	for _, r := range inst.lsSecondary {
		if r.SecondaryID == sdb.SecondaryID {
			sec = r
		}
	}
	var mon *LSMonitorSecondaryRow
	for _, r := range inst.lsMonSecondary {
		if strings.EqualFold(r.SecondaryDatabase, db) {
			mon = r
		}
	}
	return sec, sdb, mon
}

// beginCopy starts copying every complete share file of the database that is not
// yet in the copy folder; the copies are partial until the run ends.
func (t *Topology) beginCopy(inst *Instance, j *Job) {
	j.copying = nil
	sec, _, _ := inst.lsSecondaryFor(j.db)
	if sec == nil || t.shareDown {
		return
	}
	var src []*BackupFile
	prefix := strings.ToLower(sec.BackupSourceDirectory) + `\`
	for key, f := range t.share.files {
		if strings.HasPrefix(key, prefix) && !f.Partial && f.Type == "L" {
			dest := strings.ToLower(joinPath(sec.BackupDestinationDirectory, f.Name()))
			if _, have := inst.files[dest]; !have {
				src = append(src, f)
			}
		}
	}
	sort.Slice(src, func(a, b int) bool { return src[a].Name() < src[b].Name() })
	for _, f := range src {
		c := *f
		c.Path = joinPath(sec.BackupDestinationDirectory, f.Name())
		c.Partial = true
		inst.files[strings.ToLower(c.Path)] = &c
		j.copying = append(j.copying, &c)
	}
}

func (t *Topology) abortCopy(inst *Instance, j *Job) {
	for _, c := range j.copying {
		delete(inst.files, strings.ToLower(c.Path))
	}
	j.copying = nil
}

func (t *Topology) finishCopy(inst *Instance, j *Job) (string, error) {
	sec, _, mon := inst.lsSecondaryFor(j.db)
	if sec == nil {
		return "", fmt.Errorf("log shipping is not configured for database '%s'", j.db)
	}
	if t.shareDown {
		t.abortCopy(inst, j)
		return "", fmt.Errorf("could not access the backup share '%s': operating system error 53 (the network path was not found)", sec.BackupSourceDirectory)
	}
	if len(j.copying) == 0 {
		return "The copy operation was successful. No new files were found to copy.", nil
	}
	for _, c := range j.copying {
		c.Partial = false
	}
	last := j.copying[len(j.copying)-1]
	name := last.Name()
	local, utc := inst.localNow(), inst.utcNow()
	sec.LastCopiedFile, sec.LastCopiedDate = &name, &local
	if mon != nil {
		mon.LastCopiedFile, mon.LastCopiedDate, mon.LastCopiedDateUTC = &name, &local, &utc
	}
	n := len(j.copying)
	j.copying = nil
	return fmt.Sprintf("The copy operation was successful. Copied %d file(s); last file '%s'.", n, name), nil
}

// runRestoreJob restores every applicable complete file of the copy folder in
// LSN order, skipping files already applied and stopping at a gap or fork.
func (t *Topology) runRestoreJob(inst *Instance, j *Job) (string, error) {
	sec, sdb, mon := inst.lsSecondaryFor(j.db)
	d := inst.db(j.db)
	if sec == nil || d == nil {
		return "", fmt.Errorf("log shipping is not configured for database '%s'", j.db)
	}
	if d.state != StateRestoring && !d.standby {
		return "", Errors{errNoFilesReady()}
	}
	prefix := strings.ToLower(sec.BackupDestinationDirectory) + `\`
	var files []*BackupFile
	for key, f := range inst.files {
		if strings.HasPrefix(key, prefix) && !f.Partial && f.Type == "L" {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(a, b int) bool {
		if c := files[a].FirstLSN.Cmp(files[b].FirstLSN); c != 0 {
			return c < 0
		}
		return files[a].Name() < files[b].Name()
	})
	applied := 0
	var lastApplied *BackupFile
	for _, f := range files {
		if f.LastLSN.Cmp(d.endLSN) <= 0 {
			continue
		}
		if d.standby && !sdb.DisconnectUsers && inst.sessionsIn(d.name, nil) > 0 {
			return "", Errors{errExclusiveAccess(), terminating(kindRestoreLog)}
		}
		if errs := t.applyLog(inst, d, f, sdb.RestoreMode, false, "sa"); errs != nil {
			if applied > 0 {
				t.noteRestored(inst, sdb, mon, lastApplied)
			}
			return "", errs
		}
		applied++
		lastApplied = f
	}
	if applied == 0 {
		return fmt.Sprintf("Could not find a log backup file that could be applied to secondary database '%s'.", d.name), nil
	}
	t.noteRestored(inst, sdb, mon, lastApplied)
	return fmt.Sprintf("Restored %d log backup file(s) to database '%s'; last file '%s'.", applied, d.name, lastApplied.Name()), nil
}

func (t *Topology) noteRestored(inst *Instance, sdb *LSSecondaryDatabaseRow, mon *LSMonitorSecondaryRow, f *BackupFile) {
	name := f.Name()
	local, utc := inst.localNow(), inst.utcNow()
	sdb.LastRestoredFile, sdb.LastRestoredDate = &name, &local
	if mon != nil {
		mon.LastRestoredFile, mon.LastRestoredDate, mon.LastRestoredDateUTC = &name, &local, &utc
		// Latency: minutes from the backup's creation on the primary to its restore,
		// computed in UTC so that the two zones cancel out.
		lat := int32(utc.Sub(f.FinishUTC) / time.Minute)
		mon.LastRestoredLatency = &lat
	}
}

// applyLog restores one log backup onto d after the chain checks of
// SQLSERVER.md §8 Q6 (4305 gap, 4326 already applied, 4330 fork).
func (t *Topology) applyLog(inst *Instance, d *Database, f *BackupFile, standby, recovery bool, user string) Errors {
	if f.Partial {
		return Errors{sqlErr(3241, 16, 0, "The media family on device '%s' is incorrectly formed. SQL Server cannot process this media family.", f.Path), terminating(kindRestoreLog)}
	}
	redo := d.endLSN
	if f.LastLSN.Cmp(redo) <= 0 {
		return Errors{errTooEarly(f.LastLSN, redo), terminating(kindRestoreLog)}
	}
	if f.FirstLSN.Cmp(redo) > 0 {
		return Errors{errTooRecent(f.FirstLSN, redo), terminating(kindRestoreLog)}
	}
	forkAtRedo := f.FirstForkGUID
	if !f.ForkPointLSN.IsZero() && redo.Cmp(f.ForkPointLSN) >= 0 {
		forkAtRedo = f.LastForkGUID
	}
	if forkAtRedo != d.forkGUID || f.DatabaseGUID != d.guid {
		return Errors{errForkMismatch(), terminating(kindRestoreLog)}
	}
	for i, r := range f.rows {
		if r.LSN.Cmp(redo) >= 0 {
			d.rows = append(d.rows, r)
			d.rowTimes = append(d.rowTimes, f.times[i])
			d.nextID = r.ID + 1
		}
	}
	d.endLSN = f.LastLSN
	d.lastLogBackupLSN = f.LastLSN
	if f.LastForkGUID != d.forkGUID {
		d.prevFork = d.forkGUID
		d.forkGUID = f.LastForkGUID
		d.forkPointLSN = f.ForkPointLSN
	}
	t.recordRestore(inst, d, f, "L", recovery)
	switch {
	case recovery:
		t.recover(d)
	case standby:
		d.state, d.standby, d.readOnly = StateOnline, true, true
	default:
		d.state, d.standby, d.readOnly = StateRestoring, false, false
	}
	return nil
}

// recover brings a restored database online on a new recovery fork.
func (t *Topology) recover(d *Database) {
	d.state, d.standby, d.readOnly = StateOnline, false, false
	d.prevFork = d.forkGUID
	d.forkPointLSN = d.endLSN
	d.forkGUID = t.newGUID()
	if n := len(d.rows); n > 0 && d.nextID <= d.rows[n-1].ID {
		d.nextID = d.rows[n-1].ID + 1
	}
}

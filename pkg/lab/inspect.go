package lab

import (
	"strings"
	"time"
)

// DatabaseInfo is a snapshot of one database, the raw material of sys.databases,
// sys.database_recovery_status, sys.master_files and sys.database_mirroring.
type DatabaseInfo struct {
	ID            int32
	Name          string
	System        bool
	Protected     bool
	State         DBState
	Standby       bool
	ReadOnly      bool
	Access        UserAccess
	Recovery      RecoveryModel
	GUID          GUID
	FamilyGUID    GUID
	ForkGUID      GUID
	FirstForkGUID GUID
	ForkPointLSN  LSN
	// EndOfLogLSN is the next LSN the log will write (for a RESTORING database:
	// the redo point reached so far).
	EndOfLogLSN LSN
	// LastLogBackupLSN is sys.database_recovery_status.last_log_backup_lsn.
	LastLogBackupLSN LSN
	// RedoStartLSN is sys.master_files.redo_start_lsn: set only while RESTORING or
	// in STANDBY (§8 Q12).
	RedoStartLSN LSN
	Created      time.Time
	Mirroring    *MirroringInfo
	Rows         int
	MaxID        int64
	// Available is nil when the database can be opened; otherwise the error a
	// USE or a read gets.
	Available *SQLError
}

// MirroringInfo is this partner's view of a mirroring session.
type MirroringInfo struct {
	GUID            GUID
	Role            MirrorRole
	RoleSequence    int32
	State           MirrorState
	Safety          Safety
	SafetySequence  int32
	PartnerName     string // TCP://name.lab.local:5022
	PartnerInstance string
	WitnessName     string // "" without a witness
	WitnessState    uint8  // 0 unknown, 1 connected, 2 disconnected
	FailoverLSN     LSN
	EndOfLogLSN     LSN
	TimeoutSeconds  int32
}

// EndpointName is the mirroring endpoint address the lab gives an instance.
func EndpointName(instance string) string {
	return "TCP://" + strings.ToLower(instance) + ".lab.local:5022"
}

// Databases returns a snapshot of every database, in database_id order.
func (i *Instance) Databases() []DatabaseInfo {
	t := i.topo
	defer t.lockSynced()()
	out := make([]DatabaseInfo, 0, len(i.dbs))
	for _, d := range i.dbs {
		out = append(out, i.info(d))
	}
	return out
}

// Database returns a snapshot of one database.
func (i *Instance) Database(name string) (DatabaseInfo, bool) {
	t := i.topo
	defer t.lockSynced()()
	d := i.db(name)
	if d == nil {
		return DatabaseInfo{}, false
	}
	return i.info(d), true
}

func (i *Instance) info(d *Database) DatabaseInfo {
	di := DatabaseInfo{
		ID: d.id, Name: d.name, System: d.system, Protected: d.protected, State: d.state, Standby: d.standby,
		ReadOnly: d.readOnly || d.standby, Access: d.access, Recovery: d.recovery, GUID: d.guid,
		FamilyGUID: d.familyGUID, ForkGUID: d.forkGUID, FirstForkGUID: d.firstForkGUID,
		ForkPointLSN: d.forkPointLSN, EndOfLogLSN: d.endLSN, LastLogBackupLSN: d.lastLogBackupLSN,
		Created: d.created.Add(i.skew).In(i.loc), Rows: len(d.rows), Available: d.readErr(),
	}
	if d.state == StateRestoring || d.standby {
		di.RedoStartLSN = d.endLSN
	}
	if n := len(d.rows); n > 0 {
		di.MaxID = d.rows[n-1].ID
	}
	if d.inMirroring() {
		s := d.mir.s
		partner := s.partnerOf(i)
		mi := &MirroringInfo{
			GUID: s.guid, Role: d.mir.role, RoleSequence: d.mir.roleSeq, State: d.mir.state, Safety: s.safety,
			SafetySequence: s.safetySeq, PartnerName: EndpointName(partner.name), PartnerInstance: partner.name,
			FailoverLSN: d.mir.failoverLSN, EndOfLogLSN: d.endLSN, TimeoutSeconds: int32(s.timeout.Seconds()),
		}
		if s.witness != nil {
			mi.WitnessName = EndpointName(s.witness.name)
			mi.WitnessState = 2
			if i.topo.reachable(i, s.witness) {
				mi.WitnessState = 1
			}
		}
		di.Mirroring = mi
	}
	return di
}

// MSDB is a snapshot of an instance's msdb tables.
type MSDB struct {
	BackupSets         []BackupSetRow
	RestoreHistory     []RestoreHistoryRow
	LSPrimaryDatabases []LSPrimaryDatabaseRow
	LSMonitorPrimary   []LSMonitorPrimaryRow
	LSSecondary        []LSSecondaryRow
	LSSecondaryDBs     []LSSecondaryDatabaseRow
	LSMonitorSecondary []LSMonitorSecondaryRow
	LSHistoryDetail    []LSHistoryDetailRow
	Jobs               []JobRow
	JobActivity        []JobActivityRow
	JobHistory         []JobHistoryRow
}

// MSDB returns a snapshot of the instance's msdb tables.
func (i *Instance) MSDB() MSDB {
	t := i.topo
	defer t.lockSynced()()
	m := MSDB{
		BackupSets:      append([]BackupSetRow(nil), i.backupSets...),
		RestoreHistory:  append([]RestoreHistoryRow(nil), i.restores...),
		LSHistoryDetail: append([]LSHistoryDetailRow(nil), i.lsHistory...),
		JobHistory:      append([]JobHistoryRow(nil), i.jobHistory...),
	}
	for _, r := range i.lsPrimary {
		m.LSPrimaryDatabases = append(m.LSPrimaryDatabases, *r)
	}
	for _, r := range i.lsMonPrimary {
		m.LSMonitorPrimary = append(m.LSMonitorPrimary, *r)
	}
	for _, r := range i.lsSecondary {
		m.LSSecondary = append(m.LSSecondary, *r)
	}
	for _, r := range i.lsSecondaryDBs {
		m.LSSecondaryDBs = append(m.LSSecondaryDBs, *r)
	}
	for _, r := range i.lsMonSecondary {
		m.LSMonitorSecondary = append(m.LSMonitorSecondary, *r)
	}
	for _, j := range i.sortedJobs() {
		cat := map[JobKind]string{JobBackup: "Log Shipping Backup", JobCopy: "Log Shipping Copy", JobRestore: "Log Shipping Restore"}[j.kind]
		m.Jobs = append(m.Jobs, JobRow{JobID: j.id, Name: j.name, Enabled: j.enabled, CategoryName: cat,
			CategoryID: int32(12 + j.kind), OwnerSID: "0x01", DateCreated: j.created, DateModified: j.modified,
			VersionNumber: j.version, Description: "Log shipping " + j.kind.String() + " job for " + j.db + "."})
		a := JobActivityRow{SessionID: i.agentSession, JobID: j.id}
		next := j.nextRun.Add(i.skew).In(i.loc)
		a.NextScheduledRunDate = &next
		if !j.runStart.IsZero() {
			start := j.runStart.Add(i.skew).In(i.loc)
			req := j.requestedAt.Add(i.skew).In(i.loc)
			src := "1" // SCHEDULER
			if j.requestedBy != "Schedule" {
				src = "4" // USER
			}
			step := int32(1)
			a.RunRequestedDate, a.RunRequestedSource, a.QueuedDate, a.StartExecutionDate = &req, &src, &req, &start
			a.LastExecutedStepID, a.LastExecutedStepDate = &step, &start
			if !j.running {
				stop := j.lastStop.Add(i.skew).In(i.loc)
				hid := j.lastHistID
				a.StopExecutionDate, a.JobHistoryID = &stop, &hid
			}
		}
		m.JobActivity = append(m.JobActivity, a)
	}
	return m
}

// JobRunning reports whether the named job is running now.
func (i *Instance) JobRunning(name string) bool {
	t := i.topo
	defer t.lockSynced()()
	j, err := i.findJob(nil, name)
	return err == nil && j.running
}

// Files lists the backup files on the instance's local disk (copy folder, tail
// and rogue backups), sorted by path.
func (i *Instance) Files() []BackupFile {
	t := i.topo
	defer t.lockSynced()()
	return sortedFiles(i.files)
}

// ShareFiles lists the files on the backup share, sorted by path.
func (t *Topology) ShareFiles() []BackupFile {
	defer t.lockSynced()()
	return sortedFiles(t.share.files)
}

func sortedFiles(m map[string]*BackupFile) []BackupFile {
	out := make([]BackupFile, 0, len(m))
	for _, f := range m {
		c := *f
		c.rows, c.times = nil, nil
		out = append(out, c)
	}
	for a := 1; a < len(out); a++ {
		for b := a; b > 0 && out[b].Path < out[b-1].Path; b-- {
			out[b], out[b-1] = out[b-1], out[b]
		}
	}
	return out
}

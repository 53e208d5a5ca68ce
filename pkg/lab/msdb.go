package lab

import "time"

// BackupSetRow is a row of msdb.dbo.backupset (the columns the lab keeps).
// Dates are local wall-clock times of the server that took the backup.
type BackupSetRow struct {
	BackupSetID        int32
	MediaSetID         int32
	FirstLSN           LSN
	LastLSN            LSN
	CheckpointLSN      LSN
	DatabaseBackupLSN  LSN
	Start              time.Time
	Finish             time.Time
	TimeZone           int16
	Type               string // D or L
	DatabaseName       string
	ServerName         string
	MachineName        string
	RecoveryModel      string
	IsCopyOnly         bool
	BeginsLogChain     bool
	IsForceOffline     bool
	FirstForkGUID      GUID
	LastForkGUID       GUID
	ForkPointLSN       LSN
	DatabaseGUID       GUID
	FamilyGUID         GUID
	BackupSetGUID      GUID
	UserName           string
	HasIncompleteMeta  bool
	IsDamaged          bool
	HasBulkLoggedData  bool
	PhysicalDeviceName string // backupmediafamily.physical_device_name
	MediaFamilyID      GUID
}

// RestoreHistoryRow is a row of msdb.dbo.restorehistory.
type RestoreHistoryRow struct {
	RestoreHistoryID        int32
	RestoreDate             time.Time // local time of the restoring server
	DestinationDatabaseName string
	UserName                string
	BackupSetID             int32
	RestoreType             string // D or L
	Replace                 bool
	Recovery                bool
	Restart                 bool
	StopAt                  *time.Time
	DeviceCount             uint8
	StopAtMarkName          *string
	StopBefore              bool
}

// LSPrimaryDatabaseRow is msdb.dbo.log_shipping_primary_databases.
type LSPrimaryDatabaseRow struct {
	PrimaryID                 GUID
	PrimaryDatabase           string
	BackupDirectory           string
	BackupShare               string
	BackupRetentionPeriod     int32
	BackupJobID               GUID
	MonitorServer             *string
	MonitorServerSecurityMode bool
	LastBackupFile            *string
	LastBackupDate            *time.Time
	UserSpecifiedMonitor      bool
	BackupCompression         uint8
}

// LSMonitorPrimaryRow is msdb.dbo.log_shipping_monitor_primary.
type LSMonitorPrimaryRow struct {
	PrimaryID              GUID
	PrimaryServer          string
	PrimaryDatabase        string
	BackupThreshold        int32
	ThresholdAlert         int32
	ThresholdAlertEnabled  bool
	LastBackupFile         *string
	LastBackupDate         *time.Time
	LastBackupDateUTC      *time.Time
	HistoryRetentionPeriod int32
}

// LSSecondaryRow is msdb.dbo.log_shipping_secondary.
type LSSecondaryRow struct {
	SecondaryID                GUID
	PrimaryServer              string
	PrimaryDatabase            string
	BackupSourceDirectory      string
	BackupDestinationDirectory string
	FileRetentionPeriod        int32
	CopyJobID                  GUID
	RestoreJobID               GUID
	MonitorServer              *string
	MonitorServerSecurityMode  bool
	LastCopiedFile             *string
	LastCopiedDate             *time.Time
}

// LSSecondaryDatabaseRow is msdb.dbo.log_shipping_secondary_databases.
type LSSecondaryDatabaseRow struct {
	SecondaryDatabase string
	SecondaryID       GUID
	RestoreDelay      int32
	RestoreAll        bool
	RestoreMode       bool // false NORECOVERY, true STANDBY
	DisconnectUsers   bool
	BlockSize         int32
	BufferCount       int32
	MaxTransferSize   *int32
	LastRestoredFile  *string
	LastRestoredDate  *time.Time
}

// LSMonitorSecondaryRow is msdb.dbo.log_shipping_monitor_secondary.
type LSMonitorSecondaryRow struct {
	SecondaryServer        string
	SecondaryDatabase      string
	SecondaryID            GUID
	PrimaryServer          string
	PrimaryDatabase        string
	RestoreThreshold       int32
	ThresholdAlert         int32
	ThresholdAlertEnabled  bool
	LastCopiedFile         *string
	LastCopiedDate         *time.Time
	LastCopiedDateUTC      *time.Time
	LastRestoredFile       *string
	LastRestoredDate       *time.Time
	LastRestoredDateUTC    *time.Time
	LastRestoredLatency    *int32
	HistoryRetentionPeriod int32
}

// LSHistoryDetailRow is msdb.dbo.log_shipping_monitor_history_detail.
type LSHistoryDetailRow struct {
	AgentID       GUID
	AgentType     uint8 // 0 backup, 1 copy, 2 restore
	SessionID     int32
	DatabaseName  string
	SessionStatus uint8 // 0 starting, 1 running, 2 success, 3 error, 4 warning
	LogTime       time.Time
	LogTimeUTC    time.Time
	Message       string
}

// JobRow is msdb.dbo.sysjobs.
type JobRow struct {
	JobID         GUID
	Name          string
	Enabled       bool
	Description   string
	CategoryName  string // joined from syscategories by the lab for convenience
	CategoryID    int32
	OwnerSID      string
	DateCreated   time.Time
	DateModified  time.Time
	VersionNumber int32
}

// JobActivityRow is msdb.dbo.sysjobactivity (one row per job for the current
// Agent session). A job is running when StartExecution is set and StopExecution is not.
type JobActivityRow struct {
	SessionID            int32
	JobID                GUID
	RunRequestedDate     *time.Time
	RunRequestedSource   *string
	QueuedDate           *time.Time
	StartExecutionDate   *time.Time
	LastExecutedStepID   *int32
	LastExecutedStepDate *time.Time
	StopExecutionDate    *time.Time
	JobHistoryID         *int32
	NextScheduledRunDate *time.Time
}

// JobHistoryRow is msdb.dbo.sysjobhistory (job outcome rows, step_id 0).
type JobHistoryRow struct {
	InstanceID  int32
	JobID       GUID
	StepID      int32
	StepName    string
	Message     string
	RunStatus   int32 // 0 failed, 1 succeeded, 3 canceled
	RunDate     int32 // yyyymmdd
	RunTime     int32 // hhmmss
	RunDuration int32 // hhmmss
}

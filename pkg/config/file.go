package config

// The user's file, exactly as written: every field is a pointer or a string
// so that "absent" (take the default) differs from "zero", and durations are
// strings ("45s") parsed during validation, where the error can name the key.
// Nothing outside this package sees these types (consul's split between the
// file struct and the runtime struct).

type file struct {
	StateDir           *string          `yaml:"state_dir"`
	HTTP               *fileHTTP        `yaml:"http"`
	Interval           *string          `yaml:"interval"`
	Mode               *string          `yaml:"mode"`
	Group              *string          `yaml:"group"`
	Databases          []string         `yaml:"databases"`
	MonitoredDatabases []string         `yaml:"monitored_databases"`
	Target             *string          `yaml:"target"`
	ConfirmAfter       *string          `yaml:"confirm_after"`
	MinFailedProbes    *int             `yaml:"min_failed_probes"`
	MaxDataLoss        *string          `yaml:"max_data_loss"`
	Cooldown           *string          `yaml:"cooldown"`
	ApprovalTTL        *string          `yaml:"approval_ttl"`
	HistorySize        *int             `yaml:"history_size"`
	Instances          []fileInstance   `yaml:"instances"`
	Observers          *fileObservers   `yaml:"observers"`
	Signals            *fileSignals     `yaml:"signals"`
	Hooks              *fileHooks       `yaml:"hooks"`
	Fence              *fileFence       `yaml:"fence"`
	LogShipping        *fileLogShipping `yaml:"log_shipping"`
	Runbook            *fileRunbook     `yaml:"runbook"`
}

type fileHTTP struct {
	Listen *string `yaml:"listen"`
}

type fileInstance struct {
	Name           string  `yaml:"name"`
	Site           string  `yaml:"site"`
	Role           string  `yaml:"role"`
	DSNEnv         string  `yaml:"dsn_env"`
	DSNFile        string  `yaml:"dsn_file"`
	ConnectTimeout *string `yaml:"connect_timeout"`
	QueryTimeout   *string `yaml:"query_timeout"`
	SourceAddress  string  `yaml:"source_address"`
}

type fileObservers struct {
	Quorum    *int           `yaml:"quorum"`
	MaxAge    *string        `yaml:"max_age"`
	Endpoints []fileObserver `yaml:"endpoints"`
}

type fileObserver struct {
	Name      string  `yaml:"name"`
	URL       string  `yaml:"url"`
	TokenFile string  `yaml:"token_file"`
	CAFile    string  `yaml:"ca_file"`
	Timeout   *string `yaml:"timeout"`
}

type fileSignals struct {
	OperatorsGroup string `yaml:"operators_group"`
}

type fileHooks struct {
	PrePromote  []fileHook `yaml:"pre_promote"`
	PostPromote []fileHook `yaml:"post_promote"`
	Fence       []fileHook `yaml:"fence"`
}

type fileHook struct {
	Name    string            `yaml:"name"`
	Command string            `yaml:"command"`
	Args    []string          `yaml:"args"`
	Timeout *string           `yaml:"timeout"`
	Env     map[string]string `yaml:"env"`
}

type fileFence struct {
	Method *string `yaml:"method"`
}

type fileLogShipping struct {
	BackupThreshold  *string `yaml:"backup_threshold"`
	CopyThreshold    *string `yaml:"copy_threshold"`
	RestoreThreshold *string `yaml:"restore_threshold"`
}

type fileRunbook struct {
	PollInterval *string           `yaml:"poll_interval"`
	Timeouts     map[string]string `yaml:"timeouts"`
}

package lab

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the default sites use named zones; do not depend on the host's zoneinfo
)

// Instance roles in a topology file.
const (
	ConfigRolePrincipal = "principal"
	ConfigRoleMirror    = "mirror"
	ConfigRoleSecondary = "secondary"
	ConfigRoleWitness   = "witness"
)

// InstanceConfig describes one simulated SQL Server instance.
type InstanceConfig struct {
	// Name is @@SERVERNAME.
	Name string `yaml:"name" json:"name"`
	// Role is principal, mirror, secondary or witness.
	Role string `yaml:"role" json:"role"`
	// Site is the data-centre name; "site down" takes all its instances down.
	Site string `yaml:"site" json:"site"`
	// TimeZone is an IANA zone name for the instance's local clock.
	TimeZone string `yaml:"time_zone" json:"time_zone"`
	// Addr is the TCP listen address ("127.0.0.1:14331"); empty means 127.0.0.1:0.
	Addr string `yaml:"addr" json:"addr"`
}

// Config is a topology: instances, protected databases and the moving parts' timing.
// All durations are simulated time.
type Config struct {
	// Instances lists the instances; exactly one principal and at most one each of
	// mirror, secondary and witness.
	Instances []InstanceConfig `yaml:"instances" json:"instances"`
	// Databases are the protected databases (default mgc, mgccomp).
	Databases []string `yaml:"databases" json:"databases"`
	// Safety is the mirroring safety level, FULL (default) or OFF.
	Safety string `yaml:"safety" json:"safety"`
	// PartnerTimeout is the mirroring partner timeout (default 10s).
	PartnerTimeout time.Duration `yaml:"partner_timeout" json:"partner_timeout"`
	// AsyncDelay is how far the mirror trails the principal under SAFETY OFF (default 2s).
	AsyncDelay time.Duration `yaml:"async_delay" json:"async_delay"`
	// BackupInterval is the log-shipping backup job schedule (default 1m).
	BackupInterval time.Duration `yaml:"backup_interval" json:"backup_interval"`
	// CopyInterval is the copy job schedule (default 1m).
	CopyInterval time.Duration `yaml:"copy_interval" json:"copy_interval"`
	// RestoreInterval is the restore job schedule (default 1m).
	RestoreInterval time.Duration `yaml:"restore_interval" json:"restore_interval"`
	// RestoreMode is norecovery (default) or standby for the secondary.
	RestoreMode string `yaml:"restore_mode" json:"restore_mode"`
	// WorkloadRate is rows per simulated second inserted into dbo.messages of each
	// protected database on the principal (default 1; 0 disables the workload).
	WorkloadRate float64 `yaml:"workload_rate" json:"workload_rate"`
	// UnknownTimeZoneEvery makes every n-th backupset row carry time_zone 127
	// (unknown), as SQL Server sometimes writes (default 5; 0 never).
	UnknownTimeZoneEvery int `yaml:"unknown_time_zone_every" json:"unknown_time_zone_every"`
	// Share is the UNC path of the backup share (default \\labshare\logship).
	Share string `yaml:"share" json:"share"`
	// CopyDir is the secondary's copy destination folder (default D:\lscopy).
	CopyDir string `yaml:"copy_dir" json:"copy_dir"`
	// Start is the simulated start instant (default 2026-03-08T06:30:00Z, shortly
	// before a daylight-saving change in America/New_York).
	Start time.Time `yaml:"start" json:"start"`
	// Seed makes GUIDs reproducible.
	Seed uint64 `yaml:"seed" json:"seed"`
	// HistoryRetention bounds msdb history (backupset, restorehistory, job and
	// log-shipping history), like a nightly sp_delete_backuphistory (default 24h).
	HistoryRetention time.Duration `yaml:"history_retention" json:"history_retention"`
	// FileRetention is how long backup files stay on the share and in the copy
	// folder (default 72h, the log-shipping default of 4320 minutes).
	FileRetention time.Duration `yaml:"file_retention" json:"file_retention"`
}

// DefaultConfig is the topology of DESIGN.md: principal and mirror in site A
// (America/New_York, with daylight saving), the secondary in site B
// (Asia/Kolkata, UTC+05:30), no witness.
func DefaultConfig() Config {
	return Config{
		Instances: []InstanceConfig{
			{Name: "SQLA1", Role: ConfigRolePrincipal, Site: "A", TimeZone: "America/New_York"},
			{Name: "SQLA2", Role: ConfigRoleMirror, Site: "A", TimeZone: "America/New_York"},
			{Name: "SQLB1", Role: ConfigRoleSecondary, Site: "B", TimeZone: "Asia/Kolkata"},
		},
		Databases:            []string{"mgc", "mgccomp"},
		Safety:               "FULL",
		PartnerTimeout:       10 * time.Second,
		AsyncDelay:           2 * time.Second,
		BackupInterval:       time.Minute,
		CopyInterval:         time.Minute,
		RestoreInterval:      time.Minute,
		RestoreMode:          "norecovery",
		WorkloadRate:         1,
		UnknownTimeZoneEvery: 5,
		Share:                `\\labshare\logship`,
		CopyDir:              `D:\lscopy`,
		Start:                time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC),
		Seed:                 1,
		HistoryRetention:     24 * time.Hour,
		FileRetention:        72 * time.Hour,
	}
}

// WithWitness returns c with a witness instance SQLW1 in its own site W.
func (c Config) WithWitness() Config {
	out := c
	out.Instances = append(append([]InstanceConfig(nil), c.Instances...),
		InstanceConfig{Name: "SQLW1", Role: ConfigRoleWitness, Site: "W", TimeZone: "Europe/London"})
	return out
}

// validate checks the whole config and reports every problem at once.
func (c Config) validate() error {
	var errs []error
	roles := map[string]int{}
	names := map[string]bool{}
	for i, ic := range c.Instances {
		key := fmt.Sprintf("instances[%d]", i)
		if ic.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", key))
		}
		if names[strings.ToLower(ic.Name)] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate instance name %q", key, ic.Name))
		}
		names[strings.ToLower(ic.Name)] = true
		switch ic.Role {
		case ConfigRolePrincipal, ConfigRoleMirror, ConfigRoleSecondary, ConfigRoleWitness:
			roles[ic.Role]++
		default:
			errs = append(errs, fmt.Errorf("%s.role: %q is not principal, mirror, secondary or witness", key, ic.Role))
		}
		if ic.Site == "" {
			errs = append(errs, fmt.Errorf("%s.site: must not be empty", key))
		}
		if _, err := time.LoadLocation(ic.TimeZone); err != nil || ic.TimeZone == "" {
			errs = append(errs, fmt.Errorf("%s.time_zone: %q is not a known IANA time zone", key, ic.TimeZone))
		}
	}
	if roles[ConfigRolePrincipal] != 1 {
		errs = append(errs, fmt.Errorf("instances: need exactly one principal, have %d", roles[ConfigRolePrincipal]))
	}
	for _, r := range []string{ConfigRoleMirror, ConfigRoleSecondary, ConfigRoleWitness} {
		if roles[r] > 1 {
			errs = append(errs, fmt.Errorf("instances: at most one %s, have %d", r, roles[r]))
		}
	}
	if roles[ConfigRoleWitness] == 1 && roles[ConfigRoleMirror] == 0 {
		errs = append(errs, errors.New("instances: a witness needs a mirror"))
	}
	if len(c.Databases) == 0 {
		errs = append(errs, errors.New("databases: need at least one database"))
	}
	seen := map[string]bool{}
	for i, d := range c.Databases {
		if d == "" || strings.ContainsAny(d, `[]'"\/.`) {
			errs = append(errs, fmt.Errorf("databases[%d]: %q is not a valid database name", i, d))
		}
		l := strings.ToLower(d)
		if seen[l] || l == "master" || l == "msdb" || l == "tempdb" || l == "model" {
			errs = append(errs, fmt.Errorf("databases[%d]: %q is a duplicate or a system database", i, d))
		}
		seen[l] = true
	}
	if !strings.EqualFold(c.Safety, "FULL") && !strings.EqualFold(c.Safety, "OFF") {
		errs = append(errs, fmt.Errorf("safety: %q is not FULL or OFF", c.Safety))
	}
	if !strings.EqualFold(c.RestoreMode, "norecovery") && !strings.EqualFold(c.RestoreMode, "standby") {
		errs = append(errs, fmt.Errorf("restore_mode: %q is not norecovery or standby", c.RestoreMode))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"partner_timeout", c.PartnerTimeout}, {"backup_interval", c.BackupInterval}, {"copy_interval", c.CopyInterval}, {"restore_interval", c.RestoreInterval}} {
		if d.v < time.Second {
			errs = append(errs, fmt.Errorf("%s: %s is below the minimum of 1s", d.key, d.v))
		}
	}
	if c.HistoryRetention < time.Hour {
		errs = append(errs, fmt.Errorf("history_retention: %s is below the minimum of 1h", c.HistoryRetention))
	}
	if c.FileRetention < time.Hour {
		errs = append(errs, fmt.Errorf("file_retention: %s is below the minimum of 1h", c.FileRetention))
	}
	if c.AsyncDelay < 0 {
		errs = append(errs, fmt.Errorf("async_delay: %s must not be negative", c.AsyncDelay))
	}
	if c.WorkloadRate < 0 || c.WorkloadRate > 1000 {
		errs = append(errs, fmt.Errorf("workload_rate: %g is outside 0..1000 rows per second", c.WorkloadRate))
	}
	if !strings.HasPrefix(c.Share, `\\`) {
		errs = append(errs, fmt.Errorf("share: %q is not a UNC path (\\\\server\\share)", c.Share))
	}
	if c.CopyDir == "" {
		errs = append(errs, errors.New("copy_dir: must not be empty"))
	}
	if c.Start.IsZero() {
		errs = append(errs, errors.New("start: must be set"))
	}
	return errors.Join(errs...)
}

// SingleInstanceConfig is the topology of the single-instance mode: one principal
// (no mirror, no secondary) holding the protected databases, for tests that treat
// a lab instance like the official SQL Server container image.
func SingleInstanceConfig() Config {
	c := DefaultConfig()
	c.Instances = []InstanceConfig{{Name: "SQLLAB", Role: ConfigRolePrincipal, Site: "A", TimeZone: "America/New_York"}}
	return c
}

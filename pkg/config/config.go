// Package config loads sqldr's daemon configuration: a YAML file decoded
// strictly (unknown keys are errors), defaults applied, and every problem
// reported at once, each naming the key as the user wrote it
// (`instances[1].dsn_env: ...`). The user's file struct stays private; Load
// returns the validated runtime Config. Durations are written as strings
// ("45s", "5m"). Secrets never appear in the file: DSNs come from an
// environment variable (dsn_env) or a file (dsn_file), observer tokens from a
// file (token_file).
//
// This package does not import controller or probes; cmd/ maps Config onto
// their options (see controller/runbook.FromConfig for the runbook's part).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/sqldr/sqldr/pkg/hook"
)

// Defaults, as documented in deploy/sqldr.example.yml.
const (
	DefaultListen          = "127.0.0.1:9724"
	DefaultInterval        = 15 * time.Second
	DefaultMode            = "approval"
	DefaultGroup           = "mgc"
	DefaultConfirmAfter    = 60 * time.Second
	DefaultMinFailedProbes = 3
	DefaultMaxDataLoss     = 5 * time.Minute
	DefaultCooldown        = time.Hour
	DefaultApprovalTTL     = 15 * time.Minute
	DefaultHistorySize     = 100
	DefaultConnectTimeout  = 5 * time.Second
	DefaultQueryTimeout    = 10 * time.Second
	DefaultObserverTimeout = 5 * time.Second
	DefaultObserverMaxAge  = 30 * time.Second
	DefaultFenceMethod     = FenceOffline
	DefaultPollInterval    = 2 * time.Second
)

// Fence methods (fence.method).
const (
	// FenceOffline takes the database OFFLINE (ALTER DATABASE … SET OFFLINE WITH ROLLBACK IMMEDIATE).
	FenceOffline = "offline"
	// FenceSingleUser sets it SINGLE_USER WITH ROLLBACK IMMEDIATE.
	FenceSingleUser = "single_user"
	// FenceHook runs the hooks.fence hooks instead of a statement.
	FenceHook = "hook"
)

// Instance roles (instances[].role).
const (
	RolePartner   = "partner"
	RoleSecondary = "secondary"
	RoleMonitor   = "monitor"
)

// RunbookSteps are the keys of runbook.timeouts: the controller's step names.
var RunbookSteps = []string{"recheck", "pre_promote_hooks", "record_config", "final_copy", "final_restore",
	"disable_jobs", "recover", "post_promote_hooks", "undo", "fence"}

// DefaultStepTimeouts are the defaults of runbook.timeouts.
var DefaultStepTimeouts = map[string]time.Duration{
	"recheck":            time.Minute,
	"pre_promote_hooks":  5 * time.Minute,
	"record_config":      10 * time.Minute,
	"final_copy":         15 * time.Minute,
	"final_restore":      30 * time.Minute,
	"disable_jobs":       5 * time.Minute,
	"recover":            30 * time.Minute,
	"post_promote_hooks": 10 * time.Minute,
	"undo":               5 * time.Minute,
	"fence":              5 * time.Minute,
}

// Config is the validated runtime configuration.
type Config struct {
	// StateDir holds the status, the journal, the lock and signals/ (`state_dir`, required, absolute).
	StateDir string
	// HTTP is the status and metrics listener.
	HTTP HTTP
	// Interval is the reconcile period (`interval`, default 15s).
	Interval time.Duration
	// Mode is monitor, approval or auto (`mode`, default approval).
	Mode string
	// Group names the failover group (`group`, default "mgc"); it prefixes plan IDs.
	Group string
	// Databases are the databases that fail over together (`databases`, default [<group>]).
	Databases []string
	// MonitoredDatabases are watched and alerted on but never recovered (`monitored_databases`, e.g. mgccomp).
	MonitoredDatabases []string
	// Target is the instance to promote (`target`, default: the first instance with role secondary).
	Target string
	// ConfirmAfter is how long site A must stay unreachable before it is confirmed down (`confirm_after`, default 60s).
	ConfirmAfter time.Duration
	// MinFailedProbes is the least number of consecutive failed probes to confirm (`min_failed_probes`, default 3).
	MinFailedProbes int
	// MaxDataLoss is the data-loss budget of automatic promotion (`max_data_loss`, default 5m).
	MaxDataLoss time.Duration
	// Cooldown blocks a second automatic promotion until the first is acknowledged (`cooldown`, default 1h).
	Cooldown time.Duration
	// ApprovalTTL is how long an approval file stays valid (`approval_ttl`, default 15m).
	ApprovalTTL time.Duration
	// HistorySize bounds the recent transitions kept for /status (`history_size`, default 100).
	HistorySize int
	// Instances are the SQL Server instances, in file order.
	Instances []Instance
	// Observers are the third-site observers.
	Observers Observers
	// Signals configures signal-file ownership checks.
	Signals Signals
	// Hooks are the hook programs per event.
	Hooks Hooks
	// Fence configures how a returning site-A partner is taken out of service.
	Fence Fence
	// LogShipping overrides the thresholds read from the log-shipping monitor tables.
	LogShipping LogShipping
	// Runbook holds the promotion runbook's timing.
	Runbook Runbook
}

// HTTP is the `http` section.
type HTTP struct {
	// Listen is the host:port of /metrics, /status, /healthz, /readyz (`http.listen`, default 127.0.0.1:9724).
	Listen string
}

// Instance is one entry of `instances`.
type Instance struct {
	// Name identifies the instance in logs, metrics and plans (`name`, required, unique).
	Name string
	// Site is the data centre: "A" for the mirroring partners, "B" for the secondary (`site`, required).
	Site string
	// Role is partner, secondary or monitor (`role`, required).
	Role string
	// DSNEnv names the environment variable holding the go-mssqldb DSN (`dsn_env`; exactly one of dsn_env, dsn_file).
	DSNEnv string
	// DSNFile is a file holding the DSN (`dsn_file`).
	DSNFile string
	// ConnectTimeout bounds dialing and login (`connect_timeout`, default 5s).
	ConnectTimeout time.Duration
	// QueryTimeout bounds one probe batch or statement (`query_timeout`, default 10s).
	QueryTimeout time.Duration
	// SourceAddress, when valid, is the local address the dialer binds (`source_address`).
	SourceAddress netip.Addr
}

// Observers is the `observers` section.
type Observers struct {
	// Quorum is how many fresh observers must corroborate (`observers.quorum`, default: all endpoints).
	Quorum int
	// MaxAge is how old an observation may be to count (`observers.max_age`, default 30s).
	MaxAge time.Duration
	// Endpoints are the observers.
	Endpoints []Observer
}

// Observer is one entry of `observers.endpoints`.
type Observer struct {
	// Name identifies it (`name`, default its URL's host).
	Name string
	// URL is its base URL, http or https (`url`, required).
	URL string
	// TokenFile holds the bearer token (`token_file`, required, absolute).
	TokenFile string
	// CAFile is a PEM bundle to verify its certificate (`ca_file`, optional, https only).
	CAFile string
	// Timeout bounds one request (`timeout`, default 5s).
	Timeout time.Duration
}

// Signals is the `signals` section.
type Signals struct {
	// OperatorsGroup is a group name or numeric GID whose signal files are accepted besides root's and the daemon's (`signals.operators_group`).
	OperatorsGroup string
}

// Hooks is the `hooks` section.
type Hooks struct {
	// PrePromote run before anything changes; a non-zero exit vetoes (`hooks.pre_promote`).
	PrePromote []hook.Spec
	// PostPromote run after every database was recovered (`hooks.post_promote`).
	PostPromote []hook.Spec
	// Fence run when fence.method is hook (`hooks.fence`).
	Fence []hook.Spec
}

// Fence is the `fence` section.
type Fence struct {
	// Method is offline, single_user or hook (`fence.method`, default offline).
	Method string
}

// LogShipping is the `log_shipping` section; zero means "use the threshold from the monitor tables".
type LogShipping struct {
	// BackupThreshold overrides log_shipping_monitor_primary.backup_threshold (`log_shipping.backup_threshold`).
	BackupThreshold time.Duration
	// CopyThreshold is the alerting age of the newest copy (`log_shipping.copy_threshold`).
	CopyThreshold time.Duration
	// RestoreThreshold overrides log_shipping_monitor_secondary.restore_threshold (`log_shipping.restore_threshold`).
	RestoreThreshold time.Duration
}

// Runbook is the `runbook` section.
type Runbook struct {
	// PollInterval is how often the runbook polls a job it waits for (`runbook.poll_interval`, default 2s).
	PollInterval time.Duration
	// Timeouts bound each step, keyed by step name (RunbookSteps); every key is present.
	Timeouts map[string]time.Duration
}

// Secondary returns the instance to promote: Target, or the first secondary.
func (c *Config) Secondary() (Instance, bool) {
	for _, in := range c.Instances {
		if (c.Target != "" && in.Name == c.Target) || (c.Target == "" && in.Role == RoleSecondary) {
			return in, true
		}
	}
	return Instance{}, false
}

// DSNEnvNames lists every dsn_env variable (for scrubbing them from hook environments).
func (c *Config) DSNEnvNames() []string {
	var out []string
	for _, in := range c.Instances {
		if in.DSNEnv != "" {
			out = append(out, in.DSNEnv)
		}
	}
	return out
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration document. The error lists
// every problem, one per line, each starting with the key.
func Parse(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	lines := map[int]string{}
	var errs []error
	walk(root.Content[0], reflect.TypeFor[file](), "", lines, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, typeErrors(err, lines)
	}
	return f.validate()
}

// secretKeys are keys people try to write secrets under.
var secretKeys = map[string]string{
	"dsn": "use dsn_env or dsn_file", "password": "use dsn_env or dsn_file",
	"connection_string": "use dsn_env or dsn_file", "token": "use token_file",
}

// walk reports unknown keys with their full path and records the key path
// of every line, so that decoding errors can name keys too.
func walk(n *yaml.Node, t reflect.Type, path string, lines map[int]string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, ok := lines[n.Line]; !ok {
			lines[n.Line] = path
		}
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[tag] = t.Field(i).Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := join(path, key)
			lines[n.Content[i].Line] = p
			ft, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("%s: unknown key (line %d)", p, n.Content[i].Line)
				if hint, secret := secretKeys[strings.ToLower(key)]; secret {
					msg += "; secrets are never written in the config: " + hint
				}
				*errs = append(*errs, errors.New(msg))
				continue
			}
			walk(n.Content[i+1], ft, p, lines, errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, e := range n.Content {
			walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			lines[n.Content[i].Line] = p
			walk(n.Content[i+1], t.Elem(), p, lines, errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeErrors rewrites yaml's "line N: cannot unmarshal …" messages to name the key.
func typeErrors(err error, lines map[int]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("decode: %w", err)
	}
	var errs []error
	for _, msg := range te.Errors {
		m := yamlLine.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, errors.New(msg))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		key := lines[n]
		if key == "" {
			key = "line " + m[1]
		}
		errs = append(errs, fmt.Errorf("%s: %s (line %s)", key, m[2], m[1]))
	}
	return errors.Join(errs...)
}

// problems collects validation errors.
type problems []error

func (p *problems) add(key, format string, a ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
}

// duration parses an optional duration string; def when absent.
func (p *problems) duration(key string, s *string, def time.Duration, allowZero bool) time.Duration {
	if s == nil {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(*s))
	switch {
	case err != nil:
		p.add(key, "%q is not a duration (write it like \"45s\", \"5m\" or \"1h30m\")", *s)
		return def
	case d < 0:
		p.add(key, "%s must not be negative", d)
	case d == 0 && !allowZero:
		p.add(key, "must be positive")
	}
	return d
}

var (
	groupPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	systemDBs      = []string{"master", "msdb", "model", "tempdb"}
)

func str(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func (f *file) validate() (*Config, error) {
	var p problems
	c := &Config{
		StateDir:        str(f.StateDir, ""),
		Mode:            str(f.Mode, DefaultMode),
		Group:           str(f.Group, DefaultGroup),
		Target:          str(f.Target, ""),
		Interval:        p.duration("interval", f.Interval, DefaultInterval, false),
		ConfirmAfter:    p.duration("confirm_after", f.ConfirmAfter, DefaultConfirmAfter, false),
		MaxDataLoss:     p.duration("max_data_loss", f.MaxDataLoss, DefaultMaxDataLoss, true),
		Cooldown:        p.duration("cooldown", f.Cooldown, DefaultCooldown, true),
		ApprovalTTL:     p.duration("approval_ttl", f.ApprovalTTL, DefaultApprovalTTL, false),
		MinFailedProbes: DefaultMinFailedProbes,
	}
	switch {
	case c.StateDir == "":
		p.add("state_dir", "is required (the directory for the status, the journal and signals/)")
	case !filepath.IsAbs(c.StateDir):
		p.add("state_dir", "%q must be an absolute path", c.StateDir)
	}
	c.HTTP.Listen = DefaultListen
	if f.HTTP != nil && f.HTTP.Listen != nil {
		c.HTTP.Listen = *f.HTTP.Listen
		if _, port, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			p.add("http.listen", "%q is not host:port", c.HTTP.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.add("http.listen", "%q has an invalid port", c.HTTP.Listen)
		}
	}
	if c.Interval > 0 && c.Interval < time.Second {
		p.add("interval", "%s is below the minimum of 1s", c.Interval)
	}
	if !slices.Contains([]string{"monitor", "approval", "auto"}, c.Mode) {
		p.add("mode", "%q is not monitor, approval or auto", c.Mode)
	}
	if !groupPattern.MatchString(c.Group) {
		p.add("group", "%q must be 1 to 64 letters, digits, _ or - (it is part of plan IDs)", c.Group)
	}
	c.HistorySize = DefaultHistorySize
	if f.HistorySize != nil {
		c.HistorySize = *f.HistorySize
		if c.HistorySize < 1 || c.HistorySize > 10000 {
			p.add("history_size", "%d is outside 1…10000", c.HistorySize)
		}
	}
	if f.MinFailedProbes != nil {
		c.MinFailedProbes = *f.MinFailedProbes
		if c.MinFailedProbes < 1 {
			p.add("min_failed_probes", "%d must be at least 1", c.MinFailedProbes)
		}
	}
	c.Databases = f.Databases
	if f.Databases == nil {
		c.Databases = []string{c.Group}
	}
	if len(c.Databases) == 0 {
		p.add("databases", "at least one database is required")
	}
	seen := map[string]string{}
	checkDBs := func(key string, list []string) {
		for i, d := range list {
			k := fmt.Sprintf("%s[%d]", key, i)
			if err := databaseName(d); err != nil {
				p.add(k, "%v", err)
				continue
			}
			if prev, dup := seen[strings.ToLower(d)]; dup {
				p.add(k, "%q is already listed as %s", d, prev)
				continue
			}
			seen[strings.ToLower(d)] = k
		}
	}
	checkDBs("databases", c.Databases)
	c.MonitoredDatabases = f.MonitoredDatabases
	checkDBs("monitored_databases", c.MonitoredDatabases)

	c.Instances = p.instances(f.Instances)
	if c.Target != "" {
		found := false
		for _, in := range c.Instances {
			if in.Name == c.Target {
				found = true
				if in.Role != RoleSecondary {
					p.add("target", "%q has role %s; the target must be a secondary", c.Target, in.Role)
				}
			}
		}
		if !found {
			p.add("target", "%q is not the name of a configured instance", c.Target)
		}
	}
	c.Observers = p.observers(f.Observers)
	if f.Signals != nil {
		c.Signals.OperatorsGroup = strings.TrimSpace(f.Signals.OperatorsGroup)
		if f.Signals.OperatorsGroup != "" && c.Signals.OperatorsGroup == "" {
			p.add("signals.operators_group", "must not be blank")
		}
	}
	if f.Hooks != nil {
		c.Hooks.PrePromote = p.hooks("hooks.pre_promote", f.Hooks.PrePromote)
		c.Hooks.PostPromote = p.hooks("hooks.post_promote", f.Hooks.PostPromote)
		c.Hooks.Fence = p.hooks("hooks.fence", f.Hooks.Fence)
	}
	c.Fence.Method = DefaultFenceMethod
	if f.Fence != nil && f.Fence.Method != nil {
		c.Fence.Method = *f.Fence.Method
	}
	switch c.Fence.Method {
	case FenceOffline, FenceSingleUser:
	case FenceHook:
		if len(c.Hooks.Fence) == 0 {
			p.add("fence.method", "is hook but hooks.fence lists no hook")
		}
	default:
		p.add("fence.method", "%q is not offline, single_user or hook", c.Fence.Method)
	}
	if ls := f.LogShipping; ls != nil {
		c.LogShipping.BackupThreshold = p.duration("log_shipping.backup_threshold", ls.BackupThreshold, 0, true)
		c.LogShipping.CopyThreshold = p.duration("log_shipping.copy_threshold", ls.CopyThreshold, 0, true)
		c.LogShipping.RestoreThreshold = p.duration("log_shipping.restore_threshold", ls.RestoreThreshold, 0, true)
	}
	c.Runbook = p.runbook(f.Runbook)
	if len(p) > 0 {
		return nil, errors.Join(p...)
	}
	return c, nil
}

// databaseName checks a database name: at most 128 characters (sysname), no
// control characters, brackets, quotes or semicolons, no surrounding blanks,
// not a system database.
func databaseName(n string) error {
	switch {
	case n == "":
		return errors.New("empty database name")
	case len([]rune(n)) > 128:
		return fmt.Errorf("%q is longer than 128 characters", n)
	case strings.TrimSpace(n) != n:
		return fmt.Errorf("%q has leading or trailing blanks", n)
	case slices.Contains(systemDBs, strings.ToLower(n)):
		return fmt.Errorf("%q is a system database", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) || strings.ContainsRune(`[]'";`, r) {
			return fmt.Errorf("%q contains the character %q", n, r)
		}
	}
	return nil
}

func (p *problems) instances(in []fileInstance) []Instance {
	if len(in) == 0 {
		p.add("instances", "at least one instance is required")
		return nil
	}
	out := make([]Instance, 0, len(in))
	names := map[string]int{}
	roles := map[string]int{}
	for i, fi := range in {
		k := fmt.Sprintf("instances[%d]", i)
		inst := Instance{Name: fi.Name, Site: fi.Site, Role: fi.Role, DSNEnv: fi.DSNEnv, DSNFile: fi.DSNFile,
			ConnectTimeout: p.duration(k+".connect_timeout", fi.ConnectTimeout, DefaultConnectTimeout, false),
			QueryTimeout:   p.duration(k+".query_timeout", fi.QueryTimeout, DefaultQueryTimeout, false)}
		switch {
		case strings.TrimSpace(fi.Name) == "":
			p.add(k+".name", "is required")
		default:
			if j, dup := names[strings.ToLower(fi.Name)]; dup {
				p.add(k+".name", "%q is already the name of instances[%d]", fi.Name, j)
			}
			names[strings.ToLower(fi.Name)] = i
		}
		if strings.TrimSpace(fi.Site) == "" {
			p.add(k+".site", "is required (A for the mirroring partners, B for the secondary)")
		}
		switch fi.Role {
		case RolePartner, RoleSecondary, RoleMonitor:
			roles[fi.Role]++
		case "":
			p.add(k+".role", "is required (partner, secondary or monitor)")
		default:
			p.add(k+".role", "%q is not partner, secondary or monitor", fi.Role)
		}
		switch {
		case fi.DSNEnv == "" && fi.DSNFile == "":
			p.add(k, "one of dsn_env or dsn_file is required")
		case fi.DSNEnv != "" && fi.DSNFile != "":
			p.add(k, "dsn_env and dsn_file are both set; keep one")
		case fi.DSNEnv != "" && !envNamePattern.MatchString(fi.DSNEnv):
			p.add(k+".dsn_env", "%q is not an environment variable name", fi.DSNEnv)
		case fi.DSNFile != "" && !filepath.IsAbs(fi.DSNFile):
			p.add(k+".dsn_file", "%q must be an absolute path", fi.DSNFile)
		}
		if fi.SourceAddress != "" {
			a, err := netip.ParseAddr(fi.SourceAddress)
			if err != nil {
				p.add(k+".source_address", "%q is not an IP address", fi.SourceAddress)
			}
			inst.SourceAddress = a
		}
		out = append(out, inst)
	}
	if roles[RolePartner] == 0 {
		p.add("instances", "no instance has role partner (the site-A mirroring partners)")
	}
	if roles[RoleSecondary] == 0 {
		p.add("instances", "no instance has role secondary (the log-shipping secondary to promote)")
	}
	return out
}

func (p *problems) observers(fo *fileObservers) Observers {
	o := Observers{MaxAge: DefaultObserverMaxAge}
	if fo == nil {
		return o
	}
	o.MaxAge = p.duration("observers.max_age", fo.MaxAge, DefaultObserverMaxAge, false)
	names := map[string]bool{}
	for i, fe := range fo.Endpoints {
		k := fmt.Sprintf("observers.endpoints[%d]", i)
		e := Observer{Name: fe.Name, URL: fe.URL, TokenFile: fe.TokenFile, CAFile: fe.CAFile,
			Timeout: p.duration(k+".timeout", fe.Timeout, DefaultObserverTimeout, false)}
		u, err := url.Parse(fe.URL)
		switch {
		case fe.URL == "":
			p.add(k+".url", "is required")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.add(k+".url", "%q is not an http:// or https:// URL", fe.URL)
		case u.User != nil:
			p.add(k+".url", "must not carry credentials; use token_file")
		default:
			if e.Name == "" {
				e.Name = u.Host
			}
		}
		if e.Name != "" {
			if names[e.Name] {
				p.add(k+".name", "%q is used twice", e.Name)
			}
			names[e.Name] = true
		}
		switch {
		case fe.TokenFile == "":
			p.add(k+".token_file", "is required (the file holding the observer's bearer token)")
		case !filepath.IsAbs(fe.TokenFile):
			p.add(k+".token_file", "%q must be an absolute path", fe.TokenFile)
		}
		switch {
		case fe.CAFile == "":
		case !filepath.IsAbs(fe.CAFile):
			p.add(k+".ca_file", "%q must be an absolute path", fe.CAFile)
		case err == nil && u.Scheme != "https":
			p.add(k+".ca_file", "is set but url %s is not https", fe.URL)
		}
		o.Endpoints = append(o.Endpoints, e)
	}
	if fo.Quorum != nil {
		o.Quorum = *fo.Quorum
		if o.Quorum < 1 || o.Quorum > len(fo.Endpoints) {
			p.add("observers.quorum", "%d must be between 1 and the number of endpoints (%d)", o.Quorum, len(fo.Endpoints))
		}
	} else {
		o.Quorum = len(o.Endpoints) // conservative: every observer must corroborate
	}
	return o
}

func (p *problems) hooks(key string, in []fileHook) []hook.Spec {
	var out []hook.Spec
	names := map[string]bool{}
	for i, fh := range in {
		k := fmt.Sprintf("%s[%d]", key, i)
		s := hook.Spec{Name: fh.Name, Command: fh.Command, Args: fh.Args, Env: fh.Env,
			Timeout: p.duration(k+".timeout", fh.Timeout, hook.DefaultTimeout, false)}
		if s.Name != "" && names[s.Name] {
			p.add(k+".name", "%q is used twice in %s", s.Name, key)
		}
		names[s.Name] = true
		if err := s.Validate(); err != nil {
			sub := strings.Split(err.Error(), "\n")
			sort.Strings(sub)
			for _, line := range sub {
				field, msg, _ := strings.Cut(line, ": ")
				p.add(k+"."+field, "%s", msg)
			}
		}
		out = append(out, s)
	}
	return out
}

func (p *problems) runbook(fr *fileRunbook) Runbook {
	r := Runbook{PollInterval: DefaultPollInterval, Timeouts: map[string]time.Duration{}}
	for k, v := range DefaultStepTimeouts {
		r.Timeouts[k] = v
	}
	if fr == nil {
		return r
	}
	r.PollInterval = p.duration("runbook.poll_interval", fr.PollInterval, DefaultPollInterval, false)
	keys := make([]string, 0, len(fr.Timeouts))
	for k := range fr.Timeouts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := DefaultStepTimeouts[k]; !ok {
			p.add("runbook.timeouts."+k, "unknown step (want one of %s)", strings.Join(RunbookSteps, ", "))
			continue
		}
		v := fr.Timeouts[k]
		r.Timeouts[k] = p.duration("runbook.timeouts."+k, &v, DefaultStepTimeouts[k], false)
	}
	return r
}

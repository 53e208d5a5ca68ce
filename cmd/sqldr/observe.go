package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/probes"
)

// newObserveCmd builds `sqldr observe`: the third-site observer (pkg/observer).
func newObserveCmd() *cobra.Command {
	var configPath string
	var check bool
	cmd := &cobra.Command{
		Use:   "observe --config FILE",
		Short: "Run the third-site observer: probe site A and serve the latest observation over HTTP",
		Long: `observe runs outside site B (a third site, or the witness host). On its own schedule it probes
the site-A instances with the same probes as the controller (reachability, mirroring role, whether
each protected database is ONLINE and writable) and serves the latest observation, with its own
timestamp, its age and a sequence number, at GET /v1/observation. Every request needs the bearer
token from token_file; the endpoint is read-only; TLS is enabled by tls.cert_file and tls.key_file.

The daemon lists observers under observers.endpoints and promotes automatically only when a quorum
of them freshly sees every site-A instance unreachable; one observer that sees site A serving vetoes.

See deploy/observer.example.yml for an annotated configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usagef("--config FILE is required")
			}
			st, err := loadObserveConfig(configPath)
			if err != nil {
				return err
			}
			if check {
				if err := st.checkFiles(os.LookupEnv); err != nil {
					return fmt.Errorf("config %s:\n%w", configPath, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (observer %s, %d instances, %d databases)\n",
					configPath, st.server.Name, len(st.probe.Targets), len(st.probe.Databases))
				return nil
			}
			log := newObserveLogger(cmd.ErrOrStderr(), st.logLevel)
			defer func() { _ = log.Sync() }()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runObserver(ctx, log, st, clock.RealClock{}, nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "observer configuration file (YAML)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration and exit")
	return cmd
}

// newObserveLogger builds the observer's JSON logger on w, without sampling.
func newObserveLogger(w io.Writer, level zapcore.Level) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core)
}

// runObserver starts the prober and the observer server and runs until ctx ends. started, if not
// nil, receives the server once it listens.
func runObserver(ctx context.Context, log *zap.Logger, st observeSettings, clk clock.WithTicker, started func(*observer.Server)) error {
	srv, closeProber, err := startObserver(log, st, clk)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeProber(); cerr != nil {
			log.Warn("observer_close_failed", zap.Error(cerr))
		}
	}()
	if started != nil {
		started(srv)
	}
	return srv.Run(ctx)
}

// startObserver builds the prober (dialing from the source address, if one is set) and the server
// with its metrics. The returned function closes the prober's pools.
func startObserver(log *zap.Logger, st observeSettings, clk clock.WithTicker) (*observer.Server, func() error, error) {
	popts := st.probe
	if st.sourceAddr.IsValid() {
		popts.Targets = append([]probes.Target(nil), popts.Targets...)
		for i := range popts.Targets {
			popts.Targets[i].SourceAddress = st.sourceAddr
		}
	}
	p, err := probes.New(log, popts, clk)
	if err != nil {
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	sopts := st.server
	sopts.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv, err := observer.NewServer(log, sopts, observeProberSource{p}, clk)
	if err != nil {
		_ = p.Close()
		return nil, nil, err
	}
	reg.MustRegister(srv, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return srv, p.Close, nil
}

// observeProberSource observes site A with a probes.Prober.
type observeProberSource struct{ p *probes.Prober }

// Observe implements observer.Source.
func (s observeProberSource) Observe(ctx context.Context) []observer.Instance {
	return observeInstances(s.p.Probe(ctx))
}

// observeInstances converts a snapshot to the observer's wire format.
func observeInstances(snap *probes.Snapshot) []observer.Instance {
	out := make([]observer.Instance, 0, len(snap.Instances))
	for k := range snap.Instances {
		in := &snap.Instances[k]
		oi := observer.Instance{Name: in.Name, Reachability: observeReachability(in.Reachability),
			SQLErrorNumber: in.SQLErrorNumber, Error: in.Err}
		for j := range in.Databases {
			d := &in.Databases[j]
			od := observer.Database{Name: d.Name, Exists: d.Exists, Writable: d.Writable()}
			if d.Exists {
				od.State = d.State.String()
			}
			if d.Mirroring.Role != probes.MirroringRoleNone {
				od.MirroringRole = strings.ToLower(d.Mirroring.Role.String())
			}
			oi.Databases = append(oi.Databases, od)
		}
		out = append(out, oi)
	}
	return out
}

func observeReachability(r probes.Reachability) observer.Reachability {
	switch r {
	case probes.ReachUp:
		return observer.ReachUp
	case probes.ReachUnreachable:
		return observer.ReachUnreachable
	case probes.ReachRefusing:
		return observer.ReachRefusing
	default:
		return observer.ReachUnknown
	}
}

// Observer configuration defaults.
const (
	defaultObserveInterval = observer.DefaultInterval
	defaultObserveListen   = observer.DefaultAddr
)

// observeFile is the observer's configuration file as the user writes it (deploy/observer.example.yml).
type observeFile struct {
	Name          string            `yaml:"name"`
	Listen        string            `yaml:"listen"`
	TokenFile     string            `yaml:"token_file"`
	TLS           *observeFileTLS   `yaml:"tls"`
	Interval      *string           `yaml:"interval"`
	Timeout       *string           `yaml:"timeout"`
	SourceAddress string            `yaml:"source_address"`
	Databases     []string          `yaml:"databases"`
	Instances     []observeFileInst `yaml:"instances"`
	LogLevel      string            `yaml:"log_level"`
}

type observeFileTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type observeFileInst struct {
	Name           string  `yaml:"name"`
	DSNEnv         string  `yaml:"dsn_env"`
	DSNFile        string  `yaml:"dsn_file"`
	ConnectTimeout *string `yaml:"connect_timeout"`
	QueryTimeout   *string `yaml:"query_timeout"`
}

// observeSettings is the validated configuration.
type observeSettings struct {
	server     observer.ServerOptions
	probe      probes.Options
	sourceAddr netip.Addr
	logLevel   zapcore.Level
}

// loadObserveConfig reads and validates the observer's configuration file.
func loadObserveConfig(path string) (observeSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return observeSettings{}, fmt.Errorf("read config: %w", err)
	}
	st, err := parseObserveConfig(data)
	if err != nil {
		return observeSettings{}, fmt.Errorf("config %s:\n%w", path, err)
	}
	return st, nil
}

var observeSecretKeys = map[string]string{"dsn": "dsn_env or dsn_file", "password": "dsn_env or dsn_file",
	"connection_string": "dsn_env or dsn_file", "token": "token_file"}

var (
	observeYAMLUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	observeYAMLLine         = regexp.MustCompile(`^line (\d+): (.*)$`)
	observeEnvName          = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseObserveConfig decodes strictly and validates, reporting every problem at once, one per line,
// each naming the key.
func parseObserveConfig(data []byte) (observeSettings, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return observeSettings{}, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(root.Content) == 0 {
		return observeSettings{}, errors.New("the file is empty")
	}
	keys := map[int]string{}
	observeYAMLKeyPaths(root.Content[0], "", keys)

	var f observeFile
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return observeSettings{}, fmt.Errorf("decode: %w", err)
		}
		// yaml keeps decoding after a type error: report those and go on validating the rest.
		for _, msg := range te.Errors {
			errs = append(errs, observeYAMLProblem(msg, keys))
		}
	}
	st, verrs := f.validate()
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		return observeSettings{}, errors.Join(errs...)
	}
	return st, nil
}

// observeYAMLProblem rewrites a yaml decoding message to name the key.
func observeYAMLProblem(msg string, keys map[int]string) error {
	if m := observeYAMLUnknownField.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		key := keys[n]
		if key == "" {
			key = m[2]
		}
		s := fmt.Sprintf("%s: unknown key (line %s)", key, m[1])
		if hint, ok := observeSecretKeys[strings.ToLower(m[2])]; ok {
			s += "; secrets are never written in the config: use " + hint
		}
		return errors.New(s)
	}
	if m := observeYAMLLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if key := keys[n]; key != "" {
			return fmt.Errorf("%s: %s (line %s)", key, m[2], m[1])
		}
	}
	return errors.New(msg)
}

// observeYAMLKeyPaths records the key path of every line that holds a key or a sequence item.
func observeYAMLKeyPaths(n *yaml.Node, path string, keys map[int]string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			keys[n.Content[i].Line] = p
			observeYAMLKeyPaths(n.Content[i+1], p, keys)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if _, ok := keys[e.Line]; !ok {
				keys[e.Line] = p
			}
			observeYAMLKeyPaths(e, p, keys)
		}
	}
}

// validate checks every key and builds the settings; it returns every problem found.
func (f *observeFile) validate() (observeSettings, []error) {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	dur := func(key string, s *string, def time.Duration) time.Duration {
		if s == nil {
			return def
		}
		d, err := time.ParseDuration(strings.TrimSpace(*s))
		switch {
		case err != nil:
			bad(key, "%q is not a duration (write it like \"10s\" or \"1m\")", *s)
			return def
		case d <= 0:
			bad(key, "%s must be positive", d)
			return def
		}
		return d
	}
	var st observeSettings

	switch {
	case f.Name == "":
		bad("name", "is required (it names this observer in the daemon's status and logs)")
	case strings.IndexFunc(f.Name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		bad("name", "%q must not contain white space", f.Name)
	}
	st.server.Name = f.Name

	st.server.Addr = f.Listen
	if st.server.Addr == "" {
		st.server.Addr = defaultObserveListen
	} else if _, port, err := net.SplitHostPort(f.Listen); err != nil {
		bad("listen", "%q is not host:port", f.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("listen", "%q: the port must be a number from 0 to 65535", f.Listen)
	}

	if f.TokenFile == "" {
		bad("token_file", "is required: the file holding the bearer token clients must present")
	}
	st.server.TokenFile = f.TokenFile

	if f.TLS != nil {
		if (f.TLS.CertFile == "") != (f.TLS.KeyFile == "") {
			bad("tls", "cert_file and key_file must be given together")
		}
		st.server.TLSCertFile, st.server.TLSKeyFile = f.TLS.CertFile, f.TLS.KeyFile
	}

	st.server.Interval = dur("interval", f.Interval, defaultObserveInterval)

	if f.SourceAddress != "" {
		a, err := netip.ParseAddr(f.SourceAddress)
		if err != nil {
			bad("source_address", "%q is not an IP address", f.SourceAddress)
		}
		st.sourceAddr = a
	}

	if len(f.Databases) == 0 {
		bad("databases", "at least one protected database is required")
	}
	seenDB := map[string]bool{}
	for i, d := range f.Databases {
		if err := probes.ValidateDatabaseName(d); err != nil {
			bad(fmt.Sprintf("databases[%d]", i), "%v", err)
		} else if seenDB[strings.ToLower(d)] {
			bad(fmt.Sprintf("databases[%d]", i), "%q is listed twice", d)
		}
		seenDB[strings.ToLower(d)] = true
	}
	st.probe.Databases = f.Databases

	if len(f.Instances) == 0 {
		bad("instances", "at least one site-A instance is required")
	}
	seen := map[string]bool{}
	for i, in := range f.Instances {
		k := fmt.Sprintf("instances[%d]", i)
		switch {
		case in.Name == "":
			bad(k+".name", "is required")
		case seen[strings.ToLower(in.Name)]:
			bad(k+".name", "%q is listed twice", in.Name)
		}
		seen[strings.ToLower(in.Name)] = true
		switch {
		case in.DSNEnv == "" && in.DSNFile == "":
			bad(k, "one of dsn_env or dsn_file is required (the DSN is never written in the config)")
		case in.DSNEnv != "" && in.DSNFile != "":
			bad(k, "dsn_env and dsn_file are exclusive; give one")
		case in.DSNEnv != "" && !observeEnvName.MatchString(in.DSNEnv):
			bad(k+".dsn_env", "%q is not an environment variable name", in.DSNEnv)
		}
		st.probe.Targets = append(st.probe.Targets, probes.Target{Name: in.Name, Site: probes.SiteA, Role: probes.RolePartner,
			DSNEnv: in.DSNEnv, DSNFile: in.DSNFile,
			ConnectTimeout: dur(k+".connect_timeout", in.ConnectTimeout, probes.DefaultConnectTimeout),
			QueryTimeout:   dur(k+".query_timeout", in.QueryTimeout, probes.DefaultQueryTimeout)})
	}

	// An observation must not cut a probe short: a probe ended by the observation's deadline would
	// report a slow instance unreachable. Each instance is bounded by its own timeouts.
	var longest time.Duration
	longestKey := ""
	for i, tg := range st.probe.Targets {
		if d := tg.ConnectTimeout + tg.QueryTimeout; d > longest {
			longest, longestKey = d, fmt.Sprintf("instances[%d]", i)
		}
	}
	st.server.Timeout = dur("timeout", f.Timeout, longest)
	if f.Timeout != nil && st.server.Timeout < longest {
		bad("timeout", "%s is shorter than %s.connect_timeout + query_timeout (%s)", st.server.Timeout, longestKey, longest)
	}

	st.logLevel = zapcore.InfoLevel
	if f.LogLevel != "" {
		if err := st.logLevel.UnmarshalText([]byte(f.LogLevel)); err != nil || st.logLevel > zapcore.ErrorLevel {
			bad("log_level", "%q: want debug, info, warn or error", f.LogLevel)
		}
	}
	return st, errs
}

// checkFiles checks what the configuration refers to: the token file, the TLS files and each
// instance's DSN source (the DSN's content is checked when the prober starts).
func (st observeSettings) checkFiles(lookupEnv func(string) (string, bool)) error {
	var errs []error
	if _, err := observer.ReadToken(st.server.TokenFile, "token_file"); err != nil {
		errs = append(errs, err)
	}
	for _, f := range [][2]string{{"tls.cert_file", st.server.TLSCertFile}, {"tls.key_file", st.server.TLSKeyFile}} {
		if f[1] == "" {
			continue
		}
		if _, err := os.Stat(f[1]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f[0], err))
		}
	}
	for i, t := range st.probe.Targets {
		k := fmt.Sprintf("instances[%d]", i)
		if t.DSNEnv != "" {
			if v, ok := lookupEnv(t.DSNEnv); !ok || strings.TrimSpace(v) == "" {
				errs = append(errs, fmt.Errorf("%s.dsn_env: environment variable %s is not set", k, t.DSNEnv))
			}
			continue
		}
		if _, err := os.Stat(t.DSNFile); err != nil {
			errs = append(errs, fmt.Errorf("%s.dsn_file: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

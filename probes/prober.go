package probes

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/pkg/dsn"
	"github.com/sqldr/sqldr/pkg/sqlerr"
)

// Defaults for Options and Target.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultQueryTimeout   = 10 * time.Second
	DefaultRecentBackups  = 32
	DefaultMaxOpenConns   = 2
)

// Target is one SQL Server instance to probe. The DSN is never written inline: it is read from an
// environment variable (DSNEnv) or a file (DSNFile), exactly one of them. TLS options (encrypt,
// certificate, hostNameInCertificate …) are passed through in the DSN.
type Target struct {
	// Name identifies the instance in snapshots, logs and metrics.
	Name string
	// Site is the data centre ("A", "B" or another label).
	Site Site
	// Role is the configured role: partner, secondary or monitor.
	Role Role
	// DSNEnv names the environment variable that holds the go-mssqldb DSN.
	DSNEnv string
	// DSNFile is the path of a file that holds the DSN (surrounding white space is trimmed).
	DSNFile string
	// ConnectTimeout bounds getting a connection: dialing and login, or waiting for a pooled one.
	// Default 5s.
	ConnectTimeout time.Duration
	// QueryTimeout bounds the probe batch once connected. Default 10s. A probe never takes longer
	// than ConnectTimeout + QueryTimeout, even against a server that ignores cancellation.
	QueryTimeout time.Duration
	// SourceAddress, when valid, is the local IP address connections to this target leave from
	// (`source_address`). A third-site observer and the controller dial from different addresses,
	// so that a partition can cut one path and not the other.
	SourceAddress netip.Addr
}

// Options configures a Prober.
type Options struct {
	// Targets are the instances to probe.
	Targets []Target
	// Databases are the protected database names.
	Databases []string
	// RecentBackups is how many of its newest log backups per database a partner reports. Default 32.
	RecentBackups int
	// MaxOpenConns bounds each target's connection pool. Default 2.
	MaxOpenConns int
	// WrapConnector, if set, wraps each target's connector (tests count round trips with it).
	WrapConnector func(driver.Connector) driver.Connector
}

// Validate reports every problem in the options at once, each naming the field.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Targets) == 0 {
		errs = append(errs, errors.New("targets: at least one target is required"))
	}
	seen := map[string]bool{}
	for i, t := range o.Targets {
		where := fmt.Sprintf("targets[%d]", i)
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", where))
		} else if seen[t.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate target name %q", where, t.Name))
		}
		seen[t.Name] = true
		if t.Site == "" {
			errs = append(errs, fmt.Errorf("%s.site: must not be empty", where))
		}
		if t.Role != RolePartner && t.Role != RoleSecondary && t.Role != RoleMonitor {
			errs = append(errs, fmt.Errorf("%s.role: must be partner, secondary or monitor", where))
		}
		if (t.DSNEnv == "") == (t.DSNFile == "") {
			errs = append(errs, fmt.Errorf("%s: exactly one of dsn_env and dsn_file is required", where))
		}
		if t.ConnectTimeout < 0 {
			errs = append(errs, fmt.Errorf("%s.connect_timeout: must not be negative", where))
		}
		if t.QueryTimeout < 0 {
			errs = append(errs, fmt.Errorf("%s.query_timeout: must not be negative", where))
		}
	}
	if len(o.Databases) == 0 {
		errs = append(errs, errors.New("databases: at least one protected database is required"))
	}
	// sp_executesql accepts at most 2,100 parameters; one per database.
	if len(o.Databases) > 2000 {
		errs = append(errs, fmt.Errorf("databases: %d names, at most 2000 are supported", len(o.Databases)))
	}
	dbSeen := map[string]bool{}
	for i, n := range o.Databases {
		if err := ValidateDatabaseName(n); err != nil {
			errs = append(errs, fmt.Errorf("databases[%d]: %w", i, err))
		}
		if dbSeen[strings.ToLower(n)] {
			errs = append(errs, fmt.Errorf("databases[%d]: duplicate database %q", i, n))
		}
		dbSeen[strings.ToLower(n)] = true
	}
	if o.RecentBackups < 0 || o.RecentBackups > 1000 {
		errs = append(errs, fmt.Errorf("recent_backups: %d is outside 0…1000", o.RecentBackups))
	}
	if o.MaxOpenConns < 0 {
		errs = append(errs, errors.New("max_open_conns: must not be negative"))
	}
	return errors.Join(errs...)
}

// ValidateDatabaseName checks a protected database name: a regular identifier of at most 128
// characters (sysname) with no control characters, brackets or quotes. The names are sent as
// parameters, never spliced into T-SQL; this check keeps configuration mistakes visible.
func ValidateDatabaseName(n string) error {
	if n == "" {
		return errors.New("database name must not be empty")
	}
	if len([]rune(n)) > 128 {
		return fmt.Errorf("database name %q is longer than 128 characters", n)
	}
	if strings.TrimSpace(n) != n {
		return fmt.Errorf("database name %q has leading or trailing white space", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) || strings.ContainsRune(`[]'";`, r) {
			return fmt.Errorf("database name %q contains the character %q", n, r)
		}
	}
	return nil
}

// Prober probes all targets concurrently, once per call to Probe. It is safe for concurrent use.
type Prober struct {
	log     *zap.Logger
	clock   clock.PassiveClock
	dbs     []string
	args    []any
	targets []*target
	// inflight counts driver calls still running after their probe gave up on them (a server that
	// does not acknowledge a cancel); Close waits for them.
	inflight sync.WaitGroup
}

type target struct {
	Target
	db    *sql.DB
	batch batch
}

// New builds a Prober: it validates the options, reads each DSN, checks that it connects to master,
// and opens a bounded pool per target (no connection is made until the first probe).
func New(log *zap.Logger, opts Options, clk clock.PassiveClock) (*Prober, error) {
	return newProber(log, opts, clk, os.LookupEnv, os.ReadFile)
}

func newProber(log *zap.Logger, opts Options, clk clock.PassiveClock,
	lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (*Prober, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("probe options: %w", err)
	}
	if opts.RecentBackups == 0 {
		opts.RecentBackups = DefaultRecentBackups
	}
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = DefaultMaxOpenConns
	}
	p := &Prober{log: log.Named("probes"), clock: clk, dbs: append([]string(nil), opts.Databases...)}
	for i, n := range opts.Databases {
		p.args = append(p.args, sql.Named(fmt.Sprintf("p%d", i+1), n))
	}
	for _, t := range opts.Targets {
		if t.ConnectTimeout == 0 {
			t.ConnectTimeout = DefaultConnectTimeout
		}
		if t.QueryTimeout == 0 {
			t.QueryTimeout = DefaultQueryTimeout
		}
		raw, err := dsn.Read(dsn.Source{Env: t.DSNEnv, File: t.DSNFile}, lookupEnv, readFile)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		cfg, err := dsn.ParseMaster(raw)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		cfg.DialTimeout = t.ConnectTimeout
		// Bounds every read and write on the connection, so a hung server cannot hold a probe
		// beyond its timeout even while the driver drains a cancelled request.
		cfg.ConnTimeout = t.ConnectTimeout + t.QueryTimeout
		mc := dsn.Connector(cfg, t.SourceAddress)
		var conn driver.Connector = mc
		if opts.WrapConnector != nil {
			conn = opts.WrapConnector(conn)
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(opts.MaxOpenConns)
		db.SetMaxIdleConns(1)
		db.SetConnMaxIdleTime(5 * time.Minute)
		p.targets = append(p.targets, &target{Target: t, db: db,
			batch: buildBatch(t.Role, len(opts.Databases), opts.RecentBackups)})
	}
	return p, nil
}

// Close waits for abandoned driver calls to end (each is bounded by the target's timeouts) and
// closes every pool. Probe must not be called after Close.
func (p *Prober) Close() error {
	p.inflight.Wait()
	var errs []error
	for _, t := range p.targets {
		if err := t.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close pool of %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Probe reads every target concurrently, each bounded by its own connect and query timeouts, and returns
// the cycle's Snapshot. It never fails as a whole: each instance's outcome is in its InstanceSnapshot.
func (p *Prober) Probe(ctx context.Context) *Snapshot {
	s := &Snapshot{Time: p.clock.Now(), Instances: make([]InstanceSnapshot, len(p.targets))}
	var wg sync.WaitGroup
	for i, t := range p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Instances[i] = p.probeOne(ctx, t)
		}()
	}
	wg.Wait()
	derivePending(s)
	return s
}

func (p *Prober) probeOne(ctx context.Context, t *target) InstanceSnapshot {
	in := InstanceSnapshot{Name: t.Name, Site: t.Site, Role: t.Role}
	in.Started = p.clock.Now()
	sets, err := p.runBounded(ctx, t)
	in.Received = p.clock.Now()
	in.RTT = p.clock.Since(in.Started)
	malformed := false
	if err == nil {
		var res parsed
		res, err = parseBatch(t.batch, p.dbs, sets)
		if err == nil {
			in.Reachability = ReachUp
			in.ServerName, in.Version, in.ServerUTC, in.Databases, in.byName = res.serverName, res.version, res.serverUTC, res.databases, res.byName
			return in
		}
		malformed = true
		err = fmt.Errorf("probe %s: %w", t.Name, err)
	}
	in.Err = err.Error()
	in.ErrClass = sqlerr.Classify(err)
	switch {
	case sqlerr.ServerAnswered(err):
		in.Reachability = ReachRefusing
		in.SQLErrorNumber, _ = sqlerr.Number(err)
	case malformed:
		// A malformed answer (wrong columns or types) came from something that speaks TDS: alive,
		// not usable.
		in.Reachability = ReachRefusing
	case in.ErrClass == sqlerr.ClassConnectivity:
		in.Reachability = ReachUnreachable
	default:
		// Canceled by the caller, or an error nobody classified (e.g. a TLS failure): say nothing.
		in.Reachability = ReachUnknown
	}
	// Debug: a down instance fails every cycle; the snapshot carries the error and the controller
	// logs the transitions it causes.
	p.log.Debug("probe_failed",
		zap.String("instance", t.Name), zap.String("site", string(t.Site)),
		zap.String("reachability", in.Reachability.String()), zap.String("error_class", in.ErrClass.String()),
		zap.Int32("sql_error_number", in.SQLErrorNumber), zap.Duration("rtt", in.RTT), zap.Error(err))
	return in
}

// runBounded connects (bounded by the connect timeout) and runs the batch (bounded by the query
// timeout), returning when the query's deadline passes even if the driver does not: after a cancel,
// go-mssqldb waits for the server to acknowledge the ATTENTION (up to 5s, or the connection's read
// deadline), and a hung server never does. The abandoned call finishes in the background and the
// connection is discarded by the driver.
func (p *Prober) runBounded(ctx context.Context, t *target) ([]ResultSet, error) {
	cctx, ccancel := context.WithTimeout(ctx, t.ConnectTimeout)
	conn, err := t.db.Conn(cctx)
	ccancel()
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	type result struct {
		sets []ResultSet
		err  error
	}
	ch := make(chan result, 1)
	qctx, qcancel := context.WithTimeout(ctx, t.QueryTimeout)
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		defer qcancel()
		sets, err := runBatch(qctx, conn, t.batch.text, p.args)
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("release connection: %w", cerr)
		}
		ch <- result{sets, err}
	}()
	select {
	case r := <-ch:
		return r.sets, r.err
	case <-qctx.Done():
		select {
		case r := <-ch: // finished at the same moment: keep the answer
			return r.sets, r.err
		default:
			return nil, fmt.Errorf("run probe batch: %w", context.Cause(qctx))
		}
	}
}

// queryer is the part of *sql.Conn (or *sql.DB) that runBatch uses.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// runBatch sends one batch (one round trip) and reads every result set into driver values.
func runBatch(ctx context.Context, db queryer, text string, args []any) (sets []ResultSet, err error) {
	rows, err := db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("run probe batch: %w", err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close probe batch: %w", cerr)
		}
	}()
	for {
		cols, err := rows.Columns()
		if err != nil {
			return nil, fmt.Errorf("read probe columns: %w", err)
		}
		set := ResultSet{Columns: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, fmt.Errorf("scan probe row: %w", err)
			}
			set.Rows = append(set.Rows, vals)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read probe rows: %w", err)
		}
		sets = append(sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read probe result sets: %w", err)
	}
	return sets, nil
}

// derivePending fills PendingLogs of each secondary database from the partners' backups, when a
// principal answered in this cycle.
func derivePending(s *Snapshot) {
	for k := range s.Instances {
		in := &s.Instances[k]
		if in.Role != RoleSecondary || !in.Up() {
			continue
		}
		for d := range in.Databases {
			sd := &in.Databases[d]
			sd.PendingLogs = nil
			if _, _, ok := s.Principal(sd.Name); !ok || !sd.Exists {
				continue
			}
			lastCopied := ""
			if sd.LSSecondary != nil {
				lastCopied = sd.LSSecondary.LastCopiedFile
			}
			sd.PendingLogs = Pending(partnerBackups(s, sd.Name), RestorePosition(sd), lastCopied)
		}
	}
}

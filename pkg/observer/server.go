package observer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Server defaults.
const (
	DefaultAddr     = "127.0.0.1:9725"
	DefaultInterval = 10 * time.Second
	// shutdownTimeout bounds a graceful shutdown: requests in flight get this long to finish.
	shutdownTimeout = 5 * time.Second
)

// Source observes site A once: one Instance per configured site-A instance. It must return within
// the context's deadline (each instance bounded by its own timeout) and never fail as a whole; an
// instance that could not be probed is reported with its reachability.
type Source interface {
	Observe(ctx context.Context) []Instance
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) []Instance

// Observe calls f.
func (f SourceFunc) Observe(ctx context.Context) []Instance { return f(ctx) }

// ServerOptions configure a Server.
type ServerOptions struct {
	// Name is the observer's name, reported in every answer. Required.
	Name string
	// Addr is the listen address (host:port; port 0 picks a free port). Default 127.0.0.1:9725.
	Addr string
	// TokenFile holds the bearer token clients must present. Required.
	TokenFile string
	// TLSCertFile is the PEM certificate (chain) that enables TLS, with TLSKeyFile (both or neither).
	// They are read at start; a renewed certificate takes effect on restart.
	TLSCertFile string
	// TLSKeyFile is the PEM private key of TLSCertFile.
	TLSKeyFile string
	// Interval is the time between the starts of two observations. Default 10s.
	Interval time.Duration
	// Timeout bounds one observation. Default: Interval.
	Timeout time.Duration
	// Metrics, if set, is served at /metrics (the token is required there too).
	Metrics http.Handler
}

// Validate reports every problem at once, each naming the option.
func (o *ServerOptions) Validate() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("token_file: a token file is required"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file must be given together"))
	}
	if o.Interval < 0 {
		errs = append(errs, errors.New("interval: must not be negative"))
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// Server observes site A on its own schedule and serves the latest Report over HTTP (read-only).
// Endpoints: GET /v1/observation (the Report; bearer token required), GET /metrics (if configured;
// token required), GET /healthz (no token: "ok"). A wrong or missing token gets 401 and is counted;
// a method other than GET or HEAD gets 405; no observation yet gets 503.
type Server struct {
	log    *zap.Logger
	opts   ServerOptions
	src    Source
	clk    clock.WithTicker
	token  tokenMatcher
	bootID string
	ln     net.Listener
	http   *http.Server

	mu       sync.Mutex
	latest   *Report   // without AgeSeconds (computed per answer)
	finished time.Time // observer clock when latest finished
	ran      bool

	requests     sync.Map // status code label → *atomic.Uint64
	unauthorized atomic.Uint64
	observations atomic.Uint64
}

// requestCodes are the status codes counted with their own label (others count as "other").
var requestCodes = []string{"200", "401", "404", "405", "503", "other"}

// NewServer validates the options, reads the token and the TLS key pair, and listens. Call Run to
// start observing and serving, or Close to release the listener without running.
func NewServer(log *zap.Logger, opts ServerOptions, src Source, clk clock.WithTicker) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("observer options: %w", err)
	}
	if src == nil {
		return nil, errors.New("observer: a source is required")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout == 0 {
		opts.Timeout = opts.Interval
	}
	tok, err := ReadToken(opts.TokenFile, "token_file")
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("observer: boot id: %w", err)
	}
	s := &Server{log: log.Named("observer"), opts: opts, src: src, clk: clk, token: newTokenMatcher(tok),
		bootID: hex.EncodeToString(b[:])}
	for _, c := range requestCodes {
		s.requests.Store(c, new(atomic.Uint64))
	}
	var tlsCfg *tls.Config
	if opts.TLSCertFile != "" {
		pair, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load cert_file %s and key_file %s: %w", opts.TLSCertFile, opts.TLSKeyFile, err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// BootID identifies this run of the server in its reports.
func (s *Server) BootID() string { return s.bootID }

// Unauthorized counts the requests rejected with 401.
func (s *Server) Unauthorized() uint64 { return s.unauthorized.Load() }

// Latest returns the latest report (AgeSeconds set to its age now) and whether there is one.
func (s *Server) Latest() (Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == nil {
		return Report{}, false
	}
	r := *s.latest
	r.AgeSeconds = s.clk.Since(s.finished).Seconds()
	if r.AgeSeconds < 0 {
		r.AgeSeconds = 0
	}
	return r, true
}

// Close releases the listener of a server that was never run.
func (s *Server) Close() error {
	s.mu.Lock()
	ran := s.ran
	s.mu.Unlock()
	if ran {
		return nil
	}
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close listener: %w", err)
	}
	return nil
}

// Run observes every Interval (the first time at once) and serves HTTP until ctx ends, then shuts
// down gracefully: it stops accepting, lets requests in flight finish (at most 5s) and waits for an
// observation in progress to be cancelled. It returns nil after a shutdown caused by ctx.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("observer: Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.loop(loopCtx)
	}()
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr <- s.http.Serve(s.ln)
	}()
	s.log.Info("observer_started", zap.String("observer", s.opts.Name), zap.String("addr", s.Addr()),
		zap.Bool("tls", s.opts.TLSCertFile != ""), zap.Duration("interval", s.opts.Interval), zap.String("boot_id", s.bootID))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	stopLoop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := s.http.Shutdown(sctx); serr != nil {
		// Requests still in flight after the grace period are cut.
		_ = s.http.Close()
		if err == nil {
			err = fmt.Errorf("shutdown: %w", serr)
		}
	}
	wg.Wait()
	s.log.Info("observer_stopped", zap.String("observer", s.opts.Name))
	return err
}

// loop observes at once and then on every tick until ctx ends.
func (s *Server) loop(ctx context.Context) {
	t := s.clk.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		s.observe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// observe runs one observation and, if it produced a usable result, publishes it with the next
// sequence number.
func (s *Server) observe(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	start := s.clk.Now()
	instances := s.src.Observe(octx)
	finished := s.clk.Now()
	if ctx.Err() != nil {
		return // shutting down: an observation cut short proves nothing
	}
	if len(instances) == 0 {
		s.log.Error("observation_empty", zap.String("observer", s.opts.Name))
		return
	}
	s.mu.Lock()
	seq := uint64(1)
	var prev []Instance
	if s.latest != nil {
		seq = s.latest.Sequence + 1
		prev = s.latest.Instances
	}
	s.latest = &Report{Observer: s.opts.Name, BootID: s.bootID, Sequence: seq, ObservedAt: finished.UTC(),
		DurationSeconds: finished.Sub(start).Seconds(), Instances: append([]Instance(nil), instances...)}
	s.finished = finished
	s.mu.Unlock()
	s.observations.Add(1)
	for _, in := range instances {
		from := ReachUnknown
		for _, p := range prev {
			if p.Name == in.Name {
				from = p.Reachability
			}
		}
		if from != in.Reachability || prev == nil {
			s.log.Info("instance_reachability_changed", zap.String("observer", s.opts.Name), zap.String("instance", in.Name),
				zap.String("from", string(from)), zap.String("to", string(in.Reachability)),
				zap.Int32("sql_error_number", in.SQLErrorNumber), zap.Uint64("sequence", seq))
		}
	}
	s.log.Debug("observation_done", zap.String("observer", s.opts.Name), zap.Uint64("sequence", seq),
		zap.Duration("duration", finished.Sub(start)))
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) count(code int) {
	label := strconv.Itoa(code)
	c, ok := s.requests.Load(label)
	if !ok {
		c, _ = s.requests.Load("other")
	}
	c.(*atomic.Uint64).Add(1)
}

func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		s.serve(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		s.count(rec.code)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path != "/healthz" && !s.token.match(r.Header.Get("Authorization")) {
		s.unauthorized.Add(1)
		s.log.Warn("observer_unauthorized", zap.String("remote_addr", r.RemoteAddr), zap.String("path", r.URL.Path),
			zap.Bool("token_present", r.Header.Get("Authorization") != ""))
		w.Header().Set("WWW-Authenticate", `Bearer realm="sqldr-observer"`)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "read-only: only GET and HEAD are allowed")
		return
	}
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	case Path:
		rep, ok := s.Latest()
		if !ok {
			writeError(w, http.StatusServiceUnavailable, "no observation yet")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		if err := enc.Encode(rep); err != nil {
			s.log.Debug("observer_write_failed", zap.Error(err))
		}
	case "/metrics":
		if s.opts.Metrics == nil {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		s.opts.Metrics.ServeHTTP(w, r)
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	_, _ = w.Write(append(b, '\n'))
}

var (
	descServerRequests = prometheus.NewDesc("sqldr_observer_http_requests_total",
		"HTTP requests the observer answered, by status code (401: wrong or missing token).", []string{"code"}, nil)
	descServerObservations = prometheus.NewDesc("sqldr_observer_observations_total",
		"Observations of site A the observer completed.", nil, nil)
	descServerSequence = prometheus.NewDesc("sqldr_observer_observation_sequence",
		"Sequence number of the observer's latest observation (0: none yet).", nil, nil)
	descServerAge = prometheus.NewDesc("sqldr_observer_observation_age_seconds",
		"Age of the observer's latest observation on its own clock.", nil, nil)
	descServerReach = prometheus.NewDesc("sqldr_observer_instance_reachability",
		"Reachability of each site-A instance in the latest observation (one-hot).", []string{"instance", "reachability"}, nil)
)

var reachabilities = []Reachability{ReachUnknown, ReachUp, ReachUnreachable, ReachRefusing}

// Describe implements prometheus.Collector.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descServerRequests, descServerObservations, descServerSequence, descServerAge, descServerReach} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	for _, c := range requestCodes {
		v, _ := s.requests.Load(c)
		ch <- prometheus.MustNewConstMetric(descServerRequests, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), c)
	}
	ch <- prometheus.MustNewConstMetric(descServerObservations, prometheus.CounterValue, float64(s.observations.Load()))
	rep, ok := s.Latest()
	seq := 0.0
	if ok {
		seq = float64(rep.Sequence)
		ch <- prometheus.MustNewConstMetric(descServerAge, prometheus.GaugeValue, rep.AgeSeconds)
		for _, in := range rep.Instances {
			for _, r := range reachabilities {
				v := 0.0
				if in.Reachability == r {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descServerReach, prometheus.GaugeValue, v, in.Name, string(r))
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descServerSequence, prometheus.GaugeValue, seq)
}

package observer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "s3cr3t-t0ken-for-tests-0123456789"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeSource returns the instances it holds and counts its calls; while gate is set, Observe waits
// for it (or for the context).
type fakeSource struct {
	mu        sync.Mutex
	instances []Instance
	calls     int // Observe calls started
	returned  int // Observe calls returned
	gate      chan struct{}
}

func (f *fakeSource) set(in ...Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances = in
}

func (f *fakeSource) Observe(ctx context.Context) []Instance {
	f.mu.Lock()
	f.calls++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.returned++
	return append([]Instance(nil), f.instances...)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

type runningServer struct {
	*Server
	clk  *clocktesting.FakeClock
	src  *fakeSource
	url  string
	stop func()
}

// startServer runs a server on a free loopback port with a fake clock; it is stopped at cleanup.
func startServer(t *testing.T, mutate func(*ServerOptions), src *fakeSource) *runningServer {
	t.Helper()
	if src == nil {
		src = &fakeSource{instances: []Instance{unreachable("SQLA1"), unreachable("SQLA2")}}
	}
	opts := ServerOptions{Name: "obs1", Addr: "127.0.0.1:0", TokenFile: writeFile(t, "token", testToken+"\n"),
		Interval: 10 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	clk := clocktesting.NewFakeClock(t0)
	srv, err := NewServer(zaptest.NewLogger(t), opts, src, clk)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	scheme := "http://"
	if opts.TLSCertFile != "" {
		scheme = "https://"
	}
	return &runningServer{Server: srv, clk: clk, src: src, url: scheme + srv.Addr(), stop: stop}
}

func (s *runningServer) seq() uint64 {
	r, ok := s.Latest()
	if !ok {
		return 0
	}
	return r.Sequence
}

// next steps the observer's clock by one interval and waits for the next observation.
func (s *runningServer) next(t *testing.T) {
	t.Helper()
	want := s.seq() + 1
	s.clk.Step(s.opts.Interval)
	waitFor(t, "the next observation", func() bool { return s.seq() >= want })
}

func get(t *testing.T, method, url, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestServerHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServer(t, func(o *ServerOptions) { o.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) }, nil)
	reg.MustRegister(s.Server)
	waitFor(t, "the first observation", func() bool { return s.seq() == 1 })
	bearer := "Bearer " + testToken

	code, _, body := get(t, http.MethodGet, s.url+Path, bearer)
	if code != http.StatusOK {
		t.Fatalf("GET with token: %d %s", code, body)
	}
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("served report invalid: %v\n%s", err, body)
	}
	if r.Observer != "obs1" || r.Sequence != 1 || r.BootID != s.BootID() || len(r.Instances) != 2 || r.Instances[1].Reachability != ReachUnreachable {
		t.Fatalf("report %+v", r)
	}
	if !r.ObservedAt.Equal(t0) {
		t.Fatalf("observed_at %s, want the observer's clock %s", r.ObservedAt, t0)
	}

	tests := []struct {
		name, method, path, auth string
		want                     int
		body                     string
	}{
		{"missing token", http.MethodGet, Path, "", http.StatusUnauthorized, "bearer token is required"},
		{"wrong token", http.MethodGet, Path, "Bearer not-the-token-0123456789", http.StatusUnauthorized, ""},
		{"token prefix only", http.MethodGet, Path, "Bearer " + testToken[:10], http.StatusUnauthorized, ""},
		{"wrong scheme", http.MethodGet, Path, "Basic " + testToken, http.StatusUnauthorized, ""},
		{"scheme is case-insensitive", http.MethodGet, Path, "bearer " + testToken, http.StatusOK, `"sequence":1`},
		{"POST is refused", http.MethodPost, Path, bearer, http.StatusMethodNotAllowed, "read-only"},
		{"DELETE is refused", http.MethodDelete, Path, bearer, http.StatusMethodNotAllowed, "read-only"},
		{"POST without token is 401", http.MethodPost, Path, "", http.StatusUnauthorized, ""},
		{"unknown path", http.MethodGet, "/v1/other", bearer, http.StatusNotFound, "not found"},
		{"unknown path needs the token too", http.MethodGet, "/v1/other", "", http.StatusUnauthorized, ""},
		{"healthz without token", http.MethodGet, "/healthz", "", http.StatusOK, "ok"},
		{"metrics need the token", http.MethodGet, "/metrics", "", http.StatusUnauthorized, ""},
		{"metrics", http.MethodGet, "/metrics", bearer, http.StatusOK, "sqldr_observer_observation_sequence 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Unauthorized()
			code, hdr, body := get(t, tt.method, s.url+tt.path, tt.auth)
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, code, body, tt.want, tt.body)
			}
			wantUnauth := before
			if tt.want == http.StatusUnauthorized {
				wantUnauth++
				if hdr.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
			if got := s.Unauthorized(); got != wantUnauth {
				t.Errorf("unauthorized count %d, want %d", got, wantUnauth)
			}
			if tt.want == http.StatusMethodNotAllowed && hdr.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", hdr.Get("Allow"))
			}
		})
	}
	// 7 requests above were rejected; the HTTP counter agrees, and the codes are pre-created.
	want := `
# HELP sqldr_observer_http_requests_total HTTP requests the observer answered, by status code (401: wrong or missing token).
# TYPE sqldr_observer_http_requests_total counter
sqldr_observer_http_requests_total{code="200"} 4
sqldr_observer_http_requests_total{code="401"} 7
sqldr_observer_http_requests_total{code="404"} 1
sqldr_observer_http_requests_total{code="405"} 2
sqldr_observer_http_requests_total{code="503"} 0
sqldr_observer_http_requests_total{code="other"} 0
`
	if err := testutil.CollectAndCompare(s.Server, strings.NewReader(want), "sqldr_observer_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	if s.Unauthorized() != 7 {
		t.Fatalf("Unauthorized %d, want 7", s.Unauthorized())
	}
}

func TestServerScheduleSequenceAndAge(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "the first observation", func() bool { return s.seq() == 1 })
	// The schedule is driven by the clock: without a tick there is no second observation, and the
	// reported age grows on the observer's clock.
	s.clk.Step(4 * time.Second)
	r, _ := s.Latest()
	if r.Sequence != 1 || r.AgeSeconds != 4 {
		t.Fatalf("after 4s without a tick: sequence %d age %v, want 1 and 4", r.Sequence, r.AgeSeconds)
	}
	s.clk.Step(6 * time.Second) // the 10 s tick
	waitFor(t, "observation 2", func() bool { return s.seq() == 2 })
	s.src.set(serving("SQLA1"), unreachable("SQLA2"))
	s.next(t)
	r, _ = s.Latest()
	if r.Sequence != 3 || !r.Instances[0].Serving() || r.AgeSeconds != 0 || !r.ObservedAt.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("observation 3: %+v", r)
	}
	want := `
# HELP sqldr_observer_observations_total Observations of site A the observer completed.
# TYPE sqldr_observer_observations_total counter
sqldr_observer_observations_total 3
# HELP sqldr_observer_instance_reachability Reachability of each site-A instance in the latest observation (one-hot).
# TYPE sqldr_observer_instance_reachability gauge
sqldr_observer_instance_reachability{instance="SQLA1",reachability="refusing"} 0
sqldr_observer_instance_reachability{instance="SQLA1",reachability="unknown"} 0
sqldr_observer_instance_reachability{instance="SQLA1",reachability="unreachable"} 0
sqldr_observer_instance_reachability{instance="SQLA1",reachability="up"} 1
sqldr_observer_instance_reachability{instance="SQLA2",reachability="refusing"} 0
sqldr_observer_instance_reachability{instance="SQLA2",reachability="unknown"} 0
sqldr_observer_instance_reachability{instance="SQLA2",reachability="unreachable"} 1
sqldr_observer_instance_reachability{instance="SQLA2",reachability="up"} 0
`
	if err := testutil.CollectAndCompare(s.Server, strings.NewReader(want),
		"sqldr_observer_observations_total", "sqldr_observer_instance_reachability"); err != nil {
		t.Fatal(err)
	}
}

func TestServerNoObservationYetAndEmptySource(t *testing.T) {
	src := &fakeSource{gate: make(chan struct{})}
	s := startServer(t, nil, src)
	code, _, body := get(t, http.MethodGet, s.url+Path, "Bearer "+testToken)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no observation yet") {
		t.Fatalf("before the first observation: %d %s", code, body)
	}
	// An empty observation (a broken source) is not published: no sequence number is spent on it.
	close(src.gate)
	waitFor(t, "the first (empty) observation", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return src.returned == 1 })
	src.set(unreachable("SQLA1"))
	s.clk.Step(10 * time.Second)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	if r, _ := s.Latest(); len(r.Instances) != 1 || r.Instances[0].Name != "SQLA1" {
		t.Fatalf("observation 1 is %+v, want the second (non-empty) one", r)
	}
}

func TestServerShutdownCancelsObservation(t *testing.T) {
	src := &fakeSource{gate: make(chan struct{})}
	s := startServer(t, nil, src)
	waitFor(t, "the observation to start", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return src.calls == 1 })
	s.stop() // returns only once the loop and the HTTP server have ended (goleak checks the rest)
	if _, ok := s.Latest(); ok {
		t.Fatal("an observation cut short by shutdown was published")
	}
	if resp, err := http.Get(s.url + "/healthz"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("server still answers after shutdown")
	}
}

func TestServerOptions(t *testing.T) {
	tok := writeFile(t, "token", testToken)
	src := &fakeSource{}
	clk := clocktesting.NewFakeClock(t0)
	log := zaptest.NewLogger(t)
	tests := []struct {
		name string
		opts ServerOptions
		want []string
	}{
		{"everything missing", ServerOptions{Interval: -1, Timeout: -1, TLSKeyFile: "k"},
			[]string{"name: must not be empty", "token_file: a token file is required", "tls: cert_file and key_file", "interval: must not be negative", "timeout: must not be negative"}},
		{"token file missing", ServerOptions{Name: "o", TokenFile: filepath.Join(t.TempDir(), "nope")}, []string{"token_file: read token file"}},
		{"token too short", ServerOptions{Name: "o", TokenFile: writeFile(t, "short", "abc\n")}, []string{"3 bytes long; at least 16"}},
		{"token with a space", ServerOptions{Name: "o", TokenFile: writeFile(t, "space", "abcdefgh ijklmnopq")}, []string{"space, control or non-ASCII"}},
		{"empty token", ServerOptions{Name: "o", TokenFile: writeFile(t, "empty", " \n")}, []string{"is empty"}},
		{"bad key pair", ServerOptions{Name: "o", TokenFile: tok, TLSCertFile: tok, TLSKeyFile: tok}, []string{"tls: load cert_file"}},
		{"bad address", ServerOptions{Name: "o", TokenFile: tok, Addr: "127.0.0.1:notaport"}, []string{"listen:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(log, tt.opts, src, clk)
			if err == nil {
				_ = s.Close()
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Error("the token leaked into an error")
			}
		})
	}
	if _, err := NewServer(log, ServerOptions{Name: "o", TokenFile: tok}, nil, clk); err == nil {
		t.Error("nil source accepted")
	}
	s, err := NewServer(log, ServerOptions{Name: "o", TokenFile: tok, Addr: "127.0.0.1:0"}, src, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close of a server never run: %v", err)
	}
}

package observer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"
)

type testClient struct {
	*Client
	clk *clocktesting.FakePassiveClock
}

func newTestClient(t *testing.T, rule Rule, eps ...Endpoint) *testClient {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(t0)
	c, err := NewClient(zaptest.NewLogger(t), ClientOptions{Observers: eps, Rule: rule}, clk)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return &testClient{Client: c, clk: clk}
}

func (c *testClient) advance(d time.Duration) { c.clk.SetTime(c.clk.Now().Add(d)) }

func (c *testClient) check(t *testing.T, want Verdict, wantStates ...State) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := c.Check(ctx)
	if res.Verdict != want {
		t.Fatalf("verdict %s (%s), want %s", res.Verdict, res.Detail, want)
	}
	for k, s := range wantStates {
		if res.Observers[k].State != s {
			t.Fatalf("observer %s state %s (%s), want %s", res.Observers[k].Observer, res.Observers[k].State, res.Observers[k].Detail, s)
		}
	}
	return res
}

func endpoint(t *testing.T, name, url string) Endpoint {
	return Endpoint{Name: name, URL: url, TokenFile: writeFile(t, "token-"+name, testToken), Timeout: 2 * time.Second}
}

func TestClientFreshnessBySequenceAndReceiptTime(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	c := newTestClient(t, Rule{MaxAge: 30 * time.Second}, endpoint(t, "obs1", s.url+"/"))
	if c.Last().Observers[0].State != StateUnknown {
		t.Fatalf("before the first check: %+v", c.Last().Observers[0])
	}

	// The first answer only sets the baseline.
	res := c.check(t, VerdictNone, StateStale)
	if !strings.Contains(res.Observers[0].Detail, "not yet seen advancing") {
		t.Fatalf("detail %q", res.Observers[0].Detail)
	}
	// Asking again before the observer observed again: still no advance.
	c.advance(5 * time.Second)
	c.check(t, VerdictNone, StateStale)

	s.next(t)
	c.advance(5 * time.Second)
	res = c.check(t, VerdictDown, StateFresh)
	if st := res.Observers[0]; st.Sequence != 2 || st.View != ViewDown || st.BootID != s.BootID() {
		t.Fatalf("status %+v", st)
	}
	// The daemon polls faster than the observer observes: the same sequence stays fresh while its
	// advance was received less than MaxAge ago (on the controller's clock).
	c.advance(25 * time.Second)
	res = c.check(t, VerdictDown, StateFresh)
	// The observer's loop is stuck (its clock does not move, so it reports age 0): the sequence no
	// longer advances and the observation goes stale by the controller's own clock.
	c.advance(10 * time.Second)
	res = c.check(t, VerdictNone, StateStale)
	if !strings.Contains(res.Observers[0].Detail, "has not advanced for 35s") {
		t.Fatalf("detail %q", res.Observers[0].Detail)
	}
	// It resumes: the sequence advances and the observation is fresh again.
	s.next(t)
	res = c.check(t, VerdictDown, StateFresh)
	if res.Observers[0].Sequence != 3 {
		t.Fatalf("sequence %d, want 3", res.Observers[0].Sequence)
	}
	// The reported age counts: the observer's observation is 20 s old on its clock (no new tick: the
	// source hangs), plus 15 s since receipt on the controller's clock, is over MaxAge.
	s.src.mu.Lock()
	s.src.gate = make(chan struct{})
	s.src.mu.Unlock()
	s.clk.Step(20 * time.Second)
	c.advance(time.Second)
	res = c.check(t, VerdictDown, StateFresh)
	if st := res.Observers[0]; st.Age != 20*time.Second {
		t.Fatalf("age %s, want 20s (reported) + 0s (since receipt)", st.Age)
	}
	c.advance(15 * time.Second)
	res = c.Evaluate(t)
	if res.Verdict != VerdictNone || res.Observers[0].State != StateStale || !strings.Contains(res.Observers[0].Detail, "observation is 35s old") {
		t.Fatalf("after 15s more: %s %+v", res.Verdict, res.Observers[0])
	}
	s.src.mu.Lock()
	close(s.src.gate)
	s.src.mu.Unlock()
}

// Evaluate re-evaluates what the client knows at the controller's current time, without asking.
func (c *testClient) Evaluate(t *testing.T) Result {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Evaluate(c.snapshotLocked(), c.rule, c.clk.Now())
}

func TestClientVeto(t *testing.T) {
	s := startServer(t, nil, &fakeSource{instances: []Instance{serving("SQLA1"), mirrorOnly("SQLA2")}})
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	c := newTestClient(t, Rule{}, endpoint(t, "obs1", s.url))
	c.check(t, VerdictNone, StateStale) // a stale observer does not veto either
	s.next(t)
	res := c.check(t, VerdictVetoed, StateFresh)
	if !strings.Contains(res.Detail, "obs1 sees SQLA1 serving (mgc, mgccomp writable)") {
		t.Fatalf("detail %q", res.Detail)
	}
}

func TestClientWrongTokenNeverCorroborates(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	ep := endpoint(t, "obs1", s.url)
	ep.TokenFile = writeFile(t, "wrong", "this-is-not-the-right-token")
	c := newTestClient(t, Rule{}, ep)
	for i := range 3 {
		res := c.check(t, VerdictNone, StateUnauthorized)
		if res.Observers[0].Sequence != 0 {
			t.Fatalf("check %d: a rejected request yielded sequence %d", i, res.Observers[0].Sequence)
		}
		s.next(t)
		c.advance(time.Second)
	}
	if s.Unauthorized() != 3 {
		t.Fatalf("server counted %d rejected requests, want 3", s.Unauthorized())
	}
	want := `
# HELP sqldr_observer_unauthorized_total Requests an observer rejected with HTTP 401 (wrong token).
# TYPE sqldr_observer_unauthorized_total counter
sqldr_observer_unauthorized_total{observer="obs1"} 3
# HELP sqldr_observer_state Standing of each configured observer this cycle (one-hot: fresh, stale, unreachable, unauthorized, unknown).
# TYPE sqldr_observer_state gauge
sqldr_observer_state{observer="obs1",state="fresh"} 0
sqldr_observer_state{observer="obs1",state="stale"} 0
sqldr_observer_state{observer="obs1",state="unauthorized"} 1
sqldr_observer_state{observer="obs1",state="unknown"} 0
sqldr_observer_state{observer="obs1",state="unreachable"} 0
# HELP sqldr_corroboration The observers' corroboration verdict about site A (one-hot: none, not_configured, corroborated_down, vetoed).
# TYPE sqldr_corroboration gauge
sqldr_corroboration{verdict="corroborated_down"} 0
sqldr_corroboration{verdict="none"} 1
sqldr_corroboration{verdict="not_configured"} 0
sqldr_corroboration{verdict="vetoed"} 0
`
	if err := testutil.CollectAndCompare(c.Client, strings.NewReader(want),
		"sqldr_observer_unauthorized_total", "sqldr_observer_state", "sqldr_corroboration"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.CollectAndLint(c.Client); err != nil || len(n) > 0 {
		t.Fatalf("lint: %v %v", n, err)
	}
}

func TestClientObserverDownAndReturning(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	c := newTestClient(t, Rule{}, endpoint(t, "obs1", s.url))
	c.check(t, VerdictNone, StateStale)
	s.next(t)
	c.check(t, VerdictDown, StateFresh)

	// The observer process stops: unreachable, no corroboration (its last report does not count).
	addr := s.Addr()
	s.stop()
	c.advance(time.Second)
	res := c.check(t, VerdictNone, StateUnreachable)
	if res.Observers[0].Sequence != 2 || !strings.Contains(res.Observers[0].Detail, "connection refused") {
		t.Fatalf("while down: %+v", res.Observers[0])
	}

	// It comes back on the same address as a new run (new boot ID, sequence from 1): the first
	// answer sets the baseline, the next advance makes it fresh again.
	s2 := startServer(t, func(o *ServerOptions) { o.Addr = addr }, nil)
	waitFor(t, "observation 1 of the new run", func() bool { return s2.seq() == 1 })
	c.advance(time.Second)
	res = c.check(t, VerdictNone, StateStale)
	if res.Observers[0].BootID != s2.BootID() || res.Observers[0].Sequence != 1 {
		t.Fatalf("after restart: %+v", res.Observers[0])
	}
	s2.next(t)
	c.advance(time.Second)
	c.check(t, VerdictDown, StateFresh)
}

func TestClientConcurrentWithTimeouts(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	// A hung observer: accepts TCP connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for conn := range accepted {
			_ = conn.Close()
		}
	})
	hung := endpoint(t, "hung", "http://"+ln.Addr().String())
	hung.Timeout = 300 * time.Millisecond
	// A broken observer that answers garbage, one that redirects, and one that is not there at all.
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"observer":`) }))
	t.Cleanup(garbage.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.url+Path, http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneURL := "http://" + gone.Addr().String()
	_ = gone.Close()

	c := newTestClient(t, Rule{Quorum: 1}, endpoint(t, "obs1", s.url), hung, endpoint(t, "garbage", garbage.URL),
		endpoint(t, "redirect", redirect.URL), endpoint(t, "gone", goneURL))
	c.check(t, VerdictNone, StateStale, StateUnreachable, StateUnreachable, StateUnreachable, StateUnreachable)
	s.next(t)
	res := c.check(t, VerdictDown, StateFresh, StateUnreachable, StateUnreachable, StateUnreachable, StateUnreachable)
	for k, want := range map[int]string{1: "no answer within 300ms", 2: "decode report", 3: "HTTP 302", 4: "connection refused"} {
		if !strings.Contains(res.Observers[k].Detail, want) {
			t.Errorf("%s: detail %q lacks %q", res.Observers[k].Observer, res.Observers[k].Detail, want)
		}
	}
}

// writeTLS writes a CA and a certificate for 127.0.0.1 signed by it; it returns the CA, cert and key files.
func writeTLS(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sqldr test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "observer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	certFile = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return caFile, certFile, keyFile
}

func TestClientTLS(t *testing.T) {
	caFile, certFile, keyFile := writeTLS(t)
	s := startServer(t, func(o *ServerOptions) { o.TLSCertFile, o.TLSKeyFile = certFile, keyFile }, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	trusted := endpoint(t, "trusted", s.url)
	trusted.CAFile = caFile
	untrusted := endpoint(t, "untrusted", s.url) // system roots do not know the test CA
	plain := endpoint(t, "plain", strings.Replace(s.url, "https://", "http://", 1))
	c := newTestClient(t, Rule{Quorum: 1}, trusted, untrusted, plain)
	c.check(t, VerdictNone, StateStale, StateUnreachable, StateUnreachable)
	s.next(t)
	res := c.check(t, VerdictDown, StateFresh, StateUnreachable, StateUnreachable)
	if !strings.Contains(res.Observers[1].Detail, "certificate") {
		t.Errorf("untrusted: detail %q does not mention the certificate", res.Observers[1].Detail)
	}
	if !strings.Contains(res.Observers[2].Detail, "HTTP 400") {
		t.Errorf("plain HTTP to a TLS port: detail %q", res.Observers[2].Detail)
	}
}

func TestClientNotConfigured(t *testing.T) {
	c := newTestClient(t, Rule{})
	res := c.check(t, VerdictNotConfigured)
	if len(res.Observers) != 0 || c.Configured() != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestClientOptions(t *testing.T) {
	tok := writeFile(t, "token", testToken)
	tests := []struct {
		name string
		opts ClientOptions
		want []string
	}{
		{"many problems at once", ClientOptions{Observers: []Endpoint{
			{URL: "ftp://x", Timeout: -1},
			{Name: "a", URL: "http://user:pw@host:1", TokenFile: tok},
			{Name: "a", URL: "http://host:1", TokenFile: tok, CAFile: "ca.pem"},
			{Name: "b c", URL: "https://host:1/?x=1", TokenFile: tok},
			{Name: "d", URL: "http://", TokenFile: tok},
		}, Rule: Rule{Quorum: 6, MaxAge: -1}}, []string{
			"observers[0].name: must not be empty", `observers[0].url: "ftp://x": the scheme must be http or https`,
			"observers[0].token_file: a token file is required", "observers[0].timeout: must not be negative",
			"observers[1].url: http://…@host:1: credentials in the URL are not allowed",
			`observers[2].name: duplicate observer "a"`, "observers[2].ca_file: set, but url http://host:1 is not https",
			`observers[3].name: "b c" holds white space`, "observers[3].url: \"https://host:1/?x=1\": a query",
			"observers[4].url: \"http://\": a host is required",
			"observer_quorum: 6 is more than the 5 configured observers", "observer_max_age: must not be negative"}},
		{"token file unreadable", ClientOptions{Observers: []Endpoint{{Name: "a", URL: "http://h:1", TokenFile: tok + ".missing"}}},
			[]string{"observers[0].token_file: read token file"}},
		{"CA file without certificates", ClientOptions{Observers: []Endpoint{{Name: "a", URL: "https://h:1", TokenFile: tok, CAFile: tok}}},
			[]string{"observers[0].ca_file: " + tok + " holds no PEM certificate"}},
		{"negative quorum", ClientOptions{Rule: Rule{Quorum: -1}}, []string{"observer_quorum: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(zaptest.NewLogger(t), tt.opts, clocktesting.NewFakePassiveClock(t0))
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "pw") {
				t.Error("a password from the URL leaked into the error")
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:9725":        "http://127.0.0.1:9725/v1/observation",
		"https://obs.example:9725/":    "https://obs.example:9725/v1/observation",
		"https://gw.example/observer1": "https://gw.example/observer1/v1/observation",
	} {
		got, err := endpointURL(raw)
		if err != nil || got != want {
			t.Errorf("endpointURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// linkProxy forwards TCP connections to target while up; when cut, it drops every connection and
// refuses new ones (a WAN outage between the daemon and the observer).
type linkProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

func (p *linkProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
		p.conns = map[net.Conn]struct{}{}
	}
}

func TestClientObserverReturningAfterLinkOutage(t *testing.T) {
	s := startServer(t, nil, nil)
	waitFor(t, "observation 1", func() bool { return s.seq() == 1 })
	link := startLinkProxy(t, s.Addr())
	c := newTestClient(t, Rule{}, endpoint(t, "obs1", "http://"+link.ln.Addr().String()))
	c.check(t, VerdictNone, StateStale)
	s.next(t)
	c.advance(10 * time.Second)
	c.check(t, VerdictDown, StateFresh)

	// The link to the observer is cut: unreachable, whatever it said before.
	link.setCut(true)
	for range 3 {
		s.next(t) // the observer keeps observing on its side
		c.advance(10 * time.Second)
		res := c.check(t, VerdictNone, StateUnreachable)
		if res.Observers[0].Sequence != 2 {
			t.Fatalf("sequence %d during the outage, want the last one received (2)", res.Observers[0].Sequence)
		}
	}

	// The link returns: same run, the sequence has moved on (2 → 5), so the observation is fresh at
	// once — no new baseline is needed.
	link.setCut(false)
	c.advance(10 * time.Second)
	res := c.check(t, VerdictDown, StateFresh)
	if res.Observers[0].Sequence != 5 || res.Observers[0].BootID != s.BootID() {
		t.Fatalf("after the outage: %+v", res.Observers[0])
	}
}

func TestTrackSequence(t *testing.T) {
	c := &Client{}
	p := &peer{}
	var tr Tracked
	rep := func(boot string, seq uint64) *Report {
		return &Report{Observer: "o", BootID: boot, Sequence: seq, Instances: []Instance{unreachable("SQLA1")}}
	}
	steps := []struct {
		a            answer
		wantOutcome  Outcome
		wantSeq      uint64
		wantAdvanced time.Time
	}{
		{answer{outcome: OutcomeAnswered, report: rep("b1", 4), received: t0}, OutcomeAnswered, 4, time.Time{}},                  // baseline
		{answer{outcome: OutcomeAnswered, report: rep("b1", 4), received: t0.Add(time.Second)}, OutcomeAnswered, 4, time.Time{}}, // same
		{answer{outcome: OutcomeAnswered, report: rep("b1", 5), received: t0.Add(2 * time.Second)}, OutcomeAnswered, 5, t0.Add(2 * time.Second)},
		{answer{outcome: OutcomeAnswered, report: rep("b1", 3), received: t0.Add(3 * time.Second)}, OutcomeInvalid, 5, t0.Add(2 * time.Second)}, // backwards
		{answer{outcome: OutcomeUnreachable, err: "x"}, OutcomeUnreachable, 5, t0.Add(2 * time.Second)},
		{answer{outcome: OutcomeUnauthorized}, OutcomeUnauthorized, 5, t0.Add(2 * time.Second)},
		{answer{outcome: OutcomeAnswered, report: rep("b2", 1), received: t0.Add(4 * time.Second)}, OutcomeAnswered, 1, time.Time{}}, // new run
		{answer{outcome: OutcomeAnswered, report: rep("b2", 2), received: t0.Add(5 * time.Second)}, OutcomeAnswered, 2, t0.Add(5 * time.Second)},
	}
	for i, s := range steps {
		c.track(&tr, p, s.a)
		if tr.Outcome != s.wantOutcome || tr.Report.Sequence != s.wantSeq || !tr.Advanced.Equal(s.wantAdvanced) {
			t.Fatalf("step %d: outcome %d seq %d advanced %v; want %d %d %v (%s)", i, tr.Outcome, tr.Report.Sequence, tr.Advanced,
				s.wantOutcome, s.wantSeq, s.wantAdvanced, tr.Err)
		}
	}
	if p.unauthorized != 1 {
		t.Fatalf("unauthorized count %d, want 1", p.unauthorized)
	}
	// A backwards sequence is reported.
	c.track(&tr, p, answer{outcome: OutcomeAnswered, report: rep("b2", 1), received: t0.Add(6 * time.Second)})
	if tr.Outcome != OutcomeInvalid || !strings.Contains(tr.Err, "sequence went backwards from 2 to 1 in boot b2") {
		t.Fatalf("%d %q", tr.Outcome, tr.Err)
	}
}

func TestSourceFunc(t *testing.T) {
	var got context.Context
	f := SourceFunc(func(ctx context.Context) []Instance { got = ctx; return []Instance{unreachable("SQLA1")} })
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, 1)
	if in := f.Observe(ctx); len(in) != 1 || got != ctx {
		t.Fatalf("SourceFunc: %v", in)
	}
}

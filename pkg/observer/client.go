package observer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// DefaultTimeout bounds one request to an observer (Endpoint.Timeout).
const DefaultTimeout = 5 * time.Second

// maxReportBytes bounds an observer's answer.
const maxReportBytes = 1 << 20

// Endpoint is one configured observer, as the daemon's `observers:` list names it.
type Endpoint struct {
	// Name identifies the observer in /status, logs and metrics. Required, unique.
	Name string
	// URL is the observer's base URL (http:// or https://, no query); Path is appended.
	URL string
	// TokenFile holds the bearer token. Required.
	TokenFile string
	// CAFile is a PEM bundle of the CAs that sign the observer's certificate (https only; default:
	// the system's roots).
	CAFile string
	// Timeout bounds each request, connection included. Default 5s.
	Timeout time.Duration
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Observers are the configured observers (none: the verdict is "not configured").
	Observers []Endpoint
	// Rule is the corroboration rule (quorum, max age, site-A instance names).
	Rule Rule
}

// Validate reports every problem at once, each naming the key as in the daemon's configuration.
func (o *ClientOptions) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, e := range o.Observers {
		where := fmt.Sprintf("observers[%d]", i)
		switch {
		case e.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", where))
		case seen[e.Name]:
			errs = append(errs, fmt.Errorf("%s.name: duplicate observer %q", where, e.Name))
		case strings.IndexFunc(e.Name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
			errs = append(errs, fmt.Errorf("%s.name: %q holds white space or control characters", where, e.Name))
		}
		seen[e.Name] = true
		if _, err := endpointURL(e.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", where, err))
		} else if e.CAFile != "" && !strings.HasPrefix(strings.ToLower(e.URL), "https://") {
			errs = append(errs, fmt.Errorf("%s.ca_file: set, but url %s is not https", where, e.URL))
		}
		if e.TokenFile == "" {
			errs = append(errs, fmt.Errorf("%s.token_file: a token file is required", where))
		}
		if e.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s.timeout: must not be negative", where))
		}
	}
	if o.Rule.Quorum < 0 {
		errs = append(errs, errors.New("observer_quorum: must not be negative"))
	}
	if o.Rule.Quorum > len(o.Observers) {
		errs = append(errs, fmt.Errorf("observer_quorum: %d is more than the %d configured observers", o.Rule.Quorum, len(o.Observers)))
	}
	if o.Rule.MaxAge < 0 {
		errs = append(errs, errors.New("observer_max_age: must not be negative"))
	}
	return errors.Join(errs...)
}

// endpointURL checks a base URL and returns the observation URL.
func endpointURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("cannot be parsed: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: the scheme must be http or https", raw)
	case u.Host == "":
		return "", fmt.Errorf("%q: a host is required", raw)
	case u.User != nil:
		return "", fmt.Errorf("%s://…@%s: credentials in the URL are not allowed; use token_file", u.Scheme, u.Host)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q: a query or fragment is not allowed", raw)
	}
	return strings.TrimSuffix(u.String(), "/") + Path, nil
}

// Client asks the configured observers for their latest observation and evaluates the corroboration
// rule. It is safe for concurrent use; Check calls are serialised.
type Client struct {
	log   *zap.Logger
	clk   clock.PassiveClock
	rule  Rule
	peers []*peer

	check sync.Mutex // serialises Check

	mu      sync.Mutex
	tracked []Tracked
	last    Result
	checked bool
}

type peer struct {
	Endpoint
	url   string
	token string
	http  *http.Client
	tr    *http.Transport

	unauthorized uint64 // guarded by Client.mu
}

// NewClient validates the options, reads every token and CA file, and builds one HTTP client per
// observer. Call Close when done.
func NewClient(log *zap.Logger, opts ClientOptions, clk clock.PassiveClock) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("observer options: %w", err)
	}
	c := &Client{log: log.Named("observers"), clk: clk, rule: opts.Rule, tracked: make([]Tracked, len(opts.Observers))}
	for i, e := range opts.Observers {
		where := fmt.Sprintf("observers[%d]", i)
		if e.Timeout == 0 {
			e.Timeout = DefaultTimeout
		}
		u, _ := endpointURL(e.URL)
		tok, err := ReadToken(e.TokenFile, where+".token_file")
		if err != nil {
			c.Close()
			return nil, err
		}
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.CAFile != "" {
			pem, err := os.ReadFile(e.CAFile)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("%s.ca_file: %w", where, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				c.Close()
				return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", where, e.CAFile)
			}
			tlsCfg.RootCAs = pool
		}
		tr := &http.Transport{
			Proxy:                 nil, // observers are reached directly; a proxy would be another vantage point
			TLSClientConfig:       tlsCfg,
			TLSHandshakeTimeout:   e.Timeout,
			ResponseHeaderTimeout: e.Timeout,
			MaxIdleConnsPerHost:   1,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
		hc := &http.Client{Transport: tr, Timeout: e.Timeout,
			// Never follow a redirect: the token must only go to the configured observer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		c.peers = append(c.peers, &peer{Endpoint: e, url: u, token: string(tok), http: hc, tr: tr})
		c.tracked[i] = Tracked{Name: e.Name}
		if strings.HasPrefix(u, "http://") {
			c.log.Warn("observer_plaintext", zap.String("observer", e.Name),
				zap.String("detail", "the token and the observation travel unencrypted; use https outside a trusted network"))
		}
	}
	c.last = Evaluate(c.snapshotLocked(), c.rule, clk.Now())
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() {
	for _, p := range c.peers {
		p.tr.CloseIdleConnections()
	}
}

// Configured is the number of configured observers.
func (c *Client) Configured() int { return len(c.peers) }

// answer is the outcome of one request.
type answer struct {
	outcome  Outcome
	err      string
	report   *Report
	received time.Time
}

// Check asks every observer concurrently (each bounded by its timeout and by ctx), updates what is
// known about each, logs state and verdict changes, and returns Evaluate's result at the
// controller's clock.
func (c *Client) Check(ctx context.Context) Result {
	c.check.Lock()
	defer c.check.Unlock()
	answers := make([]answer, len(c.peers))
	var wg sync.WaitGroup
	for i, p := range c.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = c.ask(ctx, p)
		}()
	}
	wg.Wait()

	c.mu.Lock()
	for i, a := range answers {
		c.track(&c.tracked[i], c.peers[i], a)
	}
	prev, hadPrev := c.last, c.checked
	res := Evaluate(c.snapshotLocked(), c.rule, c.clk.Now())
	c.last, c.checked = res, true
	c.mu.Unlock()

	c.logChanges(prev, hadPrev, res)
	return res
}

// Last is the result of the latest Check (before the first one: every observer unknown).
func (c *Client) Last() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *Client) snapshotLocked() []Tracked { return append([]Tracked(nil), c.tracked...) }

// ask sends one request.
func (c *Client) ask(ctx context.Context, p *peer) answer {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return answer{outcome: OutcomeUnreachable, err: fmt.Sprintf("build request: %v", err)}
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return answer{outcome: OutcomeUnreachable, err: fmt.Sprintf("GET %s: no answer within %s", p.url, p.Timeout)}
		}
		return answer{outcome: OutcomeUnreachable, err: err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	body := io.LimitReader(resp.Body, maxReportBytes+1)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		_, _ = io.Copy(io.Discard, body)
		return answer{outcome: OutcomeUnauthorized, err: "HTTP 401"}
	default:
		b, _ := io.ReadAll(io.LimitReader(body, 512))
		return answer{outcome: OutcomeUnreachable, err: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, printable(b))}
	}
	b, err := io.ReadAll(body)
	received := c.clk.Now()
	if err != nil {
		return answer{outcome: OutcomeUnreachable, err: fmt.Sprintf("read answer: %v", err)}
	}
	if len(b) > maxReportBytes {
		return answer{outcome: OutcomeInvalid, err: fmt.Sprintf("answer larger than %d bytes", maxReportBytes)}
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return answer{outcome: OutcomeInvalid, err: fmt.Sprintf("decode report: %v", err)}
	}
	if err := r.Validate(); err != nil {
		return answer{outcome: OutcomeInvalid, err: fmt.Sprintf("invalid report: %v", err)}
	}
	return answer{outcome: OutcomeAnswered, report: &r, received: received}
}

// printable keeps the first line of an error body, without control characters.
func printable(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// track folds one answer into what is known about the observer. The sequence counts as advancing
// only when it moves past one already received from the same boot ID.
func (c *Client) track(t *Tracked, p *peer, a answer) {
	t.Outcome, t.Err = a.outcome, a.err
	if a.outcome == OutcomeUnauthorized {
		p.unauthorized++
	}
	if a.outcome != OutcomeAnswered {
		return
	}
	r, prev := a.report, t.Report
	switch {
	case prev == nil || prev.BootID != r.BootID:
		t.Advanced = time.Time{} // a new run: this answer only sets the baseline
	case r.Sequence > prev.Sequence:
		t.Advanced = a.received
	case r.Sequence < prev.Sequence:
		t.Outcome = OutcomeInvalid
		t.Err = fmt.Sprintf("sequence went backwards from %d to %d in boot %s", prev.Sequence, r.Sequence, r.BootID)
		return
	}
	t.Report, t.Received = r, a.received
}

func (c *Client) logChanges(prev Result, hadPrev bool, res Result) {
	for i, st := range res.Observers {
		var before State
		if hadPrev && i < len(prev.Observers) {
			before = prev.Observers[i].State
		}
		if !hadPrev || before != st.State || (st.State == StateFresh && prev.Observers[i].View != st.View) {
			c.log.Info("observer_state_changed", zap.String("observer", st.Observer),
				zap.String("from_state", before.String()), zap.String("to_state", st.State.String()),
				zap.String("view", st.View.String()), zap.Uint64("sequence", st.Sequence),
				zap.Duration("age", st.Age), zap.String("detail", st.Detail))
		}
	}
	if !hadPrev || prev.Verdict != res.Verdict {
		c.log.Info("corroboration_changed", zap.String("from_verdict", prev.Verdict.String()),
			zap.String("to_verdict", res.Verdict.String()), zap.Int("quorum", res.Quorum), zap.String("detail", res.Detail))
	}
}

var (
	descClientState = prometheus.NewDesc("sqldr_observer_state",
		"Standing of each configured observer this cycle (one-hot: fresh, stale, unreachable, unauthorized, unknown).",
		[]string{"observer", "state"}, nil)
	descClientSequence = prometheus.NewDesc("sqldr_observer_sequence",
		"Sequence number of the latest report received from each observer (0: none).", []string{"observer"}, nil)
	descClientAge = prometheus.NewDesc("sqldr_observer_age_seconds",
		"Age of each observer's latest report: its own reported age plus the time since the controller received it.",
		[]string{"observer"}, nil)
	descClientUnauthorized = prometheus.NewDesc("sqldr_observer_unauthorized_total",
		"Requests an observer rejected with HTTP 401 (wrong token).", []string{"observer"}, nil)
	descCorroboration = prometheus.NewDesc("sqldr_corroboration",
		"The observers' corroboration verdict about site A (one-hot: none, not_configured, corroborated_down, vetoed).",
		[]string{"verdict"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Client) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClientState, descClientSequence, descClientAge, descClientUnauthorized, descCorroboration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Client) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	res := c.last
	unauth := make([]uint64, len(c.peers))
	for i, p := range c.peers {
		unauth[i] = p.unauthorized
	}
	c.mu.Unlock()
	for i, st := range res.Observers {
		for _, s := range States {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descClientState, prometheus.GaugeValue, v, st.Observer, s.String())
		}
		ch <- prometheus.MustNewConstMetric(descClientSequence, prometheus.GaugeValue, float64(st.Sequence), st.Observer)
		ch <- prometheus.MustNewConstMetric(descClientAge, prometheus.GaugeValue, st.Age.Seconds(), st.Observer)
		ch <- prometheus.MustNewConstMetric(descClientUnauthorized, prometheus.CounterValue, float64(unauth[i]), st.Observer)
	}
	for _, v := range Verdicts {
		x := 0.0
		if res.Verdict == v {
			x = 1
		}
		ch <- prometheus.MustNewConstMetric(descCorroboration, prometheus.GaugeValue, x, v.String())
	}
}

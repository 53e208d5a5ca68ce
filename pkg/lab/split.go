package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// The split shape: the world model (databases, mirroring, the share, jobs) runs in
// one "world" process; each instance's network presence runs in its own process
// (sqldr lab instance): its TDS endpoint (proxied to the world), its mirroring and
// witness links to the other instance processes (real TCP pings), and a heartbeat
// to the world. Killing an instance process takes the instance down; a link the
// processes cannot cross (a cut) disconnects mirroring exactly as SQL Server would
// see it.

// Heartbeat is what an instance process reports to the world.
type Heartbeat struct {
	Instance string `json:"instance"`
	// Reach lists, by instance name, whether this process reached that peer's
	// link endpoint in its last round.
	Reach map[string]bool `json:"reach"`
	// Boot identifies this run of the instance process (new on every start). A
	// heartbeat with a different Boot than the last one means the process was
	// restarted, even if the world had not yet noticed it was gone: the world then
	// takes the instance down and up again, so it returns without quorum.
	Boot string `json:"boot,omitempty"`
}

// HeartbeatReply tells an instance process where the world serves its instance
// and which peers it must not talk to (cuts).
type HeartbeatReply struct {
	TDSAddr string   `json:"tds_addr"`
	Cut     []string `json:"cut"`
}

// presenceTimeout is how long (real time) an instance stays alive without a heartbeat.
const presenceTimeout = 3 * time.Second

type hub struct {
	mu   sync.Mutex
	real clock.PassiveClock
	last map[string]time.Time
	boot map[string]string // last Boot seen per instance
}

// MarkRemote switches every instance to the split shape: each is down until its
// process sends a heartbeat, and links between instances are what the processes
// report.
func (t *Topology) MarkRemote() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, i := range t.instances {
		i.remote, i.alive, i.reach = true, false, map[string]bool{}
	}
	t.notify()
}

// presence records an instance process's heartbeat (alive=false when it stopped).
func (t *Topology) presence(name string, alive bool, reach map[string]bool) ([]string, error) {
	defer t.lockSynced()()
	inst, err := t.instanceLocked(name)
	if err != nil {
		return nil, err
	}
	if inst.alive != alive {
		t.log.Info("lab_instance_presence", zap.String("instance", inst.name), zap.Bool("alive", alive))
		if !alive {
			inst.killAll()
		}
	}
	wasUp := inst.up()
	if inst.alive != alive {
		t.notify()
	}
	inst.alive = alive
	if !wasUp && inst.up() {
		t.restarted(inst)
	}
	if reach != nil {
		inst.reach = map[string]bool{}
		for k, v := range reach {
			inst.reach[strings.ToLower(k)] = v
		}
	}
	var cut []string
	for _, o := range t.instances {
		if o != inst && t.cuts[cutKey(inst.name, o.name)] {
			cut = append(cut, o.name)
		}
	}
	return cut, nil
}

// HeartbeatHandler serves POST /v1/world/heartbeat for instance processes.
func (l *Lab) HeartbeatHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
			return
		}
		var hb Heartbeat
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&hb); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		srv, err := l.Server(hb.Instance)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		key := strings.ToLower(hb.Instance)
		l.hub.mu.Lock()
		l.hub.last[key] = l.hub.real.Now()
		prev := l.hub.boot[key]
		if hb.Boot != "" {
			l.hub.boot[key] = hb.Boot
		}
		l.hub.mu.Unlock()
		if prev != "" && hb.Boot != "" && prev != hb.Boot {
			// The process restarted faster than presenceTimeout: it was down all the
			// same, and comes back through the same path as any restart.
			if _, err := l.topo.presence(hb.Instance, false, map[string]bool{}); err != nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
				return
			}
		}
		cut, err := l.topo.presence(hb.Instance, true, hb.Reach)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, HeartbeatReply{TDSAddr: srv.Addr(), Cut: cut})
	})
}

// expirePresence marks instances whose process went silent as down.
func (l *Lab) expirePresence() {
	if l.hub == nil {
		return
	}
	now := l.hub.real.Now()
	var stale []string
	l.hub.mu.Lock()
	for name, at := range l.hub.last {
		if now.Sub(at) > presenceTimeout {
			stale = append(stale, name)
			delete(l.hub.last, name)
		}
	}
	l.hub.mu.Unlock()
	for _, name := range stale {
		_, _ = l.topo.presence(name, false, map[string]bool{})
	}
}

// PresenceConfig configures an instance process (sqldr lab instance).
type PresenceConfig struct {
	// Name is the instance name in the world's topology.
	Name string
	// World is the world's control URL ("http://127.0.0.1:port").
	World string
	// Listen is the TDS address clients connect to.
	Listen string
	// LinkListen is the address of this instance's mirroring/witness link endpoint.
	LinkListen string
	// Peers maps the other instances' names to their link addresses.
	Peers map[string]string
	// Interval is the heartbeat and link-probe period (default 300ms).
	Interval time.Duration
}

// Presence is a running instance process.
type Presence struct {
	log    *zap.Logger
	cfg    PresenceConfig
	tdsLn  net.Listener
	linkLn net.Listener
	mu     sync.Mutex
	world  string // the world's TDS address for this instance
	cut    map[string]bool
	conns  map[net.Conn]struct{}
	boot   string // this run's Heartbeat.Boot
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartPresence starts an instance process's listeners and loops.
func StartPresence(log *zap.Logger, cfg PresenceConfig) (*Presence, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 300 * time.Millisecond
	}
	if cfg.Name == "" || cfg.World == "" {
		return nil, errors.New("lab presence: name and world URL are required")
	}
	tl, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("lab presence %s: listen %s: %w", cfg.Name, cfg.Listen, err)
	}
	ll, err := net.Listen("tcp", cfg.LinkListen)
	if err != nil {
		_ = tl.Close()
		return nil, fmt.Errorf("lab presence %s: link listen %s: %w", cfg.Name, cfg.LinkListen, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		_, _ = tl.Close(), ll.Close()
		return nil, fmt.Errorf("lab presence %s: boot id: %w", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Presence{boot: hex.EncodeToString(b[:]), log: log.Named("presence").With(zap.String("instance", cfg.Name)), cfg: cfg, tdsLn: tl, linkLn: ll,
		cut: map[string]bool{}, conns: map[net.Conn]struct{}{}, cancel: cancel}
	p.wg.Add(3)
	go func() { defer p.wg.Done(); p.acceptTDS() }()
	go func() { defer p.wg.Done(); p.acceptLinks() }()
	go func() { defer p.wg.Done(); p.loop(ctx) }()
	return p, nil
}

// Addr is the TDS address.
func (p *Presence) Addr() string { return p.tdsLn.Addr().String() }

// LinkAddr is the link endpoint address.
func (p *Presence) LinkAddr() string { return p.linkLn.Addr().String() }

// Close stops the process's listeners and loops.
func (p *Presence) Close() error {
	p.cancel()
	_ = p.tdsLn.Close()
	_ = p.linkLn.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Presence) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

// acceptTDS proxies client connections to the world's server for this instance.
func (p *Presence) acceptTDS() {
	for {
		c, err := p.tdsLn.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.world
		p.mu.Unlock()
		if target == "" {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.proxy(c, target)
		}()
	}
}

func (p *Presence) proxy(c net.Conn, target string) {
	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(c, true)
	p.track(up, true)
	defer func() {
		p.track(c, false)
		p.track(up, false)
	}()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); _ = up.Close(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); _ = c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

// acceptLinks answers peers' link probes ("PING <name>" → "PONG <me>") unless
// the link to that peer is cut.
func (p *Presence) acceptLinks() {
	for {
		c, err := p.linkLn.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			from := strings.TrimSpace(strings.TrimPrefix(line, "PING "))
			p.mu.Lock()
			blocked := p.cut[strings.ToLower(from)]
			p.mu.Unlock()
			if !blocked {
				_, _ = io.WriteString(c, "PONG "+p.cfg.Name+"\n")
			}
		}()
	}
}

func (p *Presence) probe(name, addr string) bool {
	p.mu.Lock()
	blocked := p.cut[strings.ToLower(name)]
	p.mu.Unlock()
	if blocked {
		return false
	}
	c, err := net.DialTimeout("tcp", addr, p.cfg.Interval)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Interval))
	if _, err := io.WriteString(c, "PING "+p.cfg.Name+"\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "PONG ")
}

func (p *Presence) loop(ctx context.Context) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 2 * p.cfg.Interval, Transport: tr}
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		reach := map[string]bool{}
		for name, addr := range p.cfg.Peers {
			reach[name] = p.probe(name, addr)
		}
		p.heartbeat(ctx, hc, reach)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Presence) heartbeat(ctx context.Context, hc *http.Client, reach map[string]bool) {
	body, _ := json.Marshal(Heartbeat{Instance: p.cfg.Name, Reach: reach, Boot: p.boot})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.cfg.World, "/")+"/v1/world/heartbeat", bytes.NewReader(body))
	if err != nil {
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		return
	}
	defer func() { _ = resp.Body.Close() }()
	var r HeartbeatReply
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return
	}
	p.mu.Lock()
	p.world = r.TDSAddr
	p.cut = map[string]bool{}
	for _, c := range r.Cut {
		p.cut[strings.ToLower(c)] = true
	}
	p.mu.Unlock()
}

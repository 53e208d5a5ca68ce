package lab

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Options configure a running lab (Start).
type Options struct {
	// Clock is the simulated clock. Nil means a ScaledClock at Speed from the
	// config's Start instant.
	Clock Clock
	// Speed is the acceleration of the default clock (default 1: real time).
	Speed float64
	// Credentials are the logins every instance accepts.
	Credentials Credentials
	// Addrs overrides listen addresses by instance name; otherwise the config's
	// Addr, otherwise 127.0.0.1:0.
	Addrs map[string]string
	// Tick is how often (real time) the world is stepped and faults applied to
	// the network (default 50ms).
	Tick time.Duration
	// Real is the real clock driving the loop (default clock.RealClock{}).
	Real clock.WithTicker
	// Split runs the world of the split shape: instances are served on internal
	// loopback ports and are up only while their instance process (StartPresence)
	// sends heartbeats to the control API; links are what those processes report.
	Split bool
}

// Lab is a running topology: the world model plus one TDS server per instance.
type Lab struct {
	log     *zap.Logger
	topo    *Topology
	servers []*InstanceServer
	creds   Credentials
	hub     *hub
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start builds the topology and serves every instance on loopback.
func Start(log *zap.Logger, cfg Config, opts Options) (*Lab, error) {
	if opts.Real == nil {
		opts.Real = clock.RealClock{}
	}
	if opts.Tick <= 0 {
		opts.Tick = 50 * time.Millisecond
	}
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	clk := opts.Clock
	if clk == nil {
		sc, err := NewScaledClock(opts.Real, cfg.Start, opts.Speed)
		if err != nil {
			return nil, err
		}
		clk = sc
	}
	topo, err := New(log, cfg, clk)
	if err != nil {
		return nil, err
	}
	l := &Lab{log: log.Named("lab"), topo: topo, creds: opts.Credentials}
	if opts.Split {
		topo.MarkRemote()
		l.hub = &hub{real: opts.Real, last: map[string]time.Time{}, boot: map[string]string{}}
	}
	for _, inst := range topo.Instances() {
		addr := inst.Addr()
		if a, ok := opts.Addrs[inst.Name()]; ok {
			addr = a
		}
		if addr == "" || opts.Split {
			addr = "127.0.0.1:0"
		}
		srv, err := inst.Serve(log, addr, opts.Credentials)
		if err != nil {
			_ = l.Close()
			return nil, err
		}
		l.servers = append(l.servers, srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(ctx, opts.Real, opts.Tick)
	}()
	return l, nil
}

func (l *Lab) run(ctx context.Context, real clock.WithTicker, tick time.Duration) {
	t := real.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			l.expirePresence()
			l.topo.Sync()
		case <-l.topo.Changes():
			for _, s := range l.servers {
				s.reconcile()
			}
		}
	}
}

// Topology is the world model, for faults and inspection.
func (l *Lab) Topology() *Topology { return l.topo }

// Server returns the TDS server of an instance by name or configured role.
func (l *Lab) Server(nameOrRole string) (*InstanceServer, error) {
	inst, err := l.topo.Instance(nameOrRole)
	if err != nil {
		return nil, err
	}
	for _, s := range l.servers {
		if s.inst == inst {
			return s, nil
		}
	}
	return nil, fmt.Errorf("lab: instance %s is not served", inst.Name())
}

// Servers lists the instance servers in configuration order.
func (l *Lab) Servers() []*InstanceServer { return append([]*InstanceServer(nil), l.servers...) }

// DSN is a go-mssqldb connection string for sa on the named instance.
func (l *Lab) DSN(nameOrRole string) (string, error) {
	s, err := l.Server(nameOrRole)
	if err != nil {
		return "", err
	}
	return DSN(s.Addr(), "sa", l.creds.SAPassword, "master"), nil
}

// DSN builds a sqlserver:// URL for addr with encryption disabled, as the lab
// does not speak TLS.
func DSN(addr, user, password, database string) string {
	q := url.Values{}
	q.Set("database", database)
	q.Set("encrypt", "disable")
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: addr, RawQuery: q.Encode()}
	return u.String()
}

// Close stops every server and the clock loop.
func (l *Lab) Close() error {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	var errs []error
	for _, s := range l.servers {
		if err := s.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

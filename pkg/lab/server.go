package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/lab/engine/server"
	"github.com/sqldr/sqldr/pkg/tds"
)

// Credentials are the SQL logins an instance accepts.
type Credentials struct {
	// SAPassword is the sa password (sysadmin).
	SAPassword string
	// MonitorLogin and MonitorPassword define the monitoring-only login
	// (VIEW SERVER STATE, VIEW ANY DATABASE, db_datareader in msdb). Empty
	// MonitorLogin disables it.
	MonitorLogin    string
	MonitorPassword string
}

// logins are the engine server's logins for these credentials.
func (c Credentials) logins() []server.Login {
	out := []server.Login{{Name: "sa", Password: c.SAPassword, Sysadmin: true}}
	if c.MonitorLogin != "" {
		out = append(out, server.Login{Name: c.MonitorLogin, Password: c.MonitorPassword})
	}
	return out
}

// instanceVersion is the product version every lab instance announces (SQL Server 2022 RTM).
var instanceVersion = tds.Version{Major: 16, Minor: 0, Build: 1000, SubBuild: 6}

// InstanceServer serves one instance over TDS on loopback, through the engine's
// TDS front end (pkg/lab/engine/server), and makes its network faults real: down closes the listener and resets connections, hung accepts and
// never answers (existing connections stall too), slow delays every reply, and the
// partition rules refuse or black-hole connections by client source address.
type InstanceServer struct {
	log  *zap.Logger
	inst *Instance
	srv  *server.Server

	mu      sync.Mutex
	cond    *sync.Cond
	addr    string
	ln      net.Listener
	conns   map[*faultConn]struct{}
	stopped bool
	wg      sync.WaitGroup
}

// Serve starts a TDS server for inst on addr ("127.0.0.1:0" for a free port).
func (i *Instance) Serve(log *zap.Logger, addr string, creds Credentials) (*InstanceServer, error) {
	if creds.SAPassword == "" {
		return nil, errors.New("lab: the sa password must not be empty")
	}
	s := &InstanceServer{log: log.Named("server").With(zap.String("instance", i.name)), inst: i, conns: map[*faultConn]struct{}{}}
	s.cond = sync.NewCond(&s.mu)
	srv, err := server.New(log, i.Backend(), server.Config{Logins: creds.logins(), Version: instanceVersion})
	if err != nil {
		return nil, fmt.Errorf("lab: tds server for %s: %w", i.name, err)
	}
	s.srv = srv
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lab: listen for %s on %s: %w", i.name, addr, err)
	}
	s.addr = ln.Addr().String()
	s.mu.Lock()
	s.startLocked(ln)
	s.mu.Unlock()
	s.reconcile()
	return s, nil
}

// Addr is the listen address ("127.0.0.1:port"), stable across down/up faults.
func (s *InstanceServer) Addr() string { return s.addr }

// Instance is the served instance.
func (s *InstanceServer) Instance() *Instance { return s.inst }

func (s *InstanceServer) startLocked(ln net.Listener) {
	s.ln = ln
	fl := &faultListener{Listener: ln, srv: s}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.srv.Serve(fl)
		if err != nil && !errors.Is(err, tds.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Info("lab_listener_stopped", zap.Error(err))
		}
	}()
}

// reconcile applies the instance's current network state: close or reopen the
// listener, reset connections, wake stalled ones.
func (s *InstanceServer) reconcile() {
	ns := s.inst.Net()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	switch {
	case ns.Health == HealthDown && s.ln != nil:
		_ = s.ln.Close()
		s.ln = nil
		for c := range s.conns {
			c.reset()
		}
		s.log.Info("lab_instance_down")
	case ns.Health != HealthDown && s.ln == nil:
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			s.log.Warn("lab_relisten_failed", zap.String("addr", s.addr), zap.Error(err))
			return
		}
		s.startLocked(ln)
		s.log.Info("lab_instance_up")
	}
	s.cond.Broadcast()
}

// Close stops the server and closes every connection.
func (s *InstanceServer) Close() error {
	s.mu.Lock()
	s.stopped = true
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Conn.Close()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	err := s.srv.Close()
	s.wg.Wait()
	return err
}

// faultListener filters accepted connections by source address.
type faultListener struct {
	net.Listener
	srv *InstanceServer
}

// Accept returns the next connection, dropping refused sources with a reset.
func (l *faultListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ns := l.srv.inst.Net()
		var addr netip.Addr
		if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			addr, _ = netip.AddrFromSlice(ta.IP)
			addr = addr.Unmap()
		}
		if ns.Refuses(addr) {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = nc.Close()
			continue
		}
		fc := &faultConn{Conn: nc, srv: l.srv, blackhole: ns.BlackHoles(addr)}
		l.srv.mu.Lock()
		if l.srv.stopped {
			l.srv.mu.Unlock()
			_ = nc.Close()
			return nil, net.ErrClosed
		}
		l.srv.conns[fc] = struct{}{}
		l.srv.mu.Unlock()
		return fc, nil
	}
}

// faultConn stalls while the instance is hung (or forever for a black-holed
// client) and delays replies while it is slow.
type faultConn struct {
	net.Conn
	srv       *InstanceServer
	blackhole bool
	closed    bool
	readSince bool
}

// wait blocks while the connection must not make progress; it returns false when
// the connection was closed meanwhile.
func (c *faultConn) wait() bool {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	for !c.closed && !s.stopped && (c.blackhole || s.inst.Net().Health == HealthHung) {
		s.cond.Wait()
	}
	return !c.closed && !s.stopped
}

// Read stalls while the connection is hung or black-holed.
func (c *faultConn) Read(p []byte) (int, error) {
	if !c.wait() {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	c.srv.mu.Lock()
	c.readSince = true
	c.srv.mu.Unlock()
	return n, err
}

// Write stalls like Read and delays the first write of each reply while slow.
func (c *faultConn) Write(p []byte) (int, error) {
	if !c.wait() {
		return 0, net.ErrClosed
	}
	ns := c.srv.inst.Net()
	c.srv.mu.Lock()
	first := c.readSince
	c.readSince = false
	c.srv.mu.Unlock()
	if ns.Health == HealthSlow && ns.SlowDelay > 0 && first {
		// One delay per reply: the first write after a request was read.
		t := time.NewTimer(ns.SlowDelay)
		<-t.C
	}
	return c.Conn.Write(p)
}

// Close closes the connection and wakes anything waiting on it.
func (c *faultConn) Close() error {
	c.srv.mu.Lock()
	c.closed = true
	delete(c.srv.conns, c)
	c.srv.cond.Broadcast()
	c.srv.mu.Unlock()
	return c.Conn.Close()
}

// reset closes the connection with a TCP RST (called with srv.mu held).
func (c *faultConn) reset() {
	c.closed = true
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Conn.Close()
}

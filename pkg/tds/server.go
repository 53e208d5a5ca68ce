package tds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Version is a product version, e.g. 16.0.1000.0 for SQL Server 2022 RTM.
type Version struct {
	Major    uint8
	Minor    uint8
	Build    uint16
	SubBuild uint16
}

// String returns "major.minor.build.subbuild".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Build, v.SubBuild)
}

// Options configure a Server. Zero fields take the documented defaults.
type Options struct {
	// ServerName is @@SERVERNAME, put into every ERROR/INFO token that has none. Default "LAB".
	ServerName string
	// ProgName is the product name in LOGINACK. Default "Microsoft SQL Server".
	ProgName string
	// Version is the product version in PRELOGIN and LOGINACK. Default 16.0.1000.0.
	Version Version
	// DefaultPacketSize is used when LOGIN7 asks for the server's default (0), in bytes. Default 4096;
	// must be 512..32767.
	DefaultPacketSize int
	// MaxMessageSize limits one reassembled client message (SQL batch or RPC), in bytes. Default
	// 16 MiB. LOGIN7 is always limited to 128 KiB - 1 and PRELOGIN to 4 KiB.
	MaxMessageSize int
	// LoginTimeout bounds PRELOGIN + LOGIN7 + the handler's Login. Default 30s.
	LoginTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.ServerName == "" {
		o.ServerName = "LAB"
	}
	if o.ProgName == "" {
		o.ProgName = "Microsoft SQL Server"
	}
	if o.Version == (Version{}) {
		o.Version = Version{Major: 16, Minor: 0, Build: 1000}
	}
	if o.DefaultPacketSize == 0 {
		o.DefaultPacketSize = 4096
	}
	if o.DefaultPacketSize < minPacketSize || o.DefaultPacketSize > maxPacketSize {
		return o, fmt.Errorf("tds options: DefaultPacketSize %d is outside %d..%d", o.DefaultPacketSize, minPacketSize, maxPacketSize)
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 16 << 20
	}
	if o.MaxMessageSize < 4096 || o.MaxMessageSize > 1<<30 {
		return o, fmt.Errorf("tds options: MaxMessageSize %d is outside 4096..1 GiB", o.MaxMessageSize)
	}
	if o.LoginTimeout == 0 {
		o.LoginTimeout = 30 * time.Second
	}
	if o.LoginTimeout < 0 {
		return o, fmt.Errorf("tds options: LoginTimeout %s is negative", o.LoginTimeout)
	}
	return o, nil
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("tds: server closed")

// SessionInfo describes an open connection.
type SessionInfo struct {
	// SPID is the session id.
	SPID uint16
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// LocalAddr is the listener address the client connected to.
	LocalAddr net.Addr
	// UserName is the login name; empty until the login completed.
	UserName string
	// AppName is the client's application name.
	AppName string
	// LoginTime is when the login completed (zero before).
	LoginTime time.Time
}

// Server accepts TDS connections on any number of listeners and serves them with a Handler.
type Server struct {
	log  *zap.Logger
	h    Handler
	opts Options

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	spids     map[uint16]*conn
	nextSPID  uint16
	wg        sync.WaitGroup

	idleAttentions atomic.Int64 // attentions acknowledged outside a request (for tests and logs)
}

// NewServer returns a server that authenticates logins and runs sessions with h.
func NewServer(log *zap.Logger, h Handler, opts Options) (*Server, error) {
	if log == nil {
		return nil, errors.New("tds: nil logger")
	}
	if h == nil {
		return nil, errors.New("tds: nil handler")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		log: log.Named("tds"), h: h, opts: o, ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}, spids: map[uint16]*conn{},
		nextSPID: 51,
	}, nil
}

// Serve accepts connections on l until Close is called (then it returns ErrServerClosed) or Accept
// fails. It may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("tds: accept on %s: %w", l.Addr(), err)
		}
		c, ok := s.track(nc)
		if !ok {
			_ = nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve()
		}()
	}
}

// track registers a new connection and assigns its SPID.
func (s *Server) track(nc net.Conn) (*conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	spid := s.nextSPID
	for s.spids[spid] != nil {
		spid++
		if spid > 32767 {
			spid = 51
		}
	}
	s.nextSPID = spid + 1
	if s.nextSPID > 32767 {
		s.nextSPID = 51
	}
	c := newConn(s, nc, spid)
	s.conns[c] = struct{}{}
	s.spids[spid] = c
	s.wg.Add(1)
	return c, true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.spids[c.spid] == c {
		delete(s.spids, c.spid)
	}
	s.mu.Unlock()
}

// Close closes every listener and every open connection (clients see their connections reset), and
// waits until all connection goroutines and sessions have ended.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var errs []error
	for l := range s.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close listener %s: %w", l.Addr(), err))
		}
	}
	for c := range s.conns {
		c.abort()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return errors.Join(errs...)
}

// Sessions lists the open connections, ordered by SPID.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	out := make([]SessionInfo, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c.sessionInfo())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].SPID < out[j].SPID })
	return out
}

// Disconnect closes the connection with the given SPID (like KILL). It reports whether it existed.
func (s *Server) Disconnect(spid uint16) bool {
	s.mu.Lock()
	c := s.spids[spid]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.abort()
	return true
}

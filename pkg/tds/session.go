package tds

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// conn is one client connection. After login, a reader goroutine reassembles messages and the
// serve goroutine executes them; only the serve goroutine writes to the socket.
type conn struct {
	srv  *Server
	nc   net.Conn
	log  *zap.Logger
	spid uint16
	pw   *packetWriter

	// Owned by the serve goroutine.
	sess       Session
	tdsVersion uint32
	db         string // current database as last announced to the client
	tranID     uint64
	lastTran   uint64

	mu        sync.Mutex
	info      SessionInfo
	cur       *request // request being executed; attentions cancel it
	closeOnce sync.Once
}

// request is a message handed from the reader to the serve goroutine.
type request struct {
	msg    message
	ctx    context.Context
	cancel context.CancelFunc
	attn   bool // guarded by conn.mu
}

func newConn(s *Server, nc net.Conn, spid uint16) *conn {
	c := &conn{srv: s, nc: nc, spid: spid,
		log: s.log.With(zap.Uint16("spid", spid), zap.Stringer("remote_addr", nc.RemoteAddr()))}
	c.info = SessionInfo{SPID: spid, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	c.pw = newPacketWriter(nc, 4096, spid)
	return c
}

func (c *conn) sessionInfo() SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// abort closes the socket; the goroutines notice and end.
func (c *conn) abort() {
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// isDisconnect reports errors that are a normal end of a connection.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *conn) serve() {
	defer c.abort()
	if !c.login() {
		return
	}
	defer func() {
		if err := c.sess.Close(); err != nil {
			c.log.Warn("session_close_failed", zap.Error(err))
		}
	}()
	reqs := make(chan *request)
	readerDone := make(chan struct{})
	connCtx, cancelConn := context.WithCancel(c.srv.ctx)
	defer cancelConn()
	go func() {
		defer close(readerDone)
		c.readLoop(connCtx, reqs)
	}()
	defer func() {
		c.abort()
		cancelConn()
		<-readerDone
	}()
	for {
		var r *request
		select {
		case r = <-reqs:
		case <-readerDone:
			return
		}
		if r == nil {
			return
		}
		if err := c.handle(r); err != nil {
			if !isDisconnect(err) {
				c.log.Info("connection_closed", zap.Error(err))
			}
			return
		}
	}
}

// readLoop reads messages and hands them to the serve goroutine. An ATTENTION cancels the request in
// progress, or is queued as an idle attention when none is.
func (c *conn) readLoop(ctx context.Context, reqs chan<- *request) {
	for {
		m, err := readMessage(c.nc, maxPacketSize, c.srv.opts.MaxMessageSize)
		if err != nil {
			switch {
			case isDisconnect(err) || ctx.Err() != nil:
				c.log.Debug("client_disconnected")
			default:
				c.log.Info("malformed_input_closing_connection", zap.Error(err))
			}
			c.abort()
			return
		}
		c.mu.Lock()
		if m.typ == packetAttention && c.cur != nil {
			c.cur.attn = true
			c.cur.cancel()
			c.mu.Unlock()
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &request{msg: m, ctx: rctx, cancel: cancel}
		if m.typ != packetAttention {
			c.cur = r
		}
		c.mu.Unlock()
		select {
		case reqs <- r:
		case <-ctx.Done():
			cancel()
			return
		}
	}
}

// handle executes one request and writes its reply. A returned error closes the connection.
func (c *conn) handle(r *request) error {
	defer r.cancel()
	m := r.msg
	if m.typ == packetAttention {
		c.srv.idleAttentions.Add(1)
		c.pw.begin(packetReply)
		if err := c.pw.write(appendDone(nil, tokenDone, doneAttn, 0, 0)); err != nil {
			return err
		}
		return c.pw.end()
	}
	var w *ResultWriter
	var runErr error
	switch m.typ {
	case packetSQLBatch, packetRPC, packetTransMgr:
	default:
		return fmt.Errorf("unexpected packet type 0x%02X after login", m.typ)
	}
	kind := kindBatch
	if m.typ == packetRPC && !m.ignore {
		kind = kindRPC
	}
	w = newResultWriter(r.ctx, c, kind, nil)
	c.pw.begin(packetReply)
	if m.ignore {
		// The client aborted the message: a single DONE with DONE_ERROR (MS-TDS 2.2.1.7).
		w.hadError = true
		return c.finish(r, w, nil)
	}
	if m.status&statusResetConn != 0 {
		if err := c.reset(r.ctx, w, m.status&statusResetConnS != 0); err != nil {
			return c.finish(r, w, err)
		}
	}
	switch m.typ {
	case packetSQLBatch:
		rd := &reader{b: m.data}
		rd.skipAllHeaders()
		if rd.err != nil {
			return fmt.Errorf("sql batch: %w", rd.err)
		}
		text, err := decodeUTF16(m.data[rd.off:])
		if err != nil {
			return fmt.Errorf("sql batch text: %w", err)
		}
		runErr = guard(func() error { return c.sess.Batch(r.ctx, w, text) })
	case packetRPC:
		call, err := parseRPC(m.data, true)
		if err != nil {
			c.log.Info("rpc_rejected", zap.Error(err))
			runErr = &Error{Number: 8009, State: 1, Class: 16, Message: "The incoming tabular data stream (TDS) " +
				"remote procedure call (RPC) protocol stream is incorrect: " + err.Error()}
			break
		}
		w.call = call
		runErr = guard(func() error { return c.sess.RPC(r.ctx, w, call) })
	case packetTransMgr:
		runErr = guard(func() error { return c.transMgr(r.ctx, w, m.data) })
	}
	return c.finish(r, w, runErr)
}

// guard runs a handler or session call and turns a panic into an error, so that a bug in the layer
// above closes one connection instead of crashing the server.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return f()
}

// panicError is a recovered panic of the layer above.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic in handler: %v", e.value) }

// finish classifies the session's error and ends the reply.
func (c *conn) finish(r *request, w *ResultWriter, runErr error) error {
	c.mu.Lock()
	if c.cur == r {
		c.cur = nil
	}
	attn := r.attn
	c.mu.Unlock()
	var errs []*Error
	fatal := false
	if runErr != nil && w.err == nil {
		if list, ok := collectErrors(runErr); ok {
			errs = list
		} else if r.ctx.Err() == nil {
			// A context error after an attention is the expected way out of a cancelled request.
			fields := []zap.Field{zap.Error(runErr)}
			var pe *panicError
			if errors.As(runErr, &pe) {
				fields = append(fields, zap.ByteString("stack", pe.stack))
			}
			c.log.Error("session_failed", fields...)
			errs = []*Error{{Number: 50000, State: 1, Class: 20,
				Message: "Internal error in the simulated server: " + runErr.Error()}}
			fatal = true
		}
	}
	if err := w.finish(errs, attn, fatal); err != nil {
		return err
	}
	if fatal {
		return errors.New("closing the connection after a fatal session error")
	}
	return nil
}

// reset handles RESETCONNECTION: drop any open transaction (unless skipTran), reset the session, and
// announce a changed current database.
func (c *conn) reset(ctx context.Context, w *ResultWriter, skipTran bool) error {
	if !skipTran && c.tranID != 0 {
		c.tranID = 0
	}
	if err := guard(func() error { return c.sess.Reset(ctx) }); err != nil {
		return err
	}
	if db := c.sess.Database(); db != "" && db != c.db {
		old := c.db
		c.db = db
		return w.emit(appendEnvString(nil, envDatabase, db, old))
	}
	return nil
}

// Transaction manager request types (MS-TDS 2.2.6.9).
const (
	tmBegin    = 5
	tmCommit   = 7
	tmRollback = 8
)

func (c *conn) transMgr(ctx context.Context, w *ResultWriter, data []byte) error {
	rd := &reader{b: data}
	rd.skipAllHeaders()
	typ := rd.u16()
	if rd.err != nil {
		return &Error{Number: 8009, State: 2, Class: 16, Message: "Malformed transaction manager request: " + rd.err.Error()}
	}
	tx, _ := c.sess.(Transactor)
	switch typ {
	case tmBegin:
		if c.tranID != 0 {
			return &Error{Number: 3902, State: 1, Class: 16, Message: "A transaction is already active on this connection."}
		}
		if tx != nil {
			if err := tx.BeginTransaction(ctx); err != nil {
				return err
			}
		}
		return w.emit(c.beginTran(nil))
	case tmCommit, tmRollback:
		if c.tranID == 0 {
			verb := "COMMIT"
			if typ == tmRollback {
				verb = "ROLLBACK"
			}
			n := int32(3902)
			if typ == tmRollback {
				n = 3903
			}
			return &Error{Number: n, State: 1, Class: 16,
				Message: "The " + verb + " TRANSACTION request has no corresponding BEGIN TRANSACTION."}
		}
		if tx != nil {
			if err := tx.EndTransaction(ctx, typ == tmCommit); err != nil {
				return err
			}
		}
		return w.emit(c.endTran(nil, typ == tmCommit))
	default:
		return &Error{Number: 8009, State: 3, Class: 16,
			Message: fmt.Sprintf("Transaction manager request type %d is not supported.", typ)}
	}
}

func (c *conn) beginTran(b []byte) []byte {
	c.lastTran++
	c.tranID = c.lastTran
	d := binary.LittleEndian.AppendUint64(nil, c.tranID)
	return appendEnvBytes(b, envBeginTran, d, nil)
}

func (c *conn) endTran(b []byte, commit bool) []byte {
	d := binary.LittleEndian.AppendUint64(nil, c.tranID)
	c.tranID = 0
	typ := envRollback
	if commit {
		typ = envCommitTran
	}
	return appendEnvBytes(b, typ, nil, d)
}

// login runs PRELOGIN and LOGIN7. It reports whether the connection is logged in.
func (c *conn) login() bool {
	opts := &c.srv.opts
	_ = c.nc.SetDeadline(time.Now().Add(opts.LoginTimeout))
	m, err := readMessage(c.nc, maxPacketSize, maxPreloginLength)
	if err != nil {
		c.logLoginInput(err)
		return false
	}
	if m.typ != packetPrelogin {
		c.log.Info("malformed_input_closing_connection", zap.String("reason", "first message is not PRELOGIN"),
			zap.Uint8("packet_type", m.typ))
		return false
	}
	pre, err := parsePrelogin(m.data)
	if err != nil {
		c.log.Info("malformed_input_closing_connection", zap.Error(err))
		return false
	}
	if pre.hasEncryption && (pre.encryption == encryptOn || pre.encryption == encryptReq) {
		c.log.Info("client_requires_encryption", zap.String("hint", "encryption is not supported; use encrypt=disable"))
	}
	c.pw.begin(packetReply)
	if c.pw.write(preloginReply(opts.Version, pre.fedAuth)) != nil || c.pw.end() != nil {
		return false
	}
	m, err = readMessage(c.nc, maxPacketSize, maxLoginLength)
	if err != nil {
		c.logLoginInput(err)
		return false
	}
	if m.typ != packetLogin7 {
		c.log.Info("malformed_input_closing_connection", zap.String("reason", "expected LOGIN7"),
			zap.Uint8("packet_type", m.typ))
		return false
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		c.log.Info("malformed_input_closing_connection", zap.Error(err))
		return false
	}
	size := int(l.packetSize)
	if size == 0 {
		size = opts.DefaultPacketSize
	}
	size = max(minPacketSize, min(maxPacketSize, size))
	c.pw.size = size
	c.tdsVersion = min(l.tdsVersion, verTDS74)
	if l.tdsVersion == verTDS80 {
		c.tdsVersion = verTDS74
	}
	fail := func(reason string, errs ...*Error) bool {
		c.log.Info("login_failed", zap.String("user", l.userName), zap.String("reason", reason))
		var b []byte
		for _, e := range errs {
			b = appendMessage(b, e, opts.ServerName)
		}
		b = appendDone(b, tokenDone, doneError, 0, 0)
		c.pw.begin(packetReply)
		_ = c.pw.write(b)
		_ = c.pw.end()
		return false
	}
	loginFailed := &Error{Number: 18456, State: 1, Class: 14, Message: "Login failed for user '" + l.userName + "'."}
	switch {
	case c.tdsVersion < verTDS73A:
		return fail(fmt.Sprintf("TDS version 0x%08X is older than 7.3, which this server requires", l.tdsVersion),
			&Error{Number: 18456, State: 1, Class: 14, Message: "Login failed for user '" + l.userName +
				"'. Reason: the client's TDS version is older than 7.3, which this server requires."})
	case l.optionFlags2&fIntSecurity != 0 || l.sspiLen > 0:
		return fail("integrated (SSPI) authentication is not supported",
			&Error{Number: 18456, State: 1, Class: 14, Message: "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication."})
	case l.fedAuth:
		return fail("federated authentication is not supported", loginFailed)
	}
	req := LoginRequest{
		UserName: l.userName, Password: l.password, Database: l.database, AppName: l.appName,
		HostName: l.hostName, ServerName: l.serverName, ClientLibrary: l.clientLibrary, Language: l.language,
		TDSVersion: l.tdsVersion, PacketSize: size, ReadOnlyIntent: l.typeFlags&fReadOnlyIntent != 0,
		RemoteAddr: c.nc.RemoteAddr(), LocalAddr: c.nc.LocalAddr(), SPID: c.spid,
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, opts.LoginTimeout)
	var sess Session
	err = guard(func() error {
		var lerr error
		sess, lerr = c.srv.h.Login(ctx, req)
		return lerr
	})
	cancel()
	if err != nil {
		if list, ok := collectErrors(err); ok {
			return fail("refused by handler", list...)
		}
		c.log.Warn("login_handler_failed", zap.Error(err))
		return fail("handler error", loginFailed)
	}
	if sess == nil {
		c.log.Error("login_handler_returned_nil_session")
		return fail("handler returned no session", loginFailed)
	}
	c.sess = sess
	c.db = sess.Database()
	c.pw.begin(packetReply)
	if c.pw.write(loginReply(c.db, size, c.tdsVersion, opts)) != nil || c.pw.end() != nil {
		_ = sess.Close()
		c.sess = nil
		return false
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.mu.Lock()
	c.info.UserName, c.info.AppName, c.info.LoginTime = l.userName, l.appName, time.Now()
	c.mu.Unlock()
	c.log.Debug("login_succeeded", zap.String("user", l.userName), zap.String("database", c.db),
		zap.String("app_name", l.appName), zap.Int("packet_size", size))
	return true
}

func (c *conn) logLoginInput(err error) {
	switch {
	case errors.Is(err, errTLSClientHello):
		c.log.Info("tls_client_hello_rejected", zap.Error(err))
	case isDisconnect(err):
		c.log.Debug("client_disconnected_during_login")
	default:
		c.log.Info("malformed_input_closing_connection", zap.Error(err))
	}
}

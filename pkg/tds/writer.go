package tds

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Column describes one result column.
type Column struct {
	// Name is the column name; "" for an unnamed expression.
	Name string
	// Type is the column type (Int(), NVarChar(128), ...).
	Type Type
	// NotNull clears the nullable flag in the metadata. Values are still sent with the nullable wire
	// type, but a nil value is rejected.
	NotNull bool
}

// ErrMisuse is wrapped by ResultWriter errors caused by calling it in the wrong order.
var ErrMisuse = errors.New("tds: result writer misuse")

type requestKind uint8

const (
	kindBatch requestKind = iota
	kindRPC
)

type pendingDone struct {
	tok    byte
	status uint16
	cmd    uint16
	rows   uint64
}

// ResultWriter streams the reply to one request. A Session uses it from the goroutine that called
// Batch or RPC and must not keep it after returning.
//
// A statement's output is: optionally Columns then Row calls, any number of Message calls, then one
// Done or DoneCount call that ends the statement. The writer chooses the done token (DONE in a batch,
// DONEINPROC inside an RPC or a BeginProc/EndProc block), sets DONE_ERROR when an error message was
// sent since the previous done token, sets DONE_COUNT with the number of rows sent, and sets DONE_MORE
// on every done token but the last one of the reply. After a request the server ends any open result
// set and adds the final done token itself.
type ResultWriter struct {
	c        *conn
	ctx      context.Context
	kind     requestKind
	call     *RPCCall
	cols     []Column
	rows     uint64
	hadError bool // an ERROR token since the last done token
	anyError bool // an ERROR token anywhere in the request
	pending  *pendingDone
	procs    int // open BeginProc blocks
	retStat  int32
	retVals  [][]byte
	scratch  []byte
	err      error // sticky transport error
}

func newResultWriter(ctx context.Context, c *conn, kind requestKind, call *RPCCall) *ResultWriter {
	return &ResultWriter{c: c, ctx: ctx, kind: kind, call: call}
}

// check returns an error if the request was cancelled or the connection failed.
func (w *ResultWriter) check() error {
	if w.err != nil {
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("request cancelled: %w", err)
	}
	return nil
}

// emit writes token bytes, first flushing a pending done token with DONE_MORE.
func (w *ResultWriter) emit(b []byte) error {
	if w.pending != nil {
		d := w.pending
		w.pending = nil
		var tok [13]byte // not w.scratch: b may live there
		if err := w.c.pw.write(appendDone(tok[:0], d.tok, d.status|doneMore, d.cmd, d.rows)); err != nil {
			w.err = err
			return err
		}
	}
	if err := w.c.pw.write(b); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Columns starts a result set. The previous statement's result set must have been ended with Done.
func (w *ResultWriter) Columns(cols ...Column) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cols != nil {
		return fmt.Errorf("%w: Columns called while a result set is open; end it with Done", ErrMisuse)
	}
	if len(cols) == 0 || len(cols) > 4096 {
		return fmt.Errorf("%w: a result set needs 1..4096 columns, got %d", ErrMisuse, len(cols))
	}
	for i, c := range cols {
		if err := c.Type.validate(); err != nil {
			return fmt.Errorf("%w: column %d (%q): %w", ErrMisuse, i+1, c.Name, err)
		}
	}
	w.cols = append([]Column(nil), cols...)
	w.rows = 0
	return w.emit(appendColMetadata(nil, w.cols))
}

// Row sends one row. values must match the open result set's columns in number and type; nil is
// NULL. A value that does not fit its column is rejected (nothing of the row is sent).
func (w *ResultWriter) Row(values ...any) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cols == nil {
		return fmt.Errorf("%w: Row called without an open result set", ErrMisuse)
	}
	if len(values) != len(w.cols) {
		return fmt.Errorf("%w: row has %d values for %d columns", ErrMisuse, len(values), len(w.cols))
	}
	b := append(w.scratch[:0], tokenRow)
	var err error
	for i, v := range values {
		c := &w.cols[i]
		if v == nil && c.NotNull {
			return fmt.Errorf("column %d (%q) is NOT NULL but the value is nil", i+1, c.Name)
		}
		b, err = appendValue(b, c.Type, v)
		if err != nil {
			return fmt.Errorf("column %d (%q): %w", i+1, c.Name, err)
		}
	}
	w.scratch = b
	w.rows++
	return w.emit(b)
}

// Message sends an ERROR token (class >= 11) or an INFO token (class <= 10). An empty ServerName
// is replaced by the server's name.
func (w *ResultWriter) Message(e *Error) error {
	if err := w.check(); err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("%w: Message(nil)", ErrMisuse)
	}
	if e.Class > 10 {
		w.hadError = true
		w.anyError = true
	}
	return w.emit(appendMessage(nil, e, w.c.srv.opts.ServerName))
}

func (w *ResultWriter) doneToken() byte {
	if w.kind == kindRPC || w.procs > 0 {
		return tokenDoneInProc
	}
	return tokenDone
}

func (w *ResultWriter) status() uint16 {
	var s uint16
	if w.hadError {
		s |= doneError
	}
	if w.c.tranID != 0 {
		s |= doneInXact
	}
	return s
}

// Done ends the current statement. If a result set is open it is closed, and the done token carries
// its row count.
func (w *ResultWriter) Done() error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cols != nil {
		return w.end(CmdSelect, w.rows, true)
	}
	return w.end(0, 0, false)
}

// DoneCount ends a statement that affected n rows without a result set (INSERT, UPDATE, DELETE).
func (w *ResultWriter) DoneCount(cmd uint16, n int64) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cols != nil {
		return fmt.Errorf("%w: DoneCount called while a result set is open; use Done", ErrMisuse)
	}
	if n < 0 {
		return fmt.Errorf("%w: negative row count %d", ErrMisuse, n)
	}
	return w.end(cmd, uint64(n), true)
}

func (w *ResultWriter) end(cmd uint16, rows uint64, count bool) error {
	st := w.status()
	if count {
		st |= doneCount
	}
	// Flush the previous pending done (with MORE) and hold this one.
	if w.pending != nil {
		if err := w.emit(nil); err != nil {
			return err
		}
	}
	w.pending = &pendingDone{tok: w.doneToken(), status: st, cmd: cmd, rows: rows}
	w.cols = nil
	w.rows = 0
	w.hadError = false
	return nil
}

// Flush sends the bytes written so far as a packet, so that the client sees them before the session
// waits for something (a long-running statement, WAITFOR). Replies are otherwise sent in full packets.
func (w *ResultWriter) Flush() error {
	if err := w.check(); err != nil {
		return err
	}
	if len(w.c.pw.buf) > headerLen {
		w.c.pw.flush(0)
	}
	if w.c.pw.err != nil {
		w.err = w.c.pw.err
	}
	return w.err
}

// ChangeDatabase announces a change of the current database (USE db): ENVCHANGE type 1 and INFO 5701,
// as SQL Server sends them. The session updates its own state; the server remembers the name as the
// old value of the next change.
func (w *ResultWriter) ChangeDatabase(db string) error {
	if err := w.check(); err != nil {
		return err
	}
	if db == "" {
		return fmt.Errorf("%w: ChangeDatabase with an empty name", ErrMisuse)
	}
	b := appendEnvString(nil, envDatabase, db, w.c.db)
	b = appendMessage(b, &Error{Number: 5701, State: 1, Class: 0,
		Message: "Changed database context to '" + db + "'."}, w.c.srv.opts.ServerName)
	w.c.db = db
	return w.emit(b)
}

// BeginTransaction announces a transaction started by a statement (BEGIN TRAN): ENVCHANGE 8 with a
// new descriptor. It fails if a transaction is already open (nesting is the session's business).
func (w *ResultWriter) BeginTransaction() error {
	if err := w.check(); err != nil {
		return err
	}
	if w.c.tranID != 0 {
		return fmt.Errorf("%w: a transaction is already open", ErrMisuse)
	}
	return w.emit(w.c.beginTran(nil))
}

// EndTransaction announces the end of the open transaction (COMMIT or ROLLBACK): ENVCHANGE 9 or 10.
func (w *ResultWriter) EndTransaction(commit bool) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.c.tranID == 0 {
		return fmt.Errorf("%w: no transaction is open", ErrMisuse)
	}
	return w.emit(w.c.endTran(nil, commit))
}

// InTransaction reports whether a transaction is open on the connection.
func (w *ResultWriter) InTransaction() bool { return w.c.tranID != 0 }

// BeginProc starts the output of a procedure executed from a batch (EXEC proc): until EndProc,
// statements end with DONEINPROC.
func (w *ResultWriter) BeginProc() error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cols != nil {
		return fmt.Errorf("%w: BeginProc called while a result set is open", ErrMisuse)
	}
	w.procs++
	return nil
}

// EndProc ends a BeginProc block with RETURNSTATUS status and DONEPROC. Inside an RPC, the outermost
// block is the RPC's own procedure: EndProc then only sets the RPC's return status (as ReturnStatus
// does), because the server ends every RPC with one RETURNSTATUS and the final DONEPROC.
func (w *ResultWriter) EndProc(status int32) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.procs == 0 {
		return fmt.Errorf("%w: EndProc without BeginProc", ErrMisuse)
	}
	if w.cols != nil {
		if err := w.Done(); err != nil {
			return err
		}
	}
	w.procs--
	if w.kind == kindRPC && w.procs == 0 {
		// The procedure is the RPC itself (a session that runs a by-name call as EXEC): its status
		// is the RPC's, sent once by the server with the final DONEPROC.
		w.retStat = status
		return nil
	}
	b := binary.LittleEndian.AppendUint32([]byte{tokenReturnStatus}, uint32(status))
	if err := w.emit(b); err != nil {
		return err
	}
	w.pending = &pendingDone{tok: tokenDoneProc, status: w.status(), cmd: CmdExecute}
	w.hadError = false
	return nil
}

// ReturnStatus sets the return status of the RPC being executed (default 0). It is sent once, after
// the procedure's output, as RETURNSTATUS.
func (w *ResultWriter) ReturnStatus(status int32) error {
	if w.kind != kindRPC {
		return fmt.Errorf("%w: ReturnStatus outside an RPC; use BeginProc/EndProc in a batch", ErrMisuse)
	}
	w.retStat = status
	return nil
}

// OutputParam sets the value returned for an OUTPUT parameter of the RPC being executed (name with
// '@'). It is sent as RETURNVALUE after the return status.
func (w *ResultWriter) OutputParam(name string, t Type, value any) error {
	if w.kind != kindRPC {
		return fmt.Errorf("%w: OutputParam outside an RPC", ErrMisuse)
	}
	if err := t.validate(); err != nil {
		return fmt.Errorf("output parameter %s: %w", name, err)
	}
	ordinal := -1
	for i, p := range w.call.Params {
		if p.Output && equalFoldASCII(p.Name, name) {
			ordinal = i
		}
	}
	if ordinal < 0 {
		return fmt.Errorf("%w: %s is not an OUTPUT parameter of this call", ErrMisuse, name)
	}
	b, err := appendReturnValue(nil, uint16(ordinal), name, t, value)
	if err != nil {
		return fmt.Errorf("output parameter %s: %w", name, err)
	}
	w.retVals = append(w.retVals, b)
	return nil
}

// finish ends the reply: it closes an open result set, adds RETURNSTATUS/RETURNVALUE/DONEPROC for an
// RPC, a final DONE for a batch that needs one, DONE_ATTN when an attention was received, and sends
// the last packet. errs are messages to send first (from the session's returned error).
func (w *ResultWriter) finish(errs []*Error, attn bool, fatal bool) error {
	if w.err != nil {
		return w.err
	}
	if w.cols != nil {
		_ = w.end(CmdSelect, w.rows, true)
	}
	for _, e := range errs {
		if err := w.emit(appendMessage(nil, e, w.c.srv.opts.ServerName)); err != nil {
			return err
		}
		if e.Class > 10 {
			w.hadError = true
			w.anyError = true
		}
	}
	for w.procs > 0 {
		_ = w.endProcUnchecked()
	}
	switch {
	case attn:
	case w.kind == kindRPC:
		if w.hadError {
			_ = w.end(0, 0, false)
		}
		b := binary.LittleEndian.AppendUint32([]byte{tokenReturnStatus}, uint32(w.retStat))
		for _, rv := range w.retVals {
			b = append(b, rv...)
		}
		if err := w.emit(b); err != nil {
			return err
		}
		st := uint16(0)
		if w.anyError {
			st |= doneError
		}
		if w.c.tranID != 0 {
			st |= doneInXact
		}
		w.pending = &pendingDone{tok: tokenDoneProc, status: st, cmd: CmdExecute}
	case w.pending == nil || w.hadError:
		_ = w.end(0, 0, false)
	}
	if fatal && w.pending != nil {
		w.pending.status |= doneError | doneSrvError
	}
	if attn {
		if err := w.emit(appendDone(nil, tokenDone, doneAttn, 0, 0)); err != nil {
			return err
		}
	} else {
		d := w.pending
		w.pending = nil
		if err := w.c.pw.write(appendDone(nil, d.tok, d.status, d.cmd, d.rows)); err != nil {
			w.err = err
			return err
		}
	}
	w.pending = nil
	if err := w.c.pw.end(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// endProcUnchecked closes an open BeginProc block at the end of a request, ignoring cancellation.
func (w *ResultWriter) endProcUnchecked() error {
	w.procs--
	if w.kind == kindRPC && w.procs == 0 {
		return nil
	}
	b := binary.LittleEndian.AppendUint32([]byte{tokenReturnStatus}, 0)
	if err := w.emit(b); err != nil {
		return err
	}
	w.pending = &pendingDone{tok: tokenDoneProc, status: w.status(), cmd: CmdExecute}
	w.hadError = false
	return nil
}

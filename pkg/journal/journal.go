// Package journal keeps sqldr's durable state in its state directory: the
// status snapshot (written to a temporary file, fsynced, renamed, directory
// fsynced), an append-only journal of JSON lines (one fsync per record, each
// line carrying the length and CRC-32C of its record so that a torn or
// corrupt tail is detected), and an exclusive lock so that two daemons never
// share a state directory.
//
// A store whose files cannot be trusted refuses to open: the daemon must not
// act on a status it cannot trust. A store whose write failed halfway stops
// accepting writes for the same reason.
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// File names inside the state directory.
const (
	StatusFile  = "status.json"
	JournalFile = "journal.jsonl"
	LockFile    = "lock"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrStateDirMissing: the configured state directory does not exist.
	ErrStateDirMissing = errors.New("state directory does not exist")
	// ErrLocked: another process holds the state directory's lock.
	ErrLocked = errors.New("state directory is locked by another sqldr process")
	// ErrDiskFull: a write failed because the filesystem is full (ENOSPC/EDQUOT).
	ErrDiskFull = errors.New("no space left in state directory")
	// ErrTornTail: the journal's last record is incomplete (a crash or a full disk mid-write).
	ErrTornTail = errors.New("journal ends with a torn record")
	// ErrCorrupt: a record (or the status file) fails its length/checksum or sequence check.
	ErrCorrupt = errors.New("state file is corrupt")
	// ErrUntrusted: an earlier write failed, so the store refuses further writes.
	ErrUntrusted = errors.New("state is untrusted after a failed write")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
)

// IntegrityError says where a state file failed its integrity check.
type IntegrityError struct {
	Path   string // file that failed
	Line   int    // 1-based line number (0 for the status file)
	Offset int64  // byte offset of the bad record
	Reason string // what is wrong, for a person
	Err    error  // ErrTornTail or ErrCorrupt
}

// Error names the file, the line and offset, and what is wrong.
func (e *IntegrityError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d (offset %d): %s: %v", e.Path, e.Line, e.Offset, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Path, e.Reason, e.Err)
}

// Unwrap returns ErrTornTail or ErrCorrupt.
func (e *IntegrityError) Unwrap() error { return e.Err }

// Record is one journal entry.
type Record struct {
	Seq  uint64          `json:"seq"`  // 1, 2, 3, … without gaps
	At   time.Time       `json:"at"`   // the controller's time when it was written
	Kind string          `json:"kind"` // e.g. "transition", "plan", "step_start", "step_end"
	Data json.RawMessage `json:"data"` // kind-specific payload
}

// Decode unmarshals the record's payload into v.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("decode journal record %d (%s): %w", r.Seq, r.Kind, err)
	}
	return nil
}

// envelope is one line of the journal: the record's exact bytes with their
// length and CRC-32C (Castagnoli).
type envelope struct {
	Len int             `json:"len"`
	CRC string          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

// statusEnvelope is the status file: the payload, the journal sequence it
// includes, and a checksum of both.
type statusEnvelope struct {
	JournalSeq uint64          `json:"journal_seq"`
	Len        int             `json:"len"`
	CRC        string          `json:"crc"`
	Status     json.RawMessage `json:"status"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) string { return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli)) }

// Options configures a Store.
type Options struct {
	// Dir is the state directory. It must exist; it is never created.
	Dir string
	// FS is the filesystem; nil means the real one (OS()).
	FS FS
}

// Store is an open, locked state directory.
type Store struct {
	log     *zap.Logger
	dir     string
	fs      FS
	lock    *os.File
	journal File
	seq     uint64
	loaded  []Record
	status  json.RawMessage // nil when no status file exists
	statSeq uint64
	broken  error // non-nil after a failed write
}

// Open locks the state directory and loads and verifies the status file and
// the journal. It fails, naming the problem, when the directory is missing,
// locked by another process, or holds a torn or corrupt journal or status:
// the daemon must not act on a status it cannot trust.
func Open(logger *zap.Logger, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open state directory: no directory configured")
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = OS()
	}
	fi, err := fsys.Stat(opts.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open state directory %s: %w", opts.Dir, ErrStateDirMissing)
	case err != nil:
		return nil, fmt.Errorf("open state directory %s: %w", opts.Dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open state directory %s: not a directory", opts.Dir)
	}
	lock, err := lockFile(filepath.Join(opts.Dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("open state directory %s: %w", opts.Dir, err)
	}
	s := &Store{log: logger, dir: opts.Dir, fs: fsys, lock: lock}
	if err := s.load(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	jf, err := fsys.OpenFile(s.path(JournalFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open journal %s: %w", s.path(JournalFile), classify(err))
	}
	s.journal = jf
	logger.Info("state_directory_opened",
		zap.String("state_dir", opts.Dir),
		zap.Uint64("journal_seq", s.seq),
		zap.Bool("status_found", s.status != nil))
	return s, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func (s *Store) load() error {
	if err := s.loadJournal(); err != nil {
		return err
	}
	return s.loadStatus()
}

func (s *Store) loadJournal() error {
	p := s.path(JournalFile)
	f, err := s.fs.OpenFile(p, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal %s: %w", p, err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read journal %s: %w", p, err)
	}
	recs, err := parseJournal(p, data)
	if err != nil {
		return err
	}
	s.loaded = recs
	if n := len(recs); n > 0 {
		s.seq = recs[n-1].Seq
	}
	return nil
}

// parseJournal verifies every line. A bad last line (or a last line without
// its newline) is a torn tail; a bad line before it is corruption.
func parseJournal(path string, data []byte) ([]Record, error) {
	var recs []Record
	var offset int64
	line := 0
	for len(data) > 0 {
		line++
		i := bytes.IndexByte(data, '\n')
		last := i < 0 || i == len(data)-1
		bad := func(reason string) error {
			kind := ErrCorrupt
			if last {
				kind = ErrTornTail
			}
			return &IntegrityError{Path: path, Line: line, Offset: offset, Reason: reason, Err: kind}
		}
		if i < 0 {
			return nil, bad("record has no terminating newline")
		}
		raw := data[:i]
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, bad("line is not a JSON envelope: " + err.Error())
		}
		if env.Len != len(env.Rec) {
			return nil, bad("record length " + strconv.Itoa(len(env.Rec)) + " != recorded " + strconv.Itoa(env.Len))
		}
		if got := checksum(env.Rec); got != env.CRC {
			return nil, bad("checksum " + got + " != recorded " + env.CRC)
		}
		var r Record
		if err := json.Unmarshal(env.Rec, &r); err != nil {
			return nil, bad("record does not decode: " + err.Error())
		}
		want := uint64(len(recs)) + 1
		if r.Seq != want {
			return nil, bad(fmt.Sprintf("sequence %d, want %d", r.Seq, want))
		}
		recs = append(recs, r)
		offset += int64(i) + 1
		data = data[i+1:]
	}
	return recs, nil
}

func (s *Store) loadStatus() error {
	p := s.path(StatusFile)
	f, err := s.fs.OpenFile(p, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read status %s: %w", p, err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read status %s: %w", p, err)
	}
	var env statusEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return &IntegrityError{Path: p, Reason: "status is not valid JSON: " + err.Error(), Err: ErrCorrupt}
	}
	if env.Len != len(env.Status) || checksum(statusBytes(env.JournalSeq, env.Status)) != env.CRC {
		return &IntegrityError{Path: p, Reason: "status length or checksum does not match", Err: ErrCorrupt}
	}
	if env.JournalSeq > s.seq {
		return &IntegrityError{Path: p, Reason: fmt.Sprintf(
			"status includes journal record %d but the journal ends at %d (journal truncated?)",
			env.JournalSeq, s.seq), Err: ErrCorrupt}
	}
	s.status = env.Status
	s.statSeq = env.JournalSeq
	return nil
}

func statusBytes(seq uint64, status []byte) []byte {
	b := strconv.AppendUint(nil, seq, 10)
	b = append(b, ':')
	return append(b, status...)
}

// Records returns the journal records loaded at Open, oldest first.
func (s *Store) Records() []Record { return s.loaded }

// RecordsAfter returns the loaded records with Seq > seq, e.g. the ones the
// last status does not include yet.
func (s *Store) RecordsAfter(seq uint64) []Record {
	for i, r := range s.loaded {
		if r.Seq > seq {
			return s.loaded[i:]
		}
	}
	return nil
}

// Seq returns the sequence number of the last record written or loaded.
func (s *Store) Seq() uint64 { return s.seq }

// Status decodes the status loaded at Open into v. found is false when the
// directory held no status file yet (a first start). journalSeq is the last
// journal record the status includes.
func (s *Store) Status(v any) (found bool, journalSeq uint64, err error) {
	if s.status == nil {
		return false, 0, nil
	}
	if err := json.Unmarshal(s.status, v); err != nil {
		return true, s.statSeq, fmt.Errorf("decode status %s: %w", s.path(StatusFile), err)
	}
	return true, s.statSeq, nil
}

// Trusted reports whether the store still accepts writes (no write failed).
func (s *Store) Trusted() error {
	if s.broken != nil {
		return s.broken
	}
	if s.journal == nil {
		return ErrClosed
	}
	return nil
}

// Append writes one record and fsyncs it before returning. After a failed
// write the store is untrusted and refuses further writes.
func (s *Store) Append(kind string, at time.Time, data any) (Record, error) {
	if err := s.Trusted(); err != nil {
		return Record{}, fmt.Errorf("append %s record: %w", kind, err)
	}
	payload, err := json.Marshal(data)
	if err != nil {
		return Record{}, fmt.Errorf("append %s record: encode payload: %w", kind, err)
	}
	r := Record{Seq: s.seq + 1, At: at.UTC(), Kind: kind, Data: payload}
	rec, err := json.Marshal(r)
	if err != nil {
		return Record{}, fmt.Errorf("append %s record: encode: %w", kind, err)
	}
	line, err := json.Marshal(envelope{Len: len(rec), CRC: checksum(rec), Rec: rec})
	if err != nil {
		return Record{}, fmt.Errorf("append %s record: encode envelope: %w", kind, err)
	}
	line = append(line, '\n')
	if _, err := s.journal.Write(line); err != nil {
		return Record{}, s.fail(fmt.Errorf("append %s record %d to %s: %w", kind, r.Seq, s.path(JournalFile), classify(err)))
	}
	if err := s.journal.Sync(); err != nil {
		return Record{}, s.fail(fmt.Errorf("fsync journal %s: %w", s.path(JournalFile), classify(err)))
	}
	s.seq = r.Seq
	return r, nil
}

// WriteStatus replaces the status file atomically and durably: temporary
// file, fsync, rename, directory fsync. The status records the journal
// sequence it includes.
func (s *Store) WriteStatus(v any) error {
	if err := s.Trusted(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write status: encode: %w", err)
	}
	env := statusEnvelope{JournalSeq: s.seq, Len: len(payload), CRC: checksum(statusBytes(s.seq, payload)), Status: payload}
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("write status: encode envelope: %w", err)
	}
	data = append(data, '\n')
	final := s.path(StatusFile)
	tmp := final + ".tmp"
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write status %s: %w", tmp, classify(err))
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		// The previous status file is untouched; only the temporary file is bad.
		_ = s.fs.Remove(tmp)
		return fmt.Errorf("write status %s: %w", tmp, classify(werr))
	}
	if err := s.fs.Rename(tmp, final); err != nil {
		_ = s.fs.Remove(tmp)
		return fmt.Errorf("rename status %s: %w", final, classify(err))
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return s.fail(fmt.Errorf("fsync state directory %s: %w", s.dir, classify(err)))
	}
	s.status = payload
	s.statSeq = s.seq
	return nil
}

// fail marks the store untrusted and returns err.
func (s *Store) fail(err error) error {
	s.broken = fmt.Errorf("%w: %w", ErrUntrusted, err)
	s.log.Error("state_write_failed", zap.String("state_dir", s.dir), zap.Error(err))
	return err
}

// Close closes the journal and releases the lock.
func (s *Store) Close() error {
	var errs []error
	if s.journal != nil {
		errs = append(errs, s.journal.Close())
		s.journal = nil
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close state directory %s: %w", s.dir, err)
	}
	return nil
}

// classify names a full disk: it wraps err with ErrDiskFull when the
// operating system reported ENOSPC/EDQUOT, and ErrStateDirMissing when the
// directory vanished.
func classify(err error) error {
	switch {
	case isNoSpace(err):
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrStateDirMissing, err)
	}
	return err
}

// Package signal reads, validates and consumes the operator signal files in
// <state_dir>/signals/ (DESIGN.md, "Signal files"): `approve`, `ack` and
// `retry`, each holding one line `plan: <id>`, and `pause`, whose presence
// sets the pause flag. It also writes them for the CLI.
//
// A signal is accepted only if its directory is not writable by others, the
// file is a regular file owned by root, the daemon's user or the operators
// group, it is well formed, names the plan it is meant for, is newer than
// that plan and younger than the approval TTL. An invalid signal is renamed
// aside with its reason in the name and counted; it never promotes. An
// accepted approve/ack/retry is consumed at once (renamed with the plan ID),
// so it is read exactly once.
package signal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Kind names a signal file.
type Kind uint8

// The signal kinds. The zero value is not a signal.
const (
	KindUnknown Kind = iota
	// KindApprove approves the pending plan named in the file.
	KindApprove
	// KindAck acknowledges a plan's promotion or failure.
	KindAck
	// KindRetry re-runs the failed step of the named plan.
	KindRetry
	// KindPause sets the pause flag while the file exists.
	KindPause
)

var kindNames = [...]string{"unknown", "approve", "ack", "retry", "pause"}

// String returns the file name of the signal.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's file name (status files stay readable).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind's file name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown signal kind %q", b)
}

// planKinds are the signals that carry `plan: <id>`, in scan order.
var planKinds = []Kind{KindApprove, KindAck, KindRetry}

// Reason says why a signal was rejected. It is a bounded metric label.
type Reason string

// Rejection reasons.
const (
	ReasonMalformed     Reason = "malformed"
	ReasonWrongPlan     Reason = "wrong_plan"
	ReasonStale         Reason = "stale"
	ReasonWrongOwner    Reason = "wrong_owner"
	ReasonUnsafeDir     Reason = "unsafe_directory"
	ReasonNotRegular    Reason = "not_regular_file"
	ReasonNothingToDo   Reason = "no_matching_plan"
	ReasonUnreadable    Reason = "unreadable"
	maxSignalFileSize          = 4096
	permWritableByOther        = 0o002
)

// Reasons lists every rejection reason, for pre-creating metric labels.
var Reasons = []Reason{ReasonMalformed, ReasonWrongPlan, ReasonStale, ReasonWrongOwner,
	ReasonUnsafeDir, ReasonNotRegular, ReasonNothingToDo, ReasonUnreadable}

// planIDPattern is what a plan ID may look like; it is used in file names.
var planIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidPlanID reports whether id may be a plan ID.
func ValidPlanID(id string) bool { return planIDPattern.MatchString(id) }

// Signal is an accepted signal.
type Signal struct {
	Kind    Kind
	Plan    string    // plan ID (empty for pause)
	ModTime time.Time // the file's modification time
}

// Rejection is a signal that was refused.
type Rejection struct {
	Kind   Kind
	Reason Reason
	Detail string // for a person: what exactly was wrong
	Plan   string // plan ID named by the file, if it could be read
}

// Expect is what the controller would accept now. The controller builds it
// from its status each cycle.
type Expect struct {
	// PendingPlan is the plan waiting for approval ("" if none) and
	// PlanCreated its creation time: an approval must be newer.
	PendingPlan string
	PlanCreated time.Time
	// AckPlan is the plan whose promotion or failure can be acknowledged
	// ("" if none), created at AckPlanCreated.
	AckPlan        string
	AckPlanCreated time.Time
	// RetryPlan is the failed plan whose step can be retried ("" if none).
	RetryPlan        string
	RetryPlanCreated time.Time
}

// Scan is the result of one pass over the signal directory.
type Scan struct {
	Paused   bool
	Accepted []Signal
	Rejected []Rejection
}

// FileInfo is what the owner and safety checks need to know about a path.
type FileInfo struct {
	Mode    fs.FileMode
	UID     uint32
	GID     uint32
	ModTime time.Time
	Size    int64
}

// StatFunc returns FileInfo for a path without following a final symlink.
type StatFunc func(path string) (FileInfo, error)

// Options configures a Reader.
type Options struct {
	// Dir is the signal directory, normally <state_dir>/signals.
	Dir string
	// DaemonUID is the daemon's user ID; files it owns are accepted.
	DaemonUID uint32
	// OperatorsGID, when set, is a group whose files are accepted.
	OperatorsGID *uint32
	// ApprovalTTL is how long a signal file stays valid after it was
	// written. Default 15m.
	ApprovalTTL time.Duration
	// Stat replaces the filesystem's lstat (tests); nil means Lstat.
	Stat StatFunc
}

// DefaultApprovalTTL is the default Options.ApprovalTTL.
const DefaultApprovalTTL = 15 * time.Minute

// Reader scans a signal directory.
type Reader struct {
	log  *zap.Logger
	opts Options
	mu   sync.Mutex
	rej  map[Reason]uint64
	acc  map[Kind]uint64
}

// NewReader returns a Reader; it checks the options but not the directory
// (which is checked at every scan).
func NewReader(logger *zap.Logger, opts Options) (*Reader, error) {
	if opts.Dir == "" {
		return nil, errors.New("signal reader: no signal directory configured")
	}
	if opts.ApprovalTTL == 0 {
		opts.ApprovalTTL = DefaultApprovalTTL
	}
	if opts.ApprovalTTL < 0 {
		return nil, fmt.Errorf("signal reader: approval_ttl %s must be positive", opts.ApprovalTTL)
	}
	if opts.Stat == nil {
		opts.Stat = lstat
	}
	return &Reader{log: logger, opts: opts, rej: map[Reason]uint64{}, acc: map[Kind]uint64{}}, nil
}

// RejectedCounts returns how many signals were rejected, per reason, since
// the Reader was created.
func (r *Reader) RejectedCounts() map[Reason]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Reason]uint64, len(r.rej))
	for k, v := range r.rej {
		out[k] = v
	}
	return out
}

// AcceptedCounts returns how many signals were accepted, per kind.
func (r *Reader) AcceptedCounts() map[Kind]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Kind]uint64, len(r.acc))
	for k, v := range r.acc {
		out[k] = v
	}
	return out
}

func (r *Reader) allowedOwner(fi FileInfo) bool {
	if fi.UID == 0 || fi.UID == r.opts.DaemonUID {
		return true
	}
	return r.opts.OperatorsGID != nil && fi.GID == *r.opts.OperatorsGID
}

// Scan reads the signal directory at time now. Accepted approve/ack/retry
// files are consumed (renamed to `<kind>.consumed.<plan>.<unix nanos>`);
// rejected ones are renamed to `<kind>.rejected.<reason>.<unix nanos>`.
// A missing directory means no signals. An error is returned only when the
// directory cannot be read or a file cannot be renamed; the scan result is
// still valid for the files handled before it.
func (r *Reader) Scan(now time.Time, exp Expect) (Scan, error) {
	var out Scan
	dir := r.opts.Dir
	di, err := r.opts.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("stat signal directory %s: %w", dir, err)
	}
	dirProblem := ""
	switch {
	case !di.Mode.IsDir():
		return out, fmt.Errorf("signal directory %s is not a directory", dir)
	case di.Mode.Perm()&permWritableByOther != 0:
		dirProblem = fmt.Sprintf("directory %s is writable by others (mode %04o)", dir, di.Mode.Perm())
	case !r.allowedOwner(di):
		dirProblem = fmt.Sprintf("directory %s is owned by uid %d gid %d", dir, di.UID, di.GID)
	}

	var errs []error
	all := append([]Kind{KindPause}, planKinds...)
	for _, k := range all {
		path := filepath.Join(dir, k.String())
		fi, err := r.opts.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, r.reject(&out, now, k, "", ReasonUnreadable, err.Error()))
			continue
		}
		sig, rej := r.validate(path, k, fi, dirProblem, now, exp)
		if rej != nil {
			errs = append(errs, r.reject(&out, now, k, rej.Plan, rej.Reason, rej.Detail))
			continue
		}
		if k == KindPause {
			out.Paused = true
			continue
		}
		// Consume before reporting acceptance: if the rename fails, the
		// signal is not accepted (it would otherwise count again next scan).
		dst := filepath.Join(dir, fmt.Sprintf("%s.consumed.%s.%d", k, sig.Plan, now.UnixNano()))
		if err := os.Rename(path, dst); err != nil {
			errs = append(errs, fmt.Errorf("consume signal %s: %w", path, err))
			continue
		}
		r.mu.Lock()
		r.acc[k]++
		r.mu.Unlock()
		r.log.Info("signal_accepted", zap.String("signal", k.String()), zap.String("plan_id", sig.Plan),
			zap.String("consumed_as", filepath.Base(dst)))
		out.Accepted = append(out.Accepted, sig)
	}
	return out, errors.Join(errs...)
}

// validate checks one file; it returns the accepted signal or a rejection.
func (r *Reader) validate(path string, k Kind, fi FileInfo, dirProblem string, now time.Time, exp Expect) (Signal, *Rejection) {
	rej := func(reason Reason, plan, detail string) (Signal, *Rejection) {
		return Signal{}, &Rejection{Kind: k, Reason: reason, Plan: plan, Detail: detail}
	}
	if dirProblem != "" {
		return rej(ReasonUnsafeDir, "", dirProblem)
	}
	if !fi.Mode.IsRegular() {
		return rej(ReasonNotRegular, "", fmt.Sprintf("%s is not a regular file (mode %s)", path, fi.Mode))
	}
	if !r.allowedOwner(fi) {
		return rej(ReasonWrongOwner, "", fmt.Sprintf("%s is owned by uid %d gid %d", path, fi.UID, fi.GID))
	}
	if fi.Mode.Perm()&permWritableByOther != 0 {
		return rej(ReasonWrongOwner, "", fmt.Sprintf("%s is writable by others (mode %04o)", path, fi.Mode.Perm()))
	}
	if fi.Size > maxSignalFileSize {
		return rej(ReasonMalformed, "", fmt.Sprintf("%s is %d bytes, more than %d", path, fi.Size, maxSignalFileSize))
	}
	if k == KindPause {
		// A level, not an event: it holds for as long as the file exists.
		return Signal{Kind: k, ModTime: fi.ModTime}, nil
	}
	if age := now.Sub(fi.ModTime); age > r.opts.ApprovalTTL {
		return rej(ReasonStale, "", fmt.Sprintf("written %s ago, approval_ttl is %s", age.Round(time.Second), r.opts.ApprovalTTL))
	}
	data, err := os.ReadFile(path) //nolint:gosec // fixed name inside the signal directory
	if err != nil {
		return rej(ReasonUnreadable, "", err.Error())
	}
	plan, err := Parse(data)
	if err != nil {
		return rej(ReasonMalformed, "", err.Error())
	}
	var want string
	var created time.Time
	switch k {
	case KindApprove:
		want, created = exp.PendingPlan, exp.PlanCreated
	case KindAck:
		want, created = exp.AckPlan, exp.AckPlanCreated
	case KindRetry:
		want, created = exp.RetryPlan, exp.RetryPlanCreated
	}
	if want == "" {
		return rej(ReasonNothingToDo, plan, fmt.Sprintf("no plan is waiting for %s (file names %s)", k, plan))
	}
	if plan != want {
		return rej(ReasonWrongPlan, plan, fmt.Sprintf("names plan %s, the plan waiting for %s is %s", plan, k, want))
	}
	if !fi.ModTime.After(created) {
		return rej(ReasonStale, plan, fmt.Sprintf("written at %s, before plan %s was created at %s",
			fi.ModTime.UTC().Format(time.RFC3339), plan, created.UTC().Format(time.RFC3339)))
	}
	return Signal{Kind: k, Plan: plan, ModTime: fi.ModTime}, nil
}

// reject renames the file aside, counts and logs it. It returns a rename
// error, if any.
func (r *Reader) reject(out *Scan, now time.Time, k Kind, plan string, reason Reason, detail string) error {
	out.Rejected = append(out.Rejected, Rejection{Kind: k, Reason: reason, Detail: detail, Plan: plan})
	r.mu.Lock()
	r.rej[reason]++
	r.mu.Unlock()
	r.log.Warn("signal_rejected", zap.String("signal", k.String()), zap.String("plan_id", plan),
		zap.String("reason", string(reason)), zap.String("detail", detail))
	src := filepath.Join(r.opts.Dir, k.String())
	dst := filepath.Join(r.opts.Dir, fmt.Sprintf("%s.rejected.%s.%d", k, reason, now.UnixNano()))
	if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move rejected signal %s aside: %w", src, err)
	}
	return nil
}

// Parse reads the body of an approve/ack/retry file: exactly one non-empty
// line `plan: <id>` (surrounding blank lines and spaces are allowed).
func Parse(data []byte) (string, error) {
	var lines []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) != 1 {
		return "", fmt.Errorf("want exactly one line `plan: <id>`, found %d non-empty lines", len(lines))
	}
	key, val, ok := strings.Cut(lines[0], ":")
	if !ok || strings.TrimSpace(key) != "plan" {
		return "", fmt.Errorf("want `plan: <id>`, found %q", lines[0])
	}
	id := strings.TrimSpace(val)
	if !ValidPlanID(id) {
		return "", fmt.Errorf("plan ID %q is not valid (letters, digits, . _ -, at most 64)", id)
	}
	return id, nil
}

// Write creates a signal file atomically for the CLI: a temporary file in
// the same directory, fsynced, mode 0640, renamed into place. plan is
// required for approve/ack/retry and ignored for pause.
func Write(dir string, k Kind, plan string) error {
	var body []byte
	switch k {
	case KindApprove, KindAck, KindRetry:
		if !ValidPlanID(plan) {
			return fmt.Errorf("write %s signal: plan ID %q is not valid", k, plan)
		}
		body = []byte("plan: " + plan + "\n")
	case KindPause:
		body = []byte("paused\n")
	default:
		return fmt.Errorf("write signal: unknown kind %s", k)
	}
	f, err := os.CreateTemp(dir, "."+k.String()+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s signal in %s: %w", k, dir, err)
	}
	tmp := f.Name()
	_, werr := f.Write(body)
	if werr == nil {
		werr = f.Chmod(0o640)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(dir, k.String()))
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s signal in %s: %w", k, dir, werr)
	}
	return nil
}

// RemovePause deletes the pause file (`sqldr resume`). It is not an error if
// there is none.
func RemovePause(dir string) error {
	err := os.Remove(filepath.Join(dir, KindPause.String()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove pause signal in %s: %w", dir, err)
	}
	return nil
}

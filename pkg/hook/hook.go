// Package hook runs the operator's hook programs around a promotion and a
// fence: a program and its arguments, executed without a shell, with a
// timeout that kills its whole process group, a documented structured
// environment, and bounded captured output.
//
// The environment a hook receives is the daemon's own environment minus the
// variables listed in Options.Scrub (the DSN variables: secrets never reach a
// hook), plus the hook's configured Env, plus these variables (set last, so
// they cannot be overridden by configuration):
//
//	SQLDR_EVENT                          pre_promote, post_promote or fence
//	SQLDR_HOOK                           the hook's configured name
//	SQLDR_PLAN_ID                        the promotion plan ID ("" for a fence outside a plan)
//	SQLDR_GROUP                          the failover group
//	SQLDR_DATABASES                      the group's databases, comma-separated
//	SQLDR_OLD_PRIMARY                    the site-A instance that was principal
//	SQLDR_NEW_PRIMARY                    the instance being promoted (the log-shipping secondary)
//	SQLDR_DATA_LOSS_KNOWN                "true" or "false"
//	SQLDR_DATA_LOSS_SECONDS              the data-loss window estimate, whole seconds ("" when unknown)
//	SQLDR_DATA_LOSS_UNCERTAINTY_SECONDS  its uncertainty, whole seconds ("" when unknown)
//	SQLDR_FENCE_INSTANCE                 the instance being fenced (fence hooks only)
//	SQLDR_FENCE_DATABASES                the databases being fenced, comma-separated (fence hooks only)
//
// A hook succeeds when it exits 0. Any other exit, a failure to start, or
// the timeout is an error naming the hook; for a pre-promote hook that
// vetoes the promotion. A hook may run more than once for the same plan (a
// crash between its exit and the journal record re-runs it), so hooks must
// be idempotent.
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Event is when a hook runs.
type Event string

// The events.
const (
	// EventPrePromote runs before anything is changed; a non-zero exit vetoes the promotion.
	EventPrePromote Event = "pre_promote"
	// EventPostPromote runs after every database of the group was recovered.
	EventPostPromote Event = "post_promote"
	// EventFence runs to take a returning site-A partner out of service (fence.method: hook).
	EventFence Event = "fence"
)

// Defaults.
const (
	// DefaultTimeout bounds a hook whose Spec.Timeout is zero.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxOutput bounds the captured output (stdout and stderr together), in bytes.
	DefaultMaxOutput = 64 << 10
	// killGrace is how long Run waits for the output pipes after the process
	// group was killed (a grandchild that escaped the group may hold them).
	killGrace = 2 * time.Second
)

// Spec is one configured hook.
type Spec struct {
	// Name identifies the hook in logs, errors and SQLDR_HOOK.
	Name string
	// Command is the program to execute (an absolute path or a name looked up in PATH); no shell is involved.
	Command string
	// Args are its arguments, passed as they are.
	Args []string
	// Timeout bounds the run; the process group is killed when it expires. Zero means DefaultTimeout.
	Timeout time.Duration
	// Env are extra environment variables (names must not start with SQLDR_).
	Env map[string]string
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every problem of the spec, each naming the field.
func (s Spec) Validate() error {
	var errs []error
	if strings.TrimSpace(s.Name) == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if strings.TrimSpace(s.Command) == "" {
		errs = append(errs, errors.New("command: must not be empty"))
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %s must not be negative", s.Timeout))
	}
	for k := range s.Env {
		switch {
		case !envName.MatchString(k):
			errs = append(errs, fmt.Errorf("env.%s: not a valid environment variable name", k))
		case strings.HasPrefix(strings.ToUpper(k), "SQLDR_"):
			errs = append(errs, fmt.Errorf("env.%s: SQLDR_ variables are set by sqldr", k))
		}
	}
	return errors.Join(errs...)
}

// Context is what a hook is told about the event, through its environment.
type Context struct {
	Event     Event
	PlanID    string
	Group     string
	Databases []string
	// OldPrimary is the site-A instance that was principal; NewPrimary the instance being promoted.
	OldPrimary, NewPrimary string
	// DataLossKnown says whether DataLoss and DataLossUncertainty are meaningful.
	DataLossKnown       bool
	DataLoss            time.Duration
	DataLossUncertainty time.Duration
	// FenceInstance and FenceDatabases are set for fence hooks.
	FenceInstance  string
	FenceDatabases []string
}

// Env returns the SQLDR_ variables for the context, as NAME=value strings.
func (c Context) Env(hookName string) []string {
	secs := func(d time.Duration) string {
		if !c.DataLossKnown {
			return ""
		}
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return []string{
		"SQLDR_EVENT=" + string(c.Event),
		"SQLDR_HOOK=" + hookName,
		"SQLDR_PLAN_ID=" + c.PlanID,
		"SQLDR_GROUP=" + c.Group,
		"SQLDR_DATABASES=" + strings.Join(c.Databases, ","),
		"SQLDR_OLD_PRIMARY=" + c.OldPrimary,
		"SQLDR_NEW_PRIMARY=" + c.NewPrimary,
		"SQLDR_DATA_LOSS_KNOWN=" + strconv.FormatBool(c.DataLossKnown),
		"SQLDR_DATA_LOSS_SECONDS=" + secs(c.DataLoss),
		"SQLDR_DATA_LOSS_UNCERTAINTY_SECONDS=" + secs(c.DataLossUncertainty),
		"SQLDR_FENCE_INSTANCE=" + c.FenceInstance,
		"SQLDR_FENCE_DATABASES=" + strings.Join(c.FenceDatabases, ","),
	}
}

// Result is what a run produced.
type Result struct {
	// Name is the hook's name.
	Name string
	// ExitCode is the exit status (-1 when the process did not exit normally: not started, killed).
	ExitCode int
	// Duration is the wall-clock run time.
	Duration time.Duration
	// Output is stdout and stderr interleaved, at most Options.MaxOutput bytes.
	Output string
	// Truncated is true when output beyond MaxOutput was dropped.
	Truncated bool
}

// Error is a hook that did not succeed.
type Error struct {
	// Hook is the hook's name; Command its program.
	Hook, Command string
	// ExitCode is the exit status, -1 when it did not exit normally.
	ExitCode int
	// TimedOut is true when the timeout killed it.
	TimedOut bool
	// Timeout is the limit that applied.
	Timeout time.Duration
	// Tail is the last line of its output, for the message.
	Tail string
	// Err is the underlying error (start failure, signal), if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hook %q (%s)", e.Hook, e.Command)
	switch {
	case e.TimedOut:
		fmt.Fprintf(&b, " timed out after %s; its process group was killed", e.Timeout)
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, " exited with code %d", e.ExitCode)
	case e.Err != nil:
		fmt.Fprintf(&b, " failed: %v", e.Err)
	}
	if e.Tail != "" {
		fmt.Fprintf(&b, ": %s", e.Tail)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Options configures a Runner.
type Options struct {
	// MaxOutput bounds the captured output in bytes. Zero means DefaultMaxOutput.
	MaxOutput int
	// Scrub names environment variables never passed to hooks (e.g. the dsn_env variables).
	Scrub []string
	// Environ returns the base environment; nil means os.Environ.
	Environ func() []string
}

// Runner runs hooks. It is safe for concurrent use.
type Runner struct {
	log  *zap.Logger
	opts Options
}

// NewRunner returns a Runner.
func NewRunner(logger *zap.Logger, opts Options) *Runner {
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	return &Runner{log: logger.Named("hook"), opts: opts}
}

// Run executes one hook and waits for it (or its timeout, or ctx). It returns
// the result in every case, and a *Error when the hook did not exit 0.
func (r *Runner) Run(ctx context.Context, spec Spec, hc Context) (Result, error) {
	res := Result{Name: spec.Name, ExitCode: -1}
	if err := spec.Validate(); err != nil {
		return res, fmt.Errorf("hook %q: invalid: %w", spec.Name, err)
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, spec.Command, spec.Args...)
	cmd.Env = r.environ(spec, hc)
	out := &boundedBuffer{max: r.opts.MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	cmd.WaitDelay = killGrace

	start := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(start)
	res.Output, res.Truncated = out.String(), out.truncated
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err == nil {
		r.log.Info("hook_succeeded", zap.String("hook", spec.Name), zap.String("event", string(hc.Event)),
			zap.String("plan_id", hc.PlanID), zap.Duration("duration", res.Duration), zap.String("output", tail(res.Output, 512)))
		return res, nil
	}
	herr := &Error{Hook: spec.Name, Command: spec.Command, ExitCode: res.ExitCode, Timeout: timeout, Tail: lastLine(res.Output)}
	var exitErr *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.As(err, new(*exec.Error)):
		herr.TimedOut, herr.ExitCode, herr.Err = true, -1, context.DeadlineExceeded
		res.ExitCode = -1
	case errors.As(err, &exitErr):
		if res.ExitCode < 0 {
			herr.Err = err // killed by a signal
		}
	default:
		herr.Err = err
	}
	return res, herr
}

func (r *Runner) environ(spec Spec, hc Context) []string {
	drop := map[string]bool{}
	for _, n := range r.opts.Scrub {
		drop[n] = true
	}
	var env []string
	for _, kv := range r.opts.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if drop[name] || strings.HasPrefix(name, "SQLDR_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	return append(env, hc.Env(spec.Name)...)
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\r\n\t ")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return tail(strings.TrimSpace(s), 200)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

package controller

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqldr/sqldr/pkg/signal"
)

// Mode says how far the controller may act by itself.
type Mode uint8

// The modes. The zero value is invalid so that a forgotten setting is caught.
const (
	// ModeUnset is the zero value; Validate rejects it (DefaultOptions sets ModeApproval).
	ModeUnset Mode = iota
	// ModeMonitor never acts, but always computes what it would do.
	ModeMonitor
	// ModeApproval publishes a plan and promotes only after an approval of that plan.
	ModeApproval
	// ModeAuto promotes by itself when every gate passes; otherwise it behaves as ModeApproval.
	ModeAuto
)

var modeNames = [...]string{"unset", "monitor", "approval", "auto"}

// String returns the mode as the configuration spells it.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses "monitor", "approval" or "auto".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames[1:] {
		if n == s {
			return Mode(i + 1), nil
		}
	}
	return ModeUnset, fmt.Errorf("mode %q: want monitor, approval or auto", s)
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a mode name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Options configures the controller of one failover group. pkg/config maps
// the YAML keys named in each comment onto it.
type Options struct {
	// Group names the failover group (`group`, default "mgc"); it prefixes plan IDs.
	Group string
	// Databases are the databases that fail over together (`databases`, default ["mgc"]).
	Databases []string
	// Target is the configured name of the log-shipping secondary to promote
	// (`target`, default: the first instance with the secondary role in the snapshot).
	Target string
	// Mode is monitor, approval or auto (`mode`, default approval).
	Mode Mode
	// ConfirmAfter is how long site A must stay unreachable before it is
	// confirmed down (`confirm_after`, default 60s).
	ConfirmAfter time.Duration
	// MinFailedProbes is the least number of consecutive failed probes before
	// site A is confirmed down (`min_failed_probes`, default 3).
	MinFailedProbes int
	// MaxDataLoss is the data-loss budget for automatic promotion (`max_data_loss`, default 5m).
	MaxDataLoss time.Duration
	// Cooldown blocks a second automatic promotion while the previous one is
	// not acknowledged (`cooldown`, default 1h).
	Cooldown time.Duration
	// ApprovalTTL is how long an approval file stays valid (`approval_ttl`, default 15m).
	ApprovalTTL time.Duration
	// HistorySize bounds the in-memory transition history (`history_size`, default 100).
	HistorySize int
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Group:           "mgc",
		Databases:       []string{"mgc"},
		Mode:            ModeApproval,
		ConfirmAfter:    60 * time.Second,
		MinFailedProbes: 3,
		MaxDataLoss:     5 * time.Minute,
		Cooldown:        time.Hour,
		ApprovalTTL:     signal.DefaultApprovalTTL,
		HistorySize:     100,
	}
}

// Validate reports every problem at once, each naming the configuration key.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !signal.ValidPlanID(o.Group) || strings.Contains(o.Group, ".") {
		bad("group %q: want letters, digits, _ or - (it is part of plan IDs)", o.Group)
	}
	if len(o.Databases) == 0 {
		bad("databases: at least one database is required")
	}
	seen := map[string]bool{}
	for _, d := range o.Databases {
		k := strings.ToLower(d)
		switch {
		case strings.TrimSpace(d) == "":
			bad("databases: empty database name")
		case seen[k]:
			bad("databases: %q listed twice", d)
		}
		seen[k] = true
	}
	if o.Mode < ModeMonitor || o.Mode > ModeAuto {
		bad("mode: want monitor, approval or auto")
	}
	if o.ConfirmAfter <= 0 {
		bad("confirm_after %s: must be positive", o.ConfirmAfter)
	}
	if o.MinFailedProbes < 1 {
		bad("min_failed_probes %d: must be at least 1", o.MinFailedProbes)
	}
	if o.MaxDataLoss < 0 {
		bad("max_data_loss %s: must not be negative", o.MaxDataLoss)
	}
	if o.Cooldown < 0 {
		bad("cooldown %s: must not be negative", o.Cooldown)
	}
	if o.ApprovalTTL <= 0 {
		bad("approval_ttl %s: must be positive", o.ApprovalTTL)
	}
	if o.HistorySize < 1 {
		bad("history_size %d: must be at least 1", o.HistorySize)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controller options: %w", err)
	}
	return nil
}

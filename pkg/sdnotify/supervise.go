package sdnotify

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// DefaultPoll is how often Supervise checks health when no watchdog is configured.
const DefaultPoll = time.Second

// Health reports, at now, whether the supervised loop is making progress, and a one-line status for
// `systemctl status`. The daemon's answer is "a reconcile finished recently, or a promotion step is
// running" (a step is bounded by its own timeout; a hung loop stops the pings and systemd restarts it).
type Health func(now time.Time) (alive bool, status string)

// SuperviseOptions configure Supervise.
type SuperviseOptions struct {
	// Watchdog is systemd's watchdog timeout (WatchdogInterval); zero means no watchdog pings.
	Watchdog time.Duration
	// Poll is the check period without a watchdog (default DefaultPoll). With a watchdog the period
	// is Watchdog/2, as sd_watchdog_enabled(3) advises, or Poll if that is shorter.
	Poll time.Duration
}

// Supervise reports the health of a loop to systemd until ctx is cancelled: READY=1 (with STATUS) the
// first time health says alive, then WATCHDOG=1 at every check while alive, and STATUS whenever it
// changes. While not alive, no ping is sent, so systemd's WatchdogSec= fires on a stuck loop. On
// return it sends STOPPING=1. A disabled notifier returns at once. Send errors are logged (once per
// kind of failure, not per tick) and do not stop supervision.
func Supervise(ctx context.Context, logger *zap.Logger, n *Notifier, clk clock.WithTicker, health Health, opts SuperviseOptions) error {
	if !n.Enabled() {
		return nil
	}
	if health == nil || clk == nil {
		return errors.New("sd_notify supervise: health and clock are required")
	}
	period := opts.Poll
	if period <= 0 {
		period = DefaultPoll
	}
	if opts.Watchdog > 0 && opts.Watchdog/2 < period {
		period = opts.Watchdog / 2
	}
	ticker := clk.NewTicker(period)
	defer ticker.Stop()
	s := supervisor{log: logger, n: n, watchdog: opts.Watchdog > 0}
	s.check(clk.Now(), health)
	for {
		select {
		case <-ctx.Done():
			s.send("stopping", Stopping, Status("stopping"))
			return nil
		case <-ticker.C():
			s.check(clk.Now(), health)
		}
	}
}

type supervisor struct {
	log      *zap.Logger
	n        *Notifier
	watchdog bool
	ready    bool
	status   string
	lastErr  string
}

func (s *supervisor) check(now time.Time, health Health) {
	alive, status := health(now)
	var msgs []string
	what := "watchdog"
	if alive && !s.ready {
		msgs, what = append(msgs, Ready), "ready"
	}
	if status != s.status {
		msgs = append(msgs, Status(status))
	}
	if alive && s.watchdog {
		msgs = append(msgs, Watchdog)
	}
	if len(msgs) == 0 {
		return
	}
	if s.send(what, msgs...) {
		s.status = status
		if alive && !s.ready {
			s.ready = true
			s.log.Info("systemd_notified_ready", zap.String("status", status))
		}
	}
}

// send notifies and logs a failure once until a send succeeds again.
func (s *supervisor) send(what string, msgs ...string) bool {
	if err := s.n.Notify(msgs...); err != nil {
		if err.Error() != s.lastErr {
			s.log.Warn("systemd_notify_failed", zap.String("notification", what), zap.Error(err))
			s.lastErr = err.Error()
		}
		return false
	}
	s.lastErr = ""
	return true
}

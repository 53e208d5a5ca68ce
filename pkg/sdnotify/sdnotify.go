// Package sdnotify is a small client of systemd's service notification protocol (sd_notify(3)):
// newline-separated KEY=VALUE assignments sent as one datagram to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or an abstract socket when it starts with "@").
//
// It sends READY=1 (start-up finished, for Type=notify), WATCHDOG=1 (keep-alive, for WatchdogSec=),
// STATUS=… (a line shown by `systemctl status`) and STOPPING=1. Outside systemd (no $NOTIFY_SOCKET)
// every call is a no-op, so the daemon runs the same under a terminal, Kubernetes or Windows.
//
// It is written here rather than imported (coreos/go-systemd's daemon package) because the protocol
// is one datagram, and sqldr needs nothing else from that module.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The assignments systemd understands (sd_notify(3)).
const (
	// Ready tells the service manager that start-up is finished.
	Ready = "READY=1"
	// Stopping tells it that the service is shutting down.
	Stopping = "STOPPING=1"
	// Watchdog is the keep-alive ping for WatchdogSec=.
	Watchdog = "WATCHDOG=1"
)

// Status returns a STATUS= assignment; newlines in s are replaced by blanks (one assignment per line).
func Status(s string) string {
	return "STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// Notifier sends notifications to one socket. The zero value and a nil *Notifier are disabled
// notifiers whose Notify does nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a notifier for the socket in notifySocket (the value of $NOTIFY_SOCKET). An empty
// value gives a disabled notifier. A value that is neither an absolute path nor an abstract name
// ("@…") is an error.
func New(notifySocket string) (*Notifier, error) {
	switch {
	case notifySocket == "":
		return &Notifier{}, nil
	case strings.HasPrefix(notifySocket, "@"):
		// Go spells Linux abstract socket names with a leading "@" as well.
		return &Notifier{addr: &net.UnixAddr{Name: notifySocket, Net: "unixgram"}}, nil
	case strings.HasPrefix(notifySocket, "/"):
		return &Notifier{addr: &net.UnixAddr{Name: notifySocket, Net: "unixgram"}}, nil
	}
	return nil, fmt.Errorf("NOTIFY_SOCKET %q is neither an absolute path nor an abstract socket name (@…)", notifySocket)
}

// Enabled reports whether notifications are sent anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Notify sends the assignments as one datagram. A disabled notifier does nothing.
func (n *Notifier) Notify(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	if len(assignments) == 0 {
		return errors.New("sd_notify: nothing to send")
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sd_notify: %q is not one KEY=VALUE assignment", a)
		}
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: dial %s: %w", n.addr.Name, err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("sd_notify: send to %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval reads $WATCHDOG_USEC and $WATCHDOG_PID (their values are passed in) and returns
// the watchdog timeout systemd expects pings within, or 0 when the watchdog is off or meant for
// another process (pid is this process's ID). Ping at half of it, as sd_watchdog_enabled(3) advises.
func WatchdogInterval(usec, watchdogPID string, pid int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if watchdogPID != "" {
		p, err := strconv.Atoi(watchdogPID)
		if err != nil {
			return 0, fmt.Errorf("WATCHDOG_PID %q is not a process ID: %w", watchdogPID, err)
		}
		if p != pid {
			return 0, nil
		}
	}
	u, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || u <= 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC %q is not a positive number of microseconds", usec)
	}
	return time.Duration(u) * time.Microsecond, nil
}

//go:build !windows

package main

// Service-manager integration outside Windows: systemd readiness and watchdog (Type=notify,
// WatchdogSec= in deploy/systemd/sqldr.service) through pkg/sdnotify, and the Unix-mode-bit safety
// checks that `sqldr check` applies to the state directory, the signal directory and hooks. The
// Windows counterparts are in service_windows.go.

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/sdnotify"
)

// loopView is what the service manager needs of the reconcile loop (a *reconcile.Loop).
type loopView interface {
	Ready(now time.Time) bool
	Status() controller.Status
	Untrusted() string
}

// loopHealth is the daemon's health for systemd: alive while reconciles keep finishing (/readyz),
// or while a promotion step runs (a step is bounded by its runbook timeout, which may exceed the
// watchdog: killing the daemon in the middle of RESTORE … WITH RECOVERY helps nobody).
func loopHealth(loop loopView) sdnotify.Health {
	return func(now time.Time) (bool, string) {
		st := loop.Status()
		ready := loop.Ready(now)
		status := fmt.Sprintf("group %s: %s", st.Group, st.State)
		switch {
		case st.State == controller.StatePromoting:
			return true, status + " (a runbook step is running)"
		case !ready:
			return false, status + " (no reconcile finished recently)"
		case loop.Untrusted() != "":
			return true, status + " (observing only: the state directory cannot be trusted)"
		}
		return true, status
	}
}

// superviseService reports the daemon's readiness and liveness to systemd until ctx is cancelled,
// then STOPPING=1. Outside systemd ($NOTIFY_SOCKET unset) it returns at once.
func superviseService(ctx context.Context, logger *zap.Logger, loop loopView) error {
	n, err := sdnotify.New(os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return fmt.Errorf("systemd notification: %w", err)
	}
	wd, err := sdnotify.WatchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	if err != nil {
		return fmt.Errorf("systemd watchdog: %w", err)
	}
	return sdnotify.Supervise(ctx, logger.Named("systemd"), n, clock.RealClock{}, loopHealth(loop), sdnotify.SuperviseOptions{Watchdog: wd})
}

// newServiceCmd is `sqldr service`. Here it has one subcommand, `service run`, the systemd entry
// point; install, uninstall, start, stop and status exist on Windows only.
func newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Run under a service manager (systemd here; install and control the service on Windows)",
		Long: `service run is 'sqldr run' under a service manager: on Linux it reports readiness (READY=1
after the first reconcile) and liveness (WATCHDOG=1 while reconciles keep finishing) to systemd, as
deploy/systemd/sqldr.service expects (Type=notify, WatchdogSec=). Outside systemd it behaves exactly
like 'sqldr run'. On Windows, service install|uninstall|start|stop|status manage the Windows service.
See docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newServiceRunCmd())
	for _, name := range []string{"install", "uninstall", "start", "stop", "status"} {
		cmd.AddCommand(&cobra.Command{
			Use:                name,
			Short:              "Windows only",
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return fmt.Errorf("sqldr service %s is only available on Windows; on Linux install deploy/systemd/sqldr.service (docs/operations.md)", name)
			},
		})
	}
	return cmd
}

func newServiceRunCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon ('sqldr run') with systemd readiness and watchdog notifications",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("--config FILE is required")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return fmt.Errorf("configuration %s:\n%w", cfgPath, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := newRunLogger(cmd.ErrOrStderr())
			defer func() { _ = log.Sync() }()
			return runSupervised(ctx, log, cfg, reconcile.OpenOptions{ApproveFlags: "--config " + cfgPath})
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (YAML)")
	return cmd
}

// runSupervised runs the daemon (runDaemon, as 'sqldr run') and, once it listens, reports its
// health to systemd until it stops.
func runSupervised(ctx context.Context, log *zap.Logger, cfg *config.Config, oo reconcile.OpenOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	return runDaemon(ctx, log, cfg, oo, func(d *reconcile.Daemon, _ net.Addr) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := superviseService(ctx, log, d.Loop); err != nil {
				log.Warn("systemd_notify_disabled", zap.Error(err))
			}
		}()
	})
}

// isExecutable reports whether a regular file may be executed by someone.
func isExecutable(_ string, fi fs.FileInfo) bool { return fi.Mode().Perm()&0o111 != 0 }

// unsafePath returns why path is unsafe for the daemon to trust ("" when it is safe): writable by
// others, or owned by someone other than root, the daemon's user (uid) or the operators group
// (a name or numeric GID; "" for none). These are the rules pkg/signal applies to signal files.
func unsafePath(path string, uid int, operatorsGroup string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("stat %s: no owner information", path)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Sprintf("%s is writable by others (mode %04o)", path, fi.Mode().Perm()), nil
	}
	if st.Uid == 0 || int64(st.Uid) == int64(uid) {
		return "", nil
	}
	if operatorsGroup != "" {
		gid, err := lookupGID(operatorsGroup)
		if err != nil {
			return "", err
		}
		if st.Gid == gid {
			return "", nil
		}
	}
	return fmt.Sprintf("%s is owned by uid %d gid %d: neither root, the daemon's user (uid %d) nor the operators group (%s)",
		path, st.Uid, st.Gid, uid, orNone(operatorsGroup)), nil
}

// lookupGID resolves signals.operators_group (a name or a numeric GID).
func lookupGID(group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("signals.operators_group: %w", err)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("signals.operators_group: group %s has a non-numeric GID %q", group, g.Gid)
	}
	return uint32(n), nil
}

//go:build windows

package main

// Windows service support: `sqldr service install|uninstall|start|stop|status` (svc/mgr), the
// service control handler that runs `sqldr run` under the Service Control Manager (svc), logging to
// the Windows Application event log (svc/eventlog) besides stderr, and the ACL-based safety checks
// `sqldr check` applies to the state directory, the signal directory and hooks. The Unix
// counterparts are in service_other.go. Nothing here has been run on Windows: it is built and vetted
// with GOOS=windows only (docs/operations.md says so).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	ossignal "os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/signal"
)

const (
	// windowsServiceName is the service's name and its event-log source.
	windowsServiceName = "sqldr"
	// defaultServiceAccount is a virtual account: least privilege, no password to manage.
	defaultServiceAccount = `NT SERVICE\sqldr`
	// Event IDs in the Application log.
	eventInfo, eventWarning, eventError = 1, 2, 3
)

// runAsService runs the daemon under the Service Control Manager when the process was started by
// it, and reports true; run is `sqldr run`'s body, given a context cancelled on Stop or Shutdown and
// a logger that also writes to the event log. From a console it reports false at once.
func runAsService(logger *zap.Logger, run func(ctx context.Context, logger *zap.Logger) error) (bool, error) {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return false, fmt.Errorf("detect the Windows service environment: %w", err)
	}
	if !isService {
		return false, nil
	}
	el, err := eventlog.Open(windowsServiceName)
	if err != nil {
		return true, fmt.Errorf("open the event log source %s (run 'sqldr service install'): %w", windowsServiceName, err)
	}
	defer func() { _ = el.Close() }()
	logger = logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, newEventLogCore(el, zapcore.InfoLevel))
	}))
	h := &serviceHandler{log: logger, run: run}
	if err := svc.Run(windowsServiceName, h); err != nil {
		return true, fmt.Errorf("run as the Windows service %s: %w", windowsServiceName, err)
	}
	return true, h.err
}

// serviceHandler is the svc.Handler of `sqldr run`.
type serviceHandler struct {
	log *zap.Logger
	run func(ctx context.Context, logger *zap.Logger) error
	err error
}

// Execute starts the daemon and stops it on Stop or Shutdown. While a running promotion step
// finishes it keeps telling the SCM it is stopping (StopPending with a growing checkpoint).
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx, h.log) }()
	running := svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	status <- running
	for {
		select {
		case err := <-done:
			return h.finish(err)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				h.log.Info("windows_service_stopping")
				cancel()
				tick := time.NewTicker(10 * time.Second)
				defer tick.Stop()
				for checkpoint := uint32(1); ; checkpoint++ {
					status <- svc.Status{State: svc.StopPending, CheckPoint: checkpoint, WaitHint: 30000}
					select {
					case err := <-done:
						return h.finish(err)
					case <-tick.C:
					}
				}
			default:
				h.log.Warn("windows_service_unexpected_request", zap.Uint32("command", uint32(c.Cmd)))
			}
		}
	}
}

func (h *serviceHandler) finish(err error) (bool, uint32) {
	if err != nil {
		h.err = err
		h.log.Error("windows_service_failed", zap.Error(err))
		return true, 1 // service-specific exit code: the SCM's recovery actions restart it
	}
	return false, 0
}

// eventLogCore is a zap core that writes each entry, JSON-encoded, to the Windows event log.
type eventLogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	el  *eventlog.Log
}

func newEventLogCore(el *eventlog.Log, level zapcore.LevelEnabler) zapcore.Core {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	return &eventLogCore{LevelEnabler: level, enc: zapcore.NewJSONEncoder(cfg), el: el}
}

func (c *eventLogCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &eventLogCore{LevelEnabler: c.LevelEnabler, enc: enc, el: c.el}
}

func (c *eventLogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *eventLogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return fmt.Errorf("encode event log entry: %w", err)
	}
	msg := strings.TrimSpace(buf.String())
	buf.Free()
	switch {
	case e.Level >= zapcore.ErrorLevel:
		err = c.el.Error(eventError, msg)
	case e.Level == zapcore.WarnLevel:
		err = c.el.Warning(eventWarning, msg)
	default:
		err = c.el.Info(eventInfo, msg)
	}
	if err != nil {
		return fmt.Errorf("write to the event log: %w", err)
	}
	return nil
}

func (c *eventLogCore) Sync() error { return nil }

// newServiceCmd is `sqldr service`.
func newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install and control the sqldr Windows service",
		Long: `service manages sqldr as a Windows service named "sqldr" that runs 'sqldr run --config FILE'
under the Service Control Manager, logs to the Application event log (source "sqldr") and is
restarted by the SCM after a failure. Run these commands in an elevated shell.
See docs/operations.md, "Windows service".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var cfgPath, account, password string
	install := &cobra.Command{
		Use:   "install --config FILE",
		Short: "Register the service (automatic, delayed start) and its event-log source",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("--config is required")
			}
			abs, err := filepath.Abs(cfgPath)
			if err != nil {
				return fmt.Errorf("config path: %w", err)
			}
			if _, err := os.Stat(abs); err != nil {
				return fmt.Errorf("config file: %w", err)
			}
			return installService(cmd, abs, account, password)
		},
	}
	install.Flags().StringVar(&cfgPath, "config", "", `the daemon's configuration (e.g. C:\ProgramData\sqldr\sqldr.yml)`)
	install.Flags().StringVar(&account, "account", defaultServiceAccount, "the account the service runs as")
	install.Flags().StringVar(&password, "password", "", "the account's password (not needed for a virtual or managed service account)")
	var wait time.Duration
	control := func(use, short string, fn func(*mgr.Service) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(func(s *mgr.Service) error {
				if err := fn(s); err != nil {
					return err
				}
				st, err := s.Query()
				if err != nil {
					return fmt.Errorf("query service %s: %w", windowsServiceName, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "service %s: %s\n", windowsServiceName, stateName(st.State))
				return nil
			})
		}}
	}
	start := control("start", "Start the service and wait until it runs", func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service %s: %w", windowsServiceName, err)
		}
		return waitState(s, svc.Running, wait)
	})
	stop := control("stop", "Stop the service (a running promotion step finishes first) and wait", func(s *mgr.Service) error {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %s: %w", windowsServiceName, err)
		}
		return waitState(s, svc.Stopped, wait)
	})
	for _, c := range []*cobra.Command{start, stop} {
		c.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the service to reach the state")
	}
	status := control("status", "Print the service's state", func(*mgr.Service) error { return nil })
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the service and its event-log source (stop it first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := withService(func(s *mgr.Service) error {
				if err := s.Delete(); err != nil {
					return fmt.Errorf("delete service %s: %w", windowsServiceName, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := eventlog.Remove(windowsServiceName); err != nil {
				return fmt.Errorf("remove event log source %s: %w", windowsServiceName, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s removed\n", windowsServiceName)
			return nil
		},
	}
	cmd.AddCommand(install, uninstall, start, stop, status, newServiceRunCmd())
	return cmd
}

// newServiceRunCmd is what the Service Control Manager runs ('sqldr service run --config FILE'):
// 'sqldr run' under the SCM, logging to the event log too. From a console it runs in the foreground
// like 'sqldr run' (Ctrl+C stops it).
func newServiceRunCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon as the Windows service does (the command line the service is installed with)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("--config FILE is required")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return fmt.Errorf("configuration %s:\n%w", cfgPath, err)
			}
			log := newRunLogger(cmd.ErrOrStderr())
			defer func() { _ = log.Sync() }()
			oo := reconcile.OpenOptions{ApproveFlags: "--config " + cfgPath}
			daemon := func(ctx context.Context, log *zap.Logger) error { return runDaemon(ctx, log, cfg, oo, nil) }
			handled, err := runAsService(log, daemon)
			if handled || err != nil {
				return err
			}
			ctx, stop := ossignal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return daemon(ctx, log)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (YAML)")
	return cmd
}

func installService(cmd *cobra.Command, cfgPath, account, password string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate sqldr.exe: %w", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager (run elevated): %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	if s, err := m.OpenService(windowsServiceName); err == nil {
		_ = s.Close()
		return fmt.Errorf("service %s already exists (sqldr service uninstall first)", windowsServiceName)
	}
	s, err := m.CreateService(windowsServiceName, exe, mgr.Config{
		DisplayName:      "sqldr SQL Server DR controller",
		Description:      "Watches SQL Server mirroring and log shipping and promotes the log-shipping secondary when the primary site is lost.",
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ServiceStartName: account,
		Password:         password,
	}, "service", "run", "--config", cfgPath)
	if err != nil {
		return fmt.Errorf("create service %s: %w", windowsServiceName, err)
	}
	defer func() { _ = s.Close() }()
	actions := []mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second}, {Type: mgr.ServiceRestart, Delay: time.Minute}}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("set recovery actions of %s: %w", windowsServiceName, err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery on non-crash failures of %s: %w", windowsServiceName, err)
	}
	err = eventlog.InstallAsEventCreate(windowsServiceName, eventlog.Error|eventlog.Warning|eventlog.Info)
	if err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("install event log source %s: %w", windowsServiceName, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "service %s installed: %s service run --config %s, as %s\n", windowsServiceName, exe, cfgPath, account)
	return nil
}

func withService(fn func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager (run elevated): %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	s, err := m.OpenService(windowsServiceName)
	if err != nil {
		return fmt.Errorf("open service %s (is it installed?): %w", windowsServiceName, err)
	}
	defer func() { _ = s.Close() }()
	return fn(s)
}

// waitState polls the service until it reaches want or wait elapses.
func waitState(s *mgr.Service, want svc.State, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", windowsServiceName, err)
		}
		if st.State == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service %s is %s after %s, not %s (see the Application event log)", windowsServiceName,
				stateName(st.State), wait, stateName(want))
		}
		<-tick.C
	}
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "starting"
	case svc.StopPending:
		return "stopping"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continuing"
	case svc.PausePending:
		return "pausing"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("state %d", s)
}

// isExecutable reports whether Windows would run the file directly: its extension is in PATHEXT.
// A PowerShell script is not: configure powershell.exe (or pwsh.exe) with -File script.ps1.
func isExecutable(path string, _ fs.FileInfo) bool {
	exts := os.Getenv("PATHEXT")
	if exts == "" {
		exts = ".COM;.EXE;.BAT;.CMD"
	}
	ext := strings.ToUpper(filepath.Ext(path))
	for _, e := range strings.Split(exts, ";") {
		if ext != "" && strings.EqualFold(e, ext) {
			return true
		}
	}
	return false
}

// unsafePath returns why path is unsafe for the daemon to trust ("" when it is safe), by its ACL:
// owned by someone other than LocalSystem, Administrators or the daemon's account, or writable by
// Everyone, Authenticated Users, Users, Guests, Anonymous or Interactive (signal.ACLStat, the rule
// the signal reader applies). An operators group has no meaning here (see signal.ACLStat).
func unsafePath(path string, _ int, _ string) (string, error) {
	fi, err := signal.ACLStat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	if err != nil {
		return "", err
	}
	if fi.Mode.Perm()&0o002 != 0 {
		return fmt.Sprintf("%s is writable by Everyone, Authenticated Users or Users (its ACL grants them write)", path), nil
	}
	if fi.UID != signal.TrustedOwnerUID {
		return fmt.Sprintf("%s is owned by an account other than SYSTEM, Administrators or the daemon's (%s)", path, currentAccount()), nil
	}
	return "", nil
}

func currentAccount() string {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "unknown"
	}
	account, domain, _, err := u.User.Sid.LookupAccount("")
	if err != nil {
		return u.User.Sid.String()
	}
	return domain + `\` + account
}

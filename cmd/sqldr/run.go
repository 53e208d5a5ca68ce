package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/metrics"
)

// newRunCmd builds `sqldr run`: the daemon.
func newRunCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon: watch the estate and promote the log-shipping secondary when site A is lost",
		Long: `run starts the reconcile loop: every interval it probes every instance once, asks the third-site
observers, reads the signal files, computes the data-loss window, decides, persists its status and
journal in state_dir BEFORE acting, and runs the promotion runbook's steps when a plan is approved
(or every gate of automatic promotion passes in mode auto).

HTTP (http.listen, default 127.0.0.1:9724, read-only): /metrics, /healthz, /readyz (a reconcile
finished recently), /status (JSON; 'sqldr status' renders it).

A second daemon on the same state_dir refuses to start. A state_dir whose journal or status cannot
be trusted makes the daemon observe and report (in /status and the log) without ever acting.
SIGINT/SIGTERM stop it gracefully: a running step completes; no new one starts.

See deploy/sqldr.example.yml for an annotated configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usagef("--config FILE is required")
			}
			cfg, err := config.Load(configPath)
			if err != nil {
				return fmt.Errorf("configuration %s:\n%w", configPath, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := newRunLogger(cmd.ErrOrStderr())
			defer func() { _ = log.Sync() }()
			abs, err := filepath.Abs(configPath)
			if err != nil {
				abs = configPath
			}
			return runDaemon(ctx, log, cfg, reconcile.OpenOptions{ApproveFlags: "--config " + abs}, nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "daemon configuration file (YAML)")
	return cmd
}

// newRunLogger builds the daemon's JSON logger on w. Sampling is off: a state transition must never
// be dropped.
func newRunLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel)).Named("sqldr")
}

// runDaemon opens the daemon (state directory locked, everything wired), listens on the configured
// address and runs until ctx ends. started, if not nil, is called once it listens.
func runDaemon(ctx context.Context, log *zap.Logger, cfg *config.Config, oo reconcile.OpenOptions,
	started func(*reconcile.Daemon, net.Addr)) error {
	if oo.Clock == nil {
		oo.Clock = clock.RealClock{}
	}
	bi := readBuildInfo()
	oo.Build = metrics.Build{Version: bi.Version, Revision: bi.Revision, GoVersion: bi.GoVersion}
	d, err := reconcile.Open(log, cfg, oo)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.Close(); cerr != nil {
			log.Error("close_failed", zap.Error(cerr))
		}
	}()
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (http.listen): %w", cfg.HTTP.Listen, err)
	}
	if started != nil {
		started(d, ln.Addr())
	}
	log.Info("daemon_started", zap.String("group", cfg.Group), zap.String("mode", cfg.Mode),
		zap.String("state_dir", cfg.StateDir), zap.String("http_addr", ln.Addr().String()))
	if err := d.Run(ctx, ln); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	log.Info("daemon_stopped")
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/reconcile"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/signal"
)

// operatorStatusTimeout bounds `sqldr status`'s request to the daemon.
const operatorStatusTimeout = 10 * time.Second

// newOperatorCmds builds the operator commands: status, approve, pause, resume, ack, retry and
// check-config.
func newOperatorCmds() []*cobra.Command {
	return []*cobra.Command{
		newStatusCmd(),
		newSignalCmd(signal.KindApprove, "approve --plan ID", "Approve the pending promotion plan ID",
			`approve writes <state_dir>/signals/approve naming the plan. The daemon accepts it only for the
plan pending now, written after the plan was published and younger than approval_ttl; anything
else is rejected (renamed aside, logged, counted) and never promotes. The exact command is shown by
'sqldr status' and in the daemon's log when a plan is published.`),
		newSignalCmd(signal.KindPause, "pause", "Pause: no new action of any kind starts until resume",
			`pause creates <state_dir>/signals/pause. While it exists no plan is created, no promotion starts and
no fence runs; a step already running finishes and the runbook halts at the next step boundary.
Observation, metrics and the "would promote now" verdict go on.`),
		newResumeCmd(),
		newSignalCmd(signal.KindAck, "ack --plan ID", "Acknowledge plan ID's promotion or failure",
			`ack writes <state_dir>/signals/ack naming the plan. It ends the cooldown after a promotion and
leaves PromotionFailed once a person has looked at each database's state.`),
		newSignalCmd(signal.KindRetry, "retry --plan ID", "Re-run the failed step of plan ID",
			`retry writes <state_dir>/signals/retry naming the failed plan; the daemon re-runs its failed step.`),
		newCheckConfigCmd(),
	}
}

// stateDirFlags adds --config and --state-dir and returns a function that resolves the state
// directory from them.
func stateDirFlags(cmd *cobra.Command) func() (string, error) {
	var cfgPath, dir string
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (its state_dir is used)")
	cmd.Flags().StringVar(&dir, "state-dir", "", "the daemon's state directory")
	return func() (string, error) {
		switch {
		case cfgPath != "" && dir != "":
			return "", usagef("give --config or --state-dir, not both")
		case dir != "":
			if !filepath.IsAbs(dir) {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return "", fmt.Errorf("state directory %s: %w", dir, err)
				}
				dir = abs
			}
			return dir, nil
		case cfgPath != "":
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return "", fmt.Errorf("configuration:\n%w", err)
			}
			return cfg.StateDir, nil
		default:
			return "", usagef("--config FILE or --state-dir DIR is required")
		}
	}
}

// newSignalCmd builds approve, pause, ack or retry: each writes one signal file atomically.
func newSignalCmd(kind signal.Kind, use, short, long string) *cobra.Command {
	var plan string
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs}
	stateDir := stateDirFlags(cmd)
	needsPlan := kind != signal.KindPause
	if needsPlan {
		cmd.Flags().StringVar(&plan, "plan", "", "the plan ID (as 'sqldr status' shows it)")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if needsPlan {
			if plan == "" {
				return usagef("--plan ID is required")
			}
			if !signal.ValidPlanID(plan) {
				return usagef("--plan %q is not a plan ID (e.g. mgc-3)", plan)
			}
		}
		dir, err := stateDir()
		if err != nil {
			return err
		}
		sigDir, err := signalDir(dir)
		if err != nil {
			return err
		}
		if err := signal.Write(sigDir, kind, plan); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		path := filepath.Join(sigDir, kind.String())
		if needsPlan {
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (plan %s); the daemon acts on it at its next reconcile\n", path, plan)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; no new action starts until 'sqldr resume'\n", path)
		}
		return nil
	}
	return cmd
}

// signalDir returns <stateDir>/signals, creating it (mode 0750: never writable by others) when the
// state directory exists.
func signalDir(stateDir string) (string, error) {
	if fi, err := os.Stat(stateDir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("state directory %s does not exist or is not a directory", stateDir)
	}
	dir := filepath.Join(stateDir, "signals")
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create signal directory: %w", err)
	}
	return dir, nil
}

func newResumeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "resume", Short: "Clear the pause flag (remove the pause signal file)", Args: cobra.NoArgs}
	stateDir := stateDirFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		dir, err := stateDir()
		if err != nil {
			return err
		}
		if err := signal.RemovePause(filepath.Join(dir, "signals")); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", filepath.Join(dir, "signals", signal.KindPause.String()))
		return nil
	}
	return cmd
}

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate a daemon configuration file; report every problem at once (exit 1 on errors)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			if _, err := reconcile.ControllerOptions(cfg); err != nil {
				return fmt.Errorf("config %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (group %s, mode %s, %d instances, %d observers, state_dir %s)\n",
				args[0], cfg.Group, cfg.Mode, len(cfg.Instances), len(cfg.Observers.Endpoints), cfg.StateDir)
			return nil
		},
	}
}

func newStatusCmd() *cobra.Command {
	var cfgPath, addr string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's status (from its /status endpoint) as a table, or --json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case cfgPath != "" && addr != "":
				return usagef("give --config or --addr, not both")
			case cfgPath == "" && addr == "":
				addr = reconcile.DefaultListen
			case cfgPath != "":
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return fmt.Errorf("configuration:\n%w", err)
				}
				addr = cfg.HTTP.Listen
			}
			body, err := fetchStatus(cmd.Context(), addr)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var v reconcile.View
			if err := json.Unmarshal(body, &v); err != nil {
				return fmt.Errorf("status from %s is not valid: %w", addr, err)
			}
			renderStatus(cmd.OutOrStdout(), &v)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (its http.listen is used)")
	cmd.Flags().StringVar(&addr, "addr", "", "the daemon's HTTP address (default "+reconcile.DefaultListen+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the /status JSON as is")
	return cmd
}

// fetchStatus GETs /status from the daemon at addr (a wildcard host means this machine).
func fetchStatus(ctx context.Context, addr string) ([]byte, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("address %q is not host:port", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, operatorStatusTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the daemon running? %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// renderStatus prints the status as readable tables.
func renderStatus(w io.Writer, v *reconcile.View) {
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "Group %s: %s", v.Group, v.State)
	if !v.Since.IsZero() {
		fmt.Fprintf(w, " since %s", v.Since.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, " (mode %s, paused %s)\n", v.Mode, yesNo(v.Paused))
	if v.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", v.Reason)
	}
	if !v.Trusted {
		fmt.Fprintf(w, "  NOT ACTING: %s\n", v.UntrustedReason)
	}
	if v.LastError != "" {
		fmt.Fprintf(w, "  last reconcile failed: %s\n", v.LastError)
	}
	for _, d := range v.Diagnoses {
		fmt.Fprintf(w, "  diagnosis: %s\n", d)
	}
	fmt.Fprintf(w, "  %s\n", v.VerdictText)
	fmt.Fprintf(w, "  data-loss window: %s\n", v.DataLoss.Text)
	fmt.Fprintf(w, "  observers: %s", v.Corroboration.Verdict)
	if v.Corroboration.Detail != "" {
		fmt.Fprintf(w, " (%s)", v.Corroboration.Detail)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nINSTANCE\tSITE\tROLE\tREACHABILITY\tDATABASES")
	for _, in := range v.Instances {
		var dbs []string
		for _, d := range in.Databases {
			s := d.Name + "=" + d.State.String()
			if d.Writable {
				s += "(writable)"
			}
			if d.Standby {
				s += "(standby)"
			}
			if d.MirroringRole.String() != "" && d.MirroringRole != 0 {
				s += "(" + strings.ToLower(d.MirroringRole.String()) + ")"
			}
			dbs = append(dbs, s)
		}
		reach := in.Reachability.String()
		if in.SQLErrorNumber != 0 {
			reach += fmt.Sprintf(" (%d)", in.SQLErrorNumber)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.Name, in.Site, in.Role, reach, strings.Join(dbs, " "))
	}
	fmt.Fprintln(tw, "\nDATABASE\tBACKUP AGE\tCOPY AGE\tRESTORE AGE\tLATENCY\tUNRESTORED")
	for _, l := range v.Lag {
		un := "?"
		if l.UnrestoredFiles != nil {
			un = fmt.Sprint(*l.UnrestoredFiles)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Database, secText(l.BackupAgeSeconds), secText(l.CopyAgeSeconds),
			secText(l.RestoreAgeSeconds), secText(l.RestoreLatencySeconds), un)
	}
	if len(v.Corroboration.Observers) > 0 {
		fmt.Fprintln(tw, "\nOBSERVER\tSTATE\tVIEW\tAGE\tDETAIL")
		for _, o := range v.Corroboration.Observers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0fs\t%s\n", o.Observer, o.State, o.View, o.AgeSeconds, o.Detail)
		}
	}
	_ = tw.Flush()

	if p := v.Plan; p != nil {
		fmt.Fprintf(w, "\nPlan %s: promote %s (%s), data loss %s, created %s\n", p.ID, p.Target,
			strings.Join(p.Databases, ", "), p.DataLoss, p.Created.UTC().Format(time.RFC3339))
		for _, s := range p.Steps {
			line := fmt.Sprintf("  %-20s %s", s.Step, s.Phase)
			if s.Err != "" {
				line += ": " + s.Err
			}
			fmt.Fprintln(w, line)
		}
		if p.FailReason != "" {
			fmt.Fprintf(w, "  failed at %s: %s\n", p.FailedStep, p.FailReason)
		}
		for db, st := range p.DatabaseStates {
			fmt.Fprintf(w, "  %s on %s: %s\n", db, p.Target, st)
		}
		if v.ApproveCommand != "" {
			fmt.Fprintf(w, "  approve with: %s\n", v.ApproveCommand)
		}
	}
	if len(v.Transitions) > 0 {
		fmt.Fprintln(w, "\nRecent transitions:")
		start := max(len(v.Transitions)-10, 0)
		for _, t := range v.Transitions[start:] {
			fmt.Fprintf(w, "  %s  %s → %s  %s\n", t.At.UTC().Format(time.RFC3339), t.From, t.To, transitionText(t))
		}
	}
}

func transitionText(t controller.TransitionRecord) string {
	if t.Evidence != "" {
		return t.Reason + " (" + t.Evidence + ")"
	}
	return t.Reason
}

func secText(s *float64) string {
	if s == nil {
		return "unknown"
	}
	return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
}

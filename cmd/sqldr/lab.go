package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"

	"github.com/sqldr/sqldr/pkg/lab"
)

// Defaults of `sqldr lab`.
const (
	labDefaultPassword = "Lab-Passw0rd!"
	labDefaultControl  = "127.0.0.1:14330"
	labDefaultBasePort = 14331
	labMonitorLogin    = "sqldr_monitor"
)

// newLabCmd builds `sqldr lab` and its subcommands.
func newLabCmd() *cobra.Command {
	var (
		password, controlAddr, topologyFile, databases, monitorPassword string
		speed                                                           float64
		witness, split                                                  bool
		basePort                                                        int
	)
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a simulated SQL Server topology (principal, mirror, log-shipping secondary) on loopback",
		Long: `lab starts the simulated estate sqldr protects: a principal and its mirror in site A
(America/New_York) and a log-shipping secondary in site B (Asia/Kolkata), speaking TDS on loopback:

  principal  SQLA1  127.0.0.1:14331
  mirror     SQLA2  127.0.0.1:14332
  secondary  SQLB1  127.0.0.1:14333
  witness    SQLW1  127.0.0.1:14334 (with --witness)

Login sa with the password from --password, else $MSSQL_SA_PASSWORD, else the default
"` + labDefaultPassword + `". A monitoring-only login "` + labMonitorLogin + `" uses --monitor-password
(default: the sa password). Ports are --base-port, +1, +2, +3 (0 picks free ports).

It prints one DSN per instance and the control API address, then runs until Ctrl-C or SIGTERM.
Faults are injected with 'sqldr lab fault', listed with 'sqldr lab status', cleared with
'sqldr lab heal'. See docs/lab.md ("The topology").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := lab.DefaultConfig()
			if topologyFile != "" {
				c, err := loadLabTopology(topologyFile)
				if err != nil {
					return err
				}
				cfg = c
			}
			if databases != "" {
				cfg.Databases = splitList(databases)
			}
			if witness && !hasRole(cfg, lab.ConfigRoleWitness) {
				cfg = cfg.WithWitness()
			}
			if speed <= 0 || speed > 3600 {
				return usagef("--speed %g is outside (0, 3600]", speed)
			}
			if basePort < 0 || basePort > 65530 {
				return usagef("--base-port %d is outside 0..65530", basePort)
			}
			if topologyFile == "" || basePort != labDefaultBasePort {
				for k := range cfg.Instances {
					port := 0
					if basePort != 0 {
						port = basePort + k
					}
					cfg.Instances[k].Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
				}
			}
			pw := labPassword(cmd, password)
			if monitorPassword == "" {
				monitorPassword = pw
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLab(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, lab.Options{Speed: speed, Split: split,
				Credentials: lab.Credentials{SAPassword: pw, MonitorLogin: labMonitorLogin, MonitorPassword: monitorPassword}}, controlAddr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&password, "password", "", "sa password (default $MSSQL_SA_PASSWORD, else \""+labDefaultPassword+"\")")
	f.StringVar(&monitorPassword, "monitor-password", "", "password of the monitoring-only login "+labMonitorLogin+" (default: the sa password)")
	f.Float64Var(&speed, "speed", 1, "simulated seconds per real second (60: one simulated minute per second)")
	f.StringVar(&databases, "databases", "", "comma-separated protected databases (default mgc,mgccomp)")
	f.BoolVar(&witness, "witness", false, "add a witness instance SQLW1 (automatic mirroring failover)")
	f.StringVar(&topologyFile, "topology", "", "YAML topology file (keys as in pkg/lab.Config); overrides the default shape")
	f.StringVar(&controlAddr, "control", labDefaultControl, "loopback address of the control API (HTTP/JSON)")
	f.IntVar(&basePort, "base-port", labDefaultBasePort, "TCP port of the first instance; the others follow (0: free ports)")
	f.BoolVar(&split, "split", false, "run only the world: each instance's endpoint runs in its own 'sqldr lab instance' process")
	cmd.AddCommand(newLabFaultCmd(), newLabHealCmd(), newLabStatusCmd(), newLabWorkloadCmd(), newLabSingleCmd(), newLabInstanceCmd())
	return cmd
}

func labPassword(cmd *cobra.Command, flag string) string {
	if cmd.Flags().Changed("password") && flag != "" {
		return flag
	}
	if env := os.Getenv("MSSQL_SA_PASSWORD"); env != "" {
		return env
	}
	return labDefaultPassword
}

func hasRole(cfg lab.Config, role string) bool {
	for _, i := range cfg.Instances {
		if i.Role == role {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadLabTopology reads a YAML topology file over the defaults; unknown keys are errors.
func loadLabTopology(path string) (lab.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return lab.Config{}, fmt.Errorf("read topology %s: %w", path, err)
	}
	cfg := lab.DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return lab.Config{}, usagef("topology %s: %v", path, err)
	}
	return cfg, nil
}

func newLabLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}

// runLab starts the lab, prints the DSNs and the control address, and runs until ctx ends.
func runLab(ctx context.Context, stdout, stderr io.Writer, cfg lab.Config, opts lab.Options, controlAddr string) error {
	log := newLabLogger(stderr)
	defer func() { _ = log.Sync() }()
	creds, speed := opts.Credentials, opts.Speed
	l, err := lab.Start(log, cfg, opts)
	if err != nil {
		return fmt.Errorf("start lab: %w", err)
	}
	defer func() { _ = l.Close() }()
	cs, err := l.ServeControl(controlAddr)
	if err != nil {
		return fmt.Errorf("start lab control API: %w", err)
	}
	defer func() { _ = cs.Close() }()
	links := splitLinks(cfg)
	for k, s := range l.Servers() {
		inst := s.Instance()
		addr := s.Addr()
		if opts.Split {
			// The world serves on internal ports; clients use the instance processes.
			addr = cfg.Instances[k].Addr
			var peers []string
			for _, ic := range cfg.Instances {
				if ic.Name != inst.Name() {
					peers = append(peers, "--peer "+ic.Name+"="+links[ic.Name])
				}
			}
			fmt.Fprintf(stdout, "%-9s %-6s site %-2s start: sqldr lab instance --name %s --world http://%s --listen %s --link %s %s\n",
				inst.Role(), inst.Name(), inst.Site(), inst.Name(), cs.Addr(), addr, links[inst.Name()], strings.Join(peers, " "))
			continue
		}
		fmt.Fprintf(stdout, "%-9s %-6s site %-2s %s\n", inst.Role(), inst.Name(), inst.Site(),
			lab.DSN(addr, "sa", creds.SAPassword, "master"))
	}
	fmt.Fprintf(stdout, "control   http://%s  (sqldr lab status --control http://%s)\n", cs.Addr(), cs.Addr())
	fmt.Fprintf(stdout, "lab ready: speed %g, databases %s; Ctrl-C stops\n", speed, strings.Join(cfg.Databases, ","))
	<-ctx.Done()
	fmt.Fprintln(stdout, "lab stopping")
	return nil
}

func controlFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "control", "http://"+labDefaultControl, "URL of the lab's control API")
}

func newLabFaultCmd() *cobra.Command {
	var control, peer, job, database string
	var delay time.Duration
	var addrs []string
	cmd := &cobra.Command{
		Use:   "fault TARGET FAULT",
		Short: "Inject a fault into a running lab",
		Long: `fault injects FAULT into TARGET and prints the fault id for 'sqldr lab heal ID'.

TARGET is an instance name or role (principal, mirror, secondary, witness), a site (A, B) for
site-down and cut, "share" for share-down, or "*" for refuse/blackhole on every instance.
FAULT is one of: ` + faultKindList() + `.

Examples:
  sqldr lab fault principal down
  sqldr lab fault A site-down
  sqldr lab fault secondary job-stopped --job copy
  sqldr lab fault principal slow --delay 2s
  sqldr lab fault SQLB1 skew --delay -90s
  sqldr lab fault principal cut --peer mirror
  sqldr lab fault principal refuse --addr 127.0.0.2
  sqldr lab fault share share-down`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := lab.Fault{Kind: lab.FaultKind(args[1]), Target: args[0], Peer: peer, Job: job, Database: database, Delay: delay, Addrs: addrs}
			if f.Kind == lab.FaultShareDown {
				f.Target = ""
			}
			known := false
			for _, k := range lab.FaultKinds {
				known = known || k == f.Kind
			}
			if !known {
				return usagef("unknown fault %q; want one of %s", args[1], faultKindList())
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			id, err := (&lab.ControlClient{BaseURL: control}).Inject(ctx, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fault %d: %s %s\n", id, f.Kind, args[0])
			return nil
		},
	}
	controlFlag(cmd, &control)
	cmd.Flags().StringVar(&peer, "peer", "", "other end of a cut (instance, role or site)")
	cmd.Flags().StringVar(&job, "job", "", "job of job-stopped/job-failing: backup, copy or restore")
	cmd.Flags().StringVar(&database, "database", "", "database of rogue-backup (default: the first protected one)")
	cmd.Flags().DurationVar(&delay, "delay", 0, "reply delay of slow, clock offset of skew")
	cmd.Flags().StringSliceVar(&addrs, "addr", nil, "client source addresses of refuse/blackhole (repeatable)")
	return cmd
}

func faultKindList() string {
	names := make([]string, len(lab.FaultKinds))
	for k, f := range lab.FaultKinds {
		names[k] = string(f)
	}
	return strings.Join(names, ", ")
}

func newLabHealCmd() *cobra.Command {
	var control string
	cmd := &cobra.Command{
		Use:   "heal [ID]",
		Short: "Heal one fault by id, or every fault",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			c := &lab.ControlClient{BaseURL: control}
			if len(args) == 1 {
				id, err := strconv.Atoi(args[0])
				if err != nil {
					return usagef("fault id %q is not a number", args[0])
				}
				if err := c.Heal(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "healed fault %d\n", id)
				return nil
			}
			n, err := c.HealAll(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "healed %d fault(s)\n", n)
			return nil
		},
	}
	controlFlag(cmd, &control)
	return cmd
}

func newLabStatusCmd() *cobra.Command {
	var control string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's instances, databases and active faults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := (&lab.ControlClient{BaseURL: control}).Status(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(out, "simulated time %s\n", st.Now.Format(time.RFC3339))
			for _, i := range st.Instances {
				fmt.Fprintf(out, "%-6s %-9s site %-2s %-5s %-21s %s\n", i.Name, i.Role, i.Site, i.Health, i.Addr, i.LocalTime)
				for _, d := range i.Databases {
					mir := ""
					if d.MirroringRole != "" {
						mir = " " + d.MirroringRole + "/" + d.Mirroring
					}
					fmt.Fprintf(out, "    %-8s %-9s%s rows=%d max_id=%d end_of_log=%s\n", d.Name, d.State, mir, d.Rows, d.MaxID, d.EndOfLogLSN)
				}
			}
			if len(st.Faults) == 0 {
				fmt.Fprintln(out, "faults: none")
			}
			sort.Slice(st.Faults, func(a, b int) bool { return st.Faults[a].ID < st.Faults[b].ID })
			for _, f := range st.Faults {
				fmt.Fprintf(out, "fault %d: %s %s%s\n", f.ID, f.Fault.Kind, f.Fault.Target, noteSuffix(f.Note))
			}
			return nil
		},
	}
	controlFlag(cmd, &control)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON status")
	return cmd
}

func noteSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

// newLabSingleCmd is the single-instance mode that honours the official SQL Server
// container's contract: ACCEPT_EULA=Y, MSSQL_SA_PASSWORD (complexity checked), port
// 1433, and a log line containing "Recovery is complete." once it accepts logins.
func newLabSingleCmd() *cobra.Command {
	var addr string
	var speed float64
	cmd := &cobra.Command{
		Use:   "single",
		Short: "Run one lab instance the way the official SQL Server image runs (ACCEPT_EULA, MSSQL_SA_PASSWORD, port 1433)",
		Long: `single runs one instance (SQLLAB, databases mgc and mgccomp, ONLINE) on --addr (default
0.0.0.0:1433, as in the official mcr.microsoft.com/mssql/server image), so that container tests can
treat it like a real SQL Server: it requires ACCEPT_EULA=Y and MSSQL_SA_PASSWORD (at least 8
characters from three of: upper case, lower case, digits, symbols) and prints a line containing
"Recovery is complete." when it accepts logins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v := strings.ToUpper(os.Getenv("ACCEPT_EULA")); v != "Y" && v != "YES" {
				return fmt.Errorf("the SQL Server End-User Licensing Agreement (EULA) must be accepted before SQL Server can start: set ACCEPT_EULA=Y")
			}
			pw := os.Getenv("MSSQL_SA_PASSWORD")
			if pw == "" {
				pw = os.Getenv("SA_PASSWORD")
			}
			if !strongPassword(pw) {
				return fmt.Errorf("the sa password in MSSQL_SA_PASSWORD does not meet SQL Server password policy requirements: at least 8 characters from three of upper case, lower case, digits and symbols")
			}
			cfg := lab.SingleInstanceConfig()
			cfg.Instances[0].Addr = addr
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			log := newLabLogger(cmd.ErrOrStderr())
			l, err := lab.Start(log, cfg, lab.Options{Speed: speed, Credentials: lab.Credentials{SAPassword: pw, MonitorLogin: labMonitorLogin, MonitorPassword: pw}})
			if err != nil {
				return fmt.Errorf("start lab instance: %w", err)
			}
			defer func() { _ = l.Close() }()
			s := l.Servers()[0]
			fmt.Fprintf(out, "SQL Server (sqldr lab) is now listening on %s\n", s.Addr())
			fmt.Fprintln(out, "SQL Server is now ready for client connections. This is an informational message; no user action is required.")
			fmt.Fprintln(out, "Recovery is complete. This is an informational message only. No user action is required.")
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "0.0.0.0:1433", "listen address")
	cmd.Flags().Float64Var(&speed, "speed", 1, "simulated seconds per real second")
	return cmd
}

func strongPassword(pw string) bool {
	if len(pw) < 8 {
		return false
	}
	var up, low, dig, sym bool
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			up = true
		case unicode.IsLower(r):
			low = true
		case unicode.IsDigit(r):
			dig = true
		default:
			sym = true
		}
	}
	n := 0
	for _, b := range []bool{up, low, dig, sym} {
		if b {
			n++
		}
	}
	return n >= 3
}

// newLabInstanceCmd is one instance process of the split shape (`sqldr lab --split`).
func newLabInstanceCmd() *cobra.Command {
	var name, world, listen, link string
	var peers []string
	cmd := &cobra.Command{
		Use:   "instance --name NAME --world URL --listen ADDR --link ADDR --peer NAME=ADDR...",
		Short: "Run one instance's network presence in its own process (split shape)",
		Long: `instance runs the network presence of one instance of a 'sqldr lab --split' world in its own
process: the TDS endpoint clients connect to (--listen, proxied to the world), the mirroring and
witness link endpoint (--link) that the other instance processes probe over TCP, and a heartbeat to
the world. Killing this process takes the instance down; a link this process cannot cross (a cut,
'sqldr lab fault SQLA1 cut --peer SQLA2', or a real network partition) disconnects mirroring.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || world == "" || listen == "" || link == "" {
				return usagef("--name, --world, --listen and --link are required")
			}
			pm := map[string]string{}
			for _, p := range peers {
				n, a, ok := strings.Cut(p, "=")
				if !ok || n == "" || a == "" {
					return usagef("--peer %q: want NAME=ADDR", p)
				}
				pm[n] = a
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := newLabLogger(cmd.ErrOrStderr())
			p, err := lab.StartPresence(log, lab.PresenceConfig{Name: name, World: world, Listen: listen, LinkListen: link, Peers: pm})
			if err != nil {
				return err
			}
			defer func() { _ = p.Close() }()
			fmt.Fprintf(cmd.OutOrStdout(), "instance %s: tds %s link %s world %s\n", name, p.Addr(), p.LinkAddr(), world)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "instance name in the world's topology (e.g. SQLA1)")
	cmd.Flags().StringVar(&world, "world", "", "control URL of the 'sqldr lab --split' world")
	cmd.Flags().StringVar(&listen, "listen", "", "TDS address for clients")
	cmd.Flags().StringVar(&link, "link", "", "address of this instance's mirroring/witness link endpoint")
	cmd.Flags().StringSliceVar(&peers, "peer", nil, "another instance's link endpoint, NAME=ADDR (repeatable)")
	return cmd
}

func newLabWorkloadCmd() *cobra.Command {
	var control string
	cmd := &cobra.Command{
		Use:   "workload INSTANCE on|off",
		Short: "Turn the simulated application's inserts on or off for an instance (e.g. after a promotion)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch strings.ToLower(args[1]) {
			case "on":
				on = true
			case "off":
			default:
				return usagef("workload %q: want on or off", args[1])
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := (&lab.ControlClient{BaseURL: control}).SetWorkload(ctx, args[0], on); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "workload on %s: %s\n", args[0], strings.ToLower(args[1]))
			return nil
		},
	}
	controlFlag(cmd, &control)
	return cmd
}

// splitLinks proposes link endpoint addresses for the split shape: each instance's
// TDS port + 1000 (or a free-port placeholder when the TDS port is 0).
func splitLinks(cfg lab.Config) map[string]string {
	out := map[string]string{}
	for _, ic := range cfg.Instances {
		host, port, err := net.SplitHostPort(ic.Addr)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || p == 0 || p+1000 > 65535 {
			out[ic.Name] = "127.0.0.1:<port>"
			continue
		}
		out[ic.Name] = net.JoinHostPort(host, strconv.Itoa(p+1000))
	}
	return out
}

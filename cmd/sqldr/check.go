package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/dsn"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/pkg/sqlerr"
)

// ---------------------------------------------------------------------------------------------------
// All T-SQL that `sqldr check` sends. Every statement is read-only. Sources are sections of
// /work/shared/SQLSERVER.md, which cite MicrosoftDocs/sql-docs ([SQLD]); each column is annotated.
// Database names are passed as parameters (@p1…@pN), never spliced into the text, except in the
// three-part name of chkDatabaseUsers (a catalog view of one database), where the name was validated
// by pkg/config (no brackets, quotes or semicolons) and is bracket-quoted.
// ---------------------------------------------------------------------------------------------------

// chkIdentity: @@SERVERNAME (instance name); IS_SRVROLEMEMBER('sysadmin') ([SQLD]
// is-srvrolemember-transact-sql.md: 1 member, 0 not, NULL invalid role). Promotion needs sysadmin on
// the secondary: RESTORE (sysadmin, dbcreator or the database owner; db_owner members may not,
// SQLSERVER.md §4.2, §8 Q14), ALTER DATABASE (5011 without ALTER permission), msdb.dbo.sp_update_job
// and sp_start_job on log-shipping jobs owned by sa (14525 / 14393 for anyone but sysadmin, or
// SQLAgentOperatorRole for start/stop and enable only, §8 Q9 and Q14).
// A documented least-privilege alternative is dbcreator (RESTORE and ALTER any database) plus
// SQLAgentOperatorRole in msdb (enable/disable and start/stop any local job, §8 Q9 and Q14).
const chkIdentity = `SELECT @@SERVERNAME AS server_name, IS_SRVROLEMEMBER('sysadmin') AS is_sysadmin,
 IS_SRVROLEMEMBER('dbcreator') AS is_dbcreator;`

// chkReadable lists what monitoring reads, per role, and the permission each needs (SQLSERVER.md §8 Q14:
// VIEW SERVER STATE + VIEW ANY DATABASE, plus db_datareader in msdb or SQLAgentReaderRole). Each is
// tried with SELECT TOP (1) 1 (cheap on a large backupset); 229 means the permission is missing.
var chkReadable = map[string][]readable{
	config.RolePartner: {
		{"sys.databases", "VIEW ANY DATABASE"},
		{"sys.database_mirroring", "VIEW ANY DATABASE"},
		{"sys.database_recovery_status", "VIEW ANY DATABASE"},
		{"msdb.dbo.log_shipping_monitor_primary", "db_datareader in msdb"},
		{"msdb.dbo.log_shipping_primary_databases", "db_datareader in msdb"},
		{"msdb.dbo.backupset", "db_datareader in msdb"},
		{"msdb.dbo.backupmediafamily", "db_datareader in msdb"},
		{"msdb.dbo.sysjobs", "db_datareader in msdb (or SQLAgentReaderRole)"},
	},
	config.RoleSecondary: {
		{"sys.databases", "VIEW ANY DATABASE"},
		{"sys.database_recovery_status", "VIEW ANY DATABASE"},
		{"msdb.dbo.log_shipping_monitor_secondary", "db_datareader in msdb"},
		{"msdb.dbo.log_shipping_secondary", "db_datareader in msdb"},
		{"msdb.dbo.log_shipping_secondary_databases", "db_datareader in msdb"},
		{"msdb.dbo.restorehistory", "db_datareader in msdb"},
		{"msdb.dbo.backupset", "db_datareader in msdb"},
		{"msdb.dbo.sysjobs", "db_datareader in msdb (or SQLAgentReaderRole)"},
		{"msdb.dbo.sysjobactivity", "db_datareader in msdb (or SQLAgentReaderRole)"},
		{"msdb.dbo.sysjobhistory", "db_datareader in msdb (or SQLAgentReaderRole)"},
	},
	config.RoleMonitor: {
		{"msdb.dbo.log_shipping_monitor_primary", "db_datareader in msdb"},
		{"msdb.dbo.log_shipping_monitor_secondary", "db_datareader in msdb"},
	},
}

type readable struct{ object, permission string }

// chkMasterFiles counts sys.master_files rows of the protected databases ([SQLD]
// sys-master-files-transact-sql.md: rows are visible only with CREATE DATABASE, ALTER ANY DATABASE or
// VIEW ANY DEFINITION; SQLSERVER.md §8 Q12, Q14). redo_start_lsn on the secondary comes from there.
const chkMasterFiles = `SELECT COUNT(*) AS files FROM sys.master_files AS f
JOIN sys.databases AS d ON d.database_id = f.database_id WHERE d.name IN ({names});`

// chkMirroring reads each protected database's mirroring row (SQLSERVER.md §1.1, [SQLD]
// sys-database-mirroring-transact-sql.md): mirroring_guid (NULL: not mirrored, or not visible to a
// non-sysadmin on the mirror side, §8 Q14); mirroring_role_desc (PRINCIPAL, MIRROR);
// mirroring_state_desc (SUSPENDED, DISCONNECTED, SYNCHRONIZING, PENDING_FAILOVER, SYNCHRONIZED, §8 Q10);
// mirroring_partner_instance (the other partner's instance name); mirroring_safety_level_desc (FULL,
// OFF); mirroring_witness_name (NULL or empty: no witness). sys.databases (§3.2): name, state_desc.
const chkMirroring = `SELECT d.name, d.state_desc, IIF(m.mirroring_guid IS NULL, 0, 1) AS mirrored,
 m.mirroring_role_desc, m.mirroring_state_desc, m.mirroring_partner_instance, m.mirroring_safety_level_desc,
 m.mirroring_witness_name
FROM sys.databases AS d LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
WHERE d.name IN ({names});`

// chkLSPrimary reads each partner's log-shipping primary configuration (SQLSERVER.md §2.2,
// [SQLD] log-shipping-primary-databases-transact-sql.md): primary_database; backup_share (UNC path:
// both partners must use the same one, §2.5); backup_job_id, joined to msdb.dbo.sysjobs ([SQLD]
// dbo-sysjobs-transact-sql.md: name, enabled tinyint 1/0).
const chkLSPrimary = `SELECT p.primary_database, p.backup_share, j.name AS job_name, j.enabled AS job_enabled
FROM msdb.dbo.log_shipping_primary_databases AS p
LEFT JOIN msdb.dbo.sysjobs AS j ON j.job_id = p.backup_job_id
WHERE p.primary_database IN ({names});`

// chkBackupThreshold reads the primary's alert threshold (SQLSERVER.md §2.2,
// log_shipping_monitor_primary.backup_threshold, int minutes).
const chkBackupThreshold = `SELECT p.primary_database, p.backup_threshold FROM msdb.dbo.log_shipping_monitor_primary AS p
WHERE p.primary_database IN ({names});`

// chkLSSecondary reads the secondary's log-shipping configuration and its jobs (SQLSERVER.md §2.2):
// log_shipping_secondary_databases.secondary_database, restore_mode (bit: 0 NORECOVERY, 1 STANDBY);
// log_shipping_secondary.primary_server, copy_job_id, restore_job_id (look jobs up by ID, §4.2),
// backup_source_directory (the share the copy job reads); msdb.dbo.sysjobs name and enabled.
const chkLSSecondary = `SELECT sd.secondary_database, s.primary_server, s.backup_source_directory,
 s.copy_job_id, cj.name AS copy_job, cj.enabled AS copy_enabled,
 s.restore_job_id, rj.name AS restore_job, rj.enabled AS restore_enabled
FROM msdb.dbo.log_shipping_secondary_databases AS sd
JOIN msdb.dbo.log_shipping_secondary AS s ON s.secondary_id = sd.secondary_id
LEFT JOIN msdb.dbo.sysjobs AS cj ON cj.job_id = s.copy_job_id
LEFT JOIN msdb.dbo.sysjobs AS rj ON rj.job_id = s.restore_job_id
WHERE sd.secondary_database IN ({names});`

// chkRestoreThreshold reads the secondary's alert threshold (SQLSERVER.md §2.2,
// log_shipping_monitor_secondary.restore_threshold, int minutes).
const chkRestoreThreshold = `SELECT s.secondary_database, s.restore_threshold FROM msdb.dbo.log_shipping_monitor_secondary AS s
WHERE s.secondary_database IN ({names});`

// chkAgentService reads the SQL Server Agent service state ([SQLD] sys-dm-server-services-transact-sql.md:
// servicename nvarchar(256), status_desc nvarchar(256) "Running", "Stopped", …; needs VIEW SERVER
// STATE). Not every server exposes it (the lab does not: error 208); then job activity decides.
const chkAgentService = `SELECT s.servicename, s.status_desc FROM sys.dm_server_services AS s
WHERE s.servicename LIKE N'SQL Server Agent%';`

// chkJobActivity reads Agent's job activity ([SQLD] dbo-sysjobactivity-transact-sql.md): one row per
// job per Agent session (session_id; the newest session is the running Agent's);
// next_scheduled_run_date and start_execution_date (datetime, the server's local time, compared with
// GETDATE() of the same server).
const chkJobActivity = `SELECT a.job_id, a.session_id, a.start_execution_date, a.next_scheduled_run_date, GETDATE() AS now_local
FROM msdb.dbo.sysjobactivity AS a;`

// chkJobHistory reads the outcome rows of Agent job runs ([SQLD] dbo-sysjobhistory-transact-sql.md):
// step_id 0 is the job outcome; run_date int (yyyyMMdd) and run_time int (HHmmss) are when the run
// started, in the server's local time. The gaps between runs are the job's effective schedule.
const chkJobHistory = `SELECT h.job_id, h.run_date, h.run_time FROM msdb.dbo.sysjobhistory AS h WHERE h.step_id = 0;`

// chkBackupHistory reads the recent log backups of the protected databases ([SQLD]
// backupset-transact-sql.md, SQLSERVER.md §3.1 and §8 Q11): type 'L' (log); backup_finish_date (local
// time of the server that took it); time_zone (15-minute steps from UTC; 127 unknown). The gaps
// between consecutive backups are the backup job's effective schedule.
const chkBackupHistory = `SELECT b.database_name, b.backup_finish_date, b.time_zone FROM msdb.dbo.backupset AS b
WHERE b.type = 'L' AND b.database_name IN ({names}) AND b.backup_finish_date >= DATEADD(HOUR, -6, GETDATE());`

// chkRestoreHistory reads the recent log restores ([SQLD] restorehistory-transact-sql.md, SQLSERVER.md
// §3.1): restore_type 'L'; destination_database_name; restore_date (the secondary's local time). The
// gaps between restores are the restore job's effective schedule.
const chkRestoreHistory = `SELECT r.destination_database_name, r.restore_date FROM msdb.dbo.restorehistory AS r
WHERE r.restore_type = 'L' AND r.destination_database_name IN ({names}) AND r.restore_date >= DATEADD(HOUR, -6, GETDATE());`

// chkDatabaseUsers reads the users of a protected database on the current principal ([SQLD]
// sys-database-principals-transact-sql.md): name; sid varbinary(85); type (S SQL user, U Windows user,
// G Windows group); principal_id > 4 skips dbo, guest, INFORMATION_SCHEMA and sys. A user with a
// NULL sid or none of these types (e.g. WITHOUT LOGIN: type S, authentication_type 0) has no login.
const chkDatabaseUsers = `SELECT dp.name, dp.sid, dp.type FROM [{db}].sys.database_principals AS dp
WHERE dp.type IN ('S', 'U', 'G') AND dp.sid IS NOT NULL AND dp.principal_id > 4 AND dp.authentication_type <> 0;`

// chkServerLogins reads the secondary's logins ([SQLD] sys-server-principals-transact-sql.md): name;
// sid varbinary(85); type (S SQL login, U Windows login, G Windows group). A database user maps to
// the login with the same SID; after a promotion a user without one is orphaned.
const chkServerLogins = `SELECT sp.name, sp.sid, sp.type FROM sys.server_principals AS sp WHERE sp.type IN ('S', 'U', 'G');`

// ---------------------------------------------------------------------------------------------------

// checkLevel is the outcome of one check; the zero value is a pass.
type checkLevel uint8

const (
	checkPass checkLevel = iota
	checkWarn
	checkFail
)

func (l checkLevel) String() string {
	return [...]string{"PASS", "WARN", "FAIL"}[l]
}

// checkResult is one row of the report.
type checkResult struct {
	Level   checkLevel
	Check   string // what was checked ("connect", "mirroring", …)
	Subject string // the instance, database, file or hook it concerns
	Detail  string
}

// checkReport collects the results in order.
type checkReport struct{ results []checkResult }

func (r *checkReport) add(level checkLevel, check, subject, format string, args ...any) {
	r.results = append(r.results, checkResult{Level: level, Check: check, Subject: subject, Detail: fmt.Sprintf(format, args...)})
}

// worst returns the worst level of the report.
func (r *checkReport) worst() checkLevel {
	w := checkPass
	for _, res := range r.results {
		w = max(w, res.Level)
	}
	return w
}

// write prints the table and a summary line.
func (r *checkReport) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tSUBJECT\tDETAIL")
	counts := [3]int{}
	for _, res := range r.results {
		counts[res.Level]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Level, res.Check, res.Subject, res.Detail)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed: %s\n", counts[checkPass], counts[checkWarn], counts[checkFail], r.worst())
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// checkEnv is what the checks read from the process (replaced in tests).
type checkEnv struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	uid       int
}

func newCheckCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Pre-flight: check the configuration against the SQL Servers and this host",
		Long: `check loads the daemon's configuration and checks, as the daemon would see them: every DSN
connects; each login has the permissions monitoring needs, and on the secondary (and the partners,
for fencing) those a promotion needs; mirroring is configured as expected and both partners are
log-shipping primaries on the same share; the secondary's copy and restore jobs exist, are enabled,
and SQL Server Agent runs them; alert thresholds are sane against the jobs' actual schedules; the
application's database users have logins with matching SIDs on the secondary; the state directory
is writable and lockable; the signal directory's permissions are safe; hooks exist and are
executable.

It prints one PASS/WARN/FAIL row per check. Exit code: 1 if any check failed, 0 otherwise
(warnings are printed, not fatal), 2 for a usage error. Run it as the daemon's user, with the
daemon's environment (DSN variables).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("--config is required")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			env := checkEnv{lookupEnv: os.LookupEnv, readFile: os.ReadFile, uid: os.Getuid()}
			rep := runChecks(cmd.Context(), cfg, env)
			if err := rep.write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if rep.worst() == checkFail {
				return errors.New("check failed (see the FAIL rows above)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the daemon's configuration file (required)")
	return cmd
}

// runChecks runs every check and returns the report.
func runChecks(ctx context.Context, cfg *config.Config, env checkEnv) *checkReport {
	if ctx == nil {
		ctx = context.Background()
	}
	rep := &checkReport{}
	c := &checker{cfg: cfg, env: env, rep: rep, conns: map[string]*checkConn{}}
	defer c.close()
	c.connect(ctx)
	c.permissions(ctx)
	c.mirroring(ctx)
	c.logShippingPrimaries(ctx)
	c.secondaryJobs(ctx)
	c.thresholds(ctx)
	c.logins(ctx)
	c.stateDir()
	c.signalDir()
	c.hooks()
	return rep
}

// checker holds the open connections of one run.
type checker struct {
	cfg   *config.Config
	env   checkEnv
	rep   *checkReport
	conns map[string]*checkConn // by instance name; only those that connected
	// principal is the partner that reports PRINCIPAL for the first group database ("" if none).
	principal string
	// backupEvery is the observed log backup interval per database (from the principal's history).
	backupEvery map[string]time.Duration
	// shares is the backup share the partners agree on, per database (set by logShippingPrimaries).
	shares map[string]string
}

type checkConn struct {
	in        config.Instance
	db        *sql.DB
	server    string
	sysadmin  bool
	dbcreator bool
}

func (c *checker) close() {
	for _, cc := range c.conns {
		_ = cc.db.Close()
	}
}

// databases are the group's and the monitored databases.
func (c *checker) databases() []string {
	return append(append([]string{}, c.cfg.Databases...), c.cfg.MonitoredDatabases...)
}

// inList returns "@p1, @p2, …" for n names and the arguments.
func inList(names []string) (string, []any) {
	ph := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		ph[i] = "@p" + strconv.Itoa(i+1)
		args[i] = n
	}
	return strings.Join(ph, ", "), args
}

func (c *checker) query(ctx context.Context, cc *checkConn, stmt string, names []string, scan func(*sql.Rows) error) error {
	ctx, cancel := context.WithTimeout(ctx, cc.in.QueryTimeout)
	defer cancel()
	ph, args := inList(names)
	rows, err := cc.db.QueryContext(ctx, strings.ReplaceAll(stmt, "{names}", ph), args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqlErrText describes a SQL error with its number.
func sqlErrText(err error) string {
	if n, ok := sqlerr.Number(err); ok {
		return fmt.Sprintf("error %d: %v", n, err)
	}
	return err.Error()
}

func isErrNumber(err error, n int32) bool {
	got, ok := sqlerr.Number(err)
	return ok && got == n
}

// connect opens every instance and reads its identity.
func (c *checker) connect(ctx context.Context) {
	for _, in := range c.cfg.Instances {
		raw, err := dsn.Read(dsn.Source{Env: in.DSNEnv, File: in.DSNFile}, c.env.lookupEnv, c.env.readFile)
		if err != nil {
			c.rep.add(checkFail, "connect", in.Name, "%v", err)
			continue
		}
		cfg, err := dsn.ParseMaster(raw)
		if err != nil {
			c.rep.add(checkFail, "connect", in.Name, "%v", err)
			continue
		}
		cfg.DialTimeout = in.ConnectTimeout
		conn := dsn.Connector(cfg, in.SourceAddress)
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(1)
		cc := &checkConn{in: in, db: db}
		cctx, cancel := context.WithTimeout(ctx, in.ConnectTimeout+in.QueryTimeout)
		var sysadmin, dbcreator sql.NullInt64
		err = db.QueryRowContext(cctx, chkIdentity).Scan(&cc.server, &sysadmin, &dbcreator)
		cancel()
		if err != nil {
			_ = db.Close()
			c.rep.add(checkFail, "connect", in.Name, "cannot connect and log in: %s", sqlErrText(err))
			continue
		}
		cc.sysadmin = sysadmin.Valid && sysadmin.Int64 == 1
		cc.dbcreator = dbcreator.Valid && dbcreator.Int64 == 1
		c.conns[in.Name] = cc
		c.rep.add(checkPass, "connect", in.Name, "connected to %s (sysadmin: %t)", cc.server, cc.sysadmin)
	}
}

// permissions checks what monitoring reads and what promotion and fencing need.
func (c *checker) permissions(ctx context.Context) {
	for _, in := range c.cfg.Instances {
		cc, ok := c.conns[in.Name]
		if !ok {
			continue
		}
		var missing []string
		for _, r := range chkReadable[in.Role] {
			err := c.query(ctx, cc, "SELECT TOP (1) 1 FROM "+r.object+";", nil, func(rows *sql.Rows) error {
				var n int64
				return rows.Scan(&n)
			})
			switch {
			case err == nil:
			case isErrNumber(err, 229):
				missing = append(missing, fmt.Sprintf("SELECT on %s (grant %s)", r.object, r.permission))
			default:
				missing = append(missing, fmt.Sprintf("%s: %s", r.object, sqlErrText(err)))
			}
		}
		if len(missing) > 0 {
			c.rep.add(checkFail, "monitoring permissions", in.Name, "cannot read: %s", strings.Join(missing, "; "))
		} else {
			c.rep.add(checkPass, "monitoring permissions", in.Name, "reads every view and msdb table monitoring needs")
		}
		if in.Role == config.RoleMonitor {
			continue
		}
		c.masterFiles(ctx, cc)
		c.promotionPermissions(cc)
	}
}

func (c *checker) masterFiles(ctx context.Context, cc *checkConn) {
	if cc.in.Role != config.RoleSecondary {
		return
	}
	var files int64
	err := c.query(ctx, cc, chkMasterFiles, c.cfg.Databases, func(rows *sql.Rows) error { return rows.Scan(&files) })
	switch {
	case err != nil:
		c.rep.add(checkFail, "monitoring permissions", cc.in.Name, "sys.master_files: %s", sqlErrText(err))
	case files == 0:
		c.rep.add(checkWarn, "monitoring permissions", cc.in.Name,
			"sys.master_files shows no file of %s: the restore position (redo_start_lsn) needs VIEW ANY DEFINITION (or CREATE DATABASE / ALTER ANY DATABASE)",
			strings.Join(c.cfg.Databases, ", "))
	}
}

func (c *checker) promotionPermissions(cc *checkConn) {
	target, _ := c.cfg.Secondary()
	switch {
	case cc.sysadmin:
		what := "fencing (ALTER DATABASE … SET PARTNER OFF, SET OFFLINE / SINGLE_USER)"
		if cc.in.Name == target.Name {
			what = "promotion (RESTORE … WITH RECOVERY, ALTER DATABASE, msdb.dbo.sp_update_job / sp_start_job on the log-shipping jobs)"
		}
		c.rep.add(checkPass, "promotion permissions", cc.in.Name, "sysadmin: may run %s", what)
	case cc.dbcreator:
		c.rep.add(checkWarn, "promotion permissions", cc.in.Name,
			"dbcreator, not sysadmin: RESTORE and ALTER DATABASE are allowed; the log-shipping jobs also need SQLAgentOperatorRole in msdb (enable/disable, start/stop), which is not checked here")
	case c.cfg.Mode == "monitor":
		c.rep.add(checkWarn, "promotion permissions", cc.in.Name, "not sysadmin: fine in mode monitor, but approval or auto mode could not promote or fence")
	case cc.in.Name == target.Name:
		c.rep.add(checkFail, "promotion permissions", cc.in.Name,
			"not sysadmin: promotion needs RESTORE (sysadmin or dbcreator; db_owner is not enough, error 3110), ALTER DATABASE (5011), and sp_update_job / sp_start_job on jobs owned by sa (14525 / 14393)")
	case cc.in.Role == config.RolePartner && c.cfg.Fence.Method != config.FenceHook:
		c.rep.add(checkWarn, "promotion permissions", cc.in.Name,
			"not sysadmin: fencing a returning partner needs ALTER on its databases (SET PARTNER OFF, fence.method %s; error 5011 otherwise)", c.cfg.Fence.Method)
	}
}

// mirroringRow is one partner's view of one database.
type mirroringRow struct {
	instance, server string
	present          bool
	state            string
	mirrored         bool
	role, mstate     string
	partner, safety  string
	witness          string
}

// mirroring checks that each protected database is mirrored between the two partners.
func (c *checker) mirroring(ctx context.Context) {
	var partners []*checkConn
	for _, in := range c.cfg.Instances {
		if in.Role != config.RolePartner {
			continue
		}
		if cc, ok := c.conns[in.Name]; ok {
			partners = append(partners, cc)
		}
	}
	if len(partners) == 0 {
		c.rep.add(checkFail, "mirroring", "site A", "no partner could be reached")
		return
	}
	views := map[string][]mirroringRow{} // database → one row per reachable partner
	for _, cc := range partners {
		seen := map[string]mirroringRow{}
		err := c.query(ctx, cc, chkMirroring, c.databases(), func(rows *sql.Rows) error {
			var r mirroringRow
			var mirrored int64
			var role, mstate, partner, safety, witness sql.NullString
			var name string
			if err := rows.Scan(&name, &r.state, &mirrored, &role, &mstate, &partner, &safety, &witness); err != nil {
				return err
			}
			r.instance, r.server, r.present, r.mirrored = cc.in.Name, cc.server, true, mirrored == 1
			r.role, r.mstate, r.partner, r.safety, r.witness = role.String, mstate.String, partner.String, safety.String, witness.String
			seen[strings.ToLower(name)] = r
			return nil
		})
		if err != nil {
			c.rep.add(checkFail, "mirroring", cc.in.Name, "read sys.database_mirroring: %s", sqlErrText(err))
			continue
		}
		for _, db := range c.databases() {
			r, ok := seen[strings.ToLower(db)]
			if !ok {
				r = mirroringRow{instance: cc.in.Name, server: cc.server}
			}
			views[db] = append(views[db], r)
		}
	}
	for i, db := range c.databases() {
		level, detail, principal := judgeMirroring(views[db], len(c.partnerNames()))
		c.rep.add(level, "mirroring", db, "%s", detail)
		if i == 0 {
			c.principal = principal
		}
	}
}

func (c *checker) partnerNames() []string {
	var out []string
	for _, in := range c.cfg.Instances {
		if in.Role == config.RolePartner {
			out = append(out, in.Name)
		}
	}
	return out
}

// judgeMirroring decides the mirroring check of one database from each reachable partner's view.
// configured is the number of configured partners. It returns the configured instance name of the
// principal, if one was found.
func judgeMirroring(rows []mirroringRow, configured int) (checkLevel, string, string) {
	var principals, mirrors, hidden []mirroringRow
	for _, r := range rows {
		switch {
		case !r.present:
			return checkFail, fmt.Sprintf("the database does not exist on %s", r.instance), ""
		case !r.mirrored && r.state == "RESTORING":
			hidden = append(hidden, r) // a mirror seen by a non-sysadmin: every column NULL (§8 Q14)
		case !r.mirrored:
			return checkFail, fmt.Sprintf("not mirrored on %s (state %s): expected a mirroring session between the site-A partners", r.instance, r.state), ""
		case r.role == "PRINCIPAL":
			principals = append(principals, r)
		case r.role == "MIRROR":
			mirrors = append(mirrors, r)
		}
	}
	switch {
	case len(principals) > 1:
		return checkFail, fmt.Sprintf("both %s and %s claim the PRINCIPAL role", principals[0].instance, principals[1].instance), ""
	case len(principals) == 0:
		return checkFail, "no reachable partner is PRINCIPAL", ""
	}
	p := principals[0]
	if configured < 2 {
		return checkWarn, fmt.Sprintf("%s is PRINCIPAL (partner %s) but only one partner is configured: configure both (role partner)", p.instance, p.partner), p.instance
	}
	other := ""
	for _, r := range append(mirrors, hidden...) {
		other = r.instance
		if r.server != "" && !strings.EqualFold(r.server, p.partner) {
			return checkFail, fmt.Sprintf("%s's mirroring partner is %s, but the other configured partner %s is %s", p.instance, p.partner, r.instance, r.server), p.instance
		}
	}
	if other == "" {
		return checkWarn, fmt.Sprintf("%s is PRINCIPAL (partner %s); the other partner could not be checked", p.instance, p.partner), p.instance
	}
	witness := p.witness
	if witness == "" {
		witness = "none"
	}
	detail := fmt.Sprintf("%s PRINCIPAL, %s MIRROR, %s, safety %s, witness %s", p.instance, other, p.mstate, p.safety, witness)
	if len(hidden) > 0 {
		detail += fmt.Sprintf(" (%s's row is hidden from a non-sysadmin login)", hidden[0].instance)
	}
	if p.mstate != "SYNCHRONIZED" {
		return checkWarn, detail + ": not SYNCHRONIZED", p.instance
	}
	return checkPass, detail, p.instance
}

// logShippingPrimaries checks that every partner is a log-shipping primary of each database on one share.
func (c *checker) logShippingPrimaries(ctx context.Context) {
	type primary struct{ share, job string }
	byDB := map[string]map[string]primary{} // db → instance → config
	enabled := map[string]map[string]bool{}
	var checked []string
	for _, name := range c.partnerNames() {
		cc, ok := c.conns[name]
		if !ok {
			continue
		}
		checked = append(checked, name)
		err := c.query(ctx, cc, chkLSPrimary, c.databases(), func(rows *sql.Rows) error {
			var db string
			var share, job sql.NullString
			var en sql.NullInt64
			if err := rows.Scan(&db, &share, &job, &en); err != nil {
				return err
			}
			key := strings.ToLower(db)
			if byDB[key] == nil {
				byDB[key], enabled[key] = map[string]primary{}, map[string]bool{}
			}
			byDB[key][name] = primary{share: share.String, job: job.String}
			enabled[key][name] = en.Valid && en.Int64 == 1
			return nil
		})
		if err != nil {
			c.rep.add(checkFail, "log-shipping primaries", name, "read msdb.dbo.log_shipping_primary_databases: %s", sqlErrText(err))
			return
		}
	}
	if len(checked) == 0 {
		return
	}
	for _, db := range c.databases() {
		cfgs := byDB[strings.ToLower(db)]
		var problems []string
		shares := map[string][]string{}
		for _, name := range checked {
			p, ok := cfgs[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s is not a log-shipping primary (both partners must be, on the same share: SQLSERVER.md §2.5, §5.5)", name))
				continue
			case p.job == "":
				problems = append(problems, fmt.Sprintf("%s's backup job does not exist", name))
			case !enabled[strings.ToLower(db)][name]:
				problems = append(problems, fmt.Sprintf("%s's backup job %s is disabled", name, p.job))
			}
			norm := strings.ToLower(strings.TrimRight(p.share, `\/`)) // as sameShare
			shares[norm] = append(shares[norm], name+"="+p.share)
		}
		if len(shares) > 1 {
			var list []string
			for _, v := range shares {
				list = append(list, v...)
			}
			sort.Strings(list)
			problems = append(problems, "the partners use different backup shares: "+strings.Join(list, ", "))
		}
		if len(problems) > 0 {
			c.rep.add(checkFail, "log-shipping primaries", db, "%s", strings.Join(problems, "; "))
			continue
		}
		share := ""
		for _, p := range cfgs {
			share = p.share
		}
		if c.shares == nil {
			c.shares = map[string]string{}
		}
		c.shares[strings.ToLower(db)] = share
		level := checkPass
		detail := fmt.Sprintf("%s: primaries on %s, backup jobs enabled", strings.Join(checked, " and "), share)
		if len(checked) < len(c.partnerNames()) {
			level, detail = checkWarn, detail+" (unreachable partners not checked)"
		}
		c.rep.add(level, "log-shipping primaries", db, "%s", detail)
	}
}

// secondaryJobs checks the secondary's log-shipping configuration, its copy and restore jobs, and Agent.
func (c *checker) secondaryJobs(ctx context.Context) {
	target, ok := c.cfg.Secondary()
	if !ok {
		return
	}
	cc, ok := c.conns[target.Name]
	if !ok {
		return
	}
	type jobs struct {
		copyID, restoreID           mssql.NullUniqueIdentifier
		copyName, restoreName       sql.NullString
		copyEnabled, restoreEnabled sql.NullInt64
		primaryServer, sourceDir    sql.NullString
	}
	found := map[string]jobs{}
	err := c.query(ctx, cc, chkLSSecondary, c.databases(), func(rows *sql.Rows) error {
		var db string
		var j jobs
		if err := rows.Scan(&db, &j.primaryServer, &j.sourceDir, &j.copyID, &j.copyName, &j.copyEnabled,
			&j.restoreID, &j.restoreName, &j.restoreEnabled); err != nil {
			return err
		}
		found[strings.ToLower(db)] = j
		return nil
	})
	if err != nil {
		c.rep.add(checkFail, "secondary jobs", target.Name, "read the log-shipping secondary configuration: %s", sqlErrText(err))
		return
	}
	watch := map[mssql.UniqueIdentifier]string{}
	for _, db := range c.databases() {
		j, ok := found[strings.ToLower(db)]
		if !ok {
			c.rep.add(checkFail, "secondary jobs", db, "%s is not a log-shipping secondary of %s (no row in msdb.dbo.log_shipping_secondary_databases)", target.Name, db)
			continue
		}
		var problems []string
		for _, job := range []struct {
			kind    string
			id      mssql.NullUniqueIdentifier
			name    sql.NullString
			enabled sql.NullInt64
		}{{"copy", j.copyID, j.copyName, j.copyEnabled}, {"restore", j.restoreID, j.restoreName, j.restoreEnabled}} {
			switch {
			case !job.name.Valid:
				problems = append(problems, fmt.Sprintf("the %s job (msdb.dbo.log_shipping_secondary.%s_job_id) does not exist in msdb.dbo.sysjobs", job.kind, job.kind))
			case job.enabled.Int64 != 1:
				problems = append(problems, fmt.Sprintf("the %s job %s is disabled", job.kind, job.name.String))
			default:
				watch[job.id.UUID] = job.name.String
			}
		}
		if share, ok := c.shares[strings.ToLower(db)]; ok && !sameShare(share, j.sourceDir.String) {
			problems = append(problems, fmt.Sprintf("the copy job reads %s but the partners back up to %s", j.sourceDir.String, share))
		}
		if len(problems) > 0 {
			c.rep.add(checkFail, "secondary jobs", db, "%s", strings.Join(problems, "; "))
			continue
		}
		if !c.isPartnerServer(j.primaryServer.String) {
			c.rep.add(checkWarn, "secondary jobs", db, "the secondary's primary_server %s is none of the configured partners (%s)",
				j.primaryServer.String, strings.Join(c.partnerNames(), ", "))
		}
		c.rep.add(checkPass, "secondary jobs", db, "copy job %s and restore job %s exist and are enabled (primary %s, source %s)",
			j.copyName.String, j.restoreName.String, j.primaryServer.String, j.sourceDir.String)
	}
	c.agent(ctx, cc, watch)
}

// sameShare compares two UNC paths as Windows does: case-insensitively, trailing separators ignored.
func sameShare(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, `\/`), strings.TrimRight(b, `\/`))
}

// isPartnerServer reports whether name is a configured partner or the @@SERVERNAME of a connected one.
func (c *checker) isPartnerServer(name string) bool {
	for _, p := range c.partnerNames() {
		if strings.EqualFold(p, name) {
			return true
		}
		if cc, ok := c.conns[p]; ok && strings.EqualFold(cc.server, name) {
			return true
		}
	}
	return false
}

// agent checks that SQL Server Agent runs: from sys.dm_server_services where available, and in any
// case from the jobs' activity (a job whose next scheduled run is long overdue is not being run).
func (c *checker) agent(ctx context.Context, cc *checkConn, watch map[mssql.UniqueIdentifier]string) {
	var service, status string
	err := c.query(ctx, cc, chkAgentService, nil, func(rows *sql.Rows) error { return rows.Scan(&service, &status) })
	serviceNote := ""
	switch {
	case err == nil && service != "" && !strings.EqualFold(status, "Running"):
		c.rep.add(checkFail, "sql agent", cc.in.Name, "%s is %s: the copy and restore jobs do not run", service, status)
		return
	case err == nil && service != "":
		serviceNote = service + " is Running; "
	case err != nil:
		serviceNote = fmt.Sprintf("sys.dm_server_services unavailable (%s); ", sqlErrText(err))
	}
	if len(watch) == 0 {
		c.rep.add(checkWarn, "sql agent", cc.in.Name, "%sno enabled log-shipping job to judge Agent by", serviceNote)
		return
	}
	type act struct {
		session  int64
		next     sql.NullTime
		now      time.Time
		hasStart bool
	}
	newest := map[mssql.UniqueIdentifier]act{}
	err = c.query(ctx, cc, chkJobActivity, nil, func(rows *sql.Rows) error {
		var id mssql.UniqueIdentifier
		var a act
		var start sql.NullTime
		if err := rows.Scan(&id, &a.session, &start, &a.next, &a.now); err != nil {
			return err
		}
		a.hasStart = start.Valid
		if _, ok := watch[id]; ok && a.session >= newest[id].session {
			newest[id] = a
		}
		return nil
	})
	if err != nil {
		c.rep.add(checkFail, "sql agent", cc.in.Name, "%sread msdb.dbo.sysjobactivity: %s", serviceNote, sqlErrText(err))
		return
	}
	runs := map[mssql.UniqueIdentifier][]time.Time{}
	err = c.query(ctx, cc, chkJobHistory, nil, func(rows *sql.Rows) error {
		var id mssql.UniqueIdentifier
		var date, clock int64
		if err := rows.Scan(&id, &date, &clock); err != nil {
			return err
		}
		if _, ok := watch[id]; ok {
			runs[id] = append(runs[id], time.Date(int(date/10000), time.Month(date/100%100), int(date%100),
				int(clock/10000), int(clock/100%100), int(clock%100), 0, time.UTC))
		}
		return nil
	})
	if err != nil {
		c.rep.add(checkFail, "sql agent", cc.in.Name, "%sread msdb.dbo.sysjobhistory: %s", serviceNote, sqlErrText(err))
		return
	}
	level := checkPass
	var notes []string
	names := make([]mssql.UniqueIdentifier, 0, len(watch))
	for id := range watch {
		names = append(names, id)
	}
	sort.Slice(names, func(i, j int) bool { return watch[names[i]] < watch[names[j]] })
	for _, id := range names {
		a, ok := newest[id]
		if !ok {
			level = max(level, checkWarn)
			notes = append(notes, fmt.Sprintf("%s has no activity row: Agent has not scheduled it", watch[id]))
			continue
		}
		l, note := judgeJobRuns(watch[id], a.next, a.now, runs[id])
		level = max(level, l)
		notes = append(notes, note)
	}
	c.rep.add(level, "sql agent", cc.in.Name, "%s%s", serviceNote, strings.Join(notes, "; "))
}

// How overdue a job's next scheduled run may be before Agent is suspected (a run may be queued
// behind a long one) and before it is judged not running.
const (
	agentOverdueWarn = 2 * time.Minute
	agentOverdueFail = 10 * time.Minute
)

// judgeJobRuns decides whether Agent runs a job: its next scheduled run must not be long overdue,
// and its last run must not be much older than its usual interval (the median gap of its runs).
// now, next and runs are the server's local wall-clock times.
func judgeJobRuns(job string, next sql.NullTime, now time.Time, runs []time.Time) (checkLevel, string) {
	if !next.Valid {
		return checkWarn, fmt.Sprintf("%s has no scheduled next run in Agent's activity", job)
	}
	if overdue := now.Sub(next.Time); overdue > agentOverdueFail {
		return checkFail, fmt.Sprintf("%s's next run was due %s ago: Agent is not running it", job, overdue.Round(time.Second))
	} else if overdue > agentOverdueWarn {
		return checkWarn, fmt.Sprintf("%s's next run is %s overdue", job, overdue.Round(time.Second))
	}
	every, n := medianGap(runs)
	if n >= 2 {
		last := slices.MaxFunc(runs, func(a, b time.Time) int { return a.Compare(b) })
		if since := now.Sub(last); since > 3*every+agentOverdueWarn {
			level := checkWarn
			if since > 3*every+agentOverdueFail {
				level = checkFail
			}
			return level, fmt.Sprintf("%s last ran %s ago though it usually runs every %s: Agent is not running it on schedule",
				job, since.Round(time.Second), every)
		}
	}
	return checkPass, fmt.Sprintf("%s next runs at %s", job, next.Time.Format("15:04:05"))
}

// thresholds compares the alert thresholds with the jobs' observed schedules (Microsoft suggests a
// threshold of at least three times the backup frequency: SQLSERVER.md §2.4) and sqldr's own budget
// with the backup interval.
func (c *checker) thresholds(ctx context.Context) {
	c.backupEvery = map[string]time.Duration{}
	if cc, ok := c.conns[c.principal]; ok {
		gaps := map[string][]time.Time{}
		err := c.query(ctx, cc, chkBackupHistory, c.databases(), func(rows *sql.Rows) error {
			var db string
			var finish time.Time
			var tz sql.NullInt64
			if err := rows.Scan(&db, &finish, &tz); err != nil {
				return err
			}
			if !tz.Valid || tz.Int64 == 127 {
				return nil // unknown offset: cannot be placed on a common time line (§8 Q11)
			}
			utc := time.Date(finish.Year(), finish.Month(), finish.Day(), finish.Hour(), finish.Minute(), finish.Second(),
				finish.Nanosecond(), time.UTC).Add(-time.Duration(tz.Int64) * 15 * time.Minute)
			gaps[strings.ToLower(db)] = append(gaps[strings.ToLower(db)], utc)
			return nil
		})
		if err != nil {
			c.rep.add(checkWarn, "thresholds", c.principal, "read backup history: %s", sqlErrText(err))
		}
		thr := map[string]time.Duration{}
		err = c.query(ctx, cc, chkBackupThreshold, c.databases(), func(rows *sql.Rows) error {
			var db string
			var m sql.NullInt64
			if err := rows.Scan(&db, &m); err != nil {
				return err
			}
			if m.Valid {
				thr[strings.ToLower(db)] = time.Duration(m.Int64) * time.Minute
			}
			return nil
		})
		if err != nil {
			c.rep.add(checkWarn, "thresholds", c.principal, "read backup thresholds: %s", sqlErrText(err))
		}
		for _, db := range c.databases() {
			every, n := medianGap(gaps[strings.ToLower(db)])
			c.backupEvery[db] = every
			threshold, src := c.cfg.LogShipping.BackupThreshold, "log_shipping.backup_threshold"
			if threshold == 0 {
				threshold, src = thr[strings.ToLower(db)], "backup_threshold in msdb.dbo.log_shipping_monitor_primary"
			}
			level, detail := judgeThreshold("backup", every, n, threshold, src)
			c.rep.add(level, "thresholds", db, "%s", detail)
		}
	}
	if target, ok := c.cfg.Secondary(); ok {
		if cc, ok := c.conns[target.Name]; ok {
			times := map[string][]time.Time{}
			err := c.query(ctx, cc, chkRestoreHistory, c.databases(), func(rows *sql.Rows) error {
				var db string
				var at time.Time
				if err := rows.Scan(&db, &at); err != nil {
					return err
				}
				times[strings.ToLower(db)] = append(times[strings.ToLower(db)], at)
				return nil
			})
			if err != nil {
				c.rep.add(checkWarn, "thresholds", target.Name, "read restore history: %s", sqlErrText(err))
			}
			thr := map[string]time.Duration{}
			err = c.query(ctx, cc, chkRestoreThreshold, c.databases(), func(rows *sql.Rows) error {
				var db string
				var m sql.NullInt64
				if err := rows.Scan(&db, &m); err != nil {
					return err
				}
				if m.Valid {
					thr[strings.ToLower(db)] = time.Duration(m.Int64) * time.Minute
				}
				return nil
			})
			if err != nil {
				c.rep.add(checkWarn, "thresholds", target.Name, "read restore thresholds: %s", sqlErrText(err))
			}
			for _, db := range c.databases() {
				every, n := medianGap(times[strings.ToLower(db)])
				threshold, src := c.cfg.LogShipping.RestoreThreshold, "log_shipping.restore_threshold"
				if threshold == 0 {
					threshold, src = thr[strings.ToLower(db)], "restore_threshold in msdb.dbo.log_shipping_monitor_secondary"
				}
				level, detail := judgeThreshold("restore", every, n, threshold, src)
				c.rep.add(level, "thresholds", db, "%s", detail)
			}
		}
	}
	// sqldr's own budget: a log backup is the unit of loss, so a budget below the backup interval
	// blocks nearly every automatic promotion.
	if c.cfg.Mode == "auto" {
		for _, db := range c.cfg.Databases {
			if every := c.backupEvery[db]; every > 0 && c.cfg.MaxDataLoss < every {
				c.rep.add(checkWarn, "thresholds", db, "max_data_loss %s is below the log backup interval (about %s): automatic promotion will almost always be blocked", c.cfg.MaxDataLoss, every)
			}
		}
	}
}

// medianGap returns the median interval between the sorted instants and the number of intervals.
func medianGap(ts []time.Time) (time.Duration, int) {
	if len(ts) < 2 {
		return 0, 0
	}
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	gaps := make([]time.Duration, 0, len(s)-1)
	for i := 1; i < len(s); i++ {
		if g := s[i].Sub(s[i-1]); g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return 0, 0
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2], len(gaps)
}

// judgeThreshold compares an alert threshold with a job's observed interval (n gaps measured).
func judgeThreshold(job string, every time.Duration, n int, threshold time.Duration, src string) (checkLevel, string) {
	switch {
	case threshold <= 0:
		return checkWarn, fmt.Sprintf("no %s threshold (%s is not set): the %s lag alert uses sqldr's default", job, src, job)
	case n < 2:
		return checkWarn, fmt.Sprintf("%s threshold %s (%s); too little %s history in the last 6h to compare it with the schedule", job, threshold, src, job)
	case threshold <= every:
		return checkFail, fmt.Sprintf("%s threshold %s (%s) is not above the %s interval (about %s): the alert would fire between two runs", job, threshold, src, job, every)
	case threshold < 3*every:
		return checkWarn, fmt.Sprintf("%s threshold %s (%s) is below 3 × the %s interval (about %s), Microsoft's suggestion", job, threshold, src, job, every)
	}
	return checkPass, fmt.Sprintf("%s threshold %s (%s) ≥ 3 × the %s interval (about %s)", job, threshold, src, job, every)
}

// principalEntry is a database user or a server login.
type principalEntry struct {
	name string
	sid  []byte
	typ  string
}

// logins checks that the users of each group database have logins with the same SID on the secondary.
func (c *checker) logins(ctx context.Context) {
	target, ok := c.cfg.Secondary()
	sec, ok2 := c.conns[target.Name]
	prin, ok3 := c.conns[c.principal]
	if !ok || !ok2 || !ok3 {
		c.rep.add(checkWarn, "logins", target.Name, "not checked: the principal or the secondary is unreachable")
		return
	}
	var logins []principalEntry
	err := c.query(ctx, sec, chkServerLogins, nil, func(rows *sql.Rows) error {
		var p principalEntry
		if err := rows.Scan(&p.name, &p.sid, &p.typ); err != nil {
			return err
		}
		logins = append(logins, p)
		return nil
	})
	if err != nil {
		c.rep.add(checkWarn, "logins", target.Name, "cannot verify the application's logins: sys.server_principals: %s", sqlErrText(err))
		return
	}
	for _, db := range c.cfg.Databases {
		var users []principalEntry
		err := c.query(ctx, prin, strings.ReplaceAll(chkDatabaseUsers, "{db}", db), nil, func(rows *sql.Rows) error {
			var p principalEntry
			if err := rows.Scan(&p.name, &p.sid, &p.typ); err != nil {
				return err
			}
			users = append(users, p)
			return nil
		})
		if err != nil {
			c.rep.add(checkWarn, "logins", db, "cannot verify the database users on %s: %s", c.principal, sqlErrText(err))
			continue
		}
		level, detail := judgeLogins(users, logins, target.Name)
		c.rep.add(level, "logins", db, "%s", detail)
	}
}

// judgeLogins matches database users to logins by SID (a user maps to its login by SID, not name).
func judgeLogins(users, logins []principalEntry, secondary string) (checkLevel, string) {
	bySID := map[string]principalEntry{}
	byName := map[string]principalEntry{}
	for _, l := range logins {
		bySID[string(l.sid)] = l
		byName[strings.ToLower(l.name)] = l
	}
	var problems []string
	for _, u := range users {
		if _, ok := bySID[string(u.sid)]; ok {
			continue
		}
		if l, ok := byName[strings.ToLower(u.name)]; ok {
			problems = append(problems, fmt.Sprintf("user %s: login %s exists on %s with a different SID (0x%X, user has 0x%X); recreate it WITH SID or the user is orphaned after a promotion",
				u.name, l.name, secondary, l.sid, u.sid))
			continue
		}
		problems = append(problems, fmt.Sprintf("user %s (SID 0x%X) has no login on %s", u.name, u.sid, secondary))
	}
	if len(problems) > 0 {
		return checkFail, strings.Join(problems, "; ")
	}
	return checkPass, fmt.Sprintf("%d database users have logins with matching SIDs on %s", len(users), secondary)
}

// stateDir checks that the state directory exists, is writable and can be locked and read (the
// daemon's journal and status verify).
func (c *checker) stateDir() {
	dir := c.cfg.StateDir
	f, err := os.CreateTemp(dir, ".sqldr-check-*")
	if err != nil {
		c.rep.add(checkFail, "state directory", dir, "not writable: %v", err)
		return
	}
	name := f.Name()
	_, werr := f.WriteString("sqldr check\n")
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		c.rep.add(checkFail, "state directory", dir, "write and fsync a file: %v", err)
		return
	}
	st, err := journal.Open(zap.NewNop(), journal.Options{Dir: dir})
	switch {
	case errors.Is(err, journal.ErrLocked):
		c.rep.add(checkWarn, "state directory", dir, "writable, but locked by another sqldr process (expected while the daemon runs)")
	case errors.Is(err, journal.ErrTornTail), errors.Is(err, journal.ErrCorrupt):
		c.rep.add(checkFail, "state directory", dir, "the daemon would refuse to act: %v", err)
	case err != nil:
		c.rep.add(checkFail, "state directory", dir, "%v", err)
	default:
		seq := st.Seq()
		if err := st.Close(); err != nil {
			c.rep.add(checkFail, "state directory", dir, "close: %v", err)
			return
		}
		c.rep.add(checkPass, "state directory", dir, "writable, lockable, journal verified (%d records)", seq)
	}
	if problem, err := unsafePath(dir, c.env.uid, c.cfg.Signals.OperatorsGroup); err != nil {
		c.rep.add(checkFail, "state directory", dir, "%v", err)
	} else if problem != "" {
		c.rep.add(checkFail, "state directory", dir, "%s", problem)
	}
}

// signalDir checks the signal directory's ownership and permissions as the daemon will.
func (c *checker) signalDir() {
	dir := filepath.Join(c.cfg.StateDir, "signals")
	_, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		c.rep.add(checkWarn, "signal directory", dir, "does not exist yet (sqldr approve|pause creates it); create it owned by the daemon's user, group %s, not writable by others",
			orNone(c.cfg.Signals.OperatorsGroup))
		return
	}
	problem, err := unsafePath(dir, c.env.uid, c.cfg.Signals.OperatorsGroup)
	switch {
	case err != nil:
		c.rep.add(checkFail, "signal directory", dir, "%v", err)
	case problem != "":
		c.rep.add(checkFail, "signal directory", dir, "%s: every signal in it would be rejected", problem)
	default:
		c.rep.add(checkPass, "signal directory", dir, "owner and permissions are safe")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none configured)"
	}
	return s
}

// hooks checks that every hook's program exists and is executable and not writable by others.
func (c *checker) hooks() {
	for _, h := range []struct {
		event string
		specs []hook.Spec
	}{{"pre_promote", c.cfg.Hooks.PrePromote}, {"post_promote", c.cfg.Hooks.PostPromote}, {"fence", c.cfg.Hooks.Fence}} {
		for _, s := range h.specs {
			subject := "hooks." + h.event + "." + s.Name
			path := s.Command
			if !filepath.IsAbs(path) {
				p, err := exec.LookPath(path)
				if err != nil {
					c.rep.add(checkFail, "hooks", subject, "%s is not found in PATH: %v", s.Command, err)
					continue
				}
				path = p
			}
			fi, err := os.Stat(path)
			switch {
			case err != nil:
				c.rep.add(checkFail, "hooks", subject, "%v", err)
			case !fi.Mode().IsRegular():
				c.rep.add(checkFail, "hooks", subject, "%s is not a regular file", path)
			case !isExecutable(path, fi):
				c.rep.add(checkFail, "hooks", subject, "%s is not executable", path)
			default:
				if problem, err := unsafePath(path, c.env.uid, c.cfg.Signals.OperatorsGroup); err != nil || problem != "" {
					c.rep.add(checkFail, "hooks", subject, "%s runs with the daemon's rights but %s", path, firstNonEmpty(problem, fmt.Sprint(err)))
					continue
				}
				c.rep.add(checkPass, "hooks", subject, "%s exists and is executable", path)
			}
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

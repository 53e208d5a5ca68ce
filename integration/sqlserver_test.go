package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.uber.org/zap/zaptest"
	"k8s.io/utils/clock"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/controller/runbook"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/pkg/journal"
	"github.com/sqldr/sqldr/probes"
)

// "A SQL Server in a container". The probe and log-shipping runbook tests below are written once,
// against these two shapes, and run against whatever backs them:
//
//   - by default (and in CI): the lab's images — `sqldr lab single` (the official image's contract:
//     ACCEPT_EULA, MSSQL_SA_PASSWORD, port 1433, "Recovery is complete.") for one instance, and the
//     split lab estate (one container per instance) for a log-shipping pair;
//   - with SQLDR_TEST_MSSQL_IMAGE naming Microsoft's image (e.g.
//     mcr.microsoft.com/mssql/server:2022-latest) that is present locally: the same test functions
//     run against containers of that image — two instances with SQL Server Agent enabled
//     (MSSQL_AGENT_ENABLED=true, MSSQL_PID=Developer), a shared backup directory bind-mounted into
//     both, and log shipping set up with the documented procedures (see setupMSSQLLogShipping). An
//     image that is named but absent skips these tests; it is never pulled.

const envMSSQLImage = "SQLDR_TEST_MSSQL_IMAGE"

// standalone is one SQL Server instance in a container.
type standalone struct {
	kind string
	dsn  string
}

// lsPair is a log-shipping primary (site A) and secondary (site B) in containers, ready for a
// promotion: loseSiteA makes the primary side unreachable.
type lsPair struct {
	kind      string
	dsn       map[string]string // instance name → sa DSN through the management path
	primaries []string          // site-A instances (partners)
	secondary string
	// backupNow makes sure a log backup that started after the test's marker row was written (with
	// before log backups in msdb when it was) reaches the share.
	backupNow func(t *testing.T, before int)
	loseSiteA func(t *testing.T)
}

// mssqlImage returns Microsoft's image named by SQLDR_TEST_MSSQL_IMAGE, "" when unset, and skips
// the test when it is named but not present locally.
func mssqlImage(t *testing.T) string {
	t.Helper()
	img := os.Getenv(envMSSQLImage)
	if img == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer func() { _ = cli.Close() }()
	if _, err := cli.ImageInspect(ctx, img); err != nil {
		t.Skipf("%s=%s is not present locally (it is never pulled): %v", envMSSQLImage, img, err)
	}
	return img
}

// runSQLServer starts one container that honours the official image's contract and returns its
// DSN through a port published on 127.0.0.1.
func runSQLServer(t *testing.T, img string, nw *testcontainers.DockerNetwork, alias string, binds []string) (*testcontainers.DockerContainer, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := map[string]string{"ACCEPT_EULA": "Y", "MSSQL_SA_PASSWORD": labPassword}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(tdsPort),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = mobynet.PortMap{mobynet.MustParsePort(tdsPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
			hc.Binds = append(hc.Binds, binds...)
		}),
		testcontainers.WithWaitStrategyAndDeadline(2*time.Minute, wait.ForLog("Recovery is complete.")),
		testcontainers.WithLabels(map[string]string{"sqldr.itest": t.Name()}),
	}
	if img == "" {
		img = productImage
		opts = append(opts, testcontainers.WithCmd("lab", "single"))
	} else {
		env["MSSQL_PID"] = "Developer"
		env["MSSQL_AGENT_ENABLED"] = "true"
	}
	opts = append(opts, testcontainers.WithEnv(env))
	if nw != nil {
		opts = append(opts, network.WithNetwork([]string{alias}, nw))
	}
	ctr, err := testcontainers.Run(ctx, img, opts...)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("start %s: %v\n%s", img, err, containerLogs(ctr))
	}
	ep, err := ctr.PortEndpoint(ctx, tdsPort, "")
	if err != nil {
		t.Fatalf("endpoint of %s: %v", img, err)
	}
	dsn := labDSN(ep)
	eventually(t, 90*time.Second, 500*time.Millisecond, img+" answers SQL", func() error {
		_, err := queryOne(dsn, "SELECT @@SERVERNAME")
		return err
	})
	return ctr, dsn
}

// newStandalone starts the single SQL Server the probe test runs against.
func newStandalone(t *testing.T) standalone {
	t.Helper()
	needDocker(t)
	img := mssqlImage(t)
	_, dsn := runSQLServer(t, img, nil, "", nil)
	if img == "" {
		return standalone{kind: "lab single", dsn: dsn}
	}
	// Microsoft's image has no mgc: create it with the table the tests write to.
	for _, q := range []string{
		"CREATE DATABASE mgc",
		"ALTER DATABASE mgc SET RECOVERY FULL",
		"CREATE TABLE mgc.dbo.messages (id bigint IDENTITY PRIMARY KEY, created_at datetime2(3) NULL DEFAULT SYSUTCDATETIME(), body nvarchar(200) NULL)",
	} {
		if err := execSQL(dsn, q); err != nil {
			t.Fatal(err)
		}
	}
	return standalone{kind: img, dsn: dsn}
}

// writeDSN puts a DSN in a file for a probes.Target (DSNs never travel inline).
func writeDSN(t *testing.T, dir, name, dsn string) string {
	t.Helper()
	f := filepath.Join(dir, name+".dsn")
	if err := os.WriteFile(f, []byte(dsn), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSQLServerProbe runs the controller's probe against a SQL Server in a container: it answers,
// names itself, reports a server clock that advances, and sees mgc ONLINE and writable, as an
// INSERT confirms; a database that does not exist is reported as absent, not as an error.
func TestSQLServerProbe(t *testing.T) {
	srv := newStandalone(t)
	t.Logf("SQL Server in a container: %s", srv.kind)
	dir := t.TempDir()
	p, err := probes.New(zaptest.NewLogger(t), probes.Options{
		Targets: []probes.Target{{Name: "SQL1", Site: probes.SiteA, Role: probes.RolePartner,
			DSNFile: writeDSN(t, dir, "SQL1", srv.dsn), ConnectTimeout: 5 * time.Second, QueryTimeout: 10 * time.Second}},
		Databases: []string{"mgc", "nosuchdb"},
	}, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := p.Probe(ctx)
	if len(first.Instances) != 1 {
		t.Fatalf("%d instances in the snapshot, want 1", len(first.Instances))
	}
	in := first.Instances[0]
	if in.Reachability != probes.ReachUp {
		t.Fatalf("probe: reachability %v (%s), want up", in.Reachability, in.Err)
	}
	if in.ServerName == "" || in.ServerUTC.IsZero() {
		t.Errorf("probe: server name %q, server clock %v: both must be read", in.ServerName, in.ServerUTC)
	}
	dbs := map[string]probes.DatabaseSnapshot{}
	for _, d := range in.Databases {
		dbs[d.Name] = d
	}
	mgc, ok := dbs["mgc"]
	if !ok || !mgc.Exists || mgc.State != probes.DBOnline || !mgc.Writable() {
		t.Errorf("probe: mgc %+v, want existing, ONLINE, writable", mgc)
	}
	if d, ok := dbs["nosuchdb"]; ok && d.Exists {
		t.Errorf("probe: nosuchdb reported as existing: %+v", d)
	}
	if err := execSQL(srv.dsn, "INSERT INTO mgc.dbo.messages (body) VALUES (N'probe test')"); err != nil {
		t.Errorf("mgc reported writable but refuses an INSERT: %v", err)
	}
	// The server's clock advances between two probes (read from the server, never the test's).
	eventually(t, 20*time.Second, 300*time.Millisecond, "server clock advances", func() error {
		next := p.Probe(ctx).Instances[0]
		if next.Reachability != probes.ReachUp {
			return fmt.Errorf("second probe: %v %s", next.Reachability, next.Err)
		}
		if !next.ServerUTC.After(in.ServerUTC) {
			return fmt.Errorf("%w: server clock %v, first %v", errNotYet, next.ServerUTC, in.ServerUTC)
		}
		return nil
	})
}

// newLSPair returns the log-shipping pair the runbook test runs against.
func newLSPair(t *testing.T) lsPair {
	t.Helper()
	needDocker(t)
	if img := mssqlImage(t); img != "" {
		return newMSSQLPair(t, img)
	}
	// The lab estate, accelerated: a log backup, copy and restore every simulated minute (3 s).
	e := newEstate(t, estateOptions{Speed: 20})
	e.waitSynchronized("mgc", "SQLA1", 30*time.Second) // a principal without quorum refuses writes (955)
	p := lsPair{kind: "lab estate", dsn: map[string]string{}, primaries: []string{"SQLA1", "SQLA2"}, secondary: "SQLB1"}
	for _, n := range []string{"SQLA1", "SQLA2", "SQLB1"} {
		p.dsn[n] = mustDSN(t, e, n)
	}
	p.backupNow = func(t *testing.T, before int) {
		// The lab's backup job runs every simulated minute: the second backup counted after the
		// marker was written started after it, so it holds the marker.
		waitLogBackups(t, p.dsn["SQLA1"], before+2, 60*time.Second)
	}
	p.loseSiteA = func(*testing.T) { e.kill("SQLA1", "SQLA2") }
	return p
}

// logBackups counts the log backups of mgc in the primary's msdb.
func logBackups(t *testing.T, dsn string) int {
	t.Helper()
	n, err := queryOne(dsn, "SELECT COUNT(*) FROM msdb.dbo.backupset WHERE database_name = N'mgc' AND type = 'L'")
	if err != nil {
		t.Fatal(err)
	}
	var c int
	if _, err := fmt.Sscan(n, &c); err != nil {
		t.Fatalf("backup count %q: %v", n, err)
	}
	return c
}

// waitLogBackups waits until the primary's msdb holds at least want log backups of mgc.
func waitLogBackups(t *testing.T, dsn string, want int, within time.Duration) {
	t.Helper()
	eventually(t, within, 500*time.Millisecond, fmt.Sprintf("%d log backups of mgc", want), func() error {
		if n := logBackups(t, dsn); n < want {
			return fmt.Errorf("%w: %d log backups", errNotYet, n)
		}
		return nil
	})
}

// TestSQLServerLogShippingRunbook promotes a log-shipping secondary with the controller's runbook
// (every step, in order, journaled) after site A is lost: a row written on the primary before its
// last log backup is on the promoted secondary, the secondary takes an INSERT, its copy and
// restore jobs are disabled, and the journal holds one start and one end record per step.
func TestSQLServerLogShippingRunbook(t *testing.T) {
	p := newLSPair(t)
	t.Logf("log-shipping pair in containers: %s", p.kind)
	marker := fmt.Sprintf("runbook marker %d", time.Now().UnixNano())
	before := logBackups(t, p.dsn[p.primaries[0]])
	if err := execSQL(p.dsn[p.primaries[0]], "INSERT INTO mgc.dbo.messages (body) VALUES (@p1)", marker); err != nil {
		t.Fatalf("write the marker on the primary: %v", err)
	}
	p.backupNow(t, before)
	p.loseSiteA(t)

	dir := t.TempDir()
	var targets []probes.Target
	for _, n := range append(slices.Clone(p.primaries), p.secondary) {
		role := probes.RolePartner
		site := probes.SiteA
		if n == p.secondary {
			role, site = probes.RoleSecondary, probes.SiteB
		}
		targets = append(targets, probes.Target{Name: n, Site: site, Role: role, DSNFile: writeDSN(t, dir, n, p.dsn[n]),
			ConnectTimeout: 3 * time.Second, QueryTimeout: 10 * time.Second})
	}
	log := zaptest.NewLogger(t)
	prober, err := probes.New(log, probes.Options{Targets: targets, Databases: []string{"mgc"}}, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prober.Close() })
	secDB, err := sql.Open("sqlserver", p.dsn[p.secondary])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secDB.Close() })
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := journal.Open(log, journal.Options{Dir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	opts := runbook.Options{Group: "mgc", Databases: []string{"mgc"}, Target: p.secondary, FenceMethod: config.FenceOffline,
		PollInterval: 500 * time.Millisecond, Timeouts: map[controller.Step]time.Duration{}}
	for _, s := range controller.Runbook {
		opts.Timeouts[s] = 60 * time.Second
	}
	ex, err := runbook.New(log, opts, runbook.Deps{
		Clock:   clock.RealClock{},
		Journal: store,
		Conn: func(inst string) (runbook.DB, error) {
			if inst != p.secondary {
				return nil, fmt.Errorf("the runbook asked for %s; only the secondary %s is reachable", inst, p.secondary)
			}
			return secDB, nil
		},
		Prober:  prober,
		Hooks:   hook.NewRunner(log, hook.Options{}),
		History: store.Records(),
	})
	if err != nil {
		t.Fatal(err)
	}
	plan := &controller.Plan{ID: "mgc-itest", Group: "mgc", Databases: []string{"mgc"}, Target: p.secondary,
		DataLoss: controller.DataLoss{Known: true, Window: time.Minute}}
	for _, s := range controller.Runbook {
		plan.Steps = append(plan.Steps, controller.StepProgress{Step: s})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	for _, s := range controller.Runbook {
		res, err := ex.Execute(ctx, runbook.Request{
			Action: controller.Action{Kind: controller.ActionRunStep, Plan: plan.ID, Step: s, Attempt: 1,
				Instance: p.secondary, Databases: []string{"mgc"}},
			Plan: plan, OldPrimary: p.primaries[0]})
		if err != nil {
			t.Fatalf("step %s: %v", s, err)
		}
		if end := res[len(res)-1]; end.Outcome != controller.OutcomeDone {
			t.Fatalf("step %s: %s %s", s, end.Outcome, end.Err)
		}
	}
	n, err := queryOne(p.dsn[p.secondary], "SELECT COUNT(*) FROM mgc.dbo.messages WHERE body = @p1", marker)
	if err != nil || n != "1" {
		t.Errorf("the marker written before the last log backup: %q rows on the promoted secondary (%v), want 1", n, err)
	}
	if err := execSQL(p.dsn[p.secondary], "INSERT INTO mgc.dbo.messages (body) VALUES (N'after promotion')"); err != nil {
		t.Errorf("the promoted secondary refuses an INSERT: %v", err)
	}
	for _, col := range []string{"copy_job_id", "restore_job_id"} {
		enabled, err := queryOne(p.dsn[p.secondary], `SELECT CAST(j.enabled AS int) FROM msdb.dbo.log_shipping_secondary AS s
JOIN msdb.dbo.log_shipping_secondary_databases AS d ON d.secondary_id = s.secondary_id
JOIN msdb.dbo.sysjobs AS j ON j.job_id = s.`+col+`
WHERE d.secondary_database = N'mgc'`)
		if err != nil || enabled != "0" {
			t.Errorf("%s of mgc: enabled %q (%v), want 0", col, enabled, err)
		}
	}
	// Read the journal back as a restarted daemon would.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := journal.Open(log, journal.Options{Dir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reopened.Close() })
	recs, err := controller.StepRecords(reopened.Records())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Step.String()+":"+r.Outcome.String())
	}
	var want []string
	for _, s := range controller.Runbook {
		want = append(want, s.String()+":"+controller.OutcomeStarted.String(), s.String()+":"+controller.OutcomeDone.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("journal step records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// labDSN is the sa DSN of addr with bounded dial and login.
func labDSN(addr string) string {
	return "sqlserver://sa:" + strings.ReplaceAll(labPassword, "!", "%21") + "@" + addr +
		"?database=master&encrypt=disable&dial+timeout=2&connection+timeout=5"
}

// newMSSQLPair starts two containers of Microsoft's image (primary "SQLA1", secondary "SQLB1")
// with SQL Server Agent, a shared backup directory, and log shipping of mgc set up with the
// documented procedures (SQLSERVER.md §6; docs/linux/business-continuity/use-log-shipping.md),
// the jobs driven with sp_start_job rather than schedules. Not run on the project's machines (no
// registry, so no Microsoft image): written to the documentation, verify on first use.
func newMSSQLPair(t *testing.T, img string) lsPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw, err := network.New(ctx, network.WithLabels(map[string]string{"sqldr.itest": t.Name()}))
	if err != nil {
		t.Fatal(err)
	}
	testcontainers.CleanupNetwork(t, nw)
	share := t.TempDir()
	if err := os.Chmod(share, 0o777); err != nil { // the image runs as the mssql user (uid 10001)
		t.Fatal(err)
	}
	bind := []string{share + ":/var/opt/mssql/tlogs"}
	prim, pdsn := runSQLServer(t, img, nw, "sqlprimary", bind)
	_, sdsn := runSQLServer(t, img, nw, "sqlsecondary", bind)
	steps := []struct{ dsn, q string }{
		{pdsn, "CREATE DATABASE mgc"},
		{pdsn, "ALTER DATABASE mgc SET RECOVERY FULL"},
		{pdsn, "CREATE TABLE mgc.dbo.messages (id bigint IDENTITY PRIMARY KEY, created_at datetime2(3) NULL DEFAULT SYSUTCDATETIME(), body nvarchar(200) NULL)"},
		{pdsn, "BACKUP DATABASE mgc TO DISK = N'/var/opt/mssql/tlogs/mgc.bak' WITH INIT"},
		{pdsn, `DECLARE @job uniqueidentifier, @primary uniqueidentifier, @rc int;
EXEC @rc = master.dbo.sp_add_log_shipping_primary_database @database = N'mgc',
  @backup_directory = N'/var/opt/mssql/tlogs', @backup_share = N'/var/opt/mssql/tlogs',
  @backup_job_name = N'LSBackup_mgc', @backup_retention_period = 4320, @backup_threshold = 60,
  @threshold_alert_enabled = 1, @history_retention_period = 5760,
  @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT, @overwrite = 1;
IF @rc <> 0 THROW 50000, 'sp_add_log_shipping_primary_database failed', 1;
EXEC msdb.dbo.sp_update_job @job_id = @job, @enabled = 1;
EXEC master.dbo.sp_add_log_shipping_primary_secondary @primary_database = N'mgc',
  @secondary_server = N'sqlsecondary', @secondary_database = N'mgc', @overwrite = 1;`},
		{sdsn, "RESTORE DATABASE mgc FROM DISK = N'/var/opt/mssql/tlogs/mgc.bak' WITH NORECOVERY"},
		{sdsn, `DECLARE @copy uniqueidentifier, @restore uniqueidentifier, @secondary uniqueidentifier, @rc int;
EXEC @rc = master.dbo.sp_add_log_shipping_secondary_primary @primary_server = N'sqlprimary',
  @primary_database = N'mgc', @backup_source_directory = N'/var/opt/mssql/tlogs/',
  @backup_destination_directory = N'/var/opt/mssql/tlogs/', @copy_job_name = N'LSCopy_mgc',
  @restore_job_name = N'LSRestore_mgc', @file_retention_period = 4320, @overwrite = 1,
  @copy_job_id = @copy OUTPUT, @restore_job_id = @restore OUTPUT, @secondary_id = @secondary OUTPUT;
IF @rc <> 0 THROW 50000, 'sp_add_log_shipping_secondary_primary failed', 1;
EXEC @rc = master.dbo.sp_add_log_shipping_secondary_database @secondary_database = N'mgc',
  @primary_server = N'sqlprimary', @primary_database = N'mgc', @restore_delay = 0, @restore_mode = 0,
  @disconnect_users = 0, @restore_threshold = 45, @threshold_alert_enabled = 1,
  @history_retention_period = 5760, @overwrite = 1;
IF @rc <> 0 THROW 50000, 'sp_add_log_shipping_secondary_database failed', 1;
EXEC msdb.dbo.sp_update_job @job_id = @copy, @enabled = 1;
EXEC msdb.dbo.sp_update_job @job_id = @restore, @enabled = 1;`},
	}
	for _, s := range steps {
		if err := execSQL(s.dsn, s.q); err != nil {
			t.Fatalf("log-shipping set-up: %v", err)
		}
	}
	p := lsPair{kind: img, dsn: map[string]string{"SQLA1": pdsn, "SQLB1": sdsn}, primaries: []string{"SQLA1"}, secondary: "SQLB1"}
	p.backupNow = func(t *testing.T, before int) {
		if err := execSQL(pdsn, "EXEC msdb.dbo.sp_start_job N'LSBackup_mgc'"); err != nil {
			t.Fatal(err)
		}
		waitLogBackups(t, pdsn, before+1, 60*time.Second)
	}
	p.loseSiteA = func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d := time.Duration(0)
		if err := prim.Stop(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

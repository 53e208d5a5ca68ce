package runbook

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sqldr/sqldr/probes"
)

// query runs a statement and returns its first result set as driver values.
func query(ctx context.Context, db DB, q string, args ...any) (rows [][]any, err error) {
	rs, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rs.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		rows = append(rows, vals)
	}
	return rows, rs.Err()
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	case []byte, string:
		n, _ := strconv.ParseInt(strings.TrimSpace(str(x)), 10, 64)
		return n
	}
	return 0
}

func boolean(v any) bool { return num(v) != 0 }

func lsn(v any) (probes.LSN, error) {
	if v == nil {
		return probes.LSN{}, nil
	}
	return probes.ParseLSN(str(v))
}

// baseName is the file name of a Windows or POSIX path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func joinPath(dir, name string) string {
	sep := `\`
	if strings.Contains(dir, "/") && !strings.Contains(dir, `\`) {
		sep = "/"
	}
	return strings.TrimRight(dir, `\/`) + sep + name
}

// readSecondary reads one database's log-shipping configuration and its jobs.
func readSecondary(ctx context.Context, db DB, name string) (SecondaryState, error) {
	rows, err := query(ctx, db, stmtLSSecondary, sql.Named("p1", name))
	if err != nil {
		return SecondaryState{}, fmt.Errorf("read log-shipping configuration of %s: %w", name, err)
	}
	if len(rows) == 0 {
		return SecondaryState{}, fmt.Errorf("database %s has no log-shipping secondary configuration on this instance", name)
	}
	r := rows[0]
	s := SecondaryState{Database: str(r[0]), SecondaryID: str(r[1]), RestoreMode: boolean(r[2]), DisconnectUsers: boolean(r[3]),
		RestoreDelayMinutes: num(r[4]), LastRestoredFile: str(r[5]), PrimaryServer: str(r[6]), PrimaryDatabase: str(r[7]),
		BackupSourceDirectory: str(r[8]), BackupDestinationDirectory: str(r[9]), LastCopiedFile: str(r[12])}
	if s.CopyJob, err = readJob(ctx, db, str(r[10])); err != nil {
		return s, err
	}
	if s.RestoreJob, err = readJob(ctx, db, str(r[11])); err != nil {
		return s, err
	}
	return s, nil
}

// readJob reads a job by ID: enabled, and running when the newest Agent
// session's activity row has a start and no stop.
func readJob(ctx context.Context, db DB, id string) (JobState, error) {
	j := JobState{ID: id}
	if id == "" {
		return j, fmt.Errorf("log-shipping configuration names no job")
	}
	rows, err := query(ctx, db, stmtJob, sql.Named("p1", id))
	if err != nil {
		return j, fmt.Errorf("read job %s: %w", id, err)
	}
	if len(rows) == 0 {
		return j, fmt.Errorf("job %s named by the log-shipping configuration does not exist in msdb.dbo.sysjobs", id)
	}
	newest := int64(-1)
	for _, r := range rows {
		j.Name, j.Enabled = str(r[0]), boolean(r[1])
		if r[2] == nil {
			continue
		}
		if s := num(r[2]); s > newest {
			newest = s
			j.Running = r[3] != nil && r[4] == nil
		}
	}
	return j, nil
}

// jobOutcome is the newest job-outcome row of a job.
type jobOutcome struct {
	id      int64
	status  int64
	message string
}

func readJobOutcome(ctx context.Context, db DB, id string) (jobOutcome, error) {
	rows, err := query(ctx, db, stmtJobOutcome, sql.Named("p1", id))
	if err != nil {
		return jobOutcome{}, fmt.Errorf("read history of job %s: %w", id, err)
	}
	if len(rows) == 0 {
		return jobOutcome{id: -1}, nil
	}
	return jobOutcome{id: num(rows[0][0]), status: num(rows[0][1]), message: str(rows[0][2])}, nil
}

func readHistory(ctx context.Context, db DB, secondaryID string) ([]string, error) {
	rows, err := query(ctx, db, stmtLSHistory, sql.Named("p1", secondaryID))
	if err != nil {
		return nil, fmt.Errorf("read log-shipping history: %w", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		at := ""
		if t, ok := r[4].(time.Time); ok {
			at = t.Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("%s agent_type=%d session=%d database=%s status=%d %s", at, num(r[0]), num(r[1]), str(r[2]), num(r[3]), str(r[5])))
	}
	return out, nil
}

// logFiles lists the .trn files of a folder, sorted by name (log-shipping
// file names embed a UTC timestamp, so name order is time order).
func logFiles(ctx context.Context, db DB, dir string) ([]string, error) {
	rows, err := query(ctx, db, stmtDirTree, sql.Named("p1", dir))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, r := range rows {
		if len(r) >= 3 && boolean(r[2]) && strings.HasSuffix(strings.ToLower(str(r[0])), ".trn") {
			out = append(out, str(r[0]))
		}
	}
	sort.Strings(out)
	return out, nil
}

// dbInfo is one database's state as sys.databases reports it.
type dbInfo struct {
	exists     bool
	state      int64
	stateDesc  string
	readOnly   bool
	standby    bool
	userAccess int64
	mirrored   bool
}

// writable is the design's definition: ONLINE, READ_WRITE and not in STANDBY.
func (d dbInfo) writable() bool { return d.exists && d.state == 0 && !d.readOnly && !d.standby }

func (d dbInfo) String() string {
	if !d.exists {
		return "missing"
	}
	s := d.stateDesc
	if d.standby {
		s += " STANDBY"
	}
	if d.readOnly {
		s += " READ_ONLY"
	} else if d.state == 0 {
		s += " READ_WRITE"
	}
	switch d.userAccess {
	case 1:
		s += " SINGLE_USER"
	case 2:
		s += " RESTRICTED_USER"
	}
	if d.mirrored {
		s += " mirrored"
	}
	return s
}

func readDatabase(ctx context.Context, db DB, name string) (dbInfo, error) {
	rows, err := query(ctx, db, stmtDatabase, sql.Named("p1", name))
	if err != nil {
		return dbInfo{}, fmt.Errorf("read state of %s: %w", name, err)
	}
	if len(rows) == 0 {
		return dbInfo{}, nil
	}
	r := rows[0]
	return dbInfo{exists: true, state: num(r[0]), stateDesc: str(r[1]), readOnly: boolean(r[2]), standby: boolean(r[3]),
		userAccess: num(r[4]), mirrored: r[5] != nil}, nil
}

func readRedoStart(ctx context.Context, db DB, name string) (probes.LSN, error) {
	rows, err := query(ctx, db, stmtRedoStart, sql.Named("p1", name))
	if err != nil {
		return probes.LSN{}, fmt.Errorf("read redo_start_lsn of %s: %w", name, err)
	}
	if len(rows) == 0 || rows[0][0] == nil {
		return probes.LSN{}, fmt.Errorf("database %s has no redo_start_lsn (it is not restoring)", name)
	}
	return lsn(rows[0][0])
}

// header is the part of RESTORE HEADERONLY the runbook uses.
type header struct {
	path      string
	database  string
	logBackup bool
	first     probes.LSN
	last      probes.LSN
}

func readHeader(ctx context.Context, db DB, path string) (header, error) {
	h := header{path: path}
	rs, err := db.QueryContext(ctx, sqlHeaderOnly(path))
	if err != nil {
		return h, fmt.Errorf("read header of %s: %w", path, err)
	}
	defer func() { _ = rs.Close() }()
	cols, err := rs.Columns()
	if err != nil {
		return h, fmt.Errorf("read header of %s: %w", path, err)
	}
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return h, fmt.Errorf("read header of %s: %w", path, err)
		}
		return h, fmt.Errorf("read header of %s: no backup set", path)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rs.Scan(ptrs...); err != nil {
		return h, fmt.Errorf("read header of %s: %w", path, err)
	}
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "databasename":
			h.database = str(vals[i])
		case "backuptype":
			h.logBackup = num(vals[i]) == 2
		case "firstlsn":
			h.first, err = lsn(vals[i])
		case "lastlsn":
			h.last, err = lsn(vals[i])
		}
		if err != nil {
			return h, fmt.Errorf("read header of %s: %w", path, err)
		}
	}
	return h, nil
}

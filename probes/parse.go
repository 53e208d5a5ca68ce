package probes

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ResultSet is one result set of a probe batch as database/sql returned it: column names and rows of
// driver values (int64, float64, bool, string, []byte for numeric and uniqueidentifier, time.Time, or
// nil for NULL). Parse functions work on ResultSets only, so they are tested on fixtures.
type ResultSet struct {
	// Columns are the column names in order.
	Columns []string
	// Rows are the rows; each has len(Columns) values.
	Rows [][]any
}

// parsed is what one instance's batch says.
type parsed struct {
	serverName string
	version    string
	serverUTC  time.Time
	databases  []DatabaseSnapshot
	byName     map[string]int
}

// parseBatch turns the result sets of buildBatch(role, len(names), …) into facts. It fails if the
// shape is not the expected one (a missing column, a wrong type, too few result sets): a probe whose
// answer cannot be trusted is not a probe.
func parseBatch(b batch, names []string, sets []ResultSet) (parsed, error) {
	var out parsed
	if len(sets) != len(b.kinds) {
		return out, fmt.Errorf("parse probe: got %d result sets, want %d", len(sets), len(b.kinds))
	}
	out.databases = make([]DatabaseSnapshot, len(names))
	byName := make(map[string]int, len(names))
	for i, n := range names {
		out.databases[i].Name = n
		byName[strings.ToLower(n)] = i
	}
	out.byName = byName
	lookup := func(name string) (int, bool) {
		i, ok := byName[strings.ToLower(name)]
		return i, ok
	}
	var backupJobs, copyJobs, restoreJobs []GUID
	backupDirs := make([]string, len(names))
	backupJobs = make([]GUID, len(names))
	copyJobs = make([]GUID, len(names))
	restoreJobs = make([]GUID, len(names))
	var jobs map[GUID]Job
	for k := range sets {
		var err error
		switch b.kinds[k] {
		case setInstance:
			out.serverName, out.version, out.serverUTC, err = parseInstanceSet(&sets[k])
		case setDatabases:
			err = parseDatabasesSet(&sets[k], lookup, out.databases)
		case setLSPrimary:
			err = parseLSPrimarySet(&sets[k], lookup, out.databases)
		case setLSPrimaryConfig:
			err = parseLSPrimaryConfigSet(&sets[k], lookup, backupJobs, backupDirs)
		case setLSSecondary:
			err = parseLSSecondarySet(&sets[k], lookup, out.databases)
		case setLSSecondaryConfig:
			err = parseLSSecondaryConfigSet(&sets[k], lookup, out.databases, copyJobs, restoreJobs)
		case setJobs:
			jobs, err = parseJobsSet(&sets[k])
		case setNewestRestored:
			var lb []LogBackup
			lb, err = parseLogBackups(&sets[k], "")
			if err == nil && len(lb) > 0 {
				out.databases[b.dbIndex[k]].NewestRestoredLog = &lb[0]
			}
		case setRecentBackups:
			var lb []LogBackup
			lb, err = parseLogBackups(&sets[k], out.serverName)
			out.databases[b.dbIndex[k]].RecentLogBackups = lb
		}
		if err != nil {
			return parsed{}, fmt.Errorf("parse probe result set %d: %w", k+1, err)
		}
	}
	for i := range out.databases {
		d := &out.databases[i]
		d.BackupJob = jobRef(backupJobs[i], jobs)
		d.CopyJob = jobRef(copyJobs[i], jobs)
		d.RestoreJob = jobRef(restoreJobs[i], jobs)
		d.BackupDirectory = backupDirs[i]
		if d.BackupDirectory != "" {
			for k := range d.RecentLogBackups {
				d.RecentLogBackups[k].OutsideLogShipping = !inDirectory(d.RecentLogBackups[k].File, d.BackupDirectory)
			}
		}
	}
	return out, nil
}

func jobRef(id GUID, jobs map[GUID]Job) *Job {
	if id.IsZero() {
		return nil
	}
	if j, ok := jobs[id]; ok {
		return &j
	}
	return &Job{ID: id}
}

// cols maps the required column names of a result set to their positions.
type cols struct {
	set *ResultSet
	pos map[string]int
}

func need(set *ResultSet, names ...string) (cols, error) {
	c := cols{set: set, pos: make(map[string]int, len(names))}
	for _, n := range names {
		found := false
		for i, have := range set.Columns {
			if strings.EqualFold(have, n) {
				c.pos[n] = i
				found = true
				break
			}
		}
		if !found {
			return c, fmt.Errorf("column %q missing (have %v)", n, set.Columns)
		}
	}
	for r, row := range set.Rows {
		if len(row) != len(set.Columns) {
			return c, fmt.Errorf("row %d has %d values for %d columns", r+1, len(row), len(set.Columns))
		}
	}
	return c, nil
}

func (c cols) val(row []any, name string) any { return row[c.pos[name]] }

func (c cols) str(row []any, name string) (string, bool, error) {
	switch v := c.val(row, name).(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case []byte:
		return string(v), true, nil
	default:
		return "", false, fmt.Errorf("column %s: want text, got %T", name, v)
	}
}

func (c cols) int(row []any, name string) (int64, bool, error) {
	switch v := c.val(row, name).(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case int32:
		return int64(v), true, nil
	case int:
		return int64(v), true, nil
	case uint8:
		return int64(v), true, nil
	case int16:
		return int64(v), true, nil
	case bool:
		if v {
			return 1, true, nil
		}
		return 0, true, nil
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("column %s: %w", name, err)
		}
		return n, true, nil
	default:
		return 0, false, fmt.Errorf("column %s: want integer, got %T", name, v)
	}
}

func (c cols) bit(row []any, name string) (bool, bool, error) {
	n, ok, err := c.int(row, name)
	if err != nil || !ok {
		return false, ok, err
	}
	if n != 0 && n != 1 {
		return false, false, fmt.Errorf("column %s: bit value %d", name, n)
	}
	return n == 1, true, nil
}

// datetime returns a datetime/datetime2 column's wall-clock value in a time.Time located in UTC; the
// caller decides whether that wall clock is UTC (the _utc columns) or local (backup_finish_date).
func (c cols) datetime(row []any, name string) (time.Time, bool, error) {
	switch v := c.val(row, name).(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		y, mo, d := v.Date()
		h, mi, s := v.Clock()
		return time.Date(y, mo, d, h, mi, s, v.Nanosecond(), time.UTC), true, nil
	default:
		return time.Time{}, false, fmt.Errorf("column %s: want datetime, got %T", name, v)
	}
}

func (c cols) lsn(row []any, name string) (LSN, error) {
	switch v := c.val(row, name).(type) {
	case nil:
		return LSN{}, nil
	case []byte:
		l, err := ParseLSN(string(v))
		if err != nil {
			return LSN{}, fmt.Errorf("column %s: %w", name, err)
		}
		return l, nil
	case string:
		l, err := ParseLSN(v)
		if err != nil {
			return LSN{}, fmt.Errorf("column %s: %w", name, err)
		}
		return l, nil
	case int64:
		if v < 0 {
			return LSN{}, fmt.Errorf("column %s: negative lsn %d", name, v)
		}
		return ParseLSN(strconv.FormatInt(v, 10))
	default:
		// float64 would have lost digits already: refuse it.
		return LSN{}, fmt.Errorf("column %s: want numeric(25,0) as exact decimal, got %T", name, v)
	}
}

func (c cols) guid(row []any, name string) (GUID, error) {
	switch v := c.val(row, name).(type) {
	case nil:
		return GUID{}, nil
	case []byte:
		if len(v) != 16 {
			return GUID{}, fmt.Errorf("column %s: uniqueidentifier of %d bytes", name, len(v))
		}
		// The wire order stores the first three groups little-endian (MS-TDS; go-mssqldb
		// UniqueIdentifier.Scan does the same swap).
		var g GUID
		copy(g[:], v)
		g[0], g[1], g[2], g[3] = g[3], g[2], g[1], g[0]
		g[4], g[5] = g[5], g[4]
		g[6], g[7] = g[7], g[6]
		return g, nil
	case string:
		g, err := ParseGUID(v)
		if err != nil {
			return GUID{}, fmt.Errorf("column %s: %w", name, err)
		}
		return g, nil
	default:
		return GUID{}, fmt.Errorf("column %s: want uniqueidentifier, got %T", name, v)
	}
}

// minutes converts an int column in minutes to a Duration.
func minutes(n int64) time.Duration { return time.Duration(n) * time.Minute }

func parseInstanceSet(set *ResultSet) (server, version string, utc time.Time, err error) {
	c, err := need(set, "server_name", "version", "utc_now")
	if err != nil {
		return "", "", time.Time{}, err
	}
	if len(set.Rows) != 1 {
		return "", "", time.Time{}, fmt.Errorf("instance: %d rows, want 1", len(set.Rows))
	}
	row := set.Rows[0]
	if server, _, err = c.str(row, "server_name"); err != nil {
		return "", "", time.Time{}, err
	}
	if version, _, err = c.str(row, "version"); err != nil {
		return "", "", time.Time{}, err
	}
	var ok bool
	if utc, ok, err = c.datetime(row, "utc_now"); err != nil {
		return "", "", time.Time{}, err
	}
	if !ok {
		return "", "", time.Time{}, fmt.Errorf("instance: SYSUTCDATETIME() is NULL")
	}
	return server, version, utc, nil
}

var dbStateByDesc = map[string]DBState{
	"ONLINE": DBOnline, "RESTORING": DBRestoring, "RECOVERING": DBRecovering,
	"RECOVERY_PENDING": DBRecoveryPending, "SUSPECT": DBSuspect, "EMERGENCY": DBEmergency,
	"OFFLINE": DBOffline, "COPYING": DBCopying, "OFFLINE_SECONDARY": DBOfflineSecondary,
}

var userAccessByDesc = map[string]UserAccess{"MULTI_USER": MultiUser, "SINGLE_USER": SingleUser, "RESTRICTED_USER": RestrictedUser}

var recoveryModelByDesc = map[string]RecoveryModel{"FULL": RecoveryFull, "BULK_LOGGED": RecoveryBulkLogged, "SIMPLE": RecoverySimple}

func parseDatabasesSet(set *ResultSet, lookup func(string) (int, bool), dbs []DatabaseSnapshot) error {
	c, err := need(set, "name", "state_desc", "is_read_only", "is_in_standby", "user_access_desc", "recovery_model_desc",
		"mirroring_guid", "mirroring_state", "mirroring_role", "mirroring_role_sequence", "mirroring_safety_level",
		"mirroring_partner_name", "mirroring_partner_instance", "mirroring_witness_name", "mirroring_witness_state",
		"mirroring_failover_lsn", "mirroring_end_of_log_lsn", "recovery_fork_guid", "last_log_backup_lsn",
		"redo_start_lsn", "redo_start_fork_guid")
	if err != nil {
		return fmt.Errorf("databases: %w", err)
	}
	for r, row := range set.Rows {
		if err := parseDatabaseRow(c, row, lookup, dbs); err != nil {
			return fmt.Errorf("databases row %d: %w", r+1, err)
		}
	}
	return nil
}

func parseDatabaseRow(c cols, row []any, lookup func(string) (int, bool), dbs []DatabaseSnapshot) error {
	name, _, err := c.str(row, "name")
	if err != nil {
		return err
	}
	i, ok := lookup(name)
	if !ok {
		return nil // not protected (the IN-list filters; a fixture may carry more)
	}
	d := &dbs[i]
	d.Exists = true
	desc, _, err := c.str(row, "state_desc")
	if err != nil {
		return err
	}
	d.State = dbStateByDesc[strings.ToUpper(desc)]
	if d.ReadOnly, _, err = c.bit(row, "is_read_only"); err != nil {
		return err
	}
	if d.Standby, _, err = c.bit(row, "is_in_standby"); err != nil {
		return err
	}
	ua, _, err := c.str(row, "user_access_desc")
	if err != nil {
		return err
	}
	d.UserAccess = userAccessByDesc[strings.ToUpper(ua)]
	rm, _, err := c.str(row, "recovery_model_desc")
	if err != nil {
		return err
	}
	d.RecoveryModel = recoveryModelByDesc[strings.ToUpper(rm)]
	if d.Mirroring, err = parseMirroring(c, row, d.State); err != nil {
		return err
	}
	if d.RecoveryForkGUID, err = c.guid(row, "recovery_fork_guid"); err != nil {
		return err
	}
	if d.LastLogBackupLSN, err = c.lsn(row, "last_log_backup_lsn"); err != nil {
		return err
	}
	if d.RedoStartLSN, err = c.lsn(row, "redo_start_lsn"); err != nil {
		return err
	}
	if d.RedoStartForkGUID, err = c.guid(row, "redo_start_fork_guid"); err != nil {
		return err
	}
	d.RedoStart = redoStartStatus(d)
	return nil
}

// redoStartStatus decides what the redo_start columns just read mean. A value is a value. NULL is
// a fact only where the documentation says it must be NULL: a database whose state is known and is
// neither RESTORING nor RECOVERY_PENDING nor in STANDBY (SQLSERVER.md §8 Q12). Anywhere else the
// value exists but this login cannot see it (sys.master_files needs VIEW ANY DEFINITION, §8 Q14).
func redoStartStatus(d *DatabaseSnapshot) RedoStartStatus {
	switch {
	case !d.RedoStartLSN.IsZero():
		return RedoStartRead
	case d.State == DBStateUnknown, d.State == DBRestoring, d.State == DBRecoveryPending, d.Standby:
		return RedoStartUnknown
	}
	return RedoStartNotRestoring
}

// parseMirroring reads the sys.database_mirroring columns. All NULL means "not mirrored" only for an
// ONLINE database; for any other state SQL Server also returns NULL to a login that may not see the
// mirror's values (SQLSERVER.md §1.1, §8 Q14), so the answer is "not visible".
func parseMirroring(c cols, row []any, state DBState) (Mirroring, error) {
	var m Mirroring
	var err error
	if m.GUID, err = c.guid(row, "mirroring_guid"); err != nil {
		return m, err
	}
	if m.GUID.IsZero() {
		if state == DBOnline {
			m.Visibility = MirroringNotMirrored
		} else {
			m.Visibility = MirroringNotVisible
		}
		return m, nil
	}
	m.Visibility = MirroringPresent
	st, ok, err := c.int(row, "mirroring_state")
	if err != nil {
		return m, err
	}
	if ok && st >= 0 && st <= 4 {
		m.State = MirroringState(st + 1) // 0 Suspended … 4 Synchronized; 5/6 stay unknown (§8 Q10)
	}
	role, _, err := c.int(row, "mirroring_role")
	if err != nil {
		return m, err
	}
	switch role {
	case 1:
		m.Role = MirroringRolePrincipal
	case 2:
		m.Role = MirroringRoleMirror
	}
	seq, _, err := c.int(row, "mirroring_role_sequence")
	if err != nil {
		return m, err
	}
	if seq < math.MinInt32 || seq > math.MaxInt32 {
		return m, fmt.Errorf("mirroring_role_sequence %d out of int range", seq)
	}
	m.RoleSequence = int32(seq)
	safety, _, err := c.int(row, "mirroring_safety_level")
	if err != nil {
		return m, err
	}
	switch safety {
	case 1:
		m.Safety = SafetyOff
	case 2:
		m.Safety = SafetyFull
	}
	if m.PartnerName, _, err = c.str(row, "mirroring_partner_name"); err != nil {
		return m, err
	}
	if m.PartnerInstance, _, err = c.str(row, "mirroring_partner_instance"); err != nil {
		return m, err
	}
	if m.WitnessName, _, err = c.str(row, "mirroring_witness_name"); err != nil {
		return m, err
	}
	ws, ok, err := c.int(row, "mirroring_witness_state")
	if err != nil {
		return m, err
	}
	if ok && ws >= 0 && ws <= 2 {
		m.WitnessState = WitnessState(ws + 1)
	}
	if m.FailoverLSN, err = c.lsn(row, "mirroring_failover_lsn"); err != nil {
		return m, err
	}
	if m.EndOfLogLSN, err = c.lsn(row, "mirroring_end_of_log_lsn"); err != nil {
		return m, err
	}
	return m, nil
}

func parseLSPrimarySet(set *ResultSet, lookup func(string) (int, bool), dbs []DatabaseSnapshot) error {
	c, err := need(set, "primary_database", "primary_server", "backup_threshold", "threshold_alert",
		"threshold_alert_enabled", "last_backup_file", "last_backup_date_utc")
	if err != nil {
		return fmt.Errorf("log_shipping_monitor_primary: %w", err)
	}
	for r, row := range set.Rows {
		name, _, err := c.str(row, "primary_database")
		if err != nil {
			return fmt.Errorf("log_shipping_monitor_primary row %d: %w", r+1, err)
		}
		i, ok := lookup(name)
		if !ok {
			continue
		}
		var p LSPrimaryMonitor
		var th, alert int64
		var ec errOnce
		p.PrimaryServer, _, err = c.str(row, "primary_server")
		ec.add(err)
		th, _, err = c.int(row, "backup_threshold")
		ec.add(err)
		alert, _, err = c.int(row, "threshold_alert")
		ec.add(err)
		p.AlertEnabled, _, err = c.bit(row, "threshold_alert_enabled")
		ec.add(err)
		p.LastBackupFile, _, err = c.str(row, "last_backup_file")
		ec.add(err)
		p.LastBackupUTC, _, err = c.datetime(row, "last_backup_date_utc")
		ec.add(err)
		if err := ec.err; err != nil {
			return fmt.Errorf("log_shipping_monitor_primary row %d: %w", r+1, err)
		}
		p.BackupThreshold = minutes(th)
		p.ThresholdAlert = int32(alert)
		dbs[i].LSPrimary = &p
	}
	return nil
}

func parseLSPrimaryConfigSet(set *ResultSet, lookup func(string) (int, bool), backupJobs []GUID, backupDirs []string) error {
	c, err := need(set, "primary_database", "backup_job_id", "backup_directory")
	if err != nil {
		return fmt.Errorf("log_shipping_primary_databases: %w", err)
	}
	for r, row := range set.Rows {
		name, _, err := c.str(row, "primary_database")
		if err != nil {
			return fmt.Errorf("log_shipping_primary_databases row %d: %w", r+1, err)
		}
		i, ok := lookup(name)
		if !ok {
			continue
		}
		if backupJobs[i], err = c.guid(row, "backup_job_id"); err != nil {
			return fmt.Errorf("log_shipping_primary_databases row %d: %w", r+1, err)
		}
		if backupDirs[i], _, err = c.str(row, "backup_directory"); err != nil {
			return fmt.Errorf("log_shipping_primary_databases row %d: %w", r+1, err)
		}
	}
	return nil
}

func parseLSSecondarySet(set *ResultSet, lookup func(string) (int, bool), dbs []DatabaseSnapshot) error {
	c, err := need(set, "secondary_database", "primary_server", "primary_database", "restore_threshold",
		"threshold_alert", "threshold_alert_enabled", "last_copied_file", "last_copied_date_utc",
		"last_restored_file", "last_restored_date_utc", "last_restored_latency")
	if err != nil {
		return fmt.Errorf("log_shipping_monitor_secondary: %w", err)
	}
	for r, row := range set.Rows {
		name, _, err := c.str(row, "secondary_database")
		if err != nil {
			return fmt.Errorf("log_shipping_monitor_secondary row %d: %w", r+1, err)
		}
		i, ok := lookup(name)
		if !ok {
			continue
		}
		s := LSSecondaryMonitor{}
		if old := dbs[i].LSSecondary; old != nil { // config set may come first in fixtures
			s.RestoreDelay, s.StandbyMode = old.RestoreDelay, old.StandbyMode
		}
		var th, alert, lat int64
		var ec errOnce
		s.PrimaryServer, _, err = c.str(row, "primary_server")
		ec.add(err)
		s.PrimaryDatabase, _, err = c.str(row, "primary_database")
		ec.add(err)
		th, _, err = c.int(row, "restore_threshold")
		ec.add(err)
		alert, _, err = c.int(row, "threshold_alert")
		ec.add(err)
		s.AlertEnabled, _, err = c.bit(row, "threshold_alert_enabled")
		ec.add(err)
		s.LastCopiedFile, _, err = c.str(row, "last_copied_file")
		ec.add(err)
		s.LastCopiedUTC, _, err = c.datetime(row, "last_copied_date_utc")
		ec.add(err)
		s.LastRestoredFile, _, err = c.str(row, "last_restored_file")
		ec.add(err)
		s.LastRestoredUTC, _, err = c.datetime(row, "last_restored_date_utc")
		ec.add(err)
		lat, s.LatencyKnown, err = c.int(row, "last_restored_latency")
		ec.add(err)
		if err := ec.err; err != nil {
			return fmt.Errorf("log_shipping_monitor_secondary row %d: %w", r+1, err)
		}
		s.RestoreThreshold = minutes(th)
		s.ThresholdAlert = int32(alert)
		s.LastRestoredLatency = minutes(lat)
		dbs[i].LSSecondary = &s
	}
	return nil
}

func parseLSSecondaryConfigSet(set *ResultSet, lookup func(string) (int, bool), dbs []DatabaseSnapshot, copyJobs, restoreJobs []GUID) error {
	c, err := need(set, "secondary_database", "restore_delay", "restore_mode", "copy_job_id", "restore_job_id")
	if err != nil {
		return fmt.Errorf("log_shipping_secondary_databases: %w", err)
	}
	for r, row := range set.Rows {
		name, _, err := c.str(row, "secondary_database")
		if err != nil {
			return fmt.Errorf("log_shipping_secondary_databases row %d: %w", r+1, err)
		}
		i, ok := lookup(name)
		if !ok {
			continue
		}
		var delay int64
		var standby bool
		var ec errOnce
		delay, _, err = c.int(row, "restore_delay")
		ec.add(err)
		standby, _, err = c.bit(row, "restore_mode")
		ec.add(err)
		copyJobs[i], err = c.guid(row, "copy_job_id")
		ec.add(err)
		restoreJobs[i], err = c.guid(row, "restore_job_id")
		ec.add(err)
		if err := ec.err; err != nil {
			return fmt.Errorf("log_shipping_secondary_databases row %d: %w", r+1, err)
		}
		if dbs[i].LSSecondary == nil {
			dbs[i].LSSecondary = &LSSecondaryMonitor{}
		}
		dbs[i].LSSecondary.RestoreDelay = minutes(delay)
		dbs[i].LSSecondary.StandbyMode = standby
	}
	return nil
}

// parseJobsSet reads sysjobs LEFT JOIN sysjobactivity. A job is running when its activity row in the
// newest Agent session (highest session_id seen) has a start and no stop.
func parseJobsSet(set *ResultSet) (map[GUID]Job, error) {
	c, err := need(set, "job_id", "name", "enabled", "session_id", "start_execution_date", "stop_execution_date")
	if err != nil {
		return nil, fmt.Errorf("sysjobs: %w", err)
	}
	type act struct {
		session          int64
		started, stopped bool
	}
	jobs := make(map[GUID]Job)
	var acts []struct {
		id GUID
		a  act
	}
	var newest int64 = math.MinInt64
	for r, row := range set.Rows {
		id, err := c.guid(row, "job_id")
		if err != nil {
			return nil, fmt.Errorf("sysjobs row %d: %w", r+1, err)
		}
		j := Job{ID: id, Found: true}
		var ec errOnce
		j.Name, _, err = c.str(row, "name")
		ec.add(err)
		j.Enabled, _, err = c.bit(row, "enabled")
		ec.add(err)
		sess, hasSess, err := c.int(row, "session_id")
		ec.add(err)
		_, started, err := c.datetime(row, "start_execution_date")
		ec.add(err)
		_, stopped, err := c.datetime(row, "stop_execution_date")
		ec.add(err)
		if err := ec.err; err != nil {
			return nil, fmt.Errorf("sysjobs row %d: %w", r+1, err)
		}
		jobs[id] = j
		if hasSess {
			acts = append(acts, struct {
				id GUID
				a  act
			}{id, act{sess, started, stopped}})
			if sess > newest {
				newest = sess
			}
		}
	}
	for _, a := range acts {
		if a.a.session == newest && a.a.started && !a.a.stopped {
			j := jobs[a.id]
			j.Running = true
			jobs[a.id] = j
		}
	}
	return jobs, nil
}

// parseLogBackups reads backupset rows (newest restored, or recent backups). When server is not "",
// rows whose server_name differs (rows written by RESTORE of another server's backups) are dropped.
func parseLogBackups(set *ResultSet, server string) ([]LogBackup, error) {
	c, err := need(set, "server_name", "backup_set_id", "first_lsn", "last_lsn", "backup_finish_date", "time_zone",
		"first_recovery_fork_guid", "last_recovery_fork_guid", "is_copy_only", "physical_device_name")
	if err != nil {
		return nil, fmt.Errorf("backupset: %w", err)
	}
	out := make([]LogBackup, 0, len(set.Rows))
	for r, row := range set.Rows {
		sn, _, err := c.str(row, "server_name")
		if err != nil {
			return nil, fmt.Errorf("backupset row %d: %w", r+1, err)
		}
		if server != "" && !strings.EqualFold(sn, server) {
			continue
		}
		b := LogBackup{Server: sn}
		var id, tz int64
		var tzKnown bool
		var ec errOnce
		id, _, err = c.int(row, "backup_set_id")
		ec.add(err)
		b.FirstLSN, err = c.lsn(row, "first_lsn")
		ec.add(err)
		b.LastLSN, err = c.lsn(row, "last_lsn")
		ec.add(err)
		b.FinishLocal, _, err = c.datetime(row, "backup_finish_date")
		ec.add(err)
		tz, tzKnown, err = c.int(row, "time_zone")
		ec.add(err)
		b.FirstForkGUID, err = c.guid(row, "first_recovery_fork_guid")
		ec.add(err)
		b.LastForkGUID, err = c.guid(row, "last_recovery_fork_guid")
		ec.add(err)
		b.CopyOnly, _, err = c.bit(row, "is_copy_only")
		ec.add(err)
		b.File, _, err = c.str(row, "physical_device_name")
		ec.add(err)
		if err := ec.err; err != nil {
			return nil, fmt.Errorf("backupset row %d: %w", r+1, err)
		}
		if id < math.MinInt32 || id > math.MaxInt32 || tz < math.MinInt16 || tz > math.MaxInt16 {
			return nil, fmt.Errorf("backupset row %d: backup_set_id %d or time_zone %d out of range", r+1, id, tz)
		}
		b.BackupSetID = int32(id)
		if !tzKnown {
			tz = TimeZoneUnknown
		}
		b.TimeZone = int16(tz)
		b.FinishUTC = BackupTimeUTC(b.FinishLocal, b.TimeZone)
		out = append(out, b)
	}
	return out, nil
}

// inDirectory reports whether file lies directly in dir (Windows or UNC paths, case-insensitive, as
// log-shipping backup jobs write <backup_directory>\<db>_<timestamp>.trn).
func inDirectory(file, dir string) bool {
	d := strings.TrimRight(strings.ReplaceAll(dir, "/", `\`), `\`)
	f := strings.ReplaceAll(file, "/", `\`)
	i := strings.LastIndexByte(f, '\\')
	return i >= 0 && strings.EqualFold(f[:i], d)
}

// TimeZoneUnknown is the backupset.time_zone value meaning "unknown" (SQLSERVER.md §3.1).
const TimeZoneUnknown = 127

// BackupTimeUTC normalises a backupset local time with its time_zone (15-minute steps east of UTC):
// UTC = local − time_zone × 15 min (SQLSERVER.md §8 Q11). It returns the zero time (unknown) for 127,
// for values outside −48…+48 and for a zero local time.
func BackupTimeUTC(local time.Time, timeZone int16) time.Time {
	if local.IsZero() || timeZone < -48 || timeZone > 48 {
		return time.Time{}
	}
	return local.Add(-time.Duration(timeZone) * 15 * time.Minute)
}

// errOnce keeps the first error of a row's conversions.
type errOnce struct{ err error }

func (e *errOnce) add(err error) {
	if e.err == nil {
		e.err = err
	}
}

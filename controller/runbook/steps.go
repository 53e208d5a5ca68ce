package runbook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/hook"
	"github.com/sqldr/sqldr/probes"
)

// databases are the action's databases (the plan's), or the group's.
func (e *Executor) databases(req Request) []string {
	if len(req.Action.Databases) > 0 {
		return req.Action.Databases
	}
	if req.Plan != nil && len(req.Plan.Databases) > 0 {
		return req.Plan.Databases
	}
	return e.opts.Databases
}

func (e *Executor) target(req Request) string {
	if req.Action.Kind != controller.ActionFence && req.Action.Instance != "" {
		return req.Action.Instance
	}
	if req.Plan != nil && req.Plan.Target != "" {
		return req.Plan.Target
	}
	return e.opts.Target
}

// postcondition evaluates whether the action's effect holds now.
func (e *Executor) postcondition(ctx context.Context, req Request) (outcome, error) {
	a := req.Action
	switch a.Step {
	case controller.StepRecheck:
		return e.siteASilent(ctx, req)
	case controller.StepPreHooks:
		return e.hooksDoneFor(a.Plan, hook.EventPrePromote, e.opts.PrePromote, ""), nil
	case controller.StepPostHooks:
		return e.hooksDoneFor(a.Plan, hook.EventPostPromote, e.opts.PostPromote, ""), nil
	}
	if a.Step == controller.StepFence {
		return e.fenced(ctx, req)
	}
	db, err := e.conn(e.target(req))
	if err != nil {
		return outcome{}, err
	}
	var o outcome
	o.done = true
	var notDone []string
	for _, name := range e.databases(req) {
		ok, detail, err := e.dbPostcondition(ctx, db, req, name)
		if err != nil {
			return outcome{}, err
		}
		if a.Step == controller.StepRecover && ok {
			o.recovered = append(o.recovered, name)
		}
		if !ok {
			o.done = false
			notDone = append(notDone, detail)
		}
	}
	if a.Step == controller.StepRecordConfig {
		if _, recorded := e.configs[a.Plan]; !recorded {
			o.done = false
			notDone = append(notDone, "the log-shipping configuration is not recorded for this plan")
		}
	}
	o.detail = strings.Join(notDone, "; ")
	return o, nil
}

// dbPostcondition is one database's part of a step's postcondition.
func (e *Executor) dbPostcondition(ctx context.Context, db DB, req Request, name string) (bool, string, error) {
	switch req.Action.Step {
	case controller.StepRecordConfig:
		// The configuration must still be readable; the jobs keep running on
		// their schedule until disable_jobs, so "no job running" is not part of
		// the postcondition: the body waits once for runs in progress, and the
		// later steps wait for (final_copy, disable_jobs) or tolerate (4326 in
		// final_restore) a run that starts meanwhile.
		if _, err := readSecondary(ctx, db, name); err != nil {
			return false, "", err
		}
		return true, "", nil
	case controller.StepFinalCopy:
		s, err := readSecondary(ctx, db, name)
		if err != nil {
			return false, "", err
		}
		newest, err := newestOnShare(ctx, db, s)
		if err != nil {
			return false, "", err
		}
		// About what was copied, not whether the job is idle now: the job keeps
		// its schedule until disable_jobs, and a scheduled run that starts after
		// ours is harmless (last_copied_file moves only when a file is complete;
		// final_restore waits for a copy run before reading the folder).
		switch {
		case newest == "":
			return true, fmt.Sprintf("%s: backup share %s unreachable or empty: final copy skipped", name, s.BackupSourceDirectory), nil
		case newest > baseName(s.LastCopiedFile) && s.CopyJob.Running:
			return false, fmt.Sprintf("%s: newest file on the share %s is not copied yet (last copied %q); a copy run is in progress", name, newest, baseName(s.LastCopiedFile)), nil
		case newest > baseName(s.LastCopiedFile):
			return false, fmt.Sprintf("%s: newest file on the share %s is not copied yet (last copied %q)", name, newest, baseName(s.LastCopiedFile)), nil
		}
		return true, "", nil
	case controller.StepFinalRestore:
		pending, _, err := e.pendingLogs(ctx, db, name)
		if err != nil {
			return false, "", err
		}
		if len(pending) > 0 {
			return false, fmt.Sprintf("%s: %d copied log backup(s) not restored, first %s", name, len(pending), baseName(pending[0].path)), nil
		}
		return true, "", nil
	case controller.StepDisableJobs:
		s, err := readSecondary(ctx, db, name)
		if err != nil {
			return false, "", err
		}
		for _, j := range []JobState{s.CopyJob, s.RestoreJob} {
			if j.Enabled || j.Running {
				return false, fmt.Sprintf("%s: job %s enabled=%v running=%v", name, j.Name, j.Enabled, j.Running), nil
			}
		}
		return true, "", nil
	case controller.StepUndo:
		s, err := readSecondary(ctx, db, name)
		if err != nil {
			return false, "", err
		}
		for _, j := range e.jobsToReenable(req.Action.Plan, s) {
			if !j.Enabled {
				return false, fmt.Sprintf("%s: job %s is disabled", name, j.Name), nil
			}
		}
		return true, "", nil
	case controller.StepRecover:
		d, err := readDatabase(ctx, db, name)
		if err != nil {
			return false, "", err
		}
		if d.writable() && d.userAccess == 0 {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s: %s", name, d), nil
	}
	return false, "", fmt.Errorf("no postcondition for step %s", req.Action.Step)
}

// body performs the action.
func (e *Executor) body(ctx context.Context, req Request) error {
	a := req.Action
	switch a.Step {
	case controller.StepRecheck:
		o, err := e.siteASilent(ctx, req)
		if err != nil {
			return err
		}
		if !o.done {
			return fmt.Errorf("promotion aborted: %s", o.detail)
		}
		return nil
	case controller.StepPreHooks:
		return e.runHooks(ctx, req, hook.EventPrePromote, e.opts.PrePromote, "", nil)
	case controller.StepPostHooks:
		return e.runHooks(ctx, req, hook.EventPostPromote, e.opts.PostPromote, "", nil)
	case controller.StepFence:
		return e.fence(ctx, req)
	}
	db, err := e.conn(e.target(req))
	if err != nil {
		return err
	}
	switch a.Step {
	case controller.StepRecordConfig:
		return e.recordConfig(ctx, db, req)
	case controller.StepUndo:
		for _, name := range e.databases(req) {
			d, err := readDatabase(ctx, db, name)
			if err != nil {
				return err
			}
			if d.writable() {
				return fmt.Errorf("undo refused: database %s is already recovered (%s); the jobs stay disabled", name, d)
			}
		}
	}
	for _, name := range e.databases(req) {
		var err error
		switch a.Step {
		case controller.StepFinalCopy:
			err = e.finalCopy(ctx, db, a.Step, name)
		case controller.StepFinalRestore:
			err = e.finalRestore(ctx, db, a.Step, name)
		case controller.StepDisableJobs:
			err = e.disableJobs(ctx, db, a.Step, name)
		case controller.StepRecover:
			err = e.recoverDatabase(ctx, db, a.Step, name)
		case controller.StepUndo:
			err = e.undo(ctx, db, req, name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// siteASilent takes a fresh snapshot: done when no site-A partner answers
// (up or refusing: a server that refuses a login is alive) and the target is up.
func (e *Executor) siteASilent(ctx context.Context, req Request) (outcome, error) {
	snap := e.deps.Prober.Probe(ctx)
	if snap == nil {
		return outcome{}, errors.New("the prober returned no snapshot")
	}
	var alive []string
	for _, in := range snap.InstancesWith(probes.RolePartner) {
		if in.Alive() {
			alive = append(alive, fmt.Sprintf("%s (%s)", in.Name, in.Reachability))
		}
	}
	if len(alive) > 0 {
		return outcome{detail: "site A answers: " + strings.Join(alive, ", ")}, nil
	}
	t, ok := snap.Instance(e.target(req))
	if !ok || !t.Up() {
		return outcome{detail: "the target " + e.target(req) + " is not reachable"}, nil
	}
	return outcome{done: true, detail: "no site-A partner answers; target up"}, nil
}

func (e *Executor) hooksDoneFor(plan string, ev hook.Event, specs []hook.Spec, instance string) outcome {
	var missing []string
	for _, s := range specs {
		if !e.hooksDone[hookKey(plan, ev, s.Name, instance)] {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) > 0 {
		return outcome{detail: fmt.Sprintf("%s hooks not yet succeeded: %s", ev, strings.Join(missing, ", "))}
	}
	return outcome{done: true, detail: fmt.Sprintf("%d %s hook(s) succeeded", len(specs), ev)}
}

// runHooks runs the hooks of an event that have not succeeded for this plan
// yet, in order; the first failure stops (for pre_promote: a veto).
func (e *Executor) runHooks(ctx context.Context, req Request, ev hook.Event, specs []hook.Spec, instance string, fenceDBs []string) error {
	hc := hook.Context{Event: ev, PlanID: req.Action.Plan, Group: e.opts.Group, Databases: e.databases(req),
		OldPrimary: req.OldPrimary, NewPrimary: e.opts.Target, FenceInstance: instance, FenceDatabases: fenceDBs}
	dl := req.DataLoss
	if req.Plan != nil {
		if !dl.Known {
			dl = req.Plan.DataLoss
		}
		if req.Plan.Target != "" {
			hc.NewPrimary = req.Plan.Target
		}
	}
	hc.DataLossKnown, hc.DataLoss, hc.DataLossUncertainty = dl.Known, dl.Window, dl.Uncertainty
	for _, s := range specs {
		key := hookKey(req.Action.Plan, ev, s.Name, instance)
		if e.hooksDone[key] {
			continue
		}
		res, err := e.deps.Hooks.Run(ctx, s, hc)
		if err != nil {
			if ev == hook.EventPrePromote {
				return fmt.Errorf("vetoed by pre-promote hook: %w", err)
			}
			return err
		}
		rec := HookRecord{Plan: req.Action.Plan, Event: ev, Hook: s.Name, Instance: instance, ExitCode: res.ExitCode, Duration: res.Duration.String()}
		if _, err := e.deps.Journal.Append(JournalKindHook, e.deps.Clock.Now(), rec); err != nil {
			return fmt.Errorf("journal hook %s: %w", s.Name, err)
		}
		e.hooksDone[key] = true
	}
	return nil
}

// recordConfig journals the log-shipping configuration, jobs and history of
// every database (SQLSERVER.md §3.4(f): cleanup procedures delete them), then
// waits for running copy and restore jobs to finish.
func (e *Executor) recordConfig(ctx context.Context, db DB, req Request) error {
	rec := LogShippingRecord{Plan: req.Action.Plan, Instance: e.target(req)}
	for _, name := range e.databases(req) {
		s, err := readSecondary(ctx, db, name)
		if err != nil {
			return err
		}
		if s.History, err = readHistory(ctx, db, s.SecondaryID); err != nil {
			return err
		}
		rec.Databases = append(rec.Databases, s)
	}
	if _, err := e.deps.Journal.Append(JournalKindLogShipping, e.deps.Clock.Now(), rec); err != nil {
		return fmt.Errorf("journal the log-shipping configuration: %w", err)
	}
	e.configs[rec.Plan] = rec
	// Wait for the runs in progress now to end, not for an instant with no run
	// at all: the jobs keep their schedules until disable_jobs, and a run that
	// starts meanwhile is harmless (final_copy and final_restore wait for it).
	for _, s := range rec.Databases {
		for _, j := range []JobState{s.CopyJob, s.RestoreJob} {
			if err := e.waitRunEnd(ctx, db, s.Database, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitRunEnd waits for the run of a job that is in progress now (if any) to
// end: its outcome row appears, or the job shows no run in progress.
func (e *Executor) waitRunEnd(ctx context.Context, db DB, name string, j JobState) error {
	cur, err := readJob(ctx, db, j.ID)
	if err != nil || !cur.Running {
		return err
	}
	prev, err := readJobOutcome(ctx, db, j.ID)
	if err != nil {
		return err
	}
	e.log.Info("waiting_for_job", zap.String("database", name), zap.String("job", cur.Name))
	return e.wait(ctx, "job "+cur.Name+" to finish", func() (bool, string, error) {
		out, err := readJobOutcome(ctx, db, j.ID)
		if err != nil || out.id > prev.id {
			return err == nil, "", err
		}
		cur, err := readJob(ctx, db, j.ID)
		if err != nil {
			return false, "", err
		}
		return !cur.Running, "job " + cur.Name + " is running", nil
	})
}

func newestOnShare(ctx context.Context, db DB, s SecondaryState) (string, error) {
	files, err := logFiles(ctx, db, s.BackupSourceDirectory)
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", nil
	}
	return files[len(files)-1], nil
}

// finalCopyRounds bounds how many copy runs final_copy starts for one
// database (each round waits for the run in progress first).
const finalCopyRounds = 3

// finalCopy runs the copy job once more when the share holds a file not yet
// copied (dbatools' Invoke-DbaDbLogShipRecovery, SQLSERVER.md §4.1). A run in
// progress (scheduled, or started before a crash) is waited for first; only
// then is "is anything left to copy" decided, and again after each run.
func (e *Executor) finalCopy(ctx context.Context, db DB, step controller.Step, name string) error {
	for round := 1; ; round++ {
		s, err := readSecondary(ctx, db, name)
		if err != nil {
			return err
		}
		newest, err := newestOnShare(ctx, db, s)
		if err != nil {
			return err
		}
		if newest == "" || newest <= baseName(s.LastCopiedFile) {
			// Everything is copied; a run in progress now only copies more.
			e.log.Info("final_copy_not_needed", zap.String("database", name), zap.String("newest_on_share", newest),
				zap.String("last_copied_file", s.LastCopiedFile))
			return nil
		}
		if round > finalCopyRounds {
			return fmt.Errorf("final copy of %s: the newest file on the share %s is still not copied after %d round(s) (last copied %q)",
				name, newest, finalCopyRounds, baseName(s.LastCopiedFile))
		}
		if s.CopyJob.Running {
			// A run in progress (scheduled, or started before a crash) is
			// waited for; then "is anything left to copy" is decided again.
			err = e.waitRunEnd(ctx, db, name, s.CopyJob)
		} else {
			err = e.runJob(ctx, db, step, name, s.CopyJob)
		}
		if err != nil {
			return err
		}
	}
}

// errJobAlreadyRunning is sp_start_job's refusal of a job with a run in
// progress or pending (SQLSERVER.md §8 Q8: 22022, "… refused because the job
// is already running from a request by …").
const errJobAlreadyRunning = 22022

// runJob starts a job and waits for the outcome of that run. When the Agent
// refuses the start because a run is already in progress (a scheduled run
// that began after our check, or the run this step started before a crash),
// that run is waited for and taken as ours: one instance of a job at a time.
func (e *Executor) runJob(ctx context.Context, db DB, step controller.Step, name string, j JobState) error {
	prev, err := readJobOutcome(ctx, db, j.ID)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, stmtStartJob, sql.Named("p1", j.ID))
	switch {
	case errNumber(err) == errJobAlreadyRunning:
		e.log.Info("job_already_running", zap.String("database", name), zap.String("job", j.Name), zap.Error(err))
	case err != nil:
		return fmt.Errorf("start job %s for %s: %w", j.Name, name, err)
	default:
		if err := e.effect(step); err != nil {
			return err
		}
		e.log.Info("job_started", zap.String("database", name), zap.String("job", j.Name))
	}
	var out jobOutcome
	err = e.wait(ctx, "job "+j.Name, func() (bool, string, error) {
		var err error
		if out, err = readJobOutcome(ctx, db, j.ID); err != nil {
			return false, "", err
		}
		// The outcome row is written when a run ends; a scheduled run that
		// starts right after ours does not delay this.
		return out.id > prev.id, "still running", nil
	})
	if err != nil {
		return err
	}
	if out.status != 1 {
		return fmt.Errorf("job %s for %s did not succeed (run_status %d): %s", j.Name, name, out.status, out.message)
	}
	return nil
}

func (e *Executor) waitIdle(ctx context.Context, db DB, name string, j JobState) error {
	return e.wait(ctx, "job "+j.Name+" to finish", func() (bool, string, error) {
		cur, err := readJob(ctx, db, j.ID)
		if err != nil {
			return false, "", err
		}
		if cur.Running {
			e.log.Info("waiting_for_job", zap.String("database", name), zap.String("job", j.Name))
		}
		return !cur.Running, "running", nil
	})
}

// pendingLogs lists the copied log backups of a database not yet restored,
// in FirstLSN order (SQLSERVER.md §4.2 selection rule: a file whose LastLSN
// is at or below redo_start_lsn is already applied). Files whose names sort
// before the restore job's last restored file are not read: log-shipping
// names embed the backup time, and the job restores in order.
func (e *Executor) pendingLogs(ctx context.Context, db DB, name string) ([]header, dbInfo, error) {
	d, err := readDatabase(ctx, db, name)
	if err != nil {
		return nil, d, err
	}
	switch {
	case !d.exists:
		return nil, d, fmt.Errorf("database %s does not exist on the target", name)
	case d.writable():
		return nil, d, fmt.Errorf("database %s is already recovered (%s): no log can be restored", name, d)
	case d.state != 1 && !d.standby:
		return nil, d, fmt.Errorf("database %s is %s, neither RESTORING nor STANDBY", name, d)
	}
	s, err := readSecondary(ctx, db, name)
	if err != nil {
		return nil, d, err
	}
	if s.CopyJob.Running || s.RestoreJob.Running {
		// A scheduled copy run writes files that are incomplete until it ends;
		// a restore run moves the restore point only when it ends. Either is
		// waited for (bounded by the step's timeout), not an error.
		for _, j := range []JobState{s.CopyJob, s.RestoreJob} {
			if err := e.waitRunEnd(ctx, db, name, j); err != nil {
				return nil, d, err
			}
		}
		if s, err = readSecondary(ctx, db, name); err != nil {
			return nil, d, err
		}
	}
	files, err := logFiles(ctx, db, s.BackupDestinationDirectory)
	if err != nil {
		return nil, d, err
	}
	redo, err := readRedoStart(ctx, db, name)
	if err != nil {
		return nil, d, err
	}
	last := baseName(s.LastRestoredFile)
	var pending []header
	for _, f := range files {
		if last != "" && f < last {
			continue
		}
		h, err := readHeader(ctx, db, joinPath(s.BackupDestinationDirectory, f))
		if err != nil {
			return nil, d, err
		}
		if !h.logBackup || !strings.EqualFold(h.database, s.PrimaryDatabase) && !strings.EqualFold(h.database, name) {
			continue
		}
		if redo.Less(h.last) {
			pending = append(pending, h)
		}
	}
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].first.Less(pending[j].first) })
	return pending, d, nil
}

// finalRestore restores every copied log not yet applied, WITH NORECOVERY.
func (e *Executor) finalRestore(ctx context.Context, db DB, step controller.Step, name string) error {
	pending, d, err := e.pendingLogs(ctx, db, name)
	if err != nil || len(pending) == 0 {
		return err
	}
	if d.standby {
		// Readers of a STANDBY database block RESTORE (3101, SQLSERVER.md §8 Q4).
		if _, err := db.ExecContext(ctx, sqlSingleUser(name)); err != nil {
			return fmt.Errorf("end sessions in %s before the final restore: %w", name, err)
		}
		if err := e.effect(step); err != nil {
			return err
		}
	}
	for _, h := range pending {
		_, err := db.ExecContext(ctx, sqlRestoreLog(name, h.path))
		n := errNumber(err)
		switch {
		case err == nil:
			e.log.Info("log_restored", zap.String("database", name), zap.String("file", h.path))
		case n == 4326:
			// Already applied (a restore job ran meanwhile): the chain moved on.
			e.log.Info("log_already_restored", zap.String("database", name), zap.String("file", h.path))
		case n == 4305:
			return fmt.Errorf("log chain gap in %s: %s begins at LSN %s, after the database's restore point; an earlier log backup is missing (nothing was recovered): %w",
				name, h.path, h.first, err)
		case n == 4330:
			return fmt.Errorf("recovery fork mismatch in %s: %s is on a recovery path inconsistent with the database (nothing was recovered): %w", name, h.path, err)
		default:
			return fmt.Errorf("restore log %s into %s: %w", h.path, name, err)
		}
		if err := e.effect(step); err != nil {
			return err
		}
	}
	return nil
}

// disableJobs disables the copy and restore jobs by ID, then waits for a run
// in progress to end (disabling does not stop it, SQLSERVER.md §8 Q9).
func (e *Executor) disableJobs(ctx context.Context, db DB, step controller.Step, name string) error {
	s, err := readSecondary(ctx, db, name)
	if err != nil {
		return err
	}
	for _, j := range []JobState{s.CopyJob, s.RestoreJob} {
		if j.Enabled {
			if _, err := db.ExecContext(ctx, stmtSetJobEnabled, sql.Named("p1", j.ID), sql.Named("p2", 0)); err != nil {
				return fmt.Errorf("disable job %s of %s: %w", j.Name, name, err)
			}
			if err := e.effect(step); err != nil {
				return err
			}
			e.log.Info("job_disabled", zap.String("database", name), zap.String("job", j.Name))
		}
		if err := e.waitIdle(ctx, db, name, j); err != nil {
			return err
		}
	}
	return nil
}

// jobsToReenable are the jobs undo enables: those the recorded configuration
// shows enabled before the runbook (both, if nothing was recorded).
func (e *Executor) jobsToReenable(plan string, s SecondaryState) []JobState {
	rec, ok := e.configs[plan]
	if !ok {
		return []JobState{s.CopyJob, s.RestoreJob}
	}
	var out []JobState
	for _, r := range rec.Databases {
		if !strings.EqualFold(r.Database, s.Database) {
			continue
		}
		if r.CopyJob.Enabled {
			out = append(out, s.CopyJob)
		}
		if r.RestoreJob.Enabled {
			out = append(out, s.RestoreJob)
		}
		return out
	}
	return []JobState{s.CopyJob, s.RestoreJob}
}

func (e *Executor) undo(ctx context.Context, db DB, req Request, name string) error {
	s, err := readSecondary(ctx, db, name)
	if err != nil {
		return err
	}
	for _, j := range e.jobsToReenable(req.Action.Plan, s) {
		if j.Enabled {
			continue
		}
		if _, err := db.ExecContext(ctx, stmtSetJobEnabled, sql.Named("p1", j.ID), sql.Named("p2", 1)); err != nil {
			return fmt.Errorf("re-enable job %s of %s: %w", j.Name, name, err)
		}
		if err := e.effect(req.Action.Step); err != nil {
			return err
		}
		e.log.Info("job_reenabled", zap.String("database", name), zap.String("job", j.Name))
	}
	return nil
}

// recoverDatabase brings one database of the group online: end STANDBY
// readers, RESTORE … WITH RECOVERY, MULTI_USER, then verify writable.
func (e *Executor) recoverDatabase(ctx context.Context, db DB, step controller.Step, name string) error {
	if !e.inGroup(name) {
		return fmt.Errorf("database %s is not in the failover group: never recovered", name)
	}
	d, err := readDatabase(ctx, db, name)
	if err != nil {
		return err
	}
	if !d.exists {
		return fmt.Errorf("database %s does not exist on the target", name)
	}
	for attempt := 1; !d.writable(); attempt++ {
		if d.standby || d.userAccess != 0 && d.state == 0 {
			if _, err := db.ExecContext(ctx, sqlSingleUser(name)); err != nil {
				return fmt.Errorf("end sessions in %s: %w", name, err)
			}
			if err := e.effect(step); err != nil {
				return err
			}
		}
		_, err := db.ExecContext(ctx, sqlRecover(name))
		if errNumber(err) == 3101 && d.standby && attempt < 3 {
			// A reader took the single session between the two statements; end it again.
			e.log.Warn("recovery_blocked_by_session", zap.String("database", name), zap.Int("attempt", attempt))
			continue
		}
		if err != nil {
			return fmt.Errorf("restore database %s with recovery: %w", name, err)
		}
		if err := e.effect(step); err != nil {
			return err
		}
		e.log.Info("database_recovered", zap.String("database", name))
		if d, err = readDatabase(ctx, db, name); err != nil {
			return err
		}
		if !d.writable() {
			return fmt.Errorf("database %s is %s after RESTORE WITH RECOVERY, not ONLINE and READ_WRITE", name, d)
		}
	}
	if d.userAccess != 0 {
		if _, err := db.ExecContext(ctx, sqlMultiUser(name)); err != nil {
			return fmt.Errorf("set %s MULTI_USER: %w", name, err)
		}
		if err := e.effect(step); err != nil {
			return err
		}
	}
	return nil
}

// recoveredNow lists the databases of the action that are writable on the
// target (reported with a failure after RECOVERY started).
func (e *Executor) recoveredNow(ctx context.Context, req Request) []string {
	db, err := e.conn(e.target(req))
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range e.databases(req) {
		if d, err := readDatabase(ctx, db, name); err == nil && d.writable() {
			out = append(out, name)
		}
	}
	return out
}

// fenceDatabases are the action's databases that are in the group.
func (e *Executor) fenceDatabases(req Request) []string {
	var out []string
	for _, d := range req.Action.Databases {
		if e.inGroup(d) {
			out = append(out, d)
		} else {
			e.log.Warn("fence_skips_database_outside_group", zap.String("database", d), zap.String("instance", req.Action.Instance))
		}
	}
	if len(req.Action.Databases) == 0 {
		out = slices.Clone(e.opts.Databases)
	}
	return out
}

// fenced: every database left mirroring and is out of service by the method.
func (e *Executor) fenced(ctx context.Context, req Request) (outcome, error) {
	inst := req.Action.Instance
	if e.opts.FenceMethod == config.FenceHook {
		o := e.hooksDoneFor(req.Action.Plan, hook.EventFence, e.opts.Fence, inst)
		if !o.done {
			return o, nil
		}
	}
	db, err := e.conn(inst)
	if err != nil {
		return outcome{}, err
	}
	var notDone []string
	for _, name := range e.fenceDatabases(req) {
		d, err := readDatabase(ctx, db, name)
		if err != nil {
			return outcome{}, err
		}
		ok := d.exists && !d.mirrored
		switch e.opts.FenceMethod {
		case config.FenceOffline:
			ok = ok && d.state == 6
		case config.FenceSingleUser:
			ok = ok && d.userAccess == 1
		}
		if d.exists && !ok {
			notDone = append(notDone, fmt.Sprintf("%s on %s is %s", name, inst, d))
		}
	}
	if len(notDone) > 0 {
		return outcome{detail: strings.Join(notDone, "; ")}, nil
	}
	return outcome{done: true, detail: "fenced by " + e.opts.FenceMethod}, nil
}

// fence leaves the mirroring session (SET PARTNER OFF: OFFLINE and SINGLE_USER
// are refused inside one, SQLSERVER.md §8 Q3) and applies the method.
func (e *Executor) fence(ctx context.Context, req Request) error {
	inst := req.Action.Instance
	db, err := e.conn(inst)
	if err != nil {
		return err
	}
	dbs := e.fenceDatabases(req)
	for _, name := range dbs {
		d, err := readDatabase(ctx, db, name)
		if err != nil {
			return err
		}
		if !d.exists {
			continue
		}
		if d.mirrored {
			if _, err := db.ExecContext(ctx, sqlPartnerOff(name)); err != nil {
				return fmt.Errorf("set partner off for %s on %s: %w", name, inst, err)
			}
			if err := e.effect(controller.StepFence); err != nil {
				return err
			}
			e.log.Info("fence_left_mirroring", zap.String("database", name), zap.String("instance", inst))
		}
		var stmt string
		switch e.opts.FenceMethod {
		case config.FenceOffline:
			if d.state != 6 {
				stmt = sqlOffline(name)
			}
		case config.FenceSingleUser:
			if d.userAccess != 1 {
				stmt = sqlSingleUser(name)
			}
		}
		if stmt != "" {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("fence %s on %s (%s): %w", name, inst, e.opts.FenceMethod, err)
			}
			if err := e.effect(controller.StepFence); err != nil {
				return err
			}
			e.log.Info("database_fenced", zap.String("database", name), zap.String("instance", inst), zap.String("method", e.opts.FenceMethod))
		}
	}
	if e.opts.FenceMethod == config.FenceHook {
		return e.runHooks(ctx, req, hook.EventFence, e.opts.Fence, inst, dbs)
	}
	return nil
}

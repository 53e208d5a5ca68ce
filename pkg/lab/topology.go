package lab

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// lsnPerInsert is how far one committed insert moves the end of the log.
const lsnPerInsert = 100

// Topology is the whole simulated estate. All its methods are safe for concurrent
// use: one mutex guards the world, and every operation first brings the world up
// to the clock's current instant.
type Topology struct {
	log   *zap.Logger
	mu    sync.Mutex
	cfg   Config
	clock Clock
	now   time.Time
	rng   *rand.Rand

	instances []*Instance
	sessions  []*MirrorSession
	share     *Share

	faults      map[int]*activeFault
	nextFaultID int
	cuts        map[[2]string]bool
	shareDown   bool

	carry     map[*Database]float64
	changes   chan struct{}
	lastPrune time.Time
}

// Instance is one simulated SQL Server instance with its databases, msdb, Agent
// jobs, local disk and sessions.
type Instance struct {
	topo       *Topology
	name       string
	site       string
	role       string
	loc        *time.Location
	addr       string
	skew       time.Duration
	health     Health
	slowDelay  time.Duration
	siteDown   bool
	workload   bool
	dbs        []*Database
	nextDBID   int32
	files      map[string]*BackupFile
	refuse     map[netip.Addr]bool
	blackhole  map[netip.Addr]bool
	jobStopped map[JobKind]bool
	jobFailing map[JobKind]bool

	backupSets     []BackupSetRow
	restores       []RestoreHistoryRow
	lsPrimary      []*LSPrimaryDatabaseRow
	lsMonPrimary   []*LSMonitorPrimaryRow
	lsSecondary    []*LSSecondaryRow
	lsSecondaryDBs []*LSSecondaryDatabaseRow
	lsMonSecondary []*LSMonitorSecondaryRow
	lsHistory      []LSHistoryDetailRow
	jobs           []*Job
	jobHistory     []JobHistoryRow
	nextSetID      int32
	nextMediaID    int32
	nextRestoreID  int32
	nextJobHistID  int32
	nextLSSession  int32
	backupCount    int
	agentSession   int32

	sessions map[int32]*Session
	nextSPID int32

	// remote is set in the split shape: the instance's network presence runs in
	// its own process, which reports liveness and which peers it reaches.
	remote bool
	alive  bool
	reach  map[string]bool
}

// Database is one database on one instance.
type Database struct {
	inst             *Instance
	id               int32
	name             string
	system           bool
	protected        bool
	recovery         RecoveryModel
	state            DBState
	standby          bool
	readOnly         bool
	access           UserAccess
	guid             GUID
	familyGUID       GUID
	forkGUID         GUID
	firstForkGUID    GUID
	forkPointLSN     LSN
	prevFork         GUID
	endLSN           LSN
	lastLogBackupLSN LSN
	fullBackupLSN    LSN
	rows             []Message
	rowTimes         []time.Time // UTC commit instant of rows[i]
	nextID           int64
	mir              *mirrorSide
	created          time.Time
}

// New builds a topology from cfg on the given clock: every database is created on
// the principal, a full backup starts the log chain, the mirror and the secondary
// are initialised from it (RESTORING), log shipping is configured on both
// partners and on the secondary, and mirroring starts SYNCHRONIZING.
func New(log *zap.Logger, cfg Config, clk Clock) (*Topology, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lab topology config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	t := &Topology{
		log:     log.Named("lab"),
		cfg:     cfg,
		clock:   clk,
		now:     clk.Now().UTC(),
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		faults:  map[int]*activeFault{},
		cuts:    map[[2]string]bool{},
		carry:   map[*Database]float64{},
		changes: make(chan struct{}, 1),
		share:   &Share{Path: strings.TrimRight(cfg.Share, `\`), files: map[string]*BackupFile{}},
	}
	for _, ic := range cfg.Instances {
		loc, err := time.LoadLocation(ic.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("lab instance %s: time zone %q: %w", ic.Name, ic.TimeZone, err)
		}
		inst := &Instance{
			topo: t, name: ic.Name, site: ic.Site, role: ic.Role, loc: loc, addr: ic.Addr,
			files: map[string]*BackupFile{}, refuse: map[netip.Addr]bool{}, blackhole: map[netip.Addr]bool{},
			jobStopped: map[JobKind]bool{}, jobFailing: map[JobKind]bool{},
			nextSetID: 1, nextMediaID: 1, nextRestoreID: 1, nextJobHistID: 1, nextLSSession: 1,
			agentSession: 1, sessions: map[int32]*Session{}, nextSPID: 51, nextDBID: 5,
			workload: ic.Role == ConfigRolePrincipal || ic.Role == ConfigRoleMirror,
		}
		for i, n := range []string{"master", "tempdb", "model", "msdb"} {
			rm := RecoveryFull
			if n == "master" || n == "tempdb" || n == "msdb" {
				rm = RecoverySimple
			}
			inst.dbs = append(inst.dbs, &Database{inst: inst, id: int32(i + 1), name: n, system: true,
				recovery: rm, state: StateOnline, guid: t.newGUID(), created: t.now})
		}
		t.instances = append(t.instances, inst)
	}
	principal := t.byRole(ConfigRolePrincipal)
	mirror := t.byRole(ConfigRoleMirror)
	secondary := t.byRole(ConfigRoleSecondary)
	witness := t.byRole(ConfigRoleWitness)
	for _, name := range cfg.Databases {
		p := t.createProtected(principal, name)
		full := t.fullBackup(p)
		if mirror != nil {
			m := t.cloneRestoring(mirror, p)
			t.recordRestore(mirror, m, full, "D", false)
			t.startMirroring(p, m, witness)
		}
		if secondary != nil {
			s := t.cloneRestoring(secondary, p)
			if strings.EqualFold(cfg.RestoreMode, "standby") {
				s.state, s.standby, s.readOnly = StateOnline, true, true
			}
			t.recordRestore(secondary, s, full, "D", false)
		}
		t.configurePrimary(principal, name)
		if mirror != nil {
			t.configurePrimary(mirror, name)
		}
		if secondary != nil {
			t.configureSecondary(secondary, principal, name)
		}
	}
	t.log.Info("lab_topology_created", zap.Int("instances", len(t.instances)), zap.Strings("databases", cfg.Databases),
		zap.Time("sim_start", t.now))
	return t, nil
}

func (t *Topology) newGUID() GUID {
	var g GUID
	for i := 0; i < 16; i += 8 {
		v := t.rng.Uint64()
		for j := 0; j < 8; j++ {
			g[i+j] = byte(v >> (8 * j))
		}
	}
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

func (t *Topology) byRole(role string) *Instance {
	for _, i := range t.instances {
		if i.role == role {
			return i
		}
	}
	return nil
}

func (t *Topology) createProtected(inst *Instance, name string) *Database {
	fork := t.newGUID()
	d := &Database{
		inst: inst, id: inst.nextDBID, name: name, protected: true, recovery: RecoveryFull, state: StateOnline,
		guid: t.newGUID(), familyGUID: t.newGUID(), forkGUID: fork, firstForkGUID: fork,
		endLSN: DefaultStartLSN(), nextID: 1, created: t.now,
	}
	inst.nextDBID++
	inst.dbs = append(inst.dbs, d)
	return d
}

// cloneRestoring creates on inst a RESTORING copy of src, as a restore of its
// full backup WITH NORECOVERY leaves it.
func (t *Topology) cloneRestoring(inst *Instance, src *Database) *Database {
	d := &Database{
		inst: inst, id: inst.nextDBID, name: src.name, protected: true, recovery: src.recovery,
		state: StateRestoring, guid: src.guid, familyGUID: src.familyGUID, forkGUID: src.forkGUID,
		firstForkGUID: src.firstForkGUID, forkPointLSN: src.forkPointLSN, prevFork: src.prevFork, endLSN: src.endLSN,
		lastLogBackupLSN: src.lastLogBackupLSN, fullBackupLSN: src.fullBackupLSN,
		rows: append([]Message(nil), src.rows...), rowTimes: append([]time.Time(nil), src.rowTimes...),
		nextID: src.nextID, created: t.now,
	}
	inst.nextDBID++
	inst.dbs = append(inst.dbs, d)
	return d
}

// Now is the topology's current simulated instant (UTC).
func (t *Topology) Now() time.Time {
	defer t.lockSynced()()
	return t.now
}

// Sync moves the world to the clock's current instant, running every job, mirroring
// exchange and workload insert that falls due on the way.
func (t *Topology) Sync() {
	defer t.lockSynced()()
}

// lockSynced locks the topology and moves it to the clock's current instant, for
// one call that reads or changes the world; it returns the unlock, so a call is
// bracketed by `defer t.lockSynced()()`.
func (t *Topology) lockSynced() (unlock func()) {
	t.mu.Lock()
	t.syncLocked()
	return t.mu.Unlock
}

// syncLocked steps in increments of at most one simulated second (coarser for very
// long jumps) so that schedules that fall inside a jump all run.
func (t *Topology) syncLocked() {
	target := t.clock.Now().UTC()
	gap := target.Sub(t.now)
	if gap <= 0 {
		return
	}
	inc := time.Second
	if gap > 10*time.Minute {
		inc = gap / 600
	}
	for t.now.Before(target) {
		next := t.now.Add(inc)
		if next.After(target) {
			next = target
		}
		elapsed := next.Sub(t.now)
		t.now = next
		t.stepWorkload(elapsed)
		t.stepMirroring()
		t.stepJobs()
		if t.now.Sub(t.lastPrune) >= time.Minute {
			t.prune()
			t.lastPrune = t.now
		}
	}
}

// prune applies the history and file retention, so a long (accelerated) run stays
// bounded in memory and in the size of every catalog query.
func (t *Topology) prune() {
	hist := t.now.Add(-t.cfg.HistoryRetention)
	files := t.now.Add(-t.cfg.FileRetention)
	for _, i := range t.instances {
		i.restores = removeIf(i.restores, func(r RestoreHistoryRow) bool { return r.RestoreDate.Before(hist) })
		kept := map[int32]bool{}
		for _, r := range i.restores {
			kept[r.BackupSetID] = true
		}
		i.backupSets = removeIf(i.backupSets, func(b BackupSetRow) bool {
			return b.Finish.Before(hist) && !kept[b.BackupSetID] && b.Type == "L"
		})
		i.lsHistory = removeIf(i.lsHistory, func(h LSHistoryDetailRow) bool { return h.LogTimeUTC.Before(hist) })
		for k, f := range i.files {
			if f.Type == "L" && !f.Partial && f.FinishUTC.Before(files) {
				delete(i.files, k)
			}
		}
		if n := len(i.jobHistory); n > 1000 {
			i.jobHistory = append([]JobHistoryRow(nil), i.jobHistory[n-1000:]...)
		}
	}
	for k, f := range t.share.files {
		if f.FinishUTC.Before(files) {
			delete(t.share.files, k)
		}
	}
}

// Changes delivers a notification (coalesced) whenever faults change what the
// network layer must do: listeners to close or reopen, sessions to reset.
func (t *Topology) Changes() <-chan struct{} { return t.changes }

func (t *Topology) notify() {
	select {
	case t.changes <- struct{}{}:
	default:
	}
}

// Instances lists the instances in configuration order.
func (t *Topology) Instances() []*Instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Instance(nil), t.instances...)
}

// Instance finds an instance by name or by its configured role (principal,
// mirror, secondary, witness), case-insensitively.
func (t *Topology) Instance(nameOrRole string) (*Instance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.instanceLocked(nameOrRole)
}

func (t *Topology) instanceLocked(nameOrRole string) (*Instance, error) {
	for _, i := range t.instances {
		if strings.EqualFold(i.name, nameOrRole) || strings.EqualFold(i.role, nameOrRole) {
			return i, nil
		}
	}
	names := make([]string, 0, len(t.instances))
	for _, i := range t.instances {
		names = append(names, i.name+" ("+i.role+")")
	}
	return nil, fmt.Errorf("lab: unknown instance %q; have %s", nameOrRole, strings.Join(names, ", "))
}

// Config returns the configuration the topology was built from.
func (t *Topology) Config() Config { return t.cfg }

// Name is @@SERVERNAME.
func (i *Instance) Name() string { return i.name }

// Site is the instance's data-centre name.
func (i *Instance) Site() string { return i.site }

// Role is the role the instance was configured with (its current mirroring role
// may differ after a failover).
func (i *Instance) Role() string { return i.role }

// Addr is the configured listen address ("" means any free loopback port).
func (i *Instance) Addr() string { return i.addr }

// Location is the instance's time zone.
func (i *Instance) Location() *time.Location { return i.loc }

// up reports whether the instance process is running and answering.
func (i *Instance) up() bool {
	return !i.siteDown && (i.health == HealthUp || i.health == HealthSlow) && (!i.remote || i.alive)
}

// LocalNow is the instance's local wall-clock time (its skew applied).
func (i *Instance) LocalNow() time.Time {
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	i.topo.syncLocked()
	return i.localNow()
}

// UTCNow is the instance's idea of UTC (its skew applied), as SYSUTCDATETIME().
func (i *Instance) UTCNow() time.Time {
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	i.topo.syncLocked()
	return i.utcNow()
}

func (i *Instance) utcNow() time.Time   { return i.topo.now.Add(i.skew).UTC() }
func (i *Instance) localNow() time.Time { return i.topo.now.Add(i.skew).In(i.loc) }

// timeZoneCode is backupset.time_zone: the offset from UTC in 15-minute steps.
func (i *Instance) timeZoneCode(at time.Time) int16 {
	_, off := at.In(i.loc).Zone()
	return int16(off / (15 * 60))
}

func (i *Instance) db(name string) *Database {
	for _, d := range i.dbs {
		if strings.EqualFold(d.name, name) {
			return d
		}
	}
	return nil
}

func (i *Instance) sortedJobs() []*Job {
	out := append([]*Job(nil), i.jobs...)
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

// stepWorkload inserts rows at the configured rate into every protected database
// that is writable on an instance with the workload enabled.
func (t *Topology) stepWorkload(elapsed time.Duration) {
	if t.cfg.WorkloadRate <= 0 {
		return
	}
	for _, inst := range t.instances {
		if !inst.workload || !inst.up() {
			continue
		}
		for _, d := range inst.dbs {
			if !d.protected || d.writableErr() != nil {
				continue
			}
			t.carry[d] += t.cfg.WorkloadRate * elapsed.Seconds()
			for t.carry[d] >= 1 {
				t.carry[d]--
				d.insert(inst.name)
			}
		}
	}
}

// insert commits one row into dbo.messages and ships it synchronously to a
// connected SAFETY FULL mirror.
func (d *Database) insert(body string) Message {
	m := Message{ID: d.nextID, Created: d.inst.localNow(), LSN: d.endLSN, Body: body}
	d.nextID++
	d.rows = append(d.rows, m)
	d.rowTimes = append(d.rowTimes, d.inst.topo.now)
	d.endLSN = d.endLSN.Add(lsnPerInsert)
	if d.mir != nil && d.mir.role == RolePrincipal {
		d.inst.topo.shipSync(d)
	}
	return m
}

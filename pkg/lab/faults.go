package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// FaultKind names an injectable fault.
type FaultKind string

// The faults the lab can inject. Each is reversible with Heal except where noted.
const (
	// FaultDown: the instance stops (listener closed, connections reset, Agent stopped).
	FaultDown FaultKind = "down"
	// FaultHung: the instance accepts TCP connections and never answers.
	FaultHung FaultKind = "hung"
	// FaultSlow: every reply is delayed by Delay (default 2s real time).
	FaultSlow FaultKind = "slow"
	// FaultSkew: the instance's clock is off by Delay (may be negative).
	FaultSkew FaultKind = "skew"
	// FaultSiteDown: every instance of the site (Target) is down.
	FaultSiteDown FaultKind = "site-down"
	// FaultJobStopped: the instance's Job jobs (backup, copy or restore) no longer
	// run on schedule (sp_start_job still runs them).
	FaultJobStopped FaultKind = "job-stopped"
	// FaultJobFailing: every run of the Job jobs fails.
	FaultJobFailing FaultKind = "job-failing"
	// FaultShareDown: the backup share is unreachable.
	FaultShareDown FaultKind = "share-down"
	// FaultCut: the link between Target and Peer (instances or sites) is cut.
	FaultCut FaultKind = "cut"
	// FaultRefuse: connections to Target from Addrs are refused ("*" target: all).
	FaultRefuse FaultKind = "refuse"
	// FaultBlackhole: connections to Target from Addrs are accepted and ignored.
	FaultBlackhole FaultKind = "blackhole"
	// FaultRogueBackup: a log backup of Database is taken on Target outside log
	// shipping (to C:\rogue), which breaks the shipped chain. Heal puts the file
	// into the log-shipping folder of the share, which mends the chain.
	FaultRogueBackup FaultKind = "rogue-backup"
	// FaultWritable: the old principal Target comes back ONLINE and writable: its
	// protected databases leave mirroring and are recovered. Not reversible: Heal
	// only forgets the fault.
	FaultWritable FaultKind = "writable"
)

// FaultKinds lists every kind, for help texts.
var FaultKinds = []FaultKind{FaultDown, FaultHung, FaultSlow, FaultSkew, FaultSiteDown, FaultJobStopped,
	FaultJobFailing, FaultShareDown, FaultCut, FaultRefuse, FaultBlackhole, FaultRogueBackup, FaultWritable}

// Fault describes one fault to inject.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Target is an instance name or configured role (principal, mirror,
	// secondary, witness), a site name for site-down and cut, or "*" for
	// refuse/blackhole on every instance.
	Target string `json:"target,omitempty"`
	// Peer is the other end of a cut.
	Peer string `json:"peer,omitempty"`
	// Job is backup, copy or restore.
	Job string `json:"job,omitempty"`
	// Database is the database of a rogue backup (default: the first protected one).
	Database string `json:"database,omitempty"`
	// Delay is the reply delay of slow or the clock offset of skew.
	Delay time.Duration `json:"delay,omitempty"`
	// Addrs are client source addresses for refuse and blackhole.
	Addrs []string `json:"addrs,omitempty"`
}

// ActiveFault is an injected fault with its id.
type ActiveFault struct {
	ID    int   `json:"id"`
	Fault Fault `json:"fault"`
	// Since is the simulated instant of injection.
	Since time.Time `json:"since"`
	// Note tells what a one-shot fault did (the rogue backup's file).
	Note string `json:"note,omitempty"`
}

type activeFault struct {
	ActiveFault
	rogue *BackupFile
}

// Inject applies a fault and returns its id for Heal.
func (t *Topology) Inject(f Fault) (int, error) {
	defer t.lockSynced()()
	af := &activeFault{ActiveFault: ActiveFault{Fault: f, Since: t.now}}
	if err := t.checkFault(af); err != nil {
		return 0, err
	}
	t.nextFaultID++
	af.ID = t.nextFaultID
	t.faults[af.ID] = af
	t.applyFaults()
	t.log.Info("lab_fault_injected", zap.Int("fault_id", af.ID), zap.String("kind", string(f.Kind)),
		zap.String("target", f.Target), zap.String("note", af.Note))
	t.notify()
	return af.ID, nil
}

// checkFault validates a fault and performs the one-shot part of one-shot faults.
func (t *Topology) checkFault(af *activeFault) error {
	f := &af.Fault
	switch f.Kind {
	case FaultDown, FaultHung, FaultSlow, FaultSkew, FaultJobStopped, FaultJobFailing:
		if _, err := t.instanceLocked(f.Target); err != nil {
			return err
		}
		if f.Kind == FaultJobStopped || f.Kind == FaultJobFailing {
			if _, err := ParseJobKind(f.Job); err != nil {
				return err
			}
		}
		if f.Kind == FaultSlow && f.Delay <= 0 {
			f.Delay = 2 * time.Second
		}
		if f.Kind == FaultSkew && f.Delay == 0 {
			return errors.New("lab: skew fault needs a non-zero delay")
		}
	case FaultSiteDown:
		if len(t.siteInstances(f.Target)) == 0 {
			return fmt.Errorf("lab: unknown site %q", f.Target)
		}
	case FaultShareDown:
	case FaultCut:
		if len(t.endpoints(f.Target)) == 0 || len(t.endpoints(f.Peer)) == 0 {
			return fmt.Errorf("lab: cut needs two instances or sites, got %q and %q", f.Target, f.Peer)
		}
	case FaultRefuse, FaultBlackhole:
		if f.Target != "*" {
			if _, err := t.instanceLocked(f.Target); err != nil {
				return err
			}
		}
		if len(f.Addrs) == 0 {
			return fmt.Errorf("lab: %s fault needs at least one source address", f.Kind)
		}
		for _, a := range f.Addrs {
			if _, err := netip.ParseAddr(a); err != nil {
				return fmt.Errorf("lab: %s fault: bad address %q: %w", f.Kind, a, err)
			}
		}
	case FaultRogueBackup:
		return t.rogueBackup(af)
	case FaultWritable:
		return t.makeWritable(af)
	default:
		return fmt.Errorf("lab: unknown fault kind %q", f.Kind)
	}
	return nil
}

func (t *Topology) siteInstances(site string) []*Instance {
	var out []*Instance
	for _, i := range t.instances {
		if strings.EqualFold(i.site, site) {
			out = append(out, i)
		}
	}
	return out
}

// endpoints resolves a cut end: an instance, or all instances of a site.
func (t *Topology) endpoints(name string) []*Instance {
	if i, err := t.instanceLocked(name); err == nil {
		return []*Instance{i}
	}
	return t.siteInstances(name)
}

func (t *Topology) rogueBackup(af *activeFault) error {
	f := &af.Fault
	inst, err := t.instanceLocked(f.Target)
	if err != nil {
		return err
	}
	if f.Database == "" {
		f.Database = t.cfg.Databases[0]
	}
	d := inst.db(f.Database)
	if d == nil || d.state != StateOnline || d.standby || (d.mir != nil && d.mir.role == RoleMirror) {
		return fmt.Errorf("lab: rogue backup needs an ONLINE writable %s on %s", f.Database, inst.name)
	}
	p := t.logBackupName(inst, `C:\rogue`, d.name)
	file, errs := t.takeLogBackup(inst, d, p, false, false, "sa")
	if errs != nil {
		return fmt.Errorf("lab: rogue backup: %w", errs)
	}
	af.rogue = file
	af.Note = "log backup outside log shipping: " + p
	return nil
}

func (t *Topology) makeWritable(af *activeFault) error {
	inst, err := t.instanceLocked(af.Fault.Target)
	if err != nil {
		return err
	}
	var names []string
	for _, d := range inst.dbs {
		if !d.protected {
			continue
		}
		if d.mir != nil {
			d.mir = nil
		}
		if d.state != StateOnline || d.standby {
			t.recover(d)
		}
		d.access = MultiUser
		names = append(names, d.name)
	}
	af.Note = "writable: " + strings.Join(names, ", ")
	return nil
}

// Heal removes one fault by id.
func (t *Topology) Heal(id int) error {
	defer t.lockSynced()()
	af, ok := t.faults[id]
	if !ok {
		return fmt.Errorf("lab: no active fault with id %d", id)
	}
	t.healLocked(af)
	t.notify()
	return nil
}

// HealAll removes every fault.
func (t *Topology) HealAll() {
	defer t.lockSynced()()
	ids := make([]int, 0, len(t.faults))
	for id := range t.faults {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		t.healLocked(t.faults[id])
	}
	t.notify()
}

func (t *Topology) healLocked(af *activeFault) {
	delete(t.faults, af.ID)
	if af.rogue != nil {
		// Mend the chain: the rogue backup file appears in the shipping folder.
		c := *af.rogue
		c.Path = joinPath(t.backupDir(af.rogue.Database), af.rogue.Name())
		t.share.files[strings.ToLower(c.Path)] = &c
	}
	t.applyFaults()
	t.log.Info("lab_fault_healed", zap.Int("fault_id", af.ID), zap.String("kind", string(af.Fault.Kind)))
}

// Faults lists the active faults by id.
func (t *Topology) Faults() []ActiveFault {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ActiveFault, 0, len(t.faults))
	for _, af := range t.faults {
		out = append(out, af.ActiveFault)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// applyFaults recomputes every instance's derived fault state from the active set.
func (t *Topology) applyFaults() {
	before := map[*Instance]bool{}
	for _, i := range t.instances {
		before[i] = i.up()
		i.health, i.slowDelay, i.skew, i.siteDown = HealthUp, 0, 0, false
		i.refuse, i.blackhole = map[netip.Addr]bool{}, map[netip.Addr]bool{}
		i.jobStopped, i.jobFailing = map[JobKind]bool{}, map[JobKind]bool{}
	}
	t.cuts = map[[2]string]bool{}
	t.shareDown = false
	ids := make([]int, 0, len(t.faults))
	for id := range t.faults {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		f := t.faults[id].Fault
		inst, _ := t.instanceLocked(f.Target)
		switch f.Kind {
		case FaultDown:
			inst.health = HealthDown
		case FaultHung:
			if inst.health != HealthDown {
				inst.health = HealthHung
			}
		case FaultSlow:
			if inst.health == HealthUp {
				inst.health = HealthSlow
			}
			inst.slowDelay = f.Delay
		case FaultSkew:
			inst.skew = f.Delay
		case FaultSiteDown:
			for _, i := range t.siteInstances(f.Target) {
				i.siteDown = true
			}
		case FaultJobStopped, FaultJobFailing:
			k, _ := ParseJobKind(f.Job)
			if f.Kind == FaultJobStopped {
				inst.jobStopped[k] = true
			} else {
				inst.jobFailing[k] = true
			}
		case FaultShareDown:
			t.shareDown = true
		case FaultCut:
			for _, a := range t.endpoints(f.Target) {
				for _, b := range t.endpoints(f.Peer) {
					if a != b {
						t.cuts[cutKey(a.name, b.name)] = true
					}
				}
			}
		case FaultRefuse, FaultBlackhole:
			targets := t.instances
			if f.Target != "*" {
				targets = []*Instance{inst}
			}
			for _, i := range targets {
				for _, a := range f.Addrs {
					addr, _ := netip.ParseAddr(a)
					if f.Kind == FaultRefuse {
						i.refuse[addr] = true
					} else {
						i.blackhole[addr] = true
					}
				}
			}
		}
	}
	for _, i := range t.instances {
		if !before[i] && i.up() {
			t.restarted(i)
		}
		if before[i] && !i.up() {
			i.killAll()
			for _, j := range i.jobs {
				if j.running {
					t.abortCopy(i, j)
					j.running = false
					j.lastStop = t.now
				}
			}
		}
	}
}

// NetState is what the network layer needs to know about an instance.
type NetState struct {
	Health Health
	// SlowDelay is the real-time delay per reply while Health is HealthSlow.
	SlowDelay time.Duration
	refuse    map[netip.Addr]bool
	blackhole map[netip.Addr]bool
}

// Refuses reports whether connections from addr must be refused.
func (n NetState) Refuses(addr netip.Addr) bool { return n.refuse[addr.Unmap()] }

// BlackHoles reports whether connections from addr must be accepted and ignored.
func (n NetState) BlackHoles(addr netip.Addr) bool { return n.blackhole[addr.Unmap()] }

// Net returns the instance's current network behaviour.
func (i *Instance) Net() NetState {
	i.topo.mu.Lock()
	defer i.topo.mu.Unlock()
	h := i.health
	if i.siteDown || (i.remote && !i.alive) {
		h = HealthDown
	}
	return NetState{Health: h, SlowDelay: i.slowDelay, refuse: i.refuse, blackhole: i.blackhole}
}

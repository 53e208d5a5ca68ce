package lab

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"pgregory.net/rapid"
)

// TestPropertyRandomFaults drives the default topology (with a witness) through
// random faults, heals and clock steps and checks the safety invariants after
// every step, then that healing everything converges.
func TestPropertyRandomFaults(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := DefaultConfig().WithWitness()
		cfg.Databases = []string{"mgc"}
		clk := NewManualClock(cfg.Start)
		topo, err := New(zap.NewNop(), cfg, clk)
		if err != nil {
			rt.Fatal(err)
		}
		inst := func(n string) *Instance {
			i, err := topo.Instance(n)
			if err != nil {
				rt.Fatal(err)
			}
			return i
		}
		faults := []Fault{
			{Kind: FaultDown, Target: "principal"}, {Kind: FaultDown, Target: "mirror"}, {Kind: FaultDown, Target: "witness"},
			{Kind: FaultHung, Target: "mirror"}, {Kind: FaultCut, Target: "principal", Peer: "mirror"},
			{Kind: FaultCut, Target: "principal", Peer: "witness"}, {Kind: FaultShareDown},
			{Kind: FaultJobStopped, Target: "secondary", Job: "copy"}, {Kind: FaultJobFailing, Target: "secondary", Job: "restore"},
			{Kind: FaultJobFailing, Target: "principal", Job: "backup"}, {Kind: FaultSiteDown, Target: "A"},
			{Kind: FaultRogueBackup, Target: "principal"},
		}
		steps := rapid.IntRange(5, 40).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			switch rapid.IntRange(0, 3).Draw(rt, "action") {
			case 0:
				f := rapid.SampledFrom(faults).Draw(rt, "fault")
				_, _ = topo.Inject(f) // a rogue backup on a non-principal is refused: fine
			case 1:
				if fs := topo.Faults(); len(fs) > 0 {
					_ = topo.Heal(fs[rapid.IntRange(0, len(fs)-1).Draw(rt, "heal")].ID)
				}
			default:
				clk.Advance(time.Duration(rapid.IntRange(1, 90).Draw(rt, "seconds")) * time.Second)
				topo.Sync()
			}
			checkInvariants(rt, topo, inst)
		}
		topo.HealAll()
		clk.Advance(3 * time.Minute)
		topo.Sync()
		checkInvariants(rt, topo, inst)
		a, b := inst("principal"), inst("mirror")
		da, _ := a.Database("mgc")
		db, _ := b.Database("mgc")
		if da.Mirroring == nil || db.Mirroring == nil {
			rt.Fatal("mirroring session lost")
		}
		if da.Mirroring.State != MirrorSynchronized || db.Mirroring.State != MirrorSynchronized {
			rt.Fatalf("not SYNCHRONIZED after healing: %s / %s", da.Mirroring.State, db.Mirroring.State)
		}
	})
}

// serving reports whether an instance answers at all (a hung or down instance
// cannot write for anyone; it re-checks its role when it comes back).
func serving(i *Instance) bool {
	h := i.Net().Health
	return h == HealthUp || h == HealthSlow
}

func checkInvariants(rt *rapid.T, topo *Topology, inst func(string) *Instance) {
	a, b := inst("principal"), inst("mirror")
	da, _ := a.Database("mgc")
	db, _ := b.Database("mgc")
	// Never two writable copies inside site A.
	if da.Available == nil && !da.ReadOnly && da.State == StateOnline && db.Available == nil && !db.ReadOnly && db.State == StateOnline &&
		serving(a) && serving(b) {
		rt.Fatalf("both partners writable: %+v / %+v", da.Mirroring, db.Mirroring)
	}
	// SAFETY FULL with automatic failover only: no copy holds a row another lacks
	// with a different LSN (no divergence), and the secondary's chain is contiguous.
	seen := map[int64]string{}
	for _, n := range []string{"principal", "mirror", "secondary"} {
		i := inst(n)
		s, err := i.Connect(sa, "master", nil)
		if err != nil {
			rt.Fatal(err)
		}
		i.topo.mu.Lock()
		d := i.db("mgc")
		for _, r := range d.rows {
			if l, ok := seen[r.ID]; ok && l != r.LSN.String() {
				i.topo.mu.Unlock()
				rt.Fatalf("row %d has LSN %s on %s and %s elsewhere", r.ID, r.LSN, n, l)
			}
			seen[r.ID] = r.LSN.String()
		}
		i.topo.mu.Unlock()
		s.Close()
	}
	sec := inst("secondary").MSDB()
	var prev *BackupSetRow
	for _, rh := range sec.RestoreHistory {
		if rh.RestoreType != "L" {
			continue
		}
		for k := range sec.BackupSets {
			bs := &sec.BackupSets[k]
			if bs.BackupSetID != rh.BackupSetID {
				continue
			}
			if prev != nil && (bs.FirstLSN.Cmp(prev.LastLSN) > 0 || bs.LastLSN.Cmp(prev.LastLSN) <= 0) {
				rt.Fatalf("restored chain broken: [%s,%s) after [%s,%s)", bs.FirstLSN, bs.LastLSN, prev.FirstLSN, prev.LastLSN)
			}
			prev = bs
		}
	}
}

package controller

import (
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/probes"
)

// shippingSnapshot adds log-shipping history to the world's snapshot: the
// secondary restored up to a backup that finished at now-3m and has copied
// the next one (finished at now-1m), which the final restore will apply.
func shippingSnapshot(w world, now time.Time) *probes.Snapshot {
	s := w.snapshot(now)
	older := probes.LogBackup{FirstLSN: probes.MustParseLSN("1844674407370955161600100"),
		LastLSN: probes.MustParseLSN("1844674407370955161600200"), FinishUTC: now.Add(-3 * time.Minute),
		File: `\\share\mgc\mgc_20261128115700.trn`}
	newer := probes.LogBackup{FirstLSN: older.LastLSN, LastLSN: probes.MustParseLSN("1844674407370955161600300"),
		FinishUTC: now.Add(-time.Minute), File: `\\share\mgc\mgc_20261128115900.trn`}
	for i := range s.Instances {
		in := &s.Instances[i]
		if !in.Up() || len(in.Databases) == 0 {
			continue
		}
		d := &in.Databases[0]
		switch {
		case in.Name == w.principal && w.siteA == "up":
			d.RecentLogBackups = []probes.LogBackup{newer, older}
		case in.Role == probes.RoleSecondary:
			d.NewestRestoredLog = &older
			d.LSSecondary = &probes.LSSecondaryMonitor{LastCopiedFile: newer.File}
		}
	}
	return s
}

func TestComputeDataLossLiveThenFrozenAcrossRestart(t *testing.T) {
	opts := DefaultOptions()
	opts.Mode = ModeAuto
	c, err := New(nopLogger(), opts)
	if err != nil {
		t.Fatal(err)
	}
	now := simStart
	w := healthyWorld()
	st := c.NewStatus()

	snap := shippingSnapshot(w, now)
	dl, why := ComputeDataLoss(opts, st, snap)
	if !dl.Known || dl.Window != time.Minute {
		t.Fatalf("live window = %+v (%s), want 1m: R is the copied backup the final restore applies", dl, why)
	}
	res, err := c.Decide(st, Input{Snapshot: snap, DataLoss: dl}, now)
	if err != nil {
		t.Fatal(err)
	}
	if lg := res.Status.LastGood[testDB]; lg.Instance != "a1" || !lg.PrincipalUTC.Equal(now) {
		t.Fatalf("last good = %+v", lg)
	}

	// Restart: the status goes through its file.
	b, err := json.Marshal(res.Status)
	if err != nil {
		t.Fatal(err)
	}
	var reloaded Status
	if err := json.Unmarshal(b, &reloaded); err != nil {
		t.Fatal(err)
	}

	// Site A is lost 20s later; the window freezes at F − R and does not grow.
	w.siteA = "down"
	for _, dt := range []time.Duration{20 * time.Second, 5 * time.Minute} {
		at := now.Add(dt)
		snap := shippingSnapshot(w, at)
		dl, why := ComputeDataLoss(opts, reloaded, snap)
		if !dl.Known || dl.Window < time.Minute+19*time.Second || dl.Window > time.Minute+20*time.Second {
			t.Fatalf("at +%s window = %+v (%s), want frozen at about 1m20s", dt, dl, why)
		}
		res, err := c.Decide(reloaded, Input{Snapshot: snap, DataLoss: dl}, at)
		if err != nil {
			t.Fatal(err)
		}
		reloaded = res.Status
	}
	if _, why := ComputeDataLoss(opts, Status{}, shippingSnapshot(w, now)); why == "" {
		t.Fatal("unknown window without a reason")
	}
	if dl, _ := ComputeDataLoss(opts, Status{}, nil); dl.Known {
		t.Fatal("window known without a snapshot")
	}
}

func nopLogger() *zap.Logger { return zap.NewNop() }

package controller

import (
	"github.com/sqldr/sqldr/probes"
)

// ComputeDataLoss is the failover group's data-loss window for Input.DataLoss,
// from the probes data-loss model: each member's window (live while a
// principal answers, frozen at the first failed probe of the outage
// otherwise, using the persisted last good observation), the group's being
// its worst member's. Call it with the status Decide will be given.
func ComputeDataLoss(opts Options, st Status, snap *probes.Snapshot) (DataLoss, string) {
	if snap == nil {
		return DataLoss{}, "no snapshot"
	}
	members := make([]probes.Window, 0, len(opts.Databases))
	for _, db := range opts.Databases {
		last := probes.UpdateLastGood(st.LastGood[db], snap, db)
		members = append(members, probes.DataLossWindow(snap, db, last, st.Outage.FirstFailed))
	}
	w := probes.GroupWindow(members)
	return DataLoss{Known: w.Known, Window: w.Value, Uncertainty: w.Uncertainty}, w.Reason
}

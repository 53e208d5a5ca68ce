// Package probes turns SQL Server into facts for the controller (DESIGN.md "The pipeline"): each
// cycle it reads every configured instance with one read-only round trip and returns an immutable
// Snapshot. It also holds the data-loss model, as pure functions over snapshots (DESIGN.md "Safety
// model").
//
// Use:
//
//	p, err := probes.New(log, opts, clock.RealClock{}) // opts: targets (DSN from env or file), databases
//	defer p.Close()
//	snap := p.Probe(ctx)                               // never fails as a whole; see Reachability
//	last = probes.UpdateLastGood(last, snap, "mgc")     // persist `last` (JSON) in the state directory
//	lag := probes.ComputeLag(snap, "mgc")               // backup/copy/restore ages, latency, unrestored files
//	win := probes.DataLossWindow(snap, "mgc", last, firstFailedProbe)
//	group := probes.GroupWindow([]probes.Window{win, …})
//
// Everything that can be unknown says so (Figure.Known, Window.Known, zero LSN/GUID/time): a missing
// or untrustworthy reading is never reported as zero. Which partner is principal is read from
// sys.database_mirroring on each partner every cycle (Snapshot.Principal), so a mirroring failover
// inside site A needs no configuration change. All T-SQL is in queries.go; parse functions work on
// ResultSet fixtures; time comes from an injected clock.
package probes

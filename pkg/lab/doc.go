// Package lab simulates the SQL Server estate sqldr protects: a principal and a
// mirror in site A, a log-shipping secondary in site B, an optional witness and a
// backup share between them, all moving on one clock.
//
// The world model (Topology, Instance, Database, mirroring sessions, the share,
// Agent jobs and msdb history) is pure Go with no SQL knowledge; every effectful
// statement the lab understands (BACKUP LOG, RESTORE, ALTER DATABASE … SET,
// ALTER DATABASE … SET PARTNER, the msdb job procedures) is a method on Instance
// that returns the documented SQL Server errors (see ../../shared SQLSERVER.md
// and docs/lab.md). Time only moves when Step is called with a later instant, so
// tests drive it deterministically with a ManualClock.
//
// Instance.Backend adapts an instance to the SQL engine (pkg/lab/engine); the
// catalog's per-login visibility (engine.AsSeenBy) and every message the engine
// defines come from the engine, so the topology and engine.Static answer alike.
// Instance.Serve serves it over TDS through the engine's front end
// (pkg/lab/engine/server), on a listener that makes the network faults real
// (down, hung, slow, partitions by source address).
package lab

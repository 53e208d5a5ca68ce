// Package observer is the third-site observer of DESIGN.md ("Safety model"): a vantage point
// outside site B that tells a dead site A from a cut link.
//
// It has four parts, none of which imports controller or probes (cmd/sqldr wires a probes.Prober
// in as the Source):
//
//   - Server (run by `sqldr observe`) observes site A on its own schedule through a Source and serves
//     the latest Report over HTTP: read-only, bearer token read from a file, optional TLS.
//   - Report is the wire format (JSON): the observer's name, a boot ID and a sequence number that
//     increases with every observation, the observer's own timestamp, the observation's age, and per
//     site-A instance its reachability and, per protected database, whether it is ONLINE and writable.
//   - Client (used by the daemon each cycle) asks every configured observer concurrently, each bounded
//     by its own timeout, and keeps what it needs to judge freshness on the controller's own clock.
//   - Evaluate is the pure verdict.
//
// # The corroboration rule
//
// Site A is corroborated down when a quorum of observers (default: all configured observers, at
// least one) freshly report every site-A instance unreachable. A single fresh observer that sees a
// site-A instance serving (answering, with a protected database ONLINE and writable) vetoes automatic
// promotion, whatever the others say. A fresh observer that sees a site-A instance alive but not
// serving (it answers, or refuses with a SQL error) contradicts "site A is down": there is no
// corroboration while it says so. Unreachable, unauthorized or stale observers never corroborate
// anything, and never veto. With no observer configured the verdict is "not configured" and automatic
// promotion waits for an operator.
//
// An observation is fresh when all of these hold: the observer answered this cycle with a valid
// report; its sequence number was seen advancing (a report counts only once its sequence has moved past
// one already received from the same observer run, so the first answer after a daemon or observer
// restart only sets the baseline); the controller received that advance at most MaxAge ago on its own
// clock; and the observation's age as the observer reports it (measured on the observer's clock alone)
// plus the time since the controller received it is at most MaxAge. Clocks of different machines are
// never compared. Two configured observers that turn out to be the same observer run (same boot ID)
// count once towards the quorum.
package observer

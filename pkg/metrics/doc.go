// Package metrics defines sqldr's Prometheus metrics (DESIGN.md, "Metrics") and the small API the
// daemon uses to update them.
//
// Every family is described once, in the definitions table (Definitions, Names); New builds the
// collectors from it and pre-creates every label set the configuration implies, so a scrape shows
// every series from the first reconcile on and a rule's rate() or increase() has a zero to start from.
//
// Conventions: base units (_seconds), _total on counters only, _timestamp_seconds for instants,
// one-hot gauges for enumerations (the controller state, the mirroring state), bounded labels only
// (group, database, SQL instance, site, role, state, reason, result; never file names, LSNs or
// messages). A figure that cannot be measured (the secondary is unreachable, the data-loss window is
// unknown) is exported as NaN, never as a misleading 0; comparisons with NaN are false, so an alert
// on such a figure does not fire and the dedicated "unknown" alerts take over.
//
// The SQL Server instance label is called sql_instance, not instance, because Prometheus sets its
// own instance label (the scrape target) on every series it scrapes.
//
// Enumerations are custom collectors: an update and a scrape take the same lock, so a scrape never
// sees two states hot at once, or none.
package metrics

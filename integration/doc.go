// Package integration holds sqldr's tests across real processes and containers: the multi-site
// chaos suite (issue 10). Every lab instance runs in its own container built FROM scratch from
// the static binary (the repository's Dockerfile), site A, site B and a third site sit on their
// own Docker networks joined by WAN networks, and faults are made by stopping, pausing and killing
// containers and by disconnecting networks. See docs/testing.md for the scenario matrix and how to
// run one scenario alone.
//
// The package has no exported API: everything lives in _test.go files, and labrelay (a
// sub-command of the test image only) bridges the split lab's loopback-only endpoints between
// containers.
package integration

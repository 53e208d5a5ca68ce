package integration

import (
	"testing"
	"time"
)

// scenarioEstate is the estate of a daemon scenario: the split lab on a real-time clock with fast
// log-shipping jobs, the observer in the third site, the controller in site B, and the mirroring
// session synchronized with SQLA1 as principal.
func scenarioEstate(t *testing.T, ctrl ctrlOptions) (*estate, string) {
	t.Helper()
	e := newEstate(t, estateOptions{Speed: 1, Topology: labTopology(3 * time.Second)})
	e.startObserver()
	dir := e.startController(ctrl)
	e.waitSynchronized("mgc", "SQLA1", 30*time.Second)
	e.waitState("controller", "Healthy", 45*time.Second)
	return e, dir
}

// TestScenarioSiteALostAuto: site A's two instance containers are killed; in mode auto the
// controller confirms the loss, has it corroborated by the third-site observer, and promotes SQLB1.
func TestScenarioSiteALostAuto(t *testing.T) {
	e, _ := scenarioEstate(t, ctrlOptions{Mode: "auto"})
	s := e.sample("mgc")
	e.kill("SQLA1", "SQLA2")
	e.waitState("controller", "Promoted", 60*time.Second)
	s.check(t)
	e.proveWritable("mgc", "SQLB1")
}

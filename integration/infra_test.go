package integration

import (
	"fmt"
	"testing"
	"time"
)

// principalOf asks the world which instance is the mirroring principal of database (a fact for
// assertions; the controller never sees the world).
func (e *estate) principalOf(database string) (string, error) {
	st, err := e.worldStatus()
	if err != nil {
		return "", err
	}
	for _, i := range st.Instances {
		for _, d := range i.Databases {
			if d.Name == database && d.MirroringRole == "PRINCIPAL" && i.Health == "up" {
				return i.Name, nil
			}
		}
	}
	return "", fmt.Errorf("%w: no principal of %s is up (%+v)", errNotYet, database, st.Instances)
}

// waitSynchronized waits until database's mirroring session is SYNCHRONIZED with principal want
// (only then may the witness and the mirror fail over automatically, as in SQL Server).
func (e *estate) waitSynchronized(database, want string, within time.Duration) {
	e.t.Helper()
	eventually(e.t, within, 250*time.Millisecond, database+" mirroring SYNCHRONIZED on "+want, func() error {
		st, err := e.worldStatus()
		if err != nil {
			return err
		}
		for _, i := range st.Instances {
			for _, d := range i.Databases {
				if i.Name == want && d.Name == database {
					if d.MirroringRole == "PRINCIPAL" && d.Mirroring == "SYNCHRONIZED" && i.Health == "up" {
						return nil
					}
					return fmt.Errorf("%w: %s on %s: %s %s, health %s", errNotYet, database, want, d.MirroringRole, d.Mirroring, i.Health)
				}
			}
		}
		return fmt.Errorf("%w: %s not on %s", errNotYet, database, want)
	})
}

// TestEstateMirrorTakesOverWhenPrincipalKilled checks the plumbing the scenarios stand on: the
// split lab across containers (world, four instance containers, networks), the management path,
// the sampler, and real container faults: killing the principal's container makes the witness and
// the mirror fail over inside site A; cutting the WAN changes nothing inside site A; the old
// principal comes back as the mirror.
func TestEstateMirrorTakesOverWhenPrincipalKilled(t *testing.T) {
	e := newEstate(t, estateOptions{Speed: 1})
	s := e.sample("mgc")
	e.waitSynchronized("mgc", "SQLA1", 30*time.Second)
	e.cut(netWAN, "SQLA1", "SQLA2")
	e.kill("SQLA1")
	e.waitSynchronizedOrPrincipal("mgc", "SQLA2", 45*time.Second)
	// A hung witness and a stopped secondary do not move the principal.
	e.pause("SQLW1")
	if _, err := queryOne(mustDSN(t, e, "SQLW1"), "SELECT 1"); err == nil {
		t.Error("a paused container answered a query")
	}
	e.unpause("SQLW1")
	e.stop("SQLB1")
	e.startAgain("SQLB1")
	e.waitSQL("SQLB1", 30*time.Second)
	if p, err := e.principalOf("mgc"); err != nil || p != "SQLA2" {
		t.Errorf("principal after the witness hung and the secondary restarted: %q, %v; want SQLA2", p, err)
	}
	e.mend(netWAN, "SQLA2")
	s.check(t)
	e.proveWritable("mgc", "SQLA2")
}

// TestEstateOldPrincipalReturnsNotWritable restarts a killed principal's container after the
// mirror took over: at no moment may it serve the database writable beside the new principal
// (the lab holds a returning principal RECOVERING, without quorum, until it has compared role
// sequences with the partner or the witness).
func TestEstateOldPrincipalReturnsNotWritable(t *testing.T) {
	e := newEstate(t, estateOptions{Speed: 1})
	e.waitSynchronized("mgc", "SQLA1", 30*time.Second)
	s := e.sample("mgc")
	e.kill("SQLA1")
	e.waitSynchronizedOrPrincipal("mgc", "SQLA2", 45*time.Second)
	e.startAgain("SQLA1")
	e.waitSQL("SQLA1", 30*time.Second)
	s.check(t)
	e.proveWritable("mgc", "SQLA2")
}

// waitSynchronizedOrPrincipal waits until want is the principal that is up.
func (e *estate) waitSynchronizedOrPrincipal(database, want string, within time.Duration) {
	e.t.Helper()
	eventually(e.t, within, 250*time.Millisecond, want+" principal of "+database, func() error {
		p, err := e.principalOf(database)
		if err == nil && p != want {
			return fmt.Errorf("%w: principal %s", errNotYet, p)
		}
		return err
	})
}

func mustDSN(t *testing.T, e *estate, name string) string {
	t.Helper()
	dsn, err := e.dsn(name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

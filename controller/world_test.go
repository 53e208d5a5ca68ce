package controller

import (
	"time"

	"github.com/sqldr/sqldr/probes"
)

// world is a tiny model of the estate that produces probe snapshots: two
// site-A partners (a1, a2), one log-shipping secondary (b1), one database.
type world struct {
	siteA     string // "up", "down", "refusing", "fenced"
	principal string // "a1" or "a2"
	mirror    string // "sync", "disconnected"
	secondary string // "restoring", "writable", "down"
}

func healthyWorld() world {
	return world{siteA: "up", principal: "a1", mirror: "sync", secondary: "restoring"}
}

const testDB = "mgc"

func (w world) snapshot(now time.Time) *probes.Snapshot {
	s := &probes.Snapshot{Time: now}
	for _, name := range []string{"a1", "a2"} {
		inst := probes.InstanceSnapshot{Name: name, Site: probes.SiteA, Role: probes.RolePartner,
			Started: now, Received: now.Add(5 * time.Millisecond), RTT: 5 * time.Millisecond}
		switch w.siteA {
		case "down":
			inst.Reachability = probes.ReachUnreachable
			inst.Err = "dial tcp: connection refused"
		case "refusing":
			inst.Reachability = probes.ReachRefusing
			inst.SQLErrorNumber = 4060
		default:
			inst.Reachability = probes.ReachUp
			inst.ServerUTC = now
			db := probes.DatabaseSnapshot{Name: testDB, Exists: true, RecoveryModel: probes.RecoveryFull,
				UserAccess: probes.MultiUser}
			if name == w.principal {
				db.State = probes.DBOnline
				db.Mirroring = probes.Mirroring{Visibility: probes.MirroringPresent, Role: probes.MirroringRolePrincipal,
					State: probes.MirroringSynchronized, Safety: probes.SafetyFull}
				if w.mirror == "disconnected" {
					db.Mirroring.State = probes.MirroringDisconnected
				}
			} else {
				db.State = probes.DBRestoring
				db.Mirroring = probes.Mirroring{Visibility: probes.MirroringPresent, Role: probes.MirroringRoleMirror,
					State: probes.MirroringSynchronized, Safety: probes.SafetyFull}
			}
			if w.siteA == "fenced" {
				// Fenced after a promotion: out of the mirroring session, OFFLINE.
				db.State = probes.DBOffline
				db.Mirroring = probes.Mirroring{Visibility: probes.MirroringNotVisible}
			}
			inst.Databases = []probes.DatabaseSnapshot{db}
		}
		s.Instances = append(s.Instances, inst)
	}
	sec := probes.InstanceSnapshot{Name: "b1", Site: probes.SiteB, Role: probes.RoleSecondary,
		Started: now, Received: now.Add(2 * time.Millisecond), RTT: 2 * time.Millisecond}
	if w.secondary == "down" {
		sec.Reachability = probes.ReachUnreachable
	} else {
		sec.Reachability = probes.ReachUp
		sec.ServerUTC = now
		db := probes.DatabaseSnapshot{Name: testDB, Exists: true, State: probes.DBRestoring,
			Mirroring: probes.Mirroring{Visibility: probes.MirroringNotVisible}}
		if w.secondary == "writable" {
			db.State = probes.DBOnline
			db.Mirroring = probes.Mirroring{Visibility: probes.MirroringNotMirrored}
		}
		sec.Databases = []probes.DatabaseSnapshot{db}
	}
	s.Instances = append(s.Instances, sec)
	return s
}

package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/sqldr/sqldr/probes"
)

// TestDiagnoses: each finding is named, says whether it degrades
// protection, and a mirroring failover inside site A is not a disaster.
func TestDiagnoses(t *testing.T) {
	now := simStart
	okLoss := DataLoss{Known: true, Window: time.Minute}
	guid := func(b byte) probes.GUID { var g probes.GUID; g[0] = b; return g }
	cases := []struct {
		name  string
		w     func(*world)
		snap  func(*probes.Snapshot)
		loss  DataLoss
		prev  map[string]string
		want  DiagnosisName
		state State
	}{
		{"healthy", nil, nil, okLoss, nil, "", StateHealthy},
		{"mirror failed over inside site A", func(w *world) { w.principal = "a2" }, nil, okLoss,
			map[string]string{testDB: "a1"}, DiagMirrorFailedOver, StateHealthy},
		{"mirror disconnected", func(w *world) { w.mirror = "disconnected" }, nil, okLoss, nil, DiagMirrorNotSynchronized, StateDegraded},
		{"secondary down", func(w *world) { w.secondary = "down" }, nil, okLoss, nil, DiagSecondaryUnreachable, StateDegraded},
		{"partners refuse logins", func(w *world) { w.siteA = "refusing" }, nil, okLoss, nil, DiagNoPrincipal, StateDegraded},
		{"data-loss window unknown", nil, nil, DataLoss{}, nil, DiagDataLossUnknown, StateDegraded},
		{"over budget", nil, nil, DataLoss{Known: true, Window: 7 * time.Minute}, nil, DiagSecondaryBehindBudget, StateDegraded},
		{"log backups stopped", nil, func(s *probes.Snapshot) {
			s.Instances[0].Databases[0].LSPrimary = &probes.LSPrimaryMonitor{LastBackupUTC: now.Add(-20 * time.Minute),
				BackupThreshold: 15 * time.Minute}
		}, okLoss, nil, DiagLogShippingStalled, StateDegraded},
		{"restores stopped", nil, func(s *probes.Snapshot) {
			s.Instances[2].Databases[0].LSSecondary = &probes.LSSecondaryMonitor{LastRestoredUTC: now.Add(-50 * time.Minute),
				RestoreThreshold: 45 * time.Minute}
		}, okLoss, nil, DiagLogShippingStalled, StateDegraded},
		{"fork mismatch", nil, func(s *probes.Snapshot) {
			s.Instances[0].Databases[0].RecoveryForkGUID = guid(1)
			s.Instances[2].Databases[0].RedoStartForkGUID = guid(2)
		}, okLoss, nil, DiagForkMismatch, StateDegraded},
		{"two principals", nil, func(s *probes.Snapshot) {
			m := &s.Instances[1].Databases[0]
			m.State, m.Mirroring.Role, m.Mirroring.RoleSequence = probes.DBOnline, probes.MirroringRolePrincipal, 2
		}, okLoss, nil, DiagTwoPrincipals, StateDegraded},
		{"two writable copies", func(w *world) { w.secondary = "writable" }, nil, okLoss, nil, DiagTwoWritableCopies, StateDegraded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := healthyWorld()
			if tc.w != nil {
				tc.w(&w)
			}
			snap := w.snapshot(now)
			if tc.snap != nil {
				tc.snap(snap)
			}
			c := newSim(t, DefaultOptions(), knobs{}).c
			res, err := c.Decide(Status{State: StateHealthy, Principals: tc.prev}, Input{Snapshot: snap, DataLoss: tc.loss}, now)
			if err != nil {
				t.Fatal(err)
			}
			st := res.Status
			if st.State != tc.state {
				t.Errorf("state %s, want %s (diagnoses %v)", st.State, tc.state, st.Diagnoses)
			}
			names := make([]DiagnosisName, 0, len(st.Diagnoses))
			for _, d := range st.Diagnoses {
				names = append(names, d.Name)
				if d.Detail == "" {
					t.Errorf("%s has no detail", d.Name)
				}
			}
			if tc.want == "" {
				if len(names) != 0 {
					t.Fatalf("diagnoses %v, want none", st.Diagnoses)
				}
				return
			}
			if !slices.Contains(names, tc.want) {
				t.Fatalf("diagnoses %v, want %s", st.Diagnoses, tc.want)
			}
		})
	}
	t.Run("unreachable then down", func(t *testing.T) {
		w := healthyWorld()
		w.siteA = "down"
		c := newSim(t, DefaultOptions(), knobs{}).c
		for _, tc := range []struct {
			st   State
			want DiagnosisName
		}{{StateSiteSuspect, DiagPrimarySiteUnreachable}, {StateAwaitingApproval, DiagPrimarySiteDown}} {
			st := Status{State: tc.st, Outage: Outage{FirstFailed: now, Failures: 1}, Plan: &Plan{ID: "p", Created: now}}
			if tc.st == StateSiteSuspect {
				st.Plan = nil
			}
			res, err := c.Decide(st, Input{Snapshot: w.snapshot(now), DataLoss: okLoss}, now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Status.Diagnoses, func(d Diagnosis) bool { return d.Name == tc.want }) {
				t.Fatalf("in %s: diagnoses %v, want %s", tc.st, res.Status.Diagnoses, tc.want)
			}
		}
	})
}

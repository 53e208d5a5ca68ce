package lab

import (
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// MirrorSession is one database mirroring partnership. The two partners keep
// their own view of it (mirrorSide): each believes in a role with a role sequence
// number, and when they reconnect the higher sequence wins, as after a forced
// failover the old principal comes back as a suspended mirror.
type MirrorSession struct {
	guid      GUID
	db        string
	a, b      *Instance
	witness   *Instance
	safety    Safety
	safetySeq int32
	timeout   time.Duration
	suspended bool
}

// mirrorSide is one partner's view of the session.
type mirrorSide struct {
	s           *MirrorSession
	role        MirrorRole
	roleSeq     int32
	state       MirrorState
	failoverLSN LSN
	quorum      bool
	// lostAt is when this side lost its partner (zero while connected);
	// syncedAtLoss records whether the session was SYNCHRONIZED then.
	lostAt       time.Time
	syncedAtLoss bool
	removed      bool
	// recovering is set when an instance came back while this side was the
	// principal of a session with a witness: the database stays RECOVERING (not
	// served, never writable) until an exchange with the partner or the witness
	// has compared role sequences.
	recovering bool
}

func (t *Topology) startMirroring(p, m *Database, witness *Instance) {
	s := &MirrorSession{guid: t.newGUID(), db: p.name, a: p.inst, b: m.inst, witness: witness,
		safety: SafetyFull, safetySeq: 1, timeout: t.cfg.PartnerTimeout}
	if strings.EqualFold(t.cfg.Safety, "OFF") {
		s.safety = SafetyOff
	}
	p.mir = &mirrorSide{s: s, role: RolePrincipal, roleSeq: 1, state: MirrorSynchronizing, failoverLSN: m.endLSN, quorum: true}
	m.mir = &mirrorSide{s: s, role: RoleMirror, roleSeq: 1, state: MirrorSynchronizing, failoverLSN: m.endLSN, quorum: true}
	t.sessions = append(t.sessions, s)
}

// reachable reports whether a and b can talk (both running, link not cut).
func (t *Topology) reachable(a, b *Instance) bool {
	if a == nil || b == nil || !a.up() || !b.up() {
		return false
	}
	if a.remote && b.remote {
		// Split shape: the link is what the two processes report over TCP.
		return a.reach[strings.ToLower(b.name)] && b.reach[strings.ToLower(a.name)]
	}
	return !t.cuts[cutKey(a.name, b.name)]
}

func cutKey(a, b string) [2]string {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (s *MirrorSession) sides() (da, db *Database) {
	da, db = s.a.db(s.db), s.b.db(s.db)
	if da != nil && (da.mir == nil || da.mir.s != s) {
		da = nil
	}
	if db != nil && (db.mir == nil || db.mir.s != s) {
		db = nil
	}
	return da, db
}

func (s *MirrorSession) partnerOf(inst *Instance) *Instance {
	if inst == s.a {
		return s.b
	}
	return s.a
}

// stepMirroring runs one exchange of every session: reconnection and role
// resolution, log shipping, state, quorum and automatic failover.
func (t *Topology) stepMirroring() {
	for _, s := range t.sessions {
		da, db := s.sides()
		if da == nil && db == nil {
			continue
		}
		connected := t.reachable(s.a, s.b)
		if connected && (da == nil || db == nil || da.mir.removed || db.mir.removed) {
			// One side left the session (SET PARTNER OFF while apart): the other
			// learns it on reconnection and leaves too. The mirror stays RESTORING.
			for _, d := range []*Database{da, db} {
				if d != nil {
					t.leaveSession(d)
				}
			}
			continue
		}
		if da == nil || db == nil {
			continue
		}
		if connected {
			t.connectedExchange(s, da, db)
			continue
		}
		for _, d := range []*Database{da, db} {
			t.disconnectedSide(s, d)
		}
	}
}

func (t *Topology) connectedExchange(s *MirrorSession, da, db *Database) {
	// Role resolution: the side with the higher role sequence wins; the loser
	// becomes the mirror (RESTORING), suspended if it had diverged.
	if da.mir.roleSeq != db.mir.roleSeq || da.mir.role == db.mir.role {
		winner, loser := da, db
		if db.mir.roleSeq > da.mir.roleSeq || (db.mir.roleSeq == da.mir.roleSeq && db.mir.role == RolePrincipal && da.mir.role != RolePrincipal) {
			winner, loser = db, da
		}
		winner.mir.role = RolePrincipal
		loser.mir.role = RoleMirror
		loser.mir.roleSeq = winner.mir.roleSeq
		t.becomeMirror(loser)
		t.log.Info("lab_mirroring_rejoined", zap.String("database", s.db), zap.String("principal", winner.inst.name),
			zap.String("mirror", loser.inst.name))
	}
	p, m := da, db
	if db.mir.role == RolePrincipal {
		p, m = db, da
	}
	for _, d := range []*Database{p, m} {
		d.mir.lostAt = time.Time{}
		d.mir.quorum = true
	}
	t.quorumRegained(p)
	if s.suspended {
		p.mir.state, m.mir.state = MirrorSuspended, MirrorSuspended
		return
	}
	upTo := p.endLSN
	if s.safety == SafetyOff && t.cfg.AsyncDelay > 0 {
		cut := t.now.Add(-t.cfg.AsyncDelay)
		for i := len(p.rowTimes) - 1; i >= 0 && p.rowTimes[i].After(cut); i-- {
			upTo = p.rows[i].LSN
		}
	}
	caughtUp := m.forkGUID == p.forkGUID && m.endLSN.Cmp(p.endLSN) == 0
	t.shipLog(p, m, upTo)
	state := MirrorSynchronizing
	if caughtUp {
		state = MirrorSynchronized
	}
	p.mir.state, m.mir.state = state, state
	p.mir.failoverLSN, m.mir.failoverLSN = m.endLSN, m.endLSN
}

func (t *Topology) disconnectedSide(s *MirrorSession, d *Database) {
	side := d.mir
	if !d.inst.up() {
		return
	}
	if side.lostAt.IsZero() {
		side.lostAt = t.now
		side.syncedAtLoss = side.state == MirrorSynchronized
	}
	if s.suspended {
		side.state = MirrorSuspended
	} else {
		side.state = MirrorDisconnected
	}
	witnessOK := s.witness != nil && t.reachable(d.inst, s.witness)
	switch side.role {
	case RolePrincipal:
		// Without a witness the principal keeps serving ("running exposed", §8 Q13);
		// with one it needs the witness for quorum. The witness remembers the role
		// sequence: a principal that reaches the witness after the mirror took over
		// learns it was replaced and becomes the mirror.
		if witnessOK {
			if o := s.partnerOf(d.inst).db(s.db); o != nil && o.mir != nil && o.mir.s == s &&
				o.mir.role == RolePrincipal && o.mir.roleSeq > side.roleSeq {
				side.role, side.roleSeq = RoleMirror, o.mir.roleSeq
				t.becomeMirror(d)
				side.quorum = true
				t.log.Info("lab_mirroring_demoted_by_witness", zap.String("database", d.name), zap.String("instance", d.inst.name))
				return
			}
		}
		side.quorum = s.witness == nil || witnessOK
		if side.quorum {
			t.quorumRegained(d)
		}
	case RoleMirror:
		// Automatic failover (§1.5): high safety with a witness, synchronized when
		// the principal was lost, mirror and witness still in quorum, and the
		// principal silent for the partner timeout.
		principal := s.partnerOf(d.inst)
		if s.witness != nil && s.safety == SafetyFull && side.syncedAtLoss && witnessOK && !s.suspended &&
			!t.reachable(principal, s.witness) && t.now.Sub(side.lostAt) >= s.timeout {
			side.role = RolePrincipal
			side.roleSeq++
			side.quorum = true
			t.becomePrincipal(d)
			t.log.Info("lab_mirroring_automatic_failover", zap.String("database", d.name),
				zap.String("new_principal", d.inst.name), zap.String("old_principal", principal.name))
		}
	}
}

// shipLog brings the mirror's copy of the log up to upTo: it appends when the
// mirror's log is a prefix of the principal's, and otherwise replaces the mirror's
// log (after a forced failover the old principal's unsent log is thrown away).
func (t *Topology) shipLog(p, m *Database, upTo LSN) {
	if m.forkGUID == p.forkGUID && m.endLSN.Cmp(upTo) <= 0 {
		for i := p.firstRowAt(m.endLSN); i < len(p.rows) && p.rows[i].LSN.Cmp(upTo) < 0; i++ {
			m.rows = append(m.rows, p.rows[i])
			m.rowTimes = append(m.rowTimes, p.rowTimes[i])
		}
	} else {
		m.rows, m.rowTimes = nil, nil
		for i, r := range p.rows {
			if r.LSN.Cmp(upTo) < 0 {
				m.rows = append(m.rows, r)
				m.rowTimes = append(m.rowTimes, p.rowTimes[i])
			}
		}
		m.forkGUID, m.firstForkGUID, m.forkPointLSN, m.prevFork = p.forkGUID, p.firstForkGUID, p.forkPointLSN, p.prevFork
	}
	m.endLSN = upTo
	if p.endLSN.Cmp(upTo) == 0 {
		m.nextID = p.nextID
	} else if len(m.rows) > 0 {
		m.nextID = m.rows[len(m.rows)-1].ID + 1
	}
	if p.lastLogBackupLSN.IsZero() || p.lastLogBackupLSN.Cmp(upTo) <= 0 {
		m.lastLogBackupLSN = p.lastLogBackupLSN
	}
	m.fullBackupLSN = p.fullBackupLSN
}

// shipSync ships a commit at once when SAFETY FULL and the partners are connected.
func (t *Topology) shipSync(p *Database) {
	s := p.mir.s
	if s.safety != SafetyFull || s.suspended {
		return
	}
	partner := s.partnerOf(p.inst)
	m := partner.db(s.db)
	if m == nil || m.mir == nil || m.mir.s != s || m.mir.removed || !t.reachable(p.inst, partner) {
		return
	}
	t.shipLog(p, m, p.endLSN)
	p.mir.failoverLSN, m.mir.failoverLSN = m.endLSN, m.endLSN
}

func (t *Topology) becomePrincipal(d *Database) {
	d.state, d.standby, d.readOnly = StateOnline, false, false
	if d.mir != nil {
		d.mir.recovering = false
	}
}

func (t *Topology) becomeMirror(d *Database) {
	d.state, d.standby, d.readOnly = StateRestoring, false, false
	if d.mir != nil {
		d.mir.recovering = false
	}
	d.inst.killSessionsIn(d.name, nil)
}

func (t *Topology) leaveSession(d *Database) {
	d.mir = nil
}

// sessionActive reports whether d is in a mirroring session (either role).
func (d *Database) inMirroring() bool { return d.mir != nil && !d.mir.removed }

// SetPartner runs ALTER DATABASE db SET PARTNER <option> on this instance. option
// is FAILOVER, FORCE_SERVICE_ALLOW_DATA_LOSS, OFF, SUSPEND, RESUME, SAFETY FULL,
// SAFETY OFF or TIMEOUT n (arg holds n).
func (sess *Session) SetPartner(db, option string, arg int) error {
	i := sess.inst
	t := i.topo
	defer t.lockSynced()()
	d, errs := sess.target(db, errAlterPermission, alterFailed())
	if errs != nil {
		return errs
	}
	if !d.inMirroring() {
		return Errors{errNotMirrored(d.name), alterFailed()}
	}
	side, s := d.mir, d.mir.s
	partner := s.partnerOf(i)
	pd := partner.db(s.db)
	connected := t.reachable(i, partner) && pd != nil && pd.mir != nil && pd.mir.s == s && !pd.mir.removed
	opt := strings.ToUpper(strings.Join(strings.Fields(option), " "))
	switch opt {
	case "FAILOVER":
		if side.role != RolePrincipal {
			return Errors{errPrincipalOnly(d.name), alterFailed()}
		}
		if s.safety != SafetyFull {
			return Errors{errSafetyNotFull(d.name), alterFailed()}
		}
		if !connected {
			return Errors{errNeedBothPartners(d.name), alterFailed()}
		}
		if side.state != MirrorSynchronized || pd.endLSN.Cmp(d.endLSN) != 0 {
			return Errors{errNotCaughtUp(d.name), alterFailed()}
		}
		side.roleSeq++
		pd.mir.roleSeq = side.roleSeq
		side.role, pd.mir.role = RoleMirror, RolePrincipal
		t.becomeMirror(d)
		t.becomePrincipal(pd)
		side.state, pd.mir.state = MirrorSynchronizing, MirrorSynchronizing
		t.log.Info("lab_mirroring_manual_failover", zap.String("database", d.name), zap.String("new_principal", partner.name))
	case "FORCE_SERVICE_ALLOW_DATA_LOSS":
		witnessOK := s.witness == nil || t.reachable(i, s.witness)
		if side.role != RoleMirror || connected || !witnessOK {
			return Errors{errCannotForce(d.name), alterFailed()}
		}
		side.role = RolePrincipal
		side.roleSeq++
		s.suspended = true
		side.state = MirrorSuspended
		side.quorum = true
		d.prevFork = d.forkGUID
		d.forkPointLSN = d.endLSN
		d.forkGUID = t.newGUID()
		t.becomePrincipal(d)
		t.log.Info("lab_mirroring_forced_service", zap.String("database", d.name), zap.String("new_principal", i.name),
			zap.Stringer("fork_point_lsn", d.forkPointLSN))
	case "OFF":
		if side.recovering && d.state == StateRecovering {
			// Leaving the session ends the wait for quorum: the database is served on its own.
			d.state = StateOnline
		}
		side.removed = true
		d.mir = nil
		if connected {
			pd.mir = nil
		}
		t.log.Info("lab_mirroring_removed", zap.String("database", d.name), zap.String("instance", i.name))
	case "SUSPEND":
		s.suspended = true
		side.state = MirrorSuspended
		if connected {
			pd.mir.state = MirrorSuspended
		}
	case "RESUME":
		// The docs disagree on where RESUME may run; the lab accepts it on either
		// partner (docs/lab.md).
		s.suspended = false
		side.state = MirrorSynchronizing
		if connected {
			pd.mir.state = MirrorSynchronizing
		}
	case "SAFETY FULL", "SAFETY OFF":
		if side.role != RolePrincipal {
			return Errors{errPrincipalOnly(d.name), alterFailed()}
		}
		s.safety = SafetyFull
		if opt == "SAFETY OFF" {
			s.safety = SafetyOff
		}
		s.safetySeq++
	case "TIMEOUT":
		if side.role != RolePrincipal {
			return Errors{errPrincipalOnly(d.name), alterFailed()}
		}
		if arg > 32767 {
			return Errors{sqlErr(1476, 16, 1, "Database mirroring timeout value %d exceeds the maximum value 32767.", arg), alterFailed()}
		}
		if arg < 5 {
			arg = 5
		}
		s.timeout = time.Duration(arg) * time.Second
	default:
		return Errors{sqlErr(102, 15, 1, "Incorrect syntax near '%s'.", option)}
	}
	return nil
}

// firstRowAt is the index of the first row whose LSN is at or after lsn (rows
// are in LSN order).
func (d *Database) firstRowAt(lsn LSN) int {
	return sort.Search(len(d.rows), func(i int) bool { return d.rows[i].LSN.Cmp(lsn) >= 0 })
}

// restarted is called when an instance comes back (process restarted, presence
// returned, hung instance woke up), in-process and in the split shape alike: until
// its first exchange with a partner or the witness, a mirrored database with a
// witness has no quorum, and a former principal's database is RECOVERING — not
// served and never writable — because it cannot know yet whether the mirror took
// over meanwhile (a restarted principal shows "Principal, Disconnected / In
// Recovery" until the session reconnects).
func (t *Topology) restarted(i *Instance) {
	for _, d := range i.dbs {
		if d.mir == nil || d.mir.removed {
			continue
		}
		d.mir.state = MirrorDisconnected
		d.mir.lostAt = time.Time{}
		if d.mir.s.witness != nil {
			d.mir.quorum = false
			if d.mir.role == RolePrincipal && d.state == StateOnline {
				d.state = StateRecovering
				d.mir.recovering = true
			}
		}
	}
}

// quorumRegained is called when principal d has quorum again after an exchange:
// a database held RECOVERING since its instance came back is served again.
func (t *Topology) quorumRegained(d *Database) {
	if d.mir == nil || !d.mir.recovering {
		return
	}
	d.mir.recovering = false
	if d.mir.role == RolePrincipal && d.state == StateRecovering {
		d.state = StateOnline
		t.log.Info("lab_mirroring_quorum_regained", zap.String("database", d.name), zap.String("instance", d.inst.name))
	}
}

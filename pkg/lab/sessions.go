package lab

import (
	"strings"
)

// Session is one client connection's server-side state: its login, its current
// database, and a hook the network layer installs to drop the connection when
// the lab kills the session (ROLLBACK IMMEDIATE, failover, instance down).
type Session struct {
	inst   *Instance
	spid   int32
	login  Login
	db     string
	killed bool
	onKill func()
}

// SPID is the session id (@@SPID).
func (s *Session) SPID() int32 { return s.spid }

// Login is the session's login.
func (s *Session) Login() Login { return s.login }

// Database is the current database name.
func (s *Session) Database() string {
	s.inst.topo.mu.Lock()
	defer s.inst.topo.mu.Unlock()
	return s.db
}

// Killed reports whether the lab ended the session.
func (s *Session) Killed() bool {
	s.inst.topo.mu.Lock()
	defer s.inst.topo.mu.Unlock()
	return s.killed
}

// Instance is the instance the session is connected to.
func (s *Session) Instance() *Instance { return s.inst }

// Connect opens a session for login with initialDB as its database ("" means
// master). A database that cannot be opened refuses the login with 4060 then
// 18456 (SQLSERVER.md §8 Q1). onKill may be nil.
func (i *Instance) Connect(login Login, initialDB string, onKill func()) (*Session, error) {
	t := i.topo
	defer t.lockSynced()()
	if initialDB == "" {
		initialDB = "master"
	}
	d := i.db(initialDB)
	if d == nil || d.openErr(nil) != nil {
		return nil, Errors{
			sqlErr(4060, 11, 1, "Cannot open database \"%s\" requested by the login. The login failed.", initialDB),
			sqlErr(18456, 14, 1, "Login failed for user '%s'.", login.Name),
		}
	}
	s := &Session{inst: i, spid: i.nextSPID, login: login, db: d.name, onKill: onKill}
	i.nextSPID++
	i.sessions[s.spid] = s
	return s, nil
}

// Close ends the session.
func (s *Session) Close() {
	s.inst.topo.mu.Lock()
	defer s.inst.topo.mu.Unlock()
	delete(s.inst.sessions, s.spid)
}

// Use switches the session's database (USE db), with the documented errors for
// databases that cannot be opened (911, 927, 942, 954, 955, 924).
func (s *Session) Use(db string) error {
	t := s.inst.topo
	defer t.lockSynced()()
	d := s.inst.db(db)
	if d == nil {
		return Errors{errDBNotExist(db)}
	}
	if err := d.openErr(s); err != nil {
		return Errors{*err}
	}
	s.db = d.name
	return nil
}

// openErr says why a session cannot open d (nil when it can). self is the session
// asking, which does not count against SINGLE_USER.
func (d *Database) openErr(self *Session) *SQLError {
	if e := d.readErr(); e != nil {
		return e
	}
	if d.access == SingleUser && d.inst.sessionsIn(d.name, self) > 0 {
		e := sqlErr(924, 14, 1, "Database '%s' is already open and can only have one user at a time.", d.name)
		return &e
	}
	return nil
}

// readErr says why d cannot be read at all.
func (d *Database) readErr() *SQLError {
	var e SQLError
	switch {
	case d.state == StateOffline:
		e = errOffline(d.name)
	case d.mir != nil && d.mir.role == RoleMirror && !d.mir.removed:
		e = errActingAsMirror(d.name)
	case d.state == StateRestoring:
		e = errRestoring(d.name)
	case d.mir != nil && d.mir.role == RolePrincipal && !d.mir.quorum:
		e = errNoQuorum(d.name)
	default:
		return nil
	}
	return &e
}

// writableErr says why d cannot be written.
func (d *Database) writableErr() *SQLError {
	if e := d.readErr(); e != nil {
		return e
	}
	if d.standby || d.readOnly {
		e := errReadOnly(d.name)
		return &e
	}
	return nil
}

// sessionsIn counts sessions whose current database is db, except self.
func (i *Instance) sessionsIn(db string, self *Session) int {
	n := 0
	for _, s := range i.sessions {
		if (self == nil || s.spid != self.spid) && !s.killed && strings.EqualFold(s.db, db) {
			n++
		}
	}
	return n
}

// killSessionsIn ends every session in db except self.
func (i *Instance) killSessionsIn(db string, self *Session) {
	for _, s := range i.sessions {
		if (self == nil || s.spid != self.spid) && strings.EqualFold(s.db, db) {
			i.kill(s)
		}
	}
}

func (i *Instance) killAll() {
	for _, s := range i.sessions {
		i.kill(s)
	}
}

func (i *Instance) kill(s *Session) {
	s.killed = true
	delete(i.sessions, s.spid)
	if s.onKill != nil {
		go s.onKill()
	}
}

package integration

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver
)

// queryOne runs q on a fresh connection and returns the first column of the first row as text.
func queryOne(dsn, q string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer func() { _ = db.Close() }()
	var v sql.NullString
	if err := db.QueryRowContext(ctx, q, args...).Scan(&v); err != nil {
		return "", fmt.Errorf("query %q: %w", q, err)
	}
	return v.String, nil
}

// exec runs a statement on a fresh connection.
func execSQL(dsn, q string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("exec %q: %w", q, err)
	}
	return nil
}

// stmtWritable counts the copies of a database that are writable on an instance: ONLINE,
// READ_WRITE, not in STANDBY (DESIGN.md "Never two writable copies").
const stmtWritable = `SELECT COUNT(*) FROM sys.databases WHERE name = @p1 AND state_desc = N'ONLINE' AND is_read_only = 0 AND is_in_standby = 0`

// roundTimeout bounds one sampler query.
const roundTimeout = 1500 * time.Millisecond

// sampler checks, all along a scenario, that at no moment two instances hold a writable copy of
// the protected database. Every round queries every instance in parallel through the management
// path, each query bounded; an instance that does not answer (killed, paused, cut) holds no copy
// anyone can write to through it, so it counts as not writable.
type sampler struct {
	e        *estate
	database string
	names    []string
	cancel   context.CancelFunc
	done     chan struct{}

	mu         sync.Mutex
	rounds     int
	violations []string
	violAt     []time.Time
	writable   map[string]int // rounds in which each instance was writable
	checked    bool
	last       map[string]string
	timeline   []string
}

// sample starts a sampler over every lab instance; stop it with (*sampler).stop.
func (e *estate) sample(database string) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{e: e, database: database, cancel: cancel, done: make(chan struct{}), writable: map[string]int{}, last: map[string]string{}}
	for _, i := range labInstances {
		s.names = append(s.names, i.Name)
	}
	go s.loop(ctx)
	e.t.Cleanup(func() {
		// A test that stopped early (t.Fatal) still reports what the sampler saw.
		s.halt()
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.checked && len(s.violations) > 0 {
			e.t.Errorf("two writable copies of %s (seen before the test stopped):\n%s\ntimeline:\n%s", s.database,
				strings.Join(s.violations, "\n"), strings.Join(s.timeline, "\n"))
		}
	})
	return s
}

func (s *sampler) loop(ctx context.Context) {
	defer close(s.done)
	type answer struct {
		name     string
		writable bool
		err      error
	}
	dbs := map[string]*sql.DB{}
	var dbMu sync.Mutex
	busy := map[string]*atomic.Bool{}
	for _, n := range s.names {
		busy[n] = &atomic.Bool{}
	}
	var inflight sync.WaitGroup
	defer func() {
		inflight.Wait()
		for _, db := range dbs {
			_ = db.Close()
		}
	}()
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		// One round: every instance that is not still busy with an earlier query is asked at once;
		// the round waits at most roundTimeout. An instance that does not answer in time (paused,
		// cut, killed) counts as not writable in this round; its query finishes in the background
		// and the instance is skipped until it has.
		answers := make(chan answer, len(s.names))
		asked := 0
		for _, n := range s.names {
			if busy[n].Load() {
				continue
			}
			dbMu.Lock()
			db := dbs[n]
			dbMu.Unlock()
			if db == nil {
				dsn, err := s.e.dsn(n)
				if err != nil {
					continue
				}
				if db, err = sql.Open("sqlserver", dsn); err != nil {
					continue
				}
				db.SetMaxOpenConns(1)
				db.SetConnMaxIdleTime(2 * time.Second)
				dbMu.Lock()
				dbs[n] = db
				dbMu.Unlock()
			}
			busy[n].Store(true)
			asked++
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer busy[n].Store(false)
				qctx, cancel := context.WithTimeout(ctx, roundTimeout)
				defer cancel()
				var c int
				err := db.QueryRowContext(qctx, stmtWritable, s.database).Scan(&c)
				if err != nil {
					// Perhaps a restarted container with a new published port: reopen next time.
					dbMu.Lock()
					if dbs[n] == db {
						delete(dbs, n)
						_ = db.Close()
					}
					dbMu.Unlock()
				}
				answers <- answer{n, err == nil && c > 0, err}
			}()
		}
		got := map[string]answer{}
		deadline := time.NewTimer(roundTimeout + 100*time.Millisecond)
	collect:
		for len(got) < asked {
			select {
			case a := <-answers:
				got[a.name] = a
			case <-deadline.C:
				break collect
			}
		}
		deadline.Stop()
		var w []string
		s.mu.Lock()
		if ctx.Err() == nil {
			for _, n := range s.names {
				a, ok := got[n]
				st := "no answer"
				switch {
				case ok && a.writable:
					st = "writable"
					w = append(w, n)
				case ok && a.err == nil:
					st = "not writable"
				}
				if s.last[n] != st {
					s.last[n] = st
					detail := ""
					if ok && a.err != nil {
						detail = " (" + a.err.Error() + ")"
					}
					s.timeline = append(s.timeline, fmt.Sprintf("%s %s %s%s", time.Now().UTC().Format("15:04:05.000"), n, st, detail))
				}
			}
			s.rounds++
			for _, n := range w {
				s.writable[n]++
			}
			if len(w) > 1 {
				s.violations = append(s.violations, fmt.Sprintf("%s: %s writable at once", time.Now().UTC().Format("15:04:05.000"), strings.Join(w, ", ")))
				s.violAt = append(s.violAt, time.Now())
			}
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// settle waits until two more rounds have completed, so that what the test just did is seen.
func (s *sampler) settle(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	r0 := s.rounds
	s.mu.Unlock()
	eventually(t, 20*time.Second, 50*time.Millisecond, "two more sampler rounds", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.rounds < r0+2 {
			return errNotYet
		}
		return nil
	})
}

func (s *sampler) halt() {
	s.cancel()
	<-s.done
}

// check stops the sampler and fails the test if two copies were ever writable at once, or if it
// sampled too little to mean anything.
func (s *sampler) check(t *testing.T) {
	t.Helper()
	s.settle(t)
	s.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = true
	if s.rounds < 10 {
		t.Errorf("sampler: only %d rounds: the invariant was not watched", s.rounds)
	}
	for _, v := range s.violations {
		t.Errorf("two writable copies of %s: %s", s.database, v)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("sampler timeline:\n%s", strings.Join(s.timeline, "\n"))
	}
	t.Logf("sampler: %d rounds, writable rounds per instance %v, violations %d", s.rounds, s.writable, len(s.violations))
}

// proveWritable shows with an INSERT that the database is writable on want and on no other
// instance that answers.
func (e *estate) proveWritable(database, want string) {
	e.t.Helper()
	for _, i := range labInstances {
		dsn, err := e.dsn(i.Name)
		if err != nil {
			if i.Name == want {
				e.t.Errorf("the writable copy's instance %s has no published port: %v", want, err)
			}
			continue // a stopped container has no published port: nobody writes through it
		}
		err = execSQL(dsn, "INSERT INTO "+database+".dbo.messages (body) VALUES (N'itest "+i.Name+"')")
		switch {
		case i.Name == want && err != nil:
			e.t.Errorf("INSERT on %s, which should be the writable copy: %v", i.Name, err)
		case i.Name != want && err == nil:
			e.t.Errorf("INSERT on %s succeeded: a second writable copy", i.Name)
		}
	}
}

// checkFenced is check for the one scenario where a second writable copy is the premise: an old
// principal that comes back ONLINE by itself after the promotion is writable until the controller
// fences it. Two writable copies are tolerated only in one stretch no longer than maxOverlap, and
// never again after it.
func (s *sampler) checkFenced(t *testing.T, maxOverlap time.Duration) {
	t.Helper()
	s.settle(t)
	s.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = true
	if s.rounds < 10 {
		t.Errorf("sampler: only %d rounds: the invariant was not watched", s.rounds)
	}
	if n := len(s.violAt); n > 0 {
		if span := s.violAt[n-1].Sub(s.violAt[0]); span > maxOverlap {
			t.Errorf("two writable copies over %s (from %s to %s), want the fence within %s", span.Round(time.Millisecond),
				s.violations[0], s.violations[n-1], maxOverlap)
		}
	}
	t.Logf("sampler: %d rounds, writable rounds per instance %v, rounds with two writable copies %d", s.rounds, s.writable, len(s.violAt))
	if t.Failed() || testing.Verbose() {
		t.Logf("sampler timeline:\n%s", strings.Join(s.timeline, "\n"))
	}
}

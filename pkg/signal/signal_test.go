package signal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

var (
	now         = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	planCreated = now.Add(-10 * time.Minute)
)

// put writes a signal file with the given body and modification time.
func put(t *testing.T, dir string, k Kind, body string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(dir, k.String())
	if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// override lets a test pretend a path has another owner or mode.
type override struct {
	uid, gid *uint32
	mode     *os.FileMode
}

func statWith(over map[string]override) StatFunc {
	return func(path string) (FileInfo, error) {
		fi, err := lstat(path)
		if err != nil {
			return fi, err
		}
		if o, ok := over[filepath.Base(path)]; ok {
			if o.uid != nil {
				fi.UID = *o.uid
			}
			if o.gid != nil {
				fi.GID = *o.gid
			}
			if o.mode != nil {
				fi.Mode = *o.mode
			}
		}
		return fi, nil
	}
}

func u32(v uint32) *uint32 { return &v }

func newReader(t *testing.T, dir string, mod func(*Options)) *Reader {
	t.Helper()
	opts := Options{Dir: dir, DaemonUID: uint32(os.Getuid()), ApprovalTTL: 15 * time.Minute}
	if mod != nil {
		mod(&opts)
	}
	r, err := NewReader(zap.NewNop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func signalDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "signals")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}

func pending(plan string) Expect { return Expect{PendingPlan: plan, PlanCreated: planCreated} }

func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestApprovalAcceptedAndConsumedOnce(t *testing.T) {
	dir := signalDir(t)
	r := newReader(t, dir, nil)
	put(t, dir, KindApprove, "plan: P-1\n", now.Add(-time.Minute))
	sc, err := r.Scan(now, pending("P-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Accepted) != 1 || sc.Accepted[0].Kind != KindApprove || sc.Accepted[0].Plan != "P-1" || len(sc.Rejected) != 0 {
		t.Fatalf("scan = %+v", sc)
	}
	names := files(t, dir)
	if len(names) != 1 || !strings.HasPrefix(names[0], "approve.consumed.P-1.") {
		t.Fatalf("files after consume = %v", names)
	}
	sc, err = r.Scan(now.Add(time.Second), pending("P-1"))
	if err != nil || len(sc.Accepted) != 0 || len(sc.Rejected) != 0 {
		t.Fatalf("second scan = %+v, %v; a consumed approval counted twice", sc, err)
	}
	if r.AcceptedCounts()[KindApprove] != 1 {
		t.Fatalf("accepted counts = %v", r.AcceptedCounts())
	}
}

func TestRejections(t *testing.T) {
	gidOps := uint32(4242)
	worldWritable := os.FileMode(0o646)
	cases := []struct {
		name   string
		kind   Kind
		body   string
		mtime  time.Time
		exp    Expect
		over   map[string]override
		ops    *uint32
		reason Reason
	}{
		{"wrong plan", KindApprove, "plan: P-2", now, pending("P-1"), nil, nil, ReasonWrongPlan},
		{"older than the plan", KindApprove, "plan: P-1", planCreated.Add(-time.Second), pending("P-1"), nil, nil, ReasonStale},
		{"older than approval_ttl", KindApprove, "plan: P-1", now.Add(-16 * time.Minute), Expect{PendingPlan: "P-1", PlanCreated: now.Add(-time.Hour)}, nil, nil, ReasonStale},
		{"empty", KindApprove, "", now, pending("P-1"), nil, nil, ReasonMalformed},
		{"two lines", KindApprove, "plan: P-1\nplan: P-1\n", now, pending("P-1"), nil, nil, ReasonMalformed},
		{"wrong key", KindApprove, "plans: P-1", now, pending("P-1"), nil, nil, ReasonMalformed},
		{"bad plan id", KindApprove, "plan: ../../etc", now, pending("P-1"), nil, nil, ReasonMalformed},
		{"too large", KindApprove, "plan: P-1\n" + strings.Repeat(" ", 5000), now, pending("P-1"), nil, nil, ReasonMalformed},
		{"no plan pending", KindApprove, "plan: P-1", now, Expect{}, nil, nil, ReasonNothingToDo},
		{"ack of another plan", KindAck, "plan: P-1", now, Expect{AckPlan: "P-0", AckPlanCreated: planCreated}, nil, nil, ReasonWrongPlan},
		{"retry without failure", KindRetry, "plan: P-1", now, pending("P-1"), nil, nil, ReasonNothingToDo},
		{"wrong owner", KindApprove, "plan: P-1", now, pending("P-1"),
			map[string]override{"approve": {uid: u32(1234), gid: u32(1234)}}, nil, ReasonWrongOwner},
		{"wrong owner, other group", KindApprove, "plan: P-1", now, pending("P-1"),
			map[string]override{"approve": {uid: u32(1234), gid: u32(1234)}}, &gidOps, ReasonWrongOwner},
		{"file writable by others", KindApprove, "plan: P-1", now, pending("P-1"),
			map[string]override{"approve": {mode: &worldWritable}}, nil, ReasonWrongOwner},
		{"directory writable by others", KindApprove, "plan: P-1", now, pending("P-1"),
			map[string]override{"signals": {mode: ptrMode(os.ModeDir | 0o777)}}, nil, ReasonUnsafeDir},
		{"directory owned by a stranger", KindApprove, "plan: P-1", now, pending("P-1"),
			map[string]override{"signals": {uid: u32(1234), gid: u32(1234)}}, nil, ReasonUnsafeDir},
		{"pause in unsafe directory", KindPause, "", now, Expect{},
			map[string]override{"signals": {mode: ptrMode(os.ModeDir | 0o777)}}, nil, ReasonUnsafeDir},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := signalDir(t)
			put(t, dir, tc.kind, tc.body, tc.mtime)
			r := newReader(t, dir, func(o *Options) {
				o.Stat = statWith(tc.over)
				o.OperatorsGID = tc.ops
			})
			sc, err := r.Scan(now, tc.exp)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Accepted) != 0 || sc.Paused {
				t.Fatalf("invalid signal accepted: %+v", sc)
			}
			if len(sc.Rejected) != 1 || sc.Rejected[0].Reason != tc.reason || sc.Rejected[0].Detail == "" {
				t.Fatalf("rejected = %+v, want one %s with a detail", sc.Rejected, tc.reason)
			}
			names := files(t, dir)
			want := tc.kind.String() + ".rejected." + string(tc.reason) + "."
			if len(names) != 1 || !strings.HasPrefix(names[0], want) {
				t.Fatalf("files = %v, want the signal moved to %s*", names, want)
			}
			if got := r.RejectedCounts()[tc.reason]; got != 1 {
				t.Fatalf("rejected count for %s = %d", tc.reason, got)
			}
		})
	}
}

func ptrMode(m os.FileMode) *os.FileMode { return &m }

func TestOperatorsGroupAccepted(t *testing.T) {
	dir := signalDir(t)
	put(t, dir, KindAck, "plan: P-1", now)
	gid := uint32(4242)
	r := newReader(t, dir, func(o *Options) {
		o.OperatorsGID = &gid
		o.Stat = statWith(map[string]override{"ack": {uid: u32(1234), gid: u32(4242)}})
	})
	sc, err := r.Scan(now, Expect{AckPlan: "P-1", AckPlanCreated: planCreated})
	if err != nil || len(sc.Accepted) != 1 || sc.Accepted[0].Kind != KindAck {
		t.Fatalf("scan = %+v, %v", sc, err)
	}
}

func TestSymlinkRejected(t *testing.T) {
	dir := signalDir(t)
	target := filepath.Join(t.TempDir(), "real")
	if err := os.WriteFile(target, []byte("plan: P-1"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "approve")); err != nil {
		t.Fatal(err)
	}
	sc, err := newReader(t, dir, nil).Scan(now, pending("P-1"))
	if err != nil || len(sc.Accepted) != 0 || len(sc.Rejected) != 1 || sc.Rejected[0].Reason != ReasonNotRegular {
		t.Fatalf("scan = %+v, %v", sc, err)
	}
}

func TestPause(t *testing.T) {
	dir := signalDir(t)
	r := newReader(t, dir, nil)
	if sc, err := r.Scan(now, Expect{}); err != nil || sc.Paused {
		t.Fatalf("no pause file: %+v %v", sc, err)
	}
	if err := Write(dir, KindPause, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // pause is a level, not consumed
		sc, err := r.Scan(now.Add(time.Minute), Expect{})
		if err != nil || !sc.Paused {
			t.Fatalf("scan %d: %+v %v", i, sc, err)
		}
	}
	// A pause set long ago still holds: it is not subject to approval_ttl.
	old := now.Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "pause"), old, old); err != nil {
		t.Fatal(err)
	}
	if sc, err := r.Scan(now, Expect{}); err != nil || !sc.Paused || len(sc.Rejected) != 0 {
		t.Fatalf("old pause file: %+v %v", sc, err)
	}
	if err := RemovePause(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemovePause(dir); err != nil {
		t.Fatalf("second resume: %v", err)
	}
	if sc, _ := r.Scan(now, Expect{}); sc.Paused {
		t.Fatal("still paused after resume")
	}
}

func TestMissingDirectoryIsNoSignal(t *testing.T) {
	r := newReader(t, filepath.Join(t.TempDir(), "absent"), nil)
	sc, err := r.Scan(now, pending("P-1"))
	if err != nil || sc.Paused || len(sc.Accepted)+len(sc.Rejected) != 0 {
		t.Fatalf("scan = %+v, %v", sc, err)
	}
}

func TestWriteThenScan(t *testing.T) {
	dir := signalDir(t)
	if err := Write(dir, KindApprove, "P-9"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "approve"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, want 0640", fi.Mode().Perm())
	}
	if names := files(t, dir); len(names) != 1 {
		t.Fatalf("temporary file left behind: %v", names)
	}
	// The real clock here: the file was just written.
	wnow := fi.ModTime().Add(time.Second)
	sc, err := newReader(t, dir, nil).Scan(wnow, Expect{PendingPlan: "P-9", PlanCreated: fi.ModTime().Add(-time.Minute)})
	if err != nil || len(sc.Accepted) != 1 || sc.Accepted[0].Plan != "P-9" {
		t.Fatalf("scan = %+v, %v", sc, err)
	}
	for _, bad := range []struct {
		k    Kind
		plan string
	}{{KindApprove, ""}, {KindRetry, "a b"}, {KindUnknown, "P-1"}} {
		if err := Write(dir, bad.k, bad.plan); err == nil {
			t.Errorf("Write(%s, %q) accepted", bad.k, bad.plan)
		}
	}
	if err := Write(filepath.Join(dir, "nope"), KindAck, "P-1"); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

func TestParse(t *testing.T) {
	good := map[string]string{"plan: P-1": "P-1", "\n  plan:P-1  \n\n": "P-1", "plan: 20261128T120000Z-mgc": "20261128T120000Z-mgc"}
	for in, want := range good {
		if got, err := Parse([]byte(in)); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "P-1", "plan:", "plan: a/b", "id: P-1", "plan: " + strings.Repeat("x", 65)} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestNewReaderValidation(t *testing.T) {
	if _, err := NewReader(zap.NewNop(), Options{}); err == nil {
		t.Error("empty Dir accepted")
	}
	if _, err := NewReader(zap.NewNop(), Options{Dir: "x", ApprovalTTL: -time.Second}); err == nil || !strings.Contains(err.Error(), "approval_ttl") {
		t.Errorf("negative TTL: %v", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindApprove: "approve", KindAck: "ack", KindRetry: "retry", KindPause: "pause", Kind(99): "kind(99)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

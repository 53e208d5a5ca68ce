package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type payload struct {
	Step  int    `json:"step"`
	State string `json:"state"`
}

func open(t *testing.T, dir string, fsys FS) *Store {
	t.Helper()
	s, err := Open(zap.NewNop(), Options{Dir: dir, FS: fsys})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	if found, _, err := s.Status(&payload{}); found || err != nil {
		t.Fatalf("fresh dir: found=%v err=%v", found, err)
	}
	for i := 1; i <= 3; i++ {
		r, err := s.Append("step_end", t0.Add(time.Duration(i)*time.Second), payload{Step: i})
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i) {
			t.Fatalf("seq = %d, want %d", r.Seq, i)
		}
	}
	if err := s.WriteStatus(payload{State: "Promoting", Step: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("step_start", t0, payload{Step: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir, nil)
	var st payload
	found, seq, err := s2.Status(&st)
	if !found || err != nil || st.State != "Promoting" || seq != 3 {
		t.Fatalf("status = %+v found=%v seq=%d err=%v", st, found, seq, err)
	}
	if got := len(s2.Records()); got != 4 {
		t.Fatalf("records = %d, want 4", got)
	}
	after := s2.RecordsAfter(seq)
	if len(after) != 1 || after[0].Kind != "step_start" {
		t.Fatalf("records after status = %+v", after)
	}
	var p payload
	if err := after[0].Decode(&p); err != nil || p.Step != 4 {
		t.Fatalf("decode = %+v, %v", p, err)
	}
	if s2.Seq() != 4 {
		t.Fatalf("Seq = %d", s2.Seq())
	}
	if _, err := s2.Append("x", t0, nil); err != nil {
		t.Fatal(err)
	}
	if s2.Seq() != 5 {
		t.Fatalf("Seq after append = %d", s2.Seq())
	}
}

func TestSecondOpenerIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	_, err := Open(zap.NewNop(), Options{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q does not name the directory", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(zap.NewNop(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = s3.Close()
}

func TestMissingStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	_, err := Open(zap.NewNop(), Options{Dir: dir})
	if !errors.Is(err, ErrStateDirMissing) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want ErrStateDirMissing naming %s", err, dir)
	}
	if _, err := Open(zap.NewNop(), Options{}); err == nil {
		t.Fatal("empty Dir accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(zap.NewNop(), Options{Dir: f}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as dir: err = %v", err)
	}
}

// writeJournal makes a journal with n good records and returns its bytes.
func writeJournal(t *testing.T, dir string, n int) []byte {
	t.Helper()
	s := open(t, dir, nil)
	for i := 0; i < n; i++ {
		if _, err := s.Append("k", t0, payload{Step: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIntegrity(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func([]byte) []byte
		want     error
		wantLine int
	}{
		{"torn last line", func(b []byte) []byte { return b[:len(b)-7] }, ErrTornTail, 3},
		{"last line without newline", func(b []byte) []byte { return b[:len(b)-1] }, ErrTornTail, 3},
		{"garbage appended", func(b []byte) []byte { return append(b, []byte("{\"len\":")...) }, ErrTornTail, 4},
		{"flipped byte in middle record", func(b []byte) []byte {
			lines := bytes.SplitAfter(b, []byte("\n"))
			lines[1] = bytes.Replace(lines[1], []byte(`"step":1`), []byte(`"step":7`), 1)
			return bytes.Join(lines, nil)
		}, ErrCorrupt, 2},
		{"flipped byte in last record", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"step":2`), []byte(`"step":9`), 1)
		}, ErrTornTail, 3},
		{"record removed (sequence gap)", func(b []byte) []byte {
			lines := bytes.SplitAfter(b, []byte("\n"))
			return bytes.Join(lines[1:], nil)
		}, ErrCorrupt, 1},
		{"not JSON", func(b []byte) []byte { return append([]byte("hello\n"), b...) }, ErrCorrupt, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := writeJournal(t, dir, 3)
			if err := os.WriteFile(filepath.Join(dir, JournalFile), tc.mutate(b), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(zap.NewNop(), Options{Dir: dir})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open accepted a damaged journal")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ie *IntegrityError
			if !errors.As(err, &ie) || ie.Line != tc.wantLine {
				t.Fatalf("err = %#v, want line %d", err, tc.wantLine)
			}
			// The lock is released after a refused Open.
			s2, err := Open(zap.NewNop(), Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			_ = s2.Close()
			if _, err := Open(zap.NewNop(), Options{Dir: dir}); errors.Is(err, ErrLocked) {
				t.Fatal("refused Open kept the lock")
			}
		})
	}
}

func TestStatusIntegrity(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		s := open(t, dir, nil)
		if _, err := s.Append("k", t0, payload{}); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteStatus(payload{State: "Healthy"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("tampered status", func(t *testing.T) {
		dir := mk(t)
		p := filepath.Join(dir, StatusFile)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, bytes.Replace(b, []byte("Healthy"), []byte("Promoted"), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(zap.NewNop(), Options{Dir: dir}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("truncated status", func(t *testing.T) {
		dir := mk(t)
		p := filepath.Join(dir, StatusFile)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, b[:len(b)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(zap.NewNop(), Options{Dir: dir}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("journal shorter than status", func(t *testing.T) {
		dir := mk(t)
		if err := os.WriteFile(filepath.Join(dir, JournalFile), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(zap.NewNop(), Options{Dir: dir})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "journal truncated") {
			t.Fatalf("err = %v, want ErrCorrupt about truncation", err)
		}
	})
}

// faultFS wraps the real filesystem; once full is set, writes to files
// whose name ends in suffix write half their bytes and fail with ENOSPC.
type faultFS struct {
	FS
	suffix  string
	full    bool
	syncErr error
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, f.suffix) {
		return file, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.full {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fs.syncErr != nil {
		return f.fs.syncErr
	}
	return f.File.Sync()
}

func TestFullDiskOnAppend(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{FS: OS(), suffix: JournalFile}
	s := open(t, dir, ffs)
	if _, err := s.Append("k", t0, payload{Step: 1}); err != nil {
		t.Fatal(err)
	}
	ffs.full = true
	_, err := s.Append("k", t0, payload{Step: 2})
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("err = %v, want ErrDiskFull", err)
	}
	if !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("error %q does not say the disk is full", err)
	}
	// The store now refuses every write, even after space is freed.
	ffs.full = false
	if _, err := s.Append("k", t0, payload{Step: 3}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("append after failure: err = %v, want ErrUntrusted", err)
	}
	if err := s.WriteStatus(payload{}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("status after failure: err = %v, want ErrUntrusted", err)
	}
	if s.Trusted() == nil {
		t.Fatal("Trusted() = nil after a failed write")
	}
	_ = s.Close()
	// On restart the half-written record is a torn tail: refuse to open.
	if _, err := Open(zap.NewNop(), Options{Dir: dir}); !errors.Is(err, ErrTornTail) {
		t.Fatalf("reopen: err = %v, want ErrTornTail", err)
	}
}

func TestFsyncFailureMakesStoreUntrusted(t *testing.T) {
	ffs := &faultFS{FS: OS(), suffix: JournalFile, syncErr: errors.New("EIO")}
	s := open(t, t.TempDir(), ffs)
	if _, err := s.Append("k", t0, nil); err == nil {
		t.Fatal("append succeeded although fsync failed")
	}
	if !errors.Is(s.Trusted(), ErrUntrusted) {
		t.Fatalf("Trusted() = %v", s.Trusted())
	}
}

func TestFullDiskOnStatusKeepsOldStatus(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{FS: OS(), suffix: StatusFile + ".tmp"}
	s := open(t, dir, ffs)
	if err := s.WriteStatus(payload{State: "Healthy"}); err != nil {
		t.Fatal(err)
	}
	ffs.full = true
	err := s.WriteStatus(payload{State: "SiteDown"})
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("err = %v, want ErrDiskFull", err)
	}
	if _, err := os.Stat(filepath.Join(dir, StatusFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary status file left behind: %v", err)
	}
	_ = s.Close()
	s2 := open(t, dir, nil)
	var st payload
	if found, _, err := s2.Status(&st); !found || err != nil || st.State != "Healthy" {
		t.Fatalf("status after failed write = %+v %v %v, want the old one", st, found, err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	s, err := Open(zap.NewNop(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("k", t0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	s, err := Open(zap.NewNop(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append("step_end", t0, payload{Step: i, State: "done"}); err != nil {
			b.Fatal(err)
		}
	}
}

package journal

import (
	"io"
	"os"
)

// File is the part of *os.File the store writes through. Tests inject
// failing implementations to simulate a full disk or an I/O error.
type File interface {
	io.Reader
	io.Writer
	Sync() error
	Close() error
}

// FS is the filesystem the store uses for its status file and journal.
// OS() is the real one; tests wrap it to inject faults.
type FS interface {
	// OpenFile opens a file as os.OpenFile does.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename renames a file as os.Rename does (atomic within a directory).
	Rename(oldpath, newpath string) error
	// Remove removes a file as os.Remove does.
	Remove(name string) error
	// SyncDir fsyncs a directory so that a rename in it is durable.
	SyncDir(dir string) error
	// Stat returns file information as os.Stat does.
	Stat(name string) (os.FileInfo, error)
}

// OS returns the FS backed by the operating system.
func OS() FS { return osFS{} }

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm) //nolint:gosec // paths are built by the store from its state directory
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) SyncDir(dir string) error { return syncDir(dir) }

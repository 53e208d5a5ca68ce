//go:build unix

package signal

import (
	"fmt"
	"os"
	"syscall"
)

// lstat returns the owner, mode and time of path without following a final
// symlink (a symlinked signal is not a regular file and is rejected).
func lstat(path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileInfo{}, fmt.Errorf("stat %s: no owner information", path)
	}
	return FileInfo{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, ModTime: fi.ModTime(), Size: fi.Size()}, nil
}

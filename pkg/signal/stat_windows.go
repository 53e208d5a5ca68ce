//go:build windows

package signal

import (
	"fmt"
	"os"
)

// lstat on Windows cannot tell the owner from mode bits (ownership is an ACL
// question, planned with the Windows service work). Until then it fails, so
// every signal is rejected as unreadable: the safe default. Tests and
// callers that check ACLs themselves inject Options.Stat.
func lstat(path string) (FileInfo, error) {
	if _, err := os.Lstat(path); err != nil {
		return FileInfo{}, err
	}
	return FileInfo{}, fmt.Errorf("stat %s: signal owner checks are not implemented on Windows", path)
}

//go:build windows

package signal

// lstat on Windows answers the owner and "writable by others" questions from the file's ACL
// (ACLStat), so the Reader applies the same rules as on Unix.
func lstat(path string) (FileInfo, error) { return ACLStat(path) }

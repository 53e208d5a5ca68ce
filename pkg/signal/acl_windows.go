//go:build windows

package signal

// Signal-file safety on Windows is a question of ACLs, not mode bits. ACLStat answers it in the
// terms the Reader already checks (FileInfo's owner and "writable by others" bit), so that the same
// rules apply on every platform: pass it as Options.Stat.

import (
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Owner IDs ACLStat reports in FileInfo.UID.
const (
	// TrustedOwnerUID stands for an owner the daemon trusts: LocalSystem, BUILTIN\Administrators,
	// or the account the daemon runs as. The Reader accepts UID 0.
	TrustedOwnerUID uint32 = 0
	// UntrustedOwnerUID stands for any other owner.
	UntrustedOwnerUID uint32 = 1<<31 - 1
)

// writeMask are the rights that let a principal change a file or the entries of a directory.
const writeMask = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA |
	windows.FILE_WRITE_ATTRIBUTES | 0x40 /* FILE_DELETE_CHILD */ | windows.DELETE | windows.WRITE_DAC |
	windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL

// broadSIDs are the well-known groups that count as "others": a grant of write to any of them makes
// the path writable by others (mode bit 0o002).
var broadSIDs = []windows.WELL_KNOWN_SID_TYPE{windows.WinWorldSid, windows.WinAuthenticatedUserSid,
	windows.WinBuiltinUsersSid, windows.WinBuiltinGuestsSid, windows.WinAnonymousSid, windows.WinInteractiveSid}

// trustedSIDs may own signal files besides the daemon's own account.
var trustedSIDs = []windows.WELL_KNOWN_SID_TYPE{windows.WinLocalSystemSid, windows.WinBuiltinAdministratorsSid}

// ACLStat is a StatFunc for Windows: it reads path's owner and DACL (without following a final
// symbolic link) and reports UID TrustedOwnerUID when the owner is LocalSystem, Administrators or
// the daemon's own account (UntrustedOwnerUID otherwise), and sets the 0o002 mode bit when the DACL
// is missing (everyone has full access) or allows write, delete or permission changes to Everyone,
// Authenticated Users, Users, Guests, Anonymous or Interactive. GID is always 0: operators-group
// ownership is a Unix notion; on Windows an operator's signal must be written by an administrator
// (or by `sqldr approve` in an elevated shell).
func ACLStat(path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return FileInfo{}, fmt.Errorf("read the security descriptor of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return FileInfo{}, fmt.Errorf("read the owner of %s: %w", path, err)
	}
	trusted, err := trustedOwner(owner)
	if err != nil {
		return FileInfo{}, fmt.Errorf("check the owner of %s: %w", path, err)
	}
	open, err := writableByOthers(sd)
	if err != nil {
		return FileInfo{}, fmt.Errorf("read the DACL of %s: %w", path, err)
	}
	mode := fi.Mode()&^fs.ModePerm | 0o600
	if fi.IsDir() {
		mode |= 0o100
	}
	if open {
		mode |= 0o002
	}
	uid := UntrustedOwnerUID
	if trusted {
		uid = TrustedOwnerUID
	}
	return FileInfo{Mode: mode, UID: uid, ModTime: fi.ModTime(), Size: fi.Size()}, nil
}

func trustedOwner(owner *windows.SID) (bool, error) {
	for _, t := range trustedSIDs {
		sid, err := windows.CreateWellKnownSid(t)
		if err != nil {
			return false, err
		}
		if owner.Equals(sid) {
			return true, nil
		}
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return false, err
	}
	return owner.Equals(u.User.Sid), nil
}

func writableByOthers(sd *windows.SECURITY_DESCRIPTOR) (bool, error) {
	dacl, _, err := sd.DACL()
	if err != nil {
		return false, err
	}
	if dacl == nil {
		return true, nil // a NULL DACL grants everyone full access
	}
	broad := make([]*windows.SID, 0, len(broadSIDs))
	for _, t := range broadSIDs {
		sid, err := windows.CreateWellKnownSid(t)
		if err != nil {
			return false, err
		}
		broad = append(broad, sid)
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return false, err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Mask&writeMask == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart)) //nolint:gosec // the SID follows the ACE header, as documented for ACCESS_ALLOWED_ACE
		for _, b := range broad {
			if sid.Equals(b) {
				return true, nil
			}
		}
	}
	return false, nil
}

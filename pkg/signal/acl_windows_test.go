//go:build windows

package signal

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// setDACL replaces path's DACL with one allowing full control to the current user and SYSTEM, plus
// the given extra grant to a well-known group (none when extra is 0).
func setDACL(t *testing.T, path string, group windows.WELL_KNOWN_SID_TYPE, extra windows.ACCESS_MASK) {
	t.Helper()
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	system, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(sid *windows.SID, mask windows.ACCESS_MASK) windows.EXPLICIT_ACCESS {
		return windows.EXPLICIT_ACCESS{AccessPermissions: mask, AccessMode: windows.GRANT_ACCESS, Inheritance: windows.NO_INHERITANCE,
			Trustee: windows.TRUSTEE{TrusteeForm: windows.TRUSTEE_IS_SID, TrusteeType: windows.TRUSTEE_IS_UNKNOWN, TrusteeValue: windows.TrusteeValueFromSID(sid)}}
	}
	entries := []windows.EXPLICIT_ACCESS{grant(u.User.Sid, windows.GENERIC_ALL), grant(system, windows.GENERIC_ALL)}
	if extra != 0 {
		sid, err := windows.CreateWellKnownSid(group)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, grant(sid, extra))
	}
	acl, err := windows.ACLFromEntries(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil); err != nil {
		t.Fatal(err)
	}
}

func TestACLStat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "signals")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "approve")
	if err := os.WriteFile(file, []byte("plan: mgc-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		setDACL(t, p, 0, 0)
		fi, err := ACLStat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.UID != TrustedOwnerUID || fi.Mode.Perm()&0o002 != 0 {
			t.Fatalf("%s created by this process: uid %d mode %s; want trusted and not writable by others", p, fi.UID, fi.Mode)
		}
	}
	if fi, _ := ACLStat(dir); !fi.Mode.IsDir() {
		t.Fatalf("directory mode %s", fi.Mode)
	}
	for _, tt := range []struct {
		group windows.WELL_KNOWN_SID_TYPE
		mask  windows.ACCESS_MASK
		open  bool
	}{
		{windows.WinWorldSid, windows.FILE_WRITE_DATA, true},
		{windows.WinBuiltinUsersSid, windows.GENERIC_WRITE, true},
		{windows.WinAuthenticatedUserSid, windows.WRITE_DAC, true},
		{windows.WinWorldSid, windows.FILE_READ_DATA, false},
		{windows.WinBuiltinAdministratorsSid, windows.GENERIC_ALL, false},
	} {
		setDACL(t, file, tt.group, tt.mask)
		fi, err := ACLStat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode.Perm()&0o002 != 0; got != tt.open {
			t.Errorf("grant %#x to well-known SID %d: writable by others %t, want %t", tt.mask, tt.group, got, tt.open)
		}
	}
	if _, err := ACLStat(filepath.Join(dir, "absent")); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v, want not-exist", err)
	}
}

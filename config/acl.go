package config

import (
	"fmt"
	"strings"
)

// The ACL check of the secret key file on Windows, without the system
// calls (platform_windows.go reads the DACL), so that it is tested on
// every platform.

// aclEntry is one access-allowed or access-denied entry of a file's DACL.
type aclEntry struct {
	SID   string // string form, "S-1-5-32-545"
	Allow bool
	Mask  uint32
}

// broadSIDs are the well-known groups that stand for other users of the
// machine. Entries for SYSTEM, Administrators, the owner or a named
// service account are fine.
var broadSIDs = []struct{ sid, name string }{
	{"S-1-1-0", "Everyone"},
	{"S-1-5-7", "ANONYMOUS LOGON"},
	{"S-1-5-4", "INTERACTIVE"},
	{"S-1-5-11", "Authenticated Users"},
	{"S-1-5-32-545", "Users"},
	{"S-1-5-32-546", "Guests"},
}

// Access rights that let someone read or change the key (generic rights
// as well as the file-specific ones they map to).
const (
	fileReadData   = 0x00000001
	fileWriteData  = 0x00000002
	fileAppendData = 0x00000004
	writeDAC       = 0x00040000
	writeOwner     = 0x00080000
	genericAll     = 0x10000000
	genericWrite   = 0x40000000
	genericRead    = 0x80000000

	readRights  = fileReadData | genericRead | genericAll
	writeRights = fileWriteData | fileAppendData | writeDAC | writeOwner | genericWrite | genericAll
)

// keyACLFix is the command that gives SYSTEM and Administrators alone
// access to the file; SIDs rather than names, which are translated on
// non-English Windows.
func keyACLFix(path string) string {
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`, path)
}

// Paths are quoted with "%s", not %q, so that Windows paths keep single
// backslashes.
//
// aclProblems refuses a key file whose DACL lets a broad group read or
// write it. A missing (null) DACL grants everyone everything. Entries are
// evaluated in order, as Windows does: a right denied to a group before it
// is allowed is not granted. Group nesting is not followed (a deny for
// Everyone does not hide an allow for Users), which errs on the side of a
// warning.
func aclProblems(path string, nullDACL bool, entries []aclEntry) []string {
	if nullDACL {
		return []string{fmt.Sprintf("\"%s\" has no access control list, so every user can read and change it; run: %s", path, keyACLFix(path))}
	}
	var who []string
	for _, g := range broadSIDs {
		var granted, denied uint32
		for _, e := range entries {
			if e.SID != g.sid {
				continue
			}
			if e.Allow {
				granted |= e.Mask &^ denied
			} else {
				denied |= e.Mask
			}
		}
		var can []string
		if granted&readRights != 0 {
			can = append(can, "read")
		}
		if granted&writeRights != 0 {
			can = append(can, "change")
		}
		if len(can) > 0 {
			who = append(who, fmt.Sprintf("%s can %s it", g.name, strings.Join(can, " and ")))
		}
	}
	if len(who) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("\"%s\" is open to other users (%s); run: %s", path, strings.Join(who, ", "), keyACLFix(path))}
}

package config

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// DefaultPath is where havip looks for its configuration file.
const DefaultPath = `C:\ProgramData\havip\havip.toml`

// DefaultSocket is the control socket used when status.socket is not set:
// a unix socket, which Windows supports since Windows 10 1803 and Windows
// Server 2019.
const DefaultSocket = `C:\ProgramData\havip\havip.sock`

// DefaultStateDir is node.state_dir when the file does not set it.
const DefaultStateDir = `C:\ProgramData\havip`

// keygenHint tells how to make a key, in Windows PowerShell.
const keygenHint = `$b = New-Object byte[] 32; [Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($b); [Convert]::ToBase64String($b)`

// The interface names of this platform.
var (
	validIfName = validAliasName
	ifNameRule  = aliasNameRule
)

// labelsSupported: Windows has no address labels.
const labelsSupported = false

// keyAccessProblems refuses a key file that other users may read or
// change, from its access control list: Windows mode bits only say
// whether a file is read-only.
func keyAccessProblems(path string, fi os.FileInfo) []string {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the access control list of \"%s\": %v", path, err)}
	}
	dacl, _, err := sd.DACL()
	if err == windows.ERROR_OBJECT_NOT_FOUND || (err == nil && dacl == nil) {
		return aclProblems(path, true, nil)
	}
	if err != nil {
		return []string{fmt.Sprintf("cannot read the access control list of \"%s\": %v", path, err)}
	}
	var entries []aclEntry
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return []string{fmt.Sprintf("cannot read the access control list of \"%s\": %v", path, err)}
		}
		var allow bool
		switch ace.Header.AceType {
		case windows.ACCESS_ALLOWED_ACE_TYPE:
			allow = true
		case windows.ACCESS_DENIED_ACE_TYPE:
		default:
			continue // object and callback entries do not apply to files
		}
		if ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		entries = append(entries, aclEntry{SID: sid.String(), Allow: allow, Mask: uint32(ace.Mask)})
	}
	return aclProblems(path, false, entries)
}

// configAccessProblems leaves the configuration file unchecked on
// Windows: the set-up in docs/windows.md opens C:\ProgramData\havip,
// and what it passes on to its files, to SYSTEM and Administrators only.
func configAccessProblems(path string, fi os.FileInfo) []string { return nil }

// lookupGroup: a unix socket on Windows has the access control list of
// its directory, so there is no group to give it.
func lookupGroup(g string) (int, error) {
	return -1, errors.New("is not supported on Windows: the socket has the access control list of its directory (docs/windows.md)")
}

package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestACLProblems(t *testing.T) {
	const path = `C:\ProgramData\havip\secret.key`
	const fix = `; run: icacls "C:\ProgramData\havip\secret.key" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`
	system := aclEntry{SID: "S-1-5-18", Allow: true, Mask: 0x1f01ff}
	admins := aclEntry{SID: "S-1-5-32-544", Allow: true, Mask: 0x1f01ff}
	tests := []struct {
		name     string
		nullDACL bool
		entries  []aclEntry
		want     []string
	}{
		{name: "SYSTEM and Administrators only", entries: []aclEntry{system, admins}},
		{name: "a service account too", entries: []aclEntry{system, admins, {SID: "S-1-5-80-1-2-3-4-5", Allow: true, Mask: 0x120089}}},
		{
			// What a file created in C:\ProgramData inherits.
			name:    "inherited read for Users",
			entries: []aclEntry{system, admins, {SID: "S-1-5-32-545", Allow: true, Mask: 0x1200a9}},
			want:    []string{`"C:\ProgramData\havip\secret.key" is open to other users (Users can read it)` + fix},
		},
		{
			name: "Everyone full control, Authenticated Users write",
			entries: []aclEntry{system, {SID: "S-1-1-0", Allow: true, Mask: genericAll},
				{SID: "S-1-5-11", Allow: true, Mask: fileWriteData}},
			want: []string{`"C:\ProgramData\havip\secret.key" is open to other users (Everyone can read and change it, Authenticated Users can change it)` + fix},
		},
		{
			name: "denied before allowed",
			entries: []aclEntry{{SID: "S-1-5-32-545", Allow: false, Mask: readRights | writeRights},
				system, {SID: "S-1-5-32-545", Allow: true, Mask: 0x1200a9}},
		},
		{
			name:    "denied after allowed does not count",
			entries: []aclEntry{{SID: "S-1-5-32-545", Allow: true, Mask: fileReadData}, {SID: "S-1-5-32-545", Allow: false, Mask: fileReadData}},
			want:    []string{`"C:\ProgramData\havip\secret.key" is open to other users (Users can read it)` + fix},
		},
		{
			name:     "null DACL",
			nullDACL: true,
			want:     []string{`"C:\ProgramData\havip\secret.key" has no access control list, so every user can read and change it` + fix},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aclProblems(path, tt.nullDACL, tt.entries)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("aclProblems (-want +got):\n%s", diff)
			}
		})
	}
}

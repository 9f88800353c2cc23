//go:build !windows

package config

import (
	"fmt"
	"os/user"
	"strconv"

	"github.com/havip/havip/internal/proc"
)

// runAsSupported: commands can run as another user here.
const runAsSupported = true

// Credential looks the user and group up on this host: the user's ID,
// the group's ID (the user's primary group when Group is empty) and the
// user's supplementary groups, as a login of that user would have them.
// It returns nil for the zero RunAs: the command runs as the daemon.
func (r RunAs) Credential() (*proc.Credential, error) {
	if r.IsZero() {
		return nil, nil
	}
	u, err := lookupUser(r.User)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q has user ID %q, which is not a number", r.User, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q has group ID %q, which is not a number", r.User, u.Gid)
	}
	if r.Group != "" {
		g, err := lookupGroup(r.Group)
		if err != nil {
			return nil, err
		}
		gid = uint64(g)
	}
	cred := &proc.Credential{UID: uint32(uid), GID: uint32(gid)}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("reading the groups of user %q: %w", r.User, err)
	}
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, nil
}

// lookupUser finds a user by name, or by number.
func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if _, numErr := strconv.ParseUint(name, 10, 32); numErr == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%q is not a user of this host (create one for the commands with: useradd --system --no-create-home %s)", name, name)
}

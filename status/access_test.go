//go:build !windows

package status

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A socket this user may not open is not a daemon that is down: the
// error says so and who may use it.
func TestDialErrorPermission(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "havip.sock")
	gid := os.Getegid()
	l, err := Listen(sock, gid)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	group := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	denied := &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
	err = dialError(sock, denied)
	for _, want := range []string{
		"permission denied on " + sock,
		"the daemon's socket is open to root and group " + group + " only (mode 0660)",
		"run as root (sudo havip …) or as a member of group " + group + " (status.socket_group sets the group)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "no havip daemon answers") {
		t.Errorf("%v says no daemon answers", err)
	}

	// Anything else: nobody answers.
	err = dialError(sock, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	if !strings.HasPrefix(err.Error(), "no havip daemon answers on "+sock) {
		t.Errorf("refused: %v", err)
	}
	_, err = Fetch(context.Background(), filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "no havip daemon answers") {
		t.Errorf("Fetch from nothing: %v", err)
	}
}

// Listen gives the socket the group asked for.
func TestListenGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the socket to another group")
	}
	sock := filepath.Join(t.TempDir(), "havip.sock")
	l, err := Listen(sock, 4242)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if g := fi.Sys().(*syscall.Stat_t).Gid; g != 4242 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket group %d mode %04o, want 4242 0660", g, fi.Mode().Perm())
	}
}

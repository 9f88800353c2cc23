package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havip/havip/status"
)

// nobody is the user the tests below run havip as.
const nobody = 65534

// openDir makes a directory every user may enter, for files an
// unprivileged havip reads.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "havip-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runAsNobody runs this test binary as havip with args, as user and
// group 65534: a process without capabilities.
func runAsNobody(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run havip as another user")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "havip")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HAVIP_TEST_RUN=1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// `havip run` by a user without CAP_NET_ADMIN and CAP_NET_RAW exits 2
// at once, saying what is missing and how to grant it, rather than
// report ready and fail to add the VIPs every two seconds.
func TestRunWithoutCapabilities(t *testing.T) {
	dir := openDir(t)
	conf := filepath.Join(dir, "havip.toml")
	if err := os.WriteFile(conf, []byte(goodConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runAsNobody(t, dir, "run", "--config", conf)
	for _, want := range []string{conf + ": this process lacks CAP_NET_ADMIN (adding and removing the VIPs) and CAP_NET_RAW",
		"run havip as root, or grant them to its service: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW"} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want 2 and %q\nstderr: %s", code, want, errOut)
		}
	}
}

// `havip status` by a user who may not open the socket says the daemon's
// socket is there and who may use it, not that no daemon answers.
func TestStatusPermissionDenied(t *testing.T) {
	dir := openDir(t)
	sock := filepath.Join(dir, "havip.sock")
	l, err := status.Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &status.Server{Socket: sock, Document: func() status.Document { return status.Document{Node: "a"} }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	code, _, errOut := runAsNobody(t, dir, "status", "--socket", sock)
	for _, want := range []string{"havip status: permission denied on " + sock,
		"the daemon's socket is open to root and group root only (mode 0660)",
		"run as root (sudo havip …) or as a member of group root (status.socket_group sets the group)"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want 1 and %q\nstderr: %s", code, want, errOut)
		}
	}
	if strings.Contains(errOut, "no havip daemon answers") {
		t.Errorf("stderr says no daemon answers:\n%s", errOut)
	}
}

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckHost runs `havip check` against a fixture tree: a
// NetworkManager profile that holds the VIP makes it exit 2 with the
// nmcli command that fixes it; --no-host skips the host.
func TestCheckHost(t *testing.T) {
	fakeHost(t)
	good := write(t, goodConfig)
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "NetworkManager", "system-connections")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := "[connection]\nid=Wired connection 1\n[ipv4]\naddress1=198.18.0.5/24,198.18.0.1\naddress2=198.18.0.100/32\nmethod=manual\n"
	if err := os.WriteFile(filepath.Join(dir, "eth0.nmconnection"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	code := run([]string{"check", "--config", good, "--root", root}, &out, &errb)
	if code != 2 {
		t.Errorf("exit code %d, want 2\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		good + ": OK",
		"error    persistent-vip: VIP 198.18.0.100 is a permanent address",
		`nmcli connection modify "Wired connection 1" -ipv4.addresses 198.18.0.100/32 && nmcli connection up "Wired connection 1"`,
		"host: 1 error,",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "not ready") {
		t.Errorf("stderr %q does not say the host is not ready", errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"check", "--config", good, "--root", root, "--no-host"}, &out, &errb); code != 0 {
		t.Errorf("--no-host: exit code %d, want 0\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "persistent-vip") {
		t.Errorf("--no-host checked the host:\n%s", out.String())
	}

	// A missing interface is an error too.
	hostLinks = fakeLinks{}
	out.Reset()
	if code := run([]string{"check", "--config", good, "--root", t.TempDir()}, &out, &errb); code != 2 {
		t.Errorf("missing interface: exit code %d, want 2\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "eth0 does not exist") {
		t.Errorf("stdout does not name the missing interface:\n%s", out.String())
	}
}

// TestCheckPeers probes peers with the real dialer, on loopback only: one
// listens, one does not. An unreachable peer is a warning (it may not run
// havip yet), so the exit code stays 0.
func TestCheckPeers(t *testing.T) {
	fakeHost(t)
	peerDial = (&net.Dialer{}).DialContext
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	dead := closed.Addr().String()
	closed.Close()

	cfg := write(t, strings.Replace(goodConfig, `insecure = true`,
		fmt.Sprintf("insecure = true\npeers = [%q, %q]", ln.Addr().String(), dead), 1))
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--config", cfg, "--root", t.TempDir(), "--peer-timeout", "2s"}, &out, &errb); code != 0 {
		t.Errorf("exit code %d, want 0\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"info     peer: " + ln.Addr().String() + " answers on TCP",
		"warning  peer: " + dead + " does not answer on TCP",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
}

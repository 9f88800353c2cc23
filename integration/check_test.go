package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/havip/havip/internal/testbed"
)

// TestCheckHostInNamespace runs `havip check` with its real host lookups
// inside a node's namespace: the interface, the namespace's own
// /proc/sys and a TCP probe of a peer that is not there.
func TestCheckHostInNamespace(t *testing.T) {
	c := newCLI(t)
	if c.loopback {
		t.Skip("needs a network namespace of its own to look at (not root)")
	}
	check := func(path string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), cmdWait)
		defer cancel()
		out, errOut, err := c.exec(ctx, "check", "--config", path, "--peer-timeout", "500ms")
		code := testbed.ExitCode(err)
		if err != nil && code == -1 {
			t.Fatalf("havip check: %v", err)
		}
		return string(out) + string(errOut), code
	}

	good := c.write(t, "good.toml", cliOpts(), nil)
	out, code := check(good)
	if code != 0 {
		t.Errorf("check in the namespace: exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{
		"host: 0 errors",
		// Node 1 is configured but not in this topology.
		"warning  peer: " + testbed.NodeBind(1).String() + " does not answer on TCP",
		// A fresh namespace has the kernel's defaults.
		"net.ipv4.conf.all.arp_announce = 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	opts := cliOpts()
	opts.Instances[0].Interface = "nope0"
	missing := c.write(t, "missing.toml", opts, nil)
	out, code = check(missing)
	if code != 2 || !strings.Contains(out, "interface: nope0 does not exist on this host") {
		t.Errorf("check with a missing interface: exit %d, want 2 naming nope0:\n%s", code, out)
	}
}

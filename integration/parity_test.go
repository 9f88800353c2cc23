package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/havip/havip/internal/testbed"
)

// What keepalived users bring along, run with real daemons: VIPs with a
// prefix and on their own interface with a label, a tracked interface
// with a weight, notify.any and notify.stop, and commands run as
// another user.

// configureEdited writes every node's configuration from o, with edit
// applied to each node's text.
func (c *cluster) configureEdited(o testbed.ClusterOpts, edit func(i int, text string) string) {
	c.t.Helper()
	o.SocketDir = c.dir
	for i, d := range c.nodes {
		if err := os.WriteFile(d.config, []byte(edit(i, testbed.NodeConfig(i, o))), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// ip runs ip(8) with args in node i's namespace and returns its output.
func (c *cluster) ip(i int, args ...string) string {
	c.t.Helper()
	out, err := c.net.Exec(context.Background(), c.nodes[i].ns, append([]string{"ip"}, args...)...)
	if err != nil {
		c.t.Fatalf("node %d: ip %s: %v: %s", i, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitIP waits until ip args in node i's namespace prints something that
// contains want (present) or does not (absent).
func (c *cluster) waitIP(i int, want string, present bool, args ...string) {
	c.t.Helper()
	err := waitFor(func() error {
		out := c.ip(i, args...)
		if strings.Contains(out, want) != present {
			return fmt.Errorf("node %d: ip %s: %q, want %q present=%t", i, strings.Join(args, " "), out, want, present)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// TestParityVIPs runs an instance with a VIP of eth0's subnet written
// with its /24, and one on a second interface of each node, vx0, with a
// subnet of its own and a label. The master adds each with its prefix on
// its interface (the second one brings its subnet's route), status lists
// them with their prefixes, and after a kill -9 the kernel removes both,
// route included, by their lifetime while the other node takes them.
func TestParityVIPs(t *testing.T) {
	c := newCluster(t, 2, false)
	for i := range c.nodes {
		if err := c.net.AddVeth(i, "vx0", "vx1"); err != nil {
			t.Fatal(err)
		}
	}
	vip := testbed.VIP4(0)
	own := netip.MustParsePrefix("10.77.0.5/24")
	line := fmt.Sprintf(`vips = ["%s/24", { address = "%s", interface = "vx0", label = "vx0:web" }]`, vip, own)
	c.configureEdited(c.opts(testbed.InstanceOpts{Name: "web", VIPs: []netip.Addr{vip}, Priority: []int{150, 100}, Preempt: true}),
		func(_ int, text string) string {
			return strings.Replace(text, fmt.Sprintf(`vips = ["%s"]`, vip), line, 1)
		})
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), func(i int, s *status) error {
		in, err := s.instance("web")
		if err != nil {
			return err
		}
		if want := []string{vip.String() + "/24", own.String()}; !slices.Equal(in.VIPs, want) {
			return fmt.Errorf("status lists VIPs %v, want %v", in.VIPs, want)
		}
		return expectRole("web", 0)(i, s)
	})
	c.waitObserverReaches(vip, 0)
	if got := c.ip(0, "-o", "address", "show", "dev", "eth0"); !strings.Contains(got, vip.String()+"/24") || !strings.Contains(got, "secondary") {
		t.Errorf("node 0 eth0: %s; want %s/24 as a secondary address", got, vip)
	}
	c.waitIP(0, own.String(), true, "-o", "address", "show", "dev", "vx0")
	if got := c.ip(0, "-o", "address", "show", "dev", "vx0"); !strings.Contains(got, "vx0:web") {
		t.Errorf("node 0 vx0: %s; want the label vx0:web", got)
	}
	if got := c.ip(0, "route", "show", own.Masked().String()); !strings.Contains(got, "dev vx0") {
		t.Errorf("node 0: route to %s: %q, want it on vx0", own.Masked(), got)
	}
	if got := c.ip(1, "-o", "address", "show", "dev", "vx0"); strings.Contains(got, own.Addr().String()) {
		t.Errorf("the backup has %s: %s", own, got)
	}

	// kill -9: nobody renews node 0's VIPs, the kernel removes them and
	// the route with them; node 1 takes both.
	c.kill9(0)
	c.waitIP(0, own.Addr().String(), false, "-o", "address", "show", "dev", "vx0")
	c.waitIP(0, "vx0", false, "route", "show", own.Masked().String())
	c.waitHolders(vip, 1)
	c.waitIP(1, "vx0:web", true, "-o", "address", "show", "dev", "vx0")
	c.waitObserverReaches(vip, 1)
}

// TestParityHooksAndWeights runs an instance whose master tracks an
// interface with a weight, checks a script as user nobody and runs its
// notify commands as nobody: the tracked interface going down moves the
// VIP by priority, not FAULT; notify.any gets keepalived's arguments
// with the priority; a stopped daemon runs notify.stop and notify.any
// with STOP.
func TestParityHooksAndWeights(t *testing.T) {
	c := newCluster(t, 2, false)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("needs the user nobody: %v", err)
	}
	for i := range c.nodes {
		if err := c.net.AddVeth(i, "tk0", "tk1"); err != nil {
			t.Fatal(err)
		}
	}
	// The hooks, run as nobody, write here (the test's own directory is
	// root's alone).
	hooks, err := os.MkdirTemp("", "havip-parity-hooks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hooks) })
	if err := os.Chmod(hooks, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	hook := func(tag string) string {
		return fmt.Sprintf(`["/bin/sh", "-c", 'echo "$0 $* uid=$(id -u)" >> "%s/$HAVIP_NODE"', "%s"]`, hooks, tag)
	}
	extra := `track_interfaces = [{ interface = "tk0", weight = 60 }]
[[instance.track_script]]
name = "as-nobody"
command = ["/bin/sh", "-c", 'test "$(id -u)" = "$0"', "` + nobody.Uid + `"]
interval = "100ms"
rise = 1
fall = 1
user = "nobody"
[instance.notify]
master = ` + hook("master") + `
stop = ` + hook("stop") + `
any = ` + hook("any") + `
user = "nobody"
`
	vip := testbed.VIP4(0)
	c.configure(c.opts(testbed.InstanceOpts{Name: "web", VIPs: []netip.Addr{vip}, Priority: []int{150, 100}, Preempt: true, Extra: extra}))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
	held := fmt.Sprintf("web MASTER %s uid=%s", testbed.HostPrefix(vip), nobody.Uid)
	c.waitHookFile(hooks, 0, "master "+held)
	c.waitHookFile(hooks, 0, "any INSTANCE web MASTER 150 uid="+nobody.Uid)

	// tk0 down on the master: its priority drops by 60, below node 1's,
	// which takes over; node 0 is BACKUP, not FAULT.
	if err := c.net.SetLink(0, "tk0", false); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus(allNodes(2), expectRole("web", 1))
	c.waitHookFile(hooks, 0, "any INSTANCE web BACKUP 90 uid="+nobody.Uid)
	c.waitHookFile(hooks, 1, "any INSTANCE web MASTER 100 uid="+nobody.Uid)

	// tk0 up: node 0's priority is 150 again, and it preempts.
	if err := c.net.SetLink(0, "tk0", true); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	// node 1 stops: it runs its stop commands before it exits.
	if code := c.stop(1); code != 0 {
		t.Fatalf("node 1 exited with %d", code)
	}
	lines := c.hookFile(hooks, 1)
	stop := fmt.Sprintf("stop web STOP %s uid=%s", testbed.HostPrefix(vip), nobody.Uid)
	anyStop := "any INSTANCE web STOP 100 uid=" + nobody.Uid
	if i, j := slices.Index(lines, stop), slices.Index(lines, anyStop); i < 0 || j != i+1 {
		t.Errorf("node 1's hooks wrote %q; want %q, then %q", lines, stop, anyStop)
	}
}

// hookFile returns the lines node i's hooks wrote in dir.
func (c *cluster) hookFile(dir string, i int) []string {
	data, _ := os.ReadFile(filepath.Join(dir, testbed.NodeName(i)))
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// waitHookFile waits until node i's hooks wrote line in dir.
func (c *cluster) waitHookFile(dir string, i int, line string) {
	c.t.Helper()
	err := waitFor(func() error {
		if got := c.hookFile(dir, i); !slices.Contains(got, line) {
			return fmt.Errorf("node %d: hook lines %q, want %q among them", i, got, line)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

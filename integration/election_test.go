package integration

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// web is the one-VIP instance most tests use.
func web(preempt bool, priorities ...int) testbed.InstanceOpts {
	return testbed.InstanceOpts{
		Name:     "web",
		VIPs:     []netip.Addr{testbed.VIP4(0)},
		Priority: priorities,
		Preempt:  preempt,
	}
}

func TestHighestPriorityHolds(t *testing.T) {
	c := newCluster(t, 3, false)
	prio := []int{150, 100, 50}
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, prio...)))
	c.startAll()

	c.waitHolders(vip, 0)
	role := expectRole("web", 0)
	c.waitStatus(allNodes(3), func(i int, s *status) error {
		if err := role(i, s); err != nil {
			return err
		}
		in, _ := s.instance("web")
		if want := vipStrings(vip); !sameSet(in.VIPs, want) {
			return fmt.Errorf("instance web: vips %q, want %q", in.VIPs, want)
		}
		if _, err := time.Parse(time.RFC3339, in.Since); err != nil {
			return fmt.Errorf("instance web: since %q is not an RFC 3339 time: %w", in.Since, err)
		}
		for _, j := range nodesExcept(3, i) {
			name := testbed.NodeName(j)
			m, ok := s.member(name)
			if !ok {
				return fmt.Errorf("member %s missing from %+v", name, s.Members)
			}
			if m.State != "alive" {
				return fmt.Errorf("member %s is %q, want alive", name, m.State)
			}
			if m.Priority != prio[j] {
				return fmt.Errorf("member %s has priority %d, want %d", name, m.Priority, prio[j])
			}
			if want := testbed.NodeBind(j).String(); m.Addr != want {
				return fmt.Errorf("member %s has addr %q, want %q", name, m.Addr, want)
			}
		}
		return nil
	})
	c.keepHolders(2*time.Second, vip, 0)
	c.waitObserverReaches(vip, 0)

	out, stderr, err := c.havip(0, "status", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatalf("havip status: %v: %s", err, stderr)
	}
	if table := string(out); !strings.Contains(table, "web") || !strings.Contains(table, "MASTER") {
		t.Errorf("havip status table does not show instance web as MASTER:\n%s", table)
	}
}

func TestLinkCutFailover(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	// Three nodes and the default quorum (auto): majority.
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)

	if err := c.net.Cut(0); err != nil {
		t.Fatal(err)
	}
	// Node 0 alone has no quorum and must release; nodes 1 and 2 have it.
	c.waitHolders(vip, 1)
	c.waitObserverReaches(vip, 1)

	if err := c.net.Restore(0); err != nil {
		t.Fatal(err)
	}
	// The partition heals and node 0 preempts.
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))
}

func TestSigtermHandover(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)

	if code := c.stop(0); code != 0 {
		t.Fatalf("havip on node 0 exited %d after SIGTERM, want 0", code)
	}
	// Released before the exit, not some time after.
	if has, err := c.net.Has(0, vip); err != nil || has {
		t.Fatalf("node 0 still has %s after a graceful stop (err %v)", vip, err)
	}
	c.waitHolders(vip, 1)
	c.waitObserverReaches(vip, 1)
	c.waitStatus([]int{1, 2}, expectRole("web", 1))
}

func TestKill9Restart(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)

	c.kill9(0)
	// Nobody removed it: the address outlives the process.
	if has, err := c.net.Has(0, vip); err != nil || !has {
		t.Fatalf("node 0 lost %s when its daemon was killed (err %v); the test needs it stale", vip, err)
	}
	c.waitHeldBy(vip, 1)
	if has, err := c.net.Has(0, vip); err != nil || !has {
		t.Fatalf("%s left node 0 while no daemon ran there (err %v)", vip, err)
	}

	// Restart node 0 while it is cut off: alone among three it has no
	// quorum and takes nothing, so the only way the stale address can go
	// is the start-up clean-up.
	if err := c.net.Cut(0); err != nil {
		t.Fatal(err)
	}
	c.start(0)
	c.waitHolders(vip, 1)
	c.keepHolders(2*time.Second, vip, 1)

	// Reconnected, it joins and, with preempt, ends as the only holder.
	if err := c.net.Restore(0); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))
	c.keepHolders(2*time.Second, vip, 0)
}

func TestNoPreemptKeepsHolder(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(false, 150, 100)))

	// Node 0 first, alone, so that it is the holder before node 1 joins.
	c.start(0)
	c.waitHolders(vip, 0)
	c.start(1)
	c.waitStatus([]int{0, 1}, expectRole("web", 0))

	if code := c.stop(0); code != 0 {
		t.Fatalf("havip on node 0 exited %d after SIGTERM, want 0", code)
	}
	c.waitHolders(vip, 1)

	// Node 0 has the higher priority but must not take the VIP back.
	c.start(0)
	c.waitStatus([]int{0, 1}, expectRole("web", 1))
	c.keepHolders(5*time.Second, vip, 1)
	c.waitStatus([]int{0, 1}, expectRole("web", 1))
}

func TestActiveActive(t *testing.T) {
	c := newCluster(t, 2, false)
	a, b := testbed.VIP4(0), testbed.VIP4(1)
	c.configure(c.opts(
		testbed.InstanceOpts{Name: "a", VIPs: []netip.Addr{a}, Priority: []int{150, 100}, Preempt: true},
		testbed.InstanceOpts{Name: "b", VIPs: []netip.Addr{b}, Priority: []int{100, 150}, Preempt: true},
	))
	c.startAll()

	c.waitHolders(a, 0)
	c.waitHolders(b, 1)
	roleA, roleB := expectRole("a", 0), expectRole("b", 1)
	c.waitStatus(allNodes(2), func(i int, s *status) error {
		if err := roleA(i, s); err != nil {
			return err
		}
		return roleB(i, s)
	})
	c.waitObserverReaches(a, 0)
	c.waitObserverReaches(b, 1)
}

func TestStatusMatchesInterfaces(t *testing.T) {
	c := newCluster(t, 3, false)
	instances := []testbed.InstanceOpts{
		{Name: "a", VIPs: []netip.Addr{testbed.VIP4(0)}, Priority: []int{150, 100, 50}, Preempt: true},
		{Name: "b", VIPs: []netip.Addr{testbed.VIP4(1), testbed.VIP4(2)}, Priority: []int{50, 150, 100}, Preempt: true},
		{Name: "c", VIPs: []netip.Addr{testbed.VIP4(3)}, Priority: []int{100, 50, 150}, Preempt: true},
	}
	c.configure(c.opts(instances...))
	c.startAll()

	// consistent checks, on the running nodes, that every instance has one
	// holder and that each node reports MASTER for exactly the instances
	// whose VIPs are on its eth0 (all of them; none for the others).
	consistent := func(nodes []int) error {
		for _, in := range instances {
			for _, vip := range in.VIPs {
				got, err := c.net.HoldersOf(vip)
				if err != nil {
					return err
				}
				if len(got) != 1 {
					return fmt.Errorf("instance %s: %s is held by %v, want one node", in.Name, vip, got)
				}
			}
		}
		for _, i := range nodes {
			s, err := c.status(i)
			if err != nil {
				return err
			}
			l, err := c.net.NodeEth0(i)
			if err != nil {
				return err
			}
			var masterOf, heldOn []string
			for _, in := range instances {
				st, err := s.instance(in.Name)
				if err != nil {
					return err
				}
				if st.State == "MASTER" {
					masterOf = append(masterOf, in.Name)
				}
				held := 0
				for _, vip := range in.VIPs {
					if _, ok := l.Has(vip); ok {
						held++
					}
				}
				switch held {
				case len(in.VIPs):
					heldOn = append(heldOn, in.Name)
				case 0:
				default:
					return fmt.Errorf("node %d: holds %d of the %d VIPs of instance %s", i, held, len(in.VIPs), in.Name)
				}
			}
			if !slices.Equal(masterOf, heldOn) {
				return fmt.Errorf("node %d: MASTER of %v in status, VIPs of %v on eth0", i, masterOf, heldOn)
			}
		}
		return nil
	}
	wait := func(nodes []int) {
		t.Helper()
		if err := waitFor(func() error { return consistent(nodes) }); err != nil {
			t.Fatal(err)
		}
	}

	wait(allNodes(3))
	c.waitHolders(testbed.VIP4(0), 0)
	c.waitHolders(testbed.VIP4(1), 1)
	c.waitHolders(testbed.VIP4(3), 2)
	wait(allNodes(3))

	// Node 0's instance moves; the survivors must still tell the truth.
	if code := c.stop(0); code != 0 {
		t.Fatalf("havip on node 0 exited %d after SIGTERM, want 0", code)
	}
	c.waitHolders(testbed.VIP4(0), 1)
	wait([]int{1, 2})
}

func TestDeletedVIPIsRestored(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)

	// Someone (an operator, a network script) deletes the VIP on the
	// master: it is added back, and node 1 never takes it.
	if _, err := c.net.Exec(context.Background(), c.net.Node(0).NS, "ip", "addr", "del", testbed.HostPrefix(vip).String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.keepHolders(2*time.Second, vip, 0)
	c.waitStatus([]int{0, 1}, expectRole("web", 0))
}

func TestInterfaceDownFaults(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)

	// The switch port goes down: node 0 loses carrier, its instance goes
	// to FAULT and releases, node 1 takes over.
	if err := c.net.LinkDown(0); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, func(i int, s *status) error {
		in, err := s.instance("web")
		if err != nil {
			return err
		}
		if in.State != "FAULT" {
			return fmt.Errorf("node %d: web is %s, want FAULT", i, in.State)
		}
		return nil
	})
	if err := c.net.LinkUp(0); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)
}

// Command demo runs a three-node havip cluster in network namespaces on
// this machine, fails its master in three ways and shows the VIP move,
// then removes everything it created. It needs root and iproute2; run it
// with scripts/demo.sh.
//
// Everything happens inside namespaces the demo creates: a "switch"
// namespace with a bridge, one namespace per node and one for an observer
// (a client of the VIP). No packet leaves them.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/havip/havip/internal/testbed"
)

func main() {
	timing := flag.String("timing", "default", "timing profile of the cluster: default, fast or conservative")
	secure := flag.Bool("secure", true, "encrypt gossip with a fresh key (false: insecure = true)")
	flag.Parse()
	if err := run(*timing, *secure); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const nodes = 3

var vip = testbed.VIP4(0)

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", args...)
}

func run(timing string, secure bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to create network namespaces (try: sudo scripts/demo.sh)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "havip-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("building havip")
	bin, err := testbed.BuildHavip(ctx, dir)
	if err != nil {
		return err
	}

	step("creating a bridge, %d node namespaces and an observer", nodes)
	n, err := testbed.New(ctx, testbed.Options{Prefix: fmt.Sprintf("hvdemo-%d", os.Getpid()), Nodes: nodes})
	if err != nil {
		return err
	}
	defer func() {
		step("cleaning up")
		if err := n.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}()
	for i, h := range n.Nodes {
		fmt.Printf("  %s: namespace %s, eth0 %s (%s)\n", testbed.NodeName(i), h.NS, h.Addr, h.MAC)
	}
	fmt.Printf("  observer: namespace %s, eth0 %s\n  VIP: %s\n", n.Observer.NS, n.Observer.Addr, vip)

	opts := testbed.ClusterOpts{
		Name:      "demo",
		Nodes:     nodes,
		Timing:    timing,
		SocketDir: dir,
		Instances: []testbed.InstanceOpts{{
			Name: "web", VIPs: []netip.Addr{vip}, Priority: []int{150, 100, 50}, Preempt: true,
		}},
	}
	if secure {
		opts.SecretKeyFile = filepath.Join(dir, "secret.key")
		if err := testbed.WriteSecretKey(opts.SecretKeyFile); err != nil {
			return err
		}
	}
	procs := make([]*testbed.Proc, nodes)
	start := func(i int) error {
		path, err := testbed.WriteNodeConfig(filepath.Join(dir, fmt.Sprintf("node%d.toml", i)), i, opts)
		if err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return err
		}
		p, err := n.Start(n.Node(i).NS, []string{bin, "run", "--config", path}, logf, logf)
		if err != nil {
			return err
		}
		procs[i] = p
		return nil
	}
	defer func() {
		for _, p := range procs {
			if p != nil && !p.Exited() {
				p.Stop(5 * time.Second)
			}
		}
	}()

	step("starting havip on every node (timing profile %q; priorities 150, 100, 50)", timing)
	if err := start(0); err != nil {
		return err
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "node0.toml"))
	fmt.Printf("node0's /etc/havip.toml:\n%s", indent(string(cfg)))
	for i := 1; i < nodes; i++ {
		if err := start(i); err != nil {
			return err
		}
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 0); err != nil {
		return fmt.Errorf("waiting for node0 to hold the VIP: %w", err)
	}
	if err := testbed.WaitUntil(ctx, 10*time.Second, func() error { return n.ObserverReaches(vip, 0) }); err != nil {
		return err
	}
	status(ctx, n, bin, dir, 1)
	observer(n)

	step("cutting node0's link at the switch (a dead NIC, a pulled cable)")
	t0 := time.Now()
	if err := n.Cut(0); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 1); err != nil {
		return fmt.Errorf("waiting for node1 to take over: %w", err)
	}
	fmt.Printf("node1 holds the VIP %v after the cut; node0 released it on its own (it lost quorum)\n", time.Since(t0).Round(time.Millisecond))
	if err := testbed.WaitUntil(ctx, 10*time.Second, func() error { return n.ObserverReaches(vip, 1) }); err != nil {
		return err
	}
	status(ctx, n, bin, dir, 1)
	observer(n)

	step("restoring node0's link: it rejoins, and with preempt it takes the VIP back")
	if err := n.Restore(0); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 0); err != nil {
		return err
	}
	if err := testbed.WaitUntil(ctx, 10*time.Second, func() error { return n.ObserverReaches(vip, 0) }); err != nil {
		return err
	}
	observer(n)

	step("stopping node0 with SIGTERM: it releases, tells its peers and leaves")
	t0 = time.Now()
	if err := procs[0].Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 1); err != nil {
		return err
	}
	fmt.Printf("node1 holds the VIP %v after the signal\n", time.Since(t0).Round(time.Millisecond))
	if _, err := procs[0].Wait(10 * time.Second); err != nil {
		return err
	}
	status(ctx, n, bin, dir, 1)

	step("restarting node0, then kill -9 of node0 (no daemon left to remove its VIP)")
	if err := start(0); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 0); err != nil {
		return err
	}
	t0 = time.Now()
	if err := procs[0].Kill(); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 1); err != nil {
		return err
	}
	fmt.Printf("%v after the kill node1 holds the VIP alone: it took over, and the kernel removed node0's copy once its lifetime ran out unrenewed (address_lifetime)\n", time.Since(t0).Round(time.Millisecond))
	if err := start(0); err != nil {
		return err
	}
	if err := n.WaitHolders(ctx, vip, 30*time.Second, 0); err != nil {
		return err
	}
	fmt.Println("restarted node0 took the VIP back (preempt)")
	status(ctx, n, bin, dir, 0)
	fmt.Printf("\nlogs were in %s (removed now)\n", dir)
	return nil
}

func status(ctx context.Context, n *testbed.Net, bin, dir string, i int) {
	fmt.Printf("\n$ havip status   # on %s\n", testbed.NodeName(i))
	out, err := n.Exec(ctx, n.Node(i).NS, bin, "status", "--socket", testbed.SocketPath(dir, i))
	if err != nil {
		fmt.Println("  havip status:", err)
	}
	fmt.Print(indent(string(out)))
}

func observer(n *testbed.Net) {
	mac, err := n.ObserverNeighMAC(vip)
	if err != nil || mac == nil {
		fmt.Println("observer: no neighbour entry for the VIP yet")
		return
	}
	fmt.Printf("observer: ping %s answers; its neighbour entry points at %s = %s\n", vip, mac, testbed.NodeName(n.NodeOfMAC(mac)))
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

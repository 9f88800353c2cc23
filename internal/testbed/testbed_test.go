package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireNamespaces skips the test unless it can build network namespaces.
func requireNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs and a bridge")
	}
	for _, cmd := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("needs the %s command: %v", cmd, err)
		}
	}
}

func newNet(t *testing.T, opts Options) *Net {
	t.Helper()
	opts.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("building the topology: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing the topology: %v", err)
		}
		assertGone(t, n.Prefix)
	})
	return n
}

func assertGone(t *testing.T, prefix string) {
	t.Helper()
	names, err := Namespaces()
	if err != nil {
		t.Errorf("listing namespaces: %v", err)
		return
	}
	for _, name := range names {
		if strings.HasPrefix(name, prefix+"-") {
			t.Errorf("namespace %s left behind", name)
		}
	}
}

func TestTopology(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 2, IPv6: true})

	if len(n.Nodes) != 2 || n.Nodes[1].Addr != NodeAddr(1) || n.Nodes[1].Addr6 != NodeAddr6(1) {
		t.Fatalf("nodes = %+v", n.Nodes)
	}
	for _, h := range append(slices.Clone(n.Nodes), n.Observer) {
		if len(h.MAC) != 6 {
			t.Errorf("%s: MAC %v", h.Name, h.MAC)
		}
		l, err := n.Eth0(h.NS)
		if err != nil {
			t.Fatal(err)
		}
		if !l.Carrier() {
			t.Errorf("%s: eth0 has no carrier: %v", h.Name, l.Flags)
		}
		if a, ok := l.Has(h.Addr6); !ok || a.Tentative {
			t.Errorf("%s: IPv6 address %s missing or tentative: %+v", h.Name, h.Addr6, l.Addrs)
		}
	}
	if n.Nodes[0].MAC.String() == n.Nodes[1].MAC.String() {
		t.Errorf("nodes share MAC %v", n.Nodes[0].MAC)
	}

	reach := func(want bool) {
		t.Helper()
		for _, a := range []netip.Addr{n.Nodes[1].Addr, n.Nodes[1].Addr6} {
			err := n.ObserverPing(a, time.Second)
			if want && err != nil {
				t.Fatalf("ping %s: %v", a, err)
			}
			if !want && err == nil {
				t.Fatalf("ping %s answered through a cut link", a)
			}
		}
	}
	reach(true)
	if err := n.ObserverReaches(n.Nodes[1].Addr, 1); err != nil {
		t.Error(err)
	}

	if err := n.Cut(1); err != nil {
		t.Fatal(err)
	}
	reach(false)
	if ok, err := n.Carrier(1); err != nil || !ok {
		t.Errorf("Carrier(1) after Cut = %t, %v; want the carrier kept", ok, err)
	}
	if err := n.Restore(1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := WaitUntil(ctx, 10*time.Second, func() error { return n.ObserverPing(n.Nodes[1].Addr, time.Second) }); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	reach(true)

	if err := n.LinkDown(1); err != nil {
		t.Fatal(err)
	}
	if err := WaitUntil(ctx, 5*time.Second, func() error {
		if ok, err := n.Carrier(1); err != nil || ok {
			return fmt.Errorf("carrier %t, %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Errorf("after LinkDown: %v", err)
	}
	if err := n.LinkUp(1); err != nil {
		t.Fatal(err)
	}
	if err := WaitUntil(ctx, 5*time.Second, func() error {
		if ok, err := n.Carrier(1); err != nil || !ok {
			return fmt.Errorf("carrier %t, %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Errorf("after LinkUp: %v", err)
	}
}

func TestObserverHelpers(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 3, IPv6: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, vip := range []netip.Addr{VIP4(0), VIP6(0)} {
		if got, err := n.HoldersOf(vip); err != nil || len(got) != 0 {
			t.Fatalf("HoldersOf(%s) = %v, %v before any VIP", vip, got, err)
		}
		if _, err := n.Exec(ctx, n.Nodes[2].NS, "ip", "addr", "add", HostPrefix(vip).String(), "dev", "eth0", "nodad"); err != nil {
			t.Fatal(err)
		}
		if err := n.WaitHolders(ctx, vip, 5*time.Second, 2); err != nil {
			t.Fatal(err)
		}
		if err := WaitUntil(ctx, 10*time.Second, func() error { return n.ObserverReaches(vip, 2) }); err != nil {
			t.Error(err)
		}
	}
	if mac, err := n.ObserverNeighMAC(VIP4(7)); err != nil || mac != nil {
		t.Errorf("ObserverNeighMAC of an unused address = %v, %v", mac, err)
	}
	if err := n.ObserverPing(VIP4(7), 500*time.Millisecond); err == nil {
		t.Error("ObserverPing of an unused address succeeded")
	}
}

func TestProcesses(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Exec runs in the namespace: eth0 there has the node's address.
	out, err := n.Exec(ctx, n.Nodes[0].NS, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(string(out), NodeAddr(0).String()) {
		t.Fatalf("Exec = %q, %v", out, err)
	}
	_, err = n.Exec(ctx, n.Nodes[0].NS, "sh", "-c", "echo oops >&2; exit 3")
	if code := ExitCode(err); code != 3 || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Exec of a failing command: exit %d, %v", code, err)
	}

	p, err := n.Start(n.Nodes[0].NS, []string{"sleep", "60"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(100 * time.Millisecond); !errors.Is(err, ErrWaitTimeout) {
		t.Fatalf("Wait on a running process = %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Errorf("process ended with %v, want SIGTERM", st)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}

	// Stop escalates to SIGKILL when SIGTERM is ignored.
	p, err = n.Start(n.Nodes[0].NS, []string{"sh", "-c", "trap '' TERM; exec sleep 60"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the shell ignore TERM and exec sleep
	st, killed, err := p.Stop(300 * time.Millisecond)
	if err != nil || !killed || st.ExitCode() != -1 {
		t.Errorf("Stop = %v, killed %t, %v; want killed", st, killed, err)
	}

	// Close ends what still runs.
	p, err = n.Start(n.Nodes[0].NS, []string{"sleep", "60"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Error("Close left a process running")
	}
}

package nstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

// NS is an anonymous network namespace owned by one test. It has only a
// loopback interface (set up) until the test adds links.
//
// The namespace is not named in /var/run/netns, so nothing is left behind if
// the test binary dies; it lives until the test's cleanup closes the handle
// and the last socket opened in it is closed.
type NS struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

// New creates a network namespace for t and deletes it when t ends. It skips
// t when not run as root.
func New(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)

	ns, err := create()
	if err != nil {
		t.Fatalf("creating network namespace: %v", err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		t.Fatalf("opening netlink handle in network namespace: %v", err)
	}
	n := &NS{ns: ns, h: h}
	t.Cleanup(func() {
		n.h.Close()
		n.ns.Close()
	})

	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatalf("looking up lo in network namespace: %v", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatalf("setting lo up in network namespace: %v", err)
	}
	return n
}

// create makes a new network namespace on a throwaway locked thread and
// returns a handle to it. The thread goes back to its original namespace;
// if that fails it stays locked and exits with its goroutine.
func create() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- result{netns.None(), err}
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			// Unshare failed, the thread is still in orig.
			runtime.UnlockOSThread()
			c <- result{netns.None(), err}
			return
		}
		if err := netns.Set(orig); err != nil {
			ns.Close()
			c <- result{netns.None(), fmt.Errorf("returning to the original namespace: %w", err)}
			return // leave the thread locked: it is discarded
		}
		runtime.UnlockOSThread()
		c <- result{ns, nil}
	}()
	r := <-c
	return r.ns, r.err
}

// NsHandle returns the namespace's handle. It stays owned by n: do not close
// it.
func (n *NS) NsHandle() netns.NsHandle { return n.ns }

// Handle returns a netlink handle whose requests act in the namespace. It
// stays owned by n: do not close it.
func (n *NS) Handle() *netlink.Handle { return n.h }

// Path returns a file system path for the namespace, usable with
// `nsenter --net=PATH` and `ip -n PATH` while the test runs.
func (n *NS) Path() string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(n.ns))
}

// String describes the namespace for messages.
func (n *NS) String() string { return "netns " + n.ns.UniqueId() }

// Do runs f on the calling goroutine, locked to its OS thread and switched
// into the namespace, then switches back. Sockets opened in f and processes
// started in f (os/exec) belong to the namespace; goroutines started by f do
// not. t.Fatal may be called in f. If the thread cannot return to its
// original namespace, it stays locked so that it is discarded when the
// goroutine exits, and Do returns an error.
func (n *NS) Do(f func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("getting the current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering %s: %w", n, err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			err = errors.Join(err, fmt.Errorf("returning from %s: %w", n, rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return f()
}

// Veth creates a veth pair with ends a and b, both in the namespace, sets
// both up and waits until frames pass both ways (the kernel activates a
// link's queues shortly after it comes up, and drops what is sent before).
// It returns the two links as read back then, with their hardware
// addresses.
func (n *NS) Veth(t testing.TB, a, b string) (netlink.Link, netlink.Link) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}
	if err := n.h.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth pair %s/%s in %s: %v", a, b, n, err)
	}
	for _, name := range []string{a, b} {
		l, err := n.h.LinkByName(name)
		if err != nil {
			t.Fatalf("looking up %s in %s: %v", name, n, err)
		}
		if err := n.h.LinkSetUp(l); err != nil {
			t.Fatalf("setting %s up in %s: %v", name, n, err)
		}
	}
	n.waitPasses(t, a, b)
	n.waitPasses(t, b, a)
	links := make([]netlink.Link, 2)
	for i, name := range []string{a, b} {
		l, err := n.h.LinkByName(name)
		if err != nil {
			t.Fatalf("looking up %s in %s: %v", name, n, err)
		}
		links[i] = l
	}
	return links[0], links[1]
}

// probeEtherType is the IEEE 802 local experimental EtherType, for frames
// that mean nothing to anyone.
const probeEtherType = 0x88b5

// waitPasses sends probe frames from link from until one arrives on link
// to.
func (n *NS) waitPasses(t testing.TB, from, to string) {
	t.Helper()
	const timeout = 5 * time.Second
	fromIfi, toIfi := n.Interface(t, from), n.Interface(t, to)
	var tx, rx *packet.Conn
	err := n.Do(func() error {
		var err error
		if tx, err = packet.Listen(fromIfi, packet.Raw, probeEtherType, nil); err != nil {
			return err
		}
		if rx, err = packet.Listen(toIfi, packet.Raw, probeEtherType, nil); err != nil {
			tx.Close()
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("opening probe sockets on %s and %s in %s: %v", from, to, n, err)
	}
	defer tx.Close()
	defer rx.Close()

	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(frame[6:], fromIfi.HardwareAddr)
	binary.BigEndian.PutUint16(frame[12:], probeEtherType)
	buf := make([]byte, 1500)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		// Errors while the link comes up (ENETDOWN) only mean: not yet.
		_, _ = tx.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[:6])})
		if err := rx.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		for {
			nr, addr, err := rx.ReadFrom(buf)
			if err != nil {
				break
			}
			if nr >= 14 && addr.(*packet.Addr).HardwareAddr.String() == fromIfi.HardwareAddr.String() {
				return
			}
		}
	}
	t.Fatalf("no frame from %s reached %s in %s within %s", from, to, n, timeout)
}

// Interface returns the net.Interface of the link name in the namespace.
func (n *NS) Interface(t testing.TB, name string) *net.Interface {
	t.Helper()
	var ifi *net.Interface
	err := n.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName(name)
		return err
	})
	if err != nil {
		t.Fatalf("looking up interface %s in %s: %v", name, n, err)
	}
	return ifi
}

// Sysctl sets a sysctl of the namespace, for example
// "net.ipv6.conf.default.accept_dad" to "0". Only network sysctls
// (net.*) are per namespace.
func (n *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	if !strings.HasPrefix(key, "net.") {
		t.Fatalf("sysctl %s is not a network sysctl", key)
	}
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	err := n.Do(func() error {
		// /proc/sys/net resolves to the namespace of the thread that opens it.
		return os.WriteFile(p, []byte(value), 0o644)
	})
	if err != nil {
		t.Fatalf("setting %s=%s in %s: %v", key, value, n, err)
	}
}

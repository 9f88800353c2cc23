package nstest_test

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/havip/havip/internal/nstest"
)

// threadIn reports whether the calling goroutine's thread is in ns; the
// caller locks the thread.
func threadIn(t *testing.T, ns netns.NsHandle) bool {
	t.Helper()
	cur, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	return cur.Equal(ns)
}

func TestNew(t *testing.T) {
	n := nstest.New(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if threadIn(t, n.NsHandle()) {
		t.Fatalf("New left the test thread in the new namespace")
	}
	if _, err := os.Stat(n.Path()); err != nil {
		t.Errorf("Path %s: %v", n.Path(), err)
	}
	lo, err := n.Handle().LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is down in the new namespace")
	}
	links, err := n.Handle().LinkList()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 {
		t.Errorf("new namespace has %d links, want lo only", len(links))
	}
}

func TestCleanupClosesNamespace(t *testing.T) {
	var n *nstest.NS
	t.Run("inner", func(t *testing.T) { n = nstest.New(t) })
	if n.NsHandle().IsOpen() {
		t.Errorf("namespace handle still open after the test ended")
	}
}

func TestDo(t *testing.T) {
	n := nstest.New(t)
	err := n.Do(func() error {
		if !threadIn(t, n.NsHandle()) {
			return errors.New("f runs outside the namespace")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	want := errors.New("from f")
	if err := n.Do(func() error { return want }); err != want {
		t.Errorf("Do returned %v, want f's error", err)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := n.Do(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if threadIn(t, n.NsHandle()) {
		t.Errorf("Do left the thread in the namespace")
	}
}

func TestVeth(t *testing.T) {
	const a, b = "nstest0a", "nstest0b"
	n := nstest.New(t)
	la, lb := n.Veth(t, a, b)
	for _, l := range []netlink.Link{la, lb} {
		if l.Attrs().OperState != netlink.OperUp {
			t.Errorf("%s oper state %s, want up", l.Attrs().Name, l.Attrs().OperState)
		}
		if len(l.Attrs().HardwareAddr) != 6 {
			t.Errorf("%s hardware address %s", l.Attrs().Name, l.Attrs().HardwareAddr)
		}
	}
	if ifi := n.Interface(t, a); ifi.Index != la.Attrs().Index {
		t.Errorf("Interface(%s).Index = %d, want %d", a, ifi.Index, la.Attrs().Index)
	}
	// Not in the test's own namespace.
	for _, name := range []string{a, b} {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("%s exists outside the test namespace", name)
		}
	}
}

func TestSysctl(t *testing.T) {
	const key = "/proc/sys/net/ipv6/conf/default/hop_limit"
	before, err := os.ReadFile(key)
	if err != nil {
		t.Skipf("no IPv6 sysctls: %v", err)
	}
	n := nstest.New(t)
	n.Sysctl(t, "net.ipv6.conf.default.hop_limit", "33")
	var inside []byte
	if err := n.Do(func() error {
		var err error
		inside, err = os.ReadFile(key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(inside)); got != "33" {
		t.Errorf("hop_limit in the namespace = %s, want 33", got)
	}
	after, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("hop_limit outside changed from %s to %s", before, after)
		_ = os.WriteFile(key, before, 0o644)
	}
}

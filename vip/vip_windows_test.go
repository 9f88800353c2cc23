package vip

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// The SOCKADDR_INET union of a row holds IPv4 and IPv6 addresses.
func TestRowAddrRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.22", "2001:db8::22", "0.0.0.1", "::1"} {
		a := netip.MustParseAddr(s)
		var row windows.MibUnicastIpAddressRow
		setRowAddr(&row, a)
		got, ok := rowAddr(&row)
		if !ok || got != a {
			t.Errorf("rowAddr(setRowAddr(%s)) = %s, %t", a, got, ok)
		}
	}
	var row windows.MibUnicastIpAddressRow
	if _, ok := rowAddr(&row); ok {
		t.Error("rowAddr of an empty row succeeded")
	}
}

// TestWindowsManager runs the real Manager on a real interface: set
// HAVIP_TEST_INTERFACE to its name (as ipconfig shows it) and run the test
// elevated. It adds and removes 192.0.2.250/32 and 2001:db8::250/128
// (documentation addresses) and removes them again if it fails half-way.
func TestWindowsManager(t *testing.T) {
	ifname := os.Getenv("HAVIP_TEST_INTERFACE")
	if ifname == "" {
		t.Skip("set HAVIP_TEST_INTERFACE to an interface this test may add addresses to, and run elevated")
	}
	if !windows.GetCurrentProcessToken().IsElevated() {
		t.Skip("adding addresses needs an elevated (administrator) process")
	}
	m := New(ifname)
	vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.250/32"), netip.MustParsePrefix("2001:db8::250/128")}
	t.Cleanup(func() {
		for _, p := range vips {
			m.Remove(p)
		}
	})
	if up, err := m.LinkUp(); err != nil || !up {
		t.Fatalf("LinkUp = %t, %v; the test needs an interface that is up", up, err)
	}
	if mac, err := m.HardwareAddr(); err != nil || len(mac) == 0 {
		t.Errorf("HardwareAddr = %s, %v", mac, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 64)
	errc := make(chan error, 1)
	go func() { errc <- m.Watch(ctx, events) }()
	waitFor(t, events, Event{Kind: Resync})

	for _, p := range vips {
		for range 2 { // idempotent
			if err := m.Add(p); err != nil {
				t.Fatalf("Add(%s): %v", p, err)
			}
		}
		if has, err := m.Has(p); err != nil || !has {
			t.Fatalf("Has(%s) = %t, %v after Add", p, has, err)
		}
		waitFor(t, events, Event{Kind: AddrAdded, Prefix: p})
	}

	// Removed behind the Manager's back, as netsh would.
	if err := (iphlpapi{}).DeleteUnicast(mustIndex(t, ifname), vips[0]); err != nil {
		t.Fatalf("DeleteUnicast(%s): %v", vips[0], err)
	}
	waitFor(t, events, Event{Kind: AddrRemoved, Prefix: vips[0]})

	for _, p := range vips {
		for range 2 { // a missing address is not an error
			if err := m.Remove(p); err != nil {
				t.Fatalf("Remove(%s): %v", p, err)
			}
		}
		if has, err := m.Has(p); err != nil || has {
			t.Errorf("Has(%s) = %t, %v after Remove", p, has, err)
		}
	}
	if _, err := New("havip-no-such-interface").List(); !errors.Is(err, ErrNoLink) {
		t.Errorf("List on a missing interface: %v, want ErrNoLink", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Watch: %v", err)
	}
}

func mustIndex(t *testing.T, ifname string) uint32 {
	t.Helper()
	ifi, err := (iphlpapi{}).Interface(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return ifi.Index
}

// waitFor reads events until want comes (others may come in between on a
// real host), for at most 10 seconds.
func waitFor(t *testing.T, events <-chan Event, want Event) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within 10s", want)
		}
	}
}

// TestWindowsManagerLifetime checks, on a real interface (see
// TestWindowsManager), that Windows removes an address added for one
// second once nobody renews it, and that Renew then fails rather than
// adding it back.
func TestWindowsManagerLifetime(t *testing.T) {
	ifname := os.Getenv("HAVIP_TEST_INTERFACE")
	if ifname == "" {
		t.Skip("set HAVIP_TEST_INTERFACE to an interface this test may add addresses to, and run elevated")
	}
	if !windows.GetCurrentProcessToken().IsElevated() {
		t.Skip("adding addresses needs an elevated (administrator) process")
	}
	m := New(ifname)
	p := netip.MustParsePrefix("192.0.2.251/32")
	t.Cleanup(func() { m.Remove(p) })
	if err := m.AddFor(p, time.Second); err != nil {
		t.Fatalf("AddFor(%s): %v", p, err)
	}
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		if err := m.Renew(p, time.Second); err != nil {
			t.Fatalf("Renew(%s): %v", p, err)
		}
	}
	last := time.Now()
	for {
		has, err := m.Has(p)
		if err != nil {
			t.Fatal(err)
		}
		if !has {
			t.Logf("%s gone %s after the last renewal", p, time.Since(last).Round(time.Millisecond))
			break
		}
		if time.Since(last) > 10*time.Second {
			t.Fatalf("%s still there 10s after the last renewal, with a lifetime of 1s", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := m.Renew(p, time.Second); !errors.Is(err, errAddrNotFound) {
		t.Errorf("Renew of the expired address: %v, want errAddrNotFound", err)
	}
	if has, _ := m.Has(p); has {
		t.Error("Renew put the expired address back")
	}
}

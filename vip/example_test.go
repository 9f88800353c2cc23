package vip_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/havip/havip/vip"
)

// A holder keeps its VIP on the interface: it re-reads the state on each
// Resync and puts the address back when someone removes it.
func ExampleManager_Watch() {
	ctx := context.Background()
	want := netip.MustParsePrefix("192.0.2.22/32")
	m := vip.New("eth0")
	defer m.Close()

	events := make(chan vip.Event, 16)
	go func() {
		if err := m.Watch(ctx, events); err != nil {
			log.Print(err)
		}
	}()
	for e := range events {
		switch e.Kind {
		case vip.Resync:
			if has, err := m.Has(want); err == nil && !has {
				_ = m.Add(want)
			}
		case vip.AddrRemoved:
			if e.Prefix == want {
				_ = m.Add(want)
			}
		case vip.LinkChanged:
			log.Printf("eth0 up: %t", e.Up)
		}
	}
}

// A holder adds its VIP for a short lifetime and renews it while it may
// hold it: if the process stops (frozen, killed), the kernel removes the
// address about a second after the last renewal.
func ExampleManager_AddFor() {
	vip4 := netip.MustParsePrefix("192.0.2.22/32")
	m := vip.New("eth0")
	defer m.Close()

	if err := m.AddFor(vip4, time.Second); err != nil {
		log.Fatal(err)
	}
	renew := time.NewTicker(300 * time.Millisecond)
	defer renew.Stop()
	for range renew.C {
		if err := m.Renew(vip4, time.Second); err != nil {
			log.Print(err)
		}
	}
}

// A log line names every VIP of an instance in one field.
func ExampleFormatPrefixes() {
	vips := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.MustParsePrefix("2001:db8::10/128"),
	}
	fmt.Println(vip.FormatPrefixes(vips))
	// Output: 192.0.2.10/32,2001:db8::10/128
}

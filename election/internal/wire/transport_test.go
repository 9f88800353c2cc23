package wire

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestTransportPacketsAndShutdown(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	a, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ip, port, err := b.FinalAdvertiseAddr("", 0)
	if err != nil || ip.String() != "127.0.0.1" || port != int(b.bind.Port()) {
		t.Fatalf("FinalAdvertiseAddr = %v %d %v", ip, port, err)
	}
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.bind.Port()).String()
	msg := []byte("heartbeat")
	if _, err := a.WriteTo(msg, to); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.PacketCh():
		if !bytes.Equal(p.Buf, msg) || cap(p.Buf) != len(msg) {
			t.Errorf("packet %q (cap %d), want %q sized exactly", p.Buf, cap(p.Buf), msg)
		}
		if p.From.String() != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.bind.Port()).String() {
			t.Errorf("from %v", p.From)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet")
	}
	// A packet nobody reads must not block Shutdown.
	a.WriteTo(msg, to)
	done := make(chan struct{})
	go func() { b.Shutdown(); a.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown hangs")
	}
	if _, _, err := (&UDP{bind: netip.MustParseAddrPort("127.0.0.1:7946")}).FinalAdvertiseAddr("not-an-ip", 0); err == nil {
		t.Error("bad advertise address accepted")
	}
}

// TestTransportAddressFamilies sends packets both ways between an IPv4
// socket, a dual-stack one (bound to 0.0.0.0, which Go opens as AF_INET6)
// and, where the host has it, an IPv6 one, and checks each packet's
// content and source port.
func TestTransportAddressFamilies(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	open := func(bind string) *UDP {
		tr, err := NewUDP(netip.MustParseAddrPort(bind), l, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Shutdown() })
		return tr
	}
	exchange := func(a, b *UDP, loop string) {
		t.Helper()
		ip := netip.MustParseAddr(loop)
		for i, pair := range [][2]*UDP{{a, b}, {b, a}} {
			from, to := pair[0], pair[1]
			msg := []byte{byte(i), 'h', 'b'}
			if _, err := from.WriteTo(msg, netip.AddrPortFrom(ip, to.bind.Port()).String()); err != nil {
				t.Fatalf("%s → %s: %v", from.bind, to.bind, err)
			}
			select {
			case p := <-to.PacketCh():
				got, err := netip.ParseAddrPort(p.From.String())
				if err != nil || !bytes.Equal(p.Buf, msg) || got.Port() != from.bind.Port() || got.Addr().Unmap() != ip {
					t.Errorf("%s → %s: packet %q from %v, want %q from port %d", from.bind, to.bind, p.Buf, p.From, msg, from.bind.Port())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s → %s: no packet", from.bind, to.bind)
			}
		}
	}
	v4 := open("127.0.0.1:0")
	dual := open("0.0.0.0:0")
	exchange(v4, dual, "127.0.0.1")
	v6, err := NewUDP(netip.MustParseAddrPort("[::1]:0"), l, nil)
	if err != nil {
		t.Logf("no IPv6 loopback here, IPv6 not exercised: %v", err)
		return
	}
	t.Cleanup(func() { v6.Shutdown() })
	exchange(v6, dual, "::1")
	// An IPv6 destination on an IPv4 socket is refused, not sent.
	if _, err := v4.WriteTo([]byte("x"), netip.AddrPortFrom(netip.MustParseAddr("::1"), v6.bind.Port()).String()); err == nil {
		t.Error("IPv6 destination accepted by an IPv4 socket")
	}
}

// TestTransportBurst: packets queued faster than they are read all reach
// memberlist, in order.
func TestTransportBurst(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	a, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	b, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.bind.Port()).String()
	const n = 7
	for i := range n {
		if _, err := a.WriteTo([]byte{byte(i), 'x'}, to); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case p := <-b.PacketCh():
			if want := []byte{byte(i), 'x'}; !bytes.Equal(p.Buf, want) {
				t.Fatalf("packet %d: %x, want %x", i, p.Buf, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d of %d never arrived", i, n)
		}
	}
}

// TestResolveUDP: an address is parsed (IPv4-mapped ones unmapped), a
// host name looked up through LookupIP.
func TestResolveUDP(t *testing.T) {
	looked := ""
	LookupIP = func(host string) ([]net.IP, error) {
		looked = host
		if host == "peer-one" {
			return []net.IP{net.ParseIP("::ffff:192.0.2.9"), net.ParseIP("192.0.2.10")}, nil
		}
		return nil, errors.New("no such host")
	}
	t.Cleanup(func() { LookupIP = net.LookupIP })
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1:7946", "192.0.2.1:7946"},
		{"[::ffff:192.0.2.1]:7946", "192.0.2.1:7946"},
		{"[2001:db8::1]:7946", "[2001:db8::1]:7946"},
		{"peer-one:7947", "192.0.2.9:7947"},
	} {
		if got, err := ResolveUDP(tc.in); err != nil || got.String() != tc.want {
			t.Errorf("ResolveUDP(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if looked != "peer-one" {
		t.Errorf("looked up %q, want peer-one", looked)
	}
	for _, bad := range []string{"peer-two:7946", "peer-one:http", "peer-one:65536", "no-port"} {
		if got, err := ResolveUDP(bad); err == nil {
			t.Errorf("ResolveUDP(%q) = %v, want an error", bad, got)
		}
	}
}

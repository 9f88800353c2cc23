package election

import (
	"bytes"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

func TestTransportPacketsAndShutdown(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	a, err := newTransport(netip.MustParseAddrPort("127.0.0.1:0"), l)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newTransport(netip.MustParseAddrPort("127.0.0.1:0"), l)
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
	if _, _, err := (&transport{bind: netip.MustParseAddrPort("127.0.0.1:7946")}).FinalAdvertiseAddr("not-an-ip", 0); err == nil {
		t.Error("bad advertise address accepted")
	}
}

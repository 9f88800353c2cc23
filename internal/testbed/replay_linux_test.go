package testbed

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/havip/havip/internal/nsrun"
)

func TestBuildUDP4(t *testing.T) {
	src := netip.MustParseAddrPort("198.18.0.10:7946")
	dst := netip.MustParseAddrPort("198.18.0.11:7946")
	for _, payload := range [][]byte{nil, []byte("x"), []byte("even"), make([]byte, 1472)} {
		b := buildUDP4(src, dst, 7, payload)
		if checksum(0, b[:20]) != 0 {
			t.Errorf("%d bytes: IPv4 header checksum does not verify", len(payload))
		}
		var pseudo [12]byte
		copy(pseudo[0:8], b[12:20])
		pseudo[9] = 17
		binary.BigEndian.PutUint16(pseudo[10:12], uint16(len(b)-20))
		if checksum(sum16(0, pseudo[:]), b[20:]) != 0 {
			t.Errorf("%d bytes: UDP checksum does not verify", len(payload))
		}
		frame := append(make([]byte, 12), 0x08, 0x00)
		d, ok := parseUDPFrame(append(frame, b...))
		if !ok || d.Src != src || d.Dst != dst || string(d.Payload) != string(payload) {
			t.Errorf("%d bytes: parsed back as %v %v (ok %t)", len(payload), d.Src, d.Dst, ok)
		}
	}
	// A fragment is not a datagram of its own.
	b := buildUDP4(src, dst, 7, []byte("frag"))
	binary.BigEndian.PutUint16(b[6:8], 0x2000)
	if _, ok := parseUDPFrame(append(append(make([]byte, 12), 0x08, 0x00), b...)); ok {
		t.Error("a first fragment parsed as a whole datagram")
	}
}

// udpListener is a UDP socket opened in host h's namespace on port.
func udpListener(t *testing.T, h Host, port int) *net.UDPConn {
	t.Helper()
	var l *net.UDPConn
	err := nsrun.InNamed(h.NS, func() error {
		var err error
		l, err = net.ListenUDP("udp4", &net.UDPAddr{IP: h.Addr.AsSlice(), Port: port})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// receive reads one datagram from l within wait.
func receive(l *net.UDPConn, wait time.Duration) (netip.AddrPort, string, bool) {
	buf := make([]byte, 2048)
	_ = l.SetReadDeadline(time.Now().Add(wait))
	nb, from, err := l.ReadFromUDPAddrPort(buf)
	if err != nil {
		return netip.AddrPort{}, "", false
	}
	return netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), string(buf[:nb]), true
}

func TestCaptureAndInject(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 3})
	const port = 7000
	l1, l2 := udpListener(t, n.Nodes[1], port), udpListener(t, n.Nodes[2], port)

	c, err := n.CaptureUDP(0, port, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := func(to netip.AddrPort, msg string) {
		t.Helper()
		conn, err := DialIn(ctx, n.Nodes[0].NS, "udp4", to.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(netip.AddrPortFrom(n.Nodes[1].Addr, port), "to 1")
	send(netip.AddrPortFrom(n.Nodes[2].Addr, port), "to 2")
	// Another port: not captured.
	send(netip.AddrPortFrom(n.Nodes[1].Addr, port+1), "elsewhere")
	for _, l := range []*net.UDPConn{l1, l2} {
		if _, _, ok := receive(l, 2*time.Second); !ok {
			t.Fatal("a datagram from node 0 did not arrive")
		}
	}
	ds, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		if d.Src.Addr() != n.Nodes[0].Addr || d.Dst.Port() != port || d.At.IsZero() {
			t.Errorf("captured %+v", d)
		}
		got = append(got, string(d.Payload))
	}
	if len(got) != 2 || got[0] != "to 1" || got[1] != "to 2" {
		t.Fatalf("captured %q, want [to 1, to 2]", got)
	}

	inj, err := n.OpenInjector()
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	// A datagram claiming to come from node 0, sent by the observer.
	spoofed := netip.AddrPortFrom(n.Nodes[0].Addr, 7946)
	if err := inj.Send(spoofed, netip.AddrPortFrom(n.Nodes[1].Addr, port), []byte("spoofed")); err != nil {
		t.Fatal(err)
	}
	if from, msg, ok := receive(l1, 2*time.Second); !ok || from != spoofed || msg != "spoofed" {
		t.Errorf("node 1 received %q from %v (ok %t), want \"spoofed\" from %v", msg, from, ok, spoofed)
	}
	if err := inj.Send(spoofed, netip.AddrPortFrom(n.Observer.Addr, port), nil); err == nil {
		t.Error("sending to the observer succeeded; only nodes are targets")
	}

	// Replayed from the observer's own address, each to its destination.
	own := netip.AddrPortFrom(n.Observer.Addr, 7946)
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	sent, failed, err := inj.Replay(rctx, ds, func(Datagram) netip.AddrPort { return own })
	if err != nil || sent < 2 || failed != 0 {
		t.Fatalf("replay: %d sent, %d failed, %v", sent, failed, err)
	}
	for i, l := range []*net.UDPConn{l1, l2} {
		from, msg, ok := receive(l, time.Second)
		if want := "to " + string(rune('1'+i)); !ok || from != own || msg != want {
			t.Errorf("node %d received %q from %v (ok %t), want %q from %v", i+1, msg, from, ok, want, own)
		}
	}
}

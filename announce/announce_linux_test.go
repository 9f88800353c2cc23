package announce_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/announce"
	"github.com/havip/havip/internal/nstest"
)

const timeout = 5 * time.Second

// link is one end of the test's veth pair.
type link struct {
	ifi  *net.Interface
	name string
}

// env is a namespace with a veth pair: the announcer sends on a, the
// capture listens on b.
type env struct {
	ns   *nstest.NS
	a, b link
}

// newEnv makes the namespace. The sysctls are set before the pair exists
// so that the new links get them.
func newEnv(t *testing.T, sysctls ...string) *env {
	t.Helper()
	ns := nstest.New(t)
	for i := 0; i+1 < len(sysctls); i += 2 {
		ns.Sysctl(t, sysctls[i], sysctls[i+1])
	}
	ns.Veth(t, "a", "b")
	return &env{
		ns: ns,
		a:  link{ns.Interface(t, "a"), "a"},
		b:  link{ns.Interface(t, "b"), "b"},
	}
}

// open opens an Announcer on a, inside the namespace.
func (e *env) open(t *testing.T) *announce.Announcer {
	t.Helper()
	var a *announce.Announcer
	err := e.ns.Do(func() error {
		var err error
		a, err = announce.Open(e.a.ifi, nil)
		return err
	})
	if err != nil {
		t.Fatalf("Open on a: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// do runs f in the namespace and fails the test on error.
func (e *env) do(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := e.ns.Do(f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// addAddr puts p on link name the way vip.Manager does (IPv6 without DAD).
func (e *env) addAddr(t *testing.T, name string, p netip.Prefix) {
	t.Helper()
	l, err := e.ns.Handle().LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := e.ns.Handle().AddrAdd(l, addr); err != nil {
		t.Fatalf("adding %s to %s: %v", p, name, err)
	}
}

// addrs lists the addresses of link name in family.
func (e *env) addrs(t *testing.T, name string, family int) []netlink.Addr {
	t.Helper()
	l, err := e.ns.Handle().LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	as, err := e.ns.Handle().AddrList(l, family)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// linkLocal waits until a has a usable (not tentative) link-local address.
func (e *env) linkLocal(t *testing.T) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, a := range e.addrs(t, "a", netlink.FAMILY_V6) {
			ip, _ := netip.AddrFromSlice(a.IP)
			if ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return ip
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("a has no usable link-local address after %s", timeout)
	return netip.Addr{}
}

// capture listens to every frame arriving on b.
func (e *env) capture(t *testing.T) *packet.Conn {
	t.Helper()
	var c *packet.Conn
	e.do(t, "opening capture on b", func() error {
		var err error
		c, err = packet.Listen(e.b.ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// collect reads frames from c sent by a's MAC that keep accepts, until it
// has want of them, then goes on reading for a while to make sure no more
// come.
func (e *env) collect(t *testing.T, c *packet.Conn, want int, keep func(*ethernet.Frame) bool) []*ethernet.Frame {
	t.Helper()
	var (
		got      []*ethernet.Frame
		buf      = make([]byte, 65536)
		deadline = time.Now().Add(timeout)
		quiet    time.Time // when to stop once want frames are in
	)
	for {
		end := deadline
		if !quiet.IsZero() {
			end = quiet
		}
		if err := c.SetReadDeadline(end); err != nil {
			t.Fatal(err)
		}
		n, _, err := c.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if len(got) < want {
				t.Fatalf("captured %d frames within %s, want %d", len(got), timeout, want)
			}
			return got
		}
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		f := new(ethernet.Frame)
		if err := f.UnmarshalBinary(buf[:n]); err != nil {
			continue
		}
		if f.Source.String() != e.a.ifi.HardwareAddr.String() || !keep(f) {
			continue
		}
		got = append(got, f)
		if len(got) > want {
			t.Fatalf("captured %d frames, want %d", len(got), want)
		}
		if len(got) == want {
			quiet = time.Now().Add(300 * time.Millisecond)
		}
	}
}

func isARP(f *ethernet.Frame) bool { return f.EtherType == ethernet.EtherTypeARP }

// arpFields is what a gratuitous ARP frame carries.
type arpFields struct {
	EthDst, EthSrc     string
	EtherType          ethernet.EtherType
	HType, PType       uint16
	HLen, PLen         uint8
	Op                 arp.Operation
	SenderHW, TargetHW string
	SenderIP, TargetIP string
}

func parseARP(t *testing.T, f *ethernet.Frame) arpFields {
	t.Helper()
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatalf("parsing ARP packet: %v", err)
	}
	return arpFields{
		EthDst:    f.Destination.String(),
		EthSrc:    f.Source.String(),
		EtherType: f.EtherType,
		HType:     p.HardwareType,
		PType:     p.ProtocolType,
		HLen:      p.HardwareAddrLength,
		PLen:      p.IPLength,
		Op:        p.Operation,
		SenderHW:  p.SenderHardwareAddr.String(),
		SenderIP:  p.SenderIP.String(),
		TargetHW:  p.TargetHardwareAddr.String(),
		TargetIP:  p.TargetIP.String(),
	}
}

// wantGARP is the request and the reply for vip from mac.
func wantGARP(mac net.HardwareAddr, vip string) []arpFields {
	base := arpFields{
		EthDst:    "ff:ff:ff:ff:ff:ff",
		EthSrc:    mac.String(),
		EtherType: ethernet.EtherTypeARP,
		HType:     1,
		PType:     0x0800,
		HLen:      6,
		PLen:      4,
		SenderHW:  mac.String(),
		SenderIP:  vip,
		TargetIP:  vip,
	}
	req, rep := base, base
	req.Op, req.TargetHW = arp.OperationRequest, "00:00:00:00:00:00"
	rep.Op, rep.TargetHW = arp.OperationReply, mac.String()
	return []arpFields{req, rep}
}

func TestGratuitousARP(t *testing.T) {
	const vip = "192.0.2.10"
	tests := []struct {
		name  string
		onVIP bool // the VIP is on a, as after vip.Manager.Add
	}{
		{"no IPv4 address on the interface", false},
		{"VIP on the interface", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.onVIP {
				e.addAddr(t, "a", netip.MustParsePrefix(vip+"/32"))
			} else if v4 := e.addrs(t, "a", netlink.FAMILY_V4); len(v4) != 0 {
				t.Fatalf("a has IPv4 addresses: %v", v4)
			}
			a := e.open(t)
			c := e.capture(t)
			e.do(t, "Announce", func() error { return a.Announce(netip.MustParseAddr(vip)) })

			var got []arpFields
			for _, f := range e.collect(t, c, 2, isARP) {
				got = append(got, parseARP(t, f))
			}
			if diff := cmp.Diff(wantGARP(e.a.ifi.HardwareAddr, vip), got); diff != "" {
				t.Errorf("ARP frames (-want +got):\n%s", diff)
			}
		})
	}
}

// naFields is what an unsolicited neighbour advertisement carries, from
// the Ethernet header to the ICMPv6 options.
type naFields struct {
	EthDst, EthSrc string
	EtherType      ethernet.EtherType
	Version        int
	NextHeader     int
	HopLimit       int
	Src, Dst       string
	Type, Code     int
	ChecksumOK     bool
	Router         bool
	Solicited      bool
	Override       bool
	Target         string
	Options        []string
}

// isNA keeps neighbour advertisements (the links also carry router
// solicitations and MLD reports).
func isNA(f *ethernet.Frame) bool {
	p := f.Payload
	return f.EtherType == ethernet.EtherTypeIPv6 && len(p) > 40 && p[6] == 58 && p[40] == 136
}

func parseNA(t *testing.T, f *ethernet.Frame) naFields {
	t.Helper()
	p := f.Payload
	plen := int(binary.BigEndian.Uint16(p[4:6]))
	if len(p) < 40+plen {
		t.Fatalf("IPv6 payload length %d, but %d bytes follow the header", plen, len(p)-40)
	}
	src, _ := netip.AddrFromSlice(p[8:24])
	dst, _ := netip.AddrFromSlice(p[24:40])
	icmp := p[40 : 40+plen]
	m, err := ndp.ParseMessage(icmp)
	if err != nil {
		t.Fatalf("parsing ICMPv6 message: %v", err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("message is %T, want a neighbour advertisement", m)
	}
	// Marshalling with the checksum over the pseudo-header must give back
	// the bytes on the wire.
	sum, err := ndp.MarshalMessageChecksum(na, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	var opts []string
	for _, o := range na.Options {
		lla, ok := o.(*ndp.LinkLayerAddress)
		if !ok {
			opts = append(opts, "unexpected option")
			continue
		}
		dir := "source"
		if lla.Direction == ndp.Target {
			dir = "target"
		}
		opts = append(opts, dir+" link-layer address "+lla.Addr.String())
	}
	return naFields{
		EthDst:     f.Destination.String(),
		EthSrc:     f.Source.String(),
		EtherType:  f.EtherType,
		Version:    int(p[0] >> 4),
		NextHeader: int(p[6]),
		HopLimit:   int(p[7]),
		Src:        src.String(),
		Dst:        dst.String(),
		Type:       int(icmp[0]),
		Code:       int(icmp[1]),
		ChecksumOK: string(sum) == string(icmp),
		Router:     na.Router,
		Solicited:  na.Solicited,
		Override:   na.Override,
		Target:     na.TargetAddress.String(),
		Options:    opts,
	}
}

func wantNA(mac net.HardwareAddr, src, vip string) naFields {
	return naFields{
		EthDst:     "33:33:00:00:00:01",
		EthSrc:     mac.String(),
		EtherType:  ethernet.EtherTypeIPv6,
		Version:    6,
		NextHeader: 58,
		HopLimit:   255,
		Src:        src,
		Dst:        "ff02::1",
		Type:       136,
		Code:       0,
		ChecksumOK: true,
		Router:     false,
		Solicited:  false,
		Override:   true,
		Target:     vip,
		Options:    []string{"target link-layer address " + mac.String()},
	}
}

func TestNeighbourAdvertisement(t *testing.T) {
	const vip = "2001:db8::10"
	t.Run("from the link-local address", func(t *testing.T) {
		e := newEnv(t,
			"net.ipv6.conf.all.accept_dad", "0",
			"net.ipv6.conf.default.accept_dad", "0")
		ll := e.linkLocal(t)
		e.addAddr(t, "a", netip.MustParsePrefix(vip+"/128"))
		a := e.open(t)
		c := e.capture(t)
		e.do(t, "Announce", func() error { return a.Announce(netip.MustParseAddr(vip)) })

		f := e.collect(t, c, 1, isNA)
		if diff := cmp.Diff(wantNA(e.a.ifi.HardwareAddr, ll.String(), vip), parseNA(t, f[0])); diff != "" {
			t.Errorf("neighbour advertisement (-want +got):\n%s", diff)
		}
	})
	t.Run("from the VIP without a link-local address", func(t *testing.T) {
		e := newEnv(t,
			"net.ipv6.conf.all.addr_gen_mode", "1", // no link-local addresses
			"net.ipv6.conf.default.addr_gen_mode", "1")
		e.addAddr(t, "a", netip.MustParsePrefix(vip+"/128"))
		for _, addr := range e.addrs(t, "a", netlink.FAMILY_V6) {
			if addr.IP.IsLinkLocalUnicast() {
				t.Fatalf("a has a link-local address %s", addr.IP)
			}
		}
		a := e.open(t)
		c := e.capture(t)
		e.do(t, "Announce", func() error { return a.Announce(netip.MustParseAddr(vip)) })

		f := e.collect(t, c, 1, isNA)
		if diff := cmp.Diff(wantNA(e.a.ifi.HardwareAddr, vip, vip), parseNA(t, f[0])); diff != "" {
			t.Errorf("neighbour advertisement (-want +got):\n%s", diff)
		}
	})
}

func TestBurstOnTheWire(t *testing.T) {
	t.Run("IPv4, 3 rounds", func(t *testing.T) {
		const vip = "192.0.2.10"
		e := newEnv(t)
		a := e.open(t)
		c := e.capture(t)
		var sent int
		e.do(t, "Burst", func() error {
			var err error
			sent, err = a.Burst(context.Background(), []netip.Addr{netip.MustParseAddr(vip)}, 3, 20*time.Millisecond)
			return err
		})
		if sent != 3 {
			t.Errorf("sent = %d, want 3", sent)
		}
		var got []arpFields
		for _, f := range e.collect(t, c, 6, isARP) {
			got = append(got, parseARP(t, f))
		}
		g := wantGARP(e.a.ifi.HardwareAddr, vip)
		want := append(append(append([]arpFields{}, g...), g...), g...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ARP frames (-want +got):\n%s", diff)
		}
	})
	t.Run("IPv4 and IPv6, 2 rounds", func(t *testing.T) {
		vips := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
		e := newEnv(t)
		e.addAddr(t, "a", netip.PrefixFrom(vips[1], 128))
		a := e.open(t)
		c := e.capture(t)
		var sent int
		e.do(t, "Burst", func() error {
			var err error
			sent, err = a.Burst(context.Background(), vips, 2, 20*time.Millisecond)
			return err
		})
		if sent != 4 {
			t.Errorf("sent = %d, want 4", sent)
		}
		frames := e.collect(t, c, 6, func(f *ethernet.Frame) bool { return isARP(f) || isNA(f) })
		var arps, nas int
		for _, f := range frames {
			if isARP(f) {
				arps++
			} else {
				nas++
			}
		}
		if arps != 4 || nas != 2 {
			t.Errorf("captured %d ARP frames and %d advertisements, want 4 and 2", arps, nas)
		}
	})
}

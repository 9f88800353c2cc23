package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
)

// etherTypeARP is the EtherType of ARP frames.
const etherTypeARP = 0x0806

// allNodes is the all-nodes multicast address, where unsolicited neighbour
// advertisements go (RFC 4861 section 7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// FrameConn sends whole Ethernet frames on one interface; *packet.Conn
// bound to the interface implements it. WriteTo receives a *packet.Addr
// holding the destination hardware address.
type FrameConn interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}

// NDPConn sends NDP messages on one interface; *ndp.Conn implements it. A
// nil control message means: hop limit 255, from the conn's own address.
type NDPConn interface {
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
	Close() error
}

// Announcer sends gratuitous ARP and unsolicited neighbour advertisements
// on one interface. It is safe for concurrent use.
type Announcer struct {
	ifi       *net.Interface
	log       *slog.Logger
	frames    FrameConn
	listenNDP func(vip netip.Addr) (NDPConn, error)
	onClose   func() error
	// system: the operating system announces addresses itself and this
	// Announcer sends nothing (see NewSystem).
	system bool

	mu     sync.Mutex
	nd     NDPConn // opened on the first IPv6 announcement
	closed bool
}

// New returns an Announcer for ifi that writes ARP frames to frames and
// sends neighbour advertisements through a conn that listenNDP opens on the
// first IPv6 announcement, and again after a failed send. listenNDP gets
// the address being announced, usable as the source when the interface
// has no link-local address. Open is New with the real sockets; New is for
// tests. The Announcer owns frames and the NDP conns: Close closes them.
// A nil frames or listenNDP makes IPv4 or IPv6 announcements fail.
func New(ifi *net.Interface, frames FrameConn, listenNDP func(vip netip.Addr) (NDPConn, error), logger *slog.Logger) (*Announcer, error) {
	if err := checkInterface(ifi); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Announcer{
		ifi:       ifi,
		log:       logger.With("interface", ifi.Name),
		frames:    frames,
		listenNDP: listenNDP,
	}, nil
}

// NewSystem returns an Announcer for a system that announces new
// addresses itself and offers no supported way to send more: Announce
// and Burst send nothing, succeed, and report 0 sent. Open returns one on
// Windows (see announce_windows.go for why).
func NewSystem(ifi *net.Interface, logger *slog.Logger) (*Announcer, error) {
	if ifi == nil {
		return nil, errors.New("announce: no interface")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Announcer{ifi: ifi, log: logger.With("interface", ifi.Name), system: true}, nil
}

func checkInterface(ifi *net.Interface) error {
	if ifi == nil {
		return errors.New("announce: no interface")
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("announce: interface %s has no Ethernet address (hardware address %q)", ifi.Name, ifi.HardwareAddr)
	}
	return nil
}

// Announce sends one announcement of addr: for IPv4, a gratuitous ARP
// request and a gratuitous ARP reply; for IPv6, an unsolicited neighbour
// advertisement with the override flag. An Announcer made by NewSystem
// sends nothing.
func (a *Announcer) Announce(addr netip.Addr) error {
	_, err := a.announce(addr)
	return err
}

// announce is Announce, also reporting whether anything was sent.
func (a *Announcer) announce(addr netip.Addr) (bool, error) {
	addr = addr.Unmap().WithZone("")
	var err error
	switch {
	case !addr.IsValid():
		return false, fmt.Errorf("announcing on %s: invalid address", a.ifi.Name)
	case a.system:
		return false, a.checkOpen()
	case addr.Is4():
		err = a.announce4(addr)
	default:
		err = a.announce6(addr)
	}
	if err != nil {
		return false, fmt.Errorf("announcing %s on %s: %w", addr, a.ifi.Name, err)
	}
	return true, nil
}

// checkOpen fails after Close.
func (a *Announcer) checkOpen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("announcing on %s: %w", a.ifi.Name, net.ErrClosed)
	}
	return nil
}

// garpFrames builds the two gratuitous ARP frames for ip: a request
// (target hardware address zero) and a reply (target hardware address
// ours), both broadcast, both with ip as sender and target. Hosts differ in
// which form updates their cache; sending both covers them.
func garpFrames(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	zero := make(net.HardwareAddr, len(mac))
	forms := []struct {
		op       arp.Operation
		targetHW net.HardwareAddr
	}{
		{arp.OperationRequest, zero},
		{arp.OperationReply, mac},
	}
	frames := make([][]byte, 0, len(forms))
	for _, f := range forms {
		p, err := arp.NewPacket(f.op, mac, ip, f.targetHW, ip)
		if err != nil {
			return nil, err
		}
		pb, err := p.MarshalBinary()
		if err != nil {
			return nil, err
		}
		eth := &ethernet.Frame{
			Destination: ethernet.Broadcast,
			Source:      mac,
			EtherType:   ethernet.EtherTypeARP,
			Payload:     pb,
		}
		b, err := eth.MarshalBinary()
		if err != nil {
			return nil, err
		}
		frames = append(frames, b)
	}
	return frames, nil
}

func (a *Announcer) announce4(ip netip.Addr) error {
	frames, err := garpFrames(a.ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return net.ErrClosed
	}
	if a.frames == nil {
		return errors.New("no socket for ARP")
	}
	dst := &packet.Addr{HardwareAddr: ethernet.Broadcast}
	for _, b := range frames {
		if _, err := a.frames.WriteTo(b, dst); err != nil {
			return err
		}
	}
	return nil
}

// unsolicitedNA is the advertisement of ip at mac.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Router:        false,
		Solicited:     false,
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac},
		},
	}
}

func (a *Announcer) announce6(ip netip.Addr) error {
	na := unsolicitedNA(a.ifi.HardwareAddr, ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return net.ErrClosed
	}
	if a.listenNDP == nil {
		return errors.New("no socket for neighbour discovery")
	}
	if a.nd != nil {
		err := a.nd.WriteTo(na, nil, allNodes)
		if err == nil {
			return nil
		}
		// The conn's source address may be gone (a VIP used as the
		// source was removed, the interface was recreated): open anew.
		a.log.Debug("sending neighbour advertisement failed, reopening", "vip", ip, "err", err)
		a.nd.Close()
		a.nd = nil
	}
	nd, err := a.listenNDP(ip)
	if err != nil {
		return err
	}
	a.nd = nd
	return a.nd.WriteTo(na, nil, allNodes)
}

// Burst announces every address in addrs count times: the first round at
// once, then one round every interval. It returns the number of
// announcements sent (one per address per round) and the errors, at most
// one per address; a failed address does not stop the others. When ctx
// ends, Burst returns at once with ctx's error. An Announcer made by
// NewSystem sends nothing and reports 0 sent.
func (a *Announcer) Burst(ctx context.Context, addrs []netip.Addr, count int, interval time.Duration) (sent int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if a.system {
		// Nothing to send, so no rounds to wait for.
		for _, addr := range addrs {
			if _, err := a.announce(addr); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	var (
		errs   []error
		failed = make(map[netip.Addr]bool)
	)
	for round := range count {
		if round > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return sent, errors.Join(append(errs, ctx.Err())...)
			case <-t.C:
			}
		}
		for _, addr := range addrs {
			ok, err := a.announce(addr)
			if err != nil {
				if !failed[addr] {
					failed[addr] = true
					errs = append(errs, err)
				}
				continue
			}
			if ok {
				sent++
			}
		}
	}
	a.log.Debug("announcement burst sent", "vips", addrs, "sent", sent, "rounds", count)
	return sent, errors.Join(errs...)
}

// Close closes the Announcer's sockets. Announcing after Close fails.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	if a.frames != nil {
		if err := a.frames.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.nd != nil {
		if err := a.nd.Close(); err != nil {
			errs = append(errs, err)
		}
		a.nd = nil
	}
	if a.onClose != nil {
		if err := a.onClose(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing announcer on %s: %w", a.ifi.Name, err)
	}
	return nil
}

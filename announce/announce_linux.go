package announce

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"

	"github.com/havip/havip/internal/nsrun"
)

// Open returns an Announcer with real sockets on ifi: an AF_PACKET socket
// for ARP frames, built here so that the interface needs no IPv4 address,
// and, from the first IPv6 announcement on, an ICMPv6 socket for neighbour
// advertisements. Their source address is the interface's link-local
// address, or the VIP itself when there is no usable link-local address
// (the VIP must then be on the interface and not tentative, which
// vip.Manager ensures with IFA_F_NODAD).
//
// Sockets belong to the network namespace of the thread that opens them.
// Open remembers the namespace of the calling thread and opens the ICMPv6
// socket there later, whichever thread announces.
func Open(ifi *net.Interface, logger *slog.Logger) (*Announcer, error) {
	if err := checkInterface(ifi); err != nil {
		return nil, err
	}
	// The socket only sends: a filter that drops everything keeps the
	// ARP traffic of the link out of its receive queue.
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, fmt.Errorf("announce: assembling socket filter: %w", err)
	}
	// One thread for both: the socket's namespace is the one remembered.
	runtime.LockOSThread()
	frames, err := packet.Listen(ifi, packet.Raw, etherTypeARP, &packet.Config{Filter: drop})
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening ARP socket on %s: %w", ifi.Name, err)
	}
	ns, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		// Without /proc: the ICMPv6 socket is opened wherever the first
		// IPv6 announcement runs, as everything else is.
		ns = netns.None()
	}
	closeNS := func() error {
		if !ns.IsOpen() {
			return nil
		}
		return ns.Close()
	}
	a, err := New(ifi, frames, nil, logger)
	if err != nil {
		frames.Close()
		closeNS()
		return nil, err
	}
	a.listenNDP = func(vip netip.Addr) (NDPConn, error) {
		return listenNDP(ns, ifi, vip, a.log)
	}
	a.onClose = closeNS
	return a, nil
}

// listenNDP opens an NDP conn on ifi in the namespace ns, from the
// link-local address or else from vip.
func listenNDP(ns netns.NsHandle, ifi *net.Interface, vip netip.Addr, logger *slog.Logger) (NDPConn, error) {
	var c *ndp.Conn
	err := nsrun.In(ns, func() error {
		var llErr, vipErr error
		c, _, llErr = ndp.Listen(ifi, ndp.LinkLocal)
		if llErr != nil {
			c, _, vipErr = ndp.Listen(ifi, ndp.Addr(vip.String()))
			if vipErr != nil {
				return fmt.Errorf("opening ICMPv6 socket: no usable source address: link-local: %w; %s: %w", llErr, vip, vipErr)
			}
			logger.Info("no usable link-local address, sending neighbour advertisements from the VIP",
				"vip", vip, "err", llErr)
		}
		// The conn only sends: block every incoming ICMPv6 type.
		var f ipv6.ICMPFilter
		f.SetAll(true)
		if err := c.SetICMPFilter(&f); err != nil {
			c.Close()
			return fmt.Errorf("setting ICMPv6 filter: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

package announce

import (
	"log/slog"
	"net"
)

// Open returns an Announcer for ifi that sends nothing: on Windows the
// system announces an address itself when it is added (duplicate address
// detection broadcasts ARP for an IPv4 address with the address as
// sender, which updates the neighbours' caches, and sends neighbour
// solicitations and an advertisement for an IPv6 one), and there is no
// supported way to send more from user space:
//
//   - SendARP only resolves a neighbour's address; it cannot send a
//     gratuitous ARP.
//   - Raw Ethernet frames need an NDIS protocol or filter driver such as
//     Npcap, a separate install with its own licence, which havip does not
//     require.
//   - An unsolicited neighbour advertisement through a raw ICMPv6 socket
//     may be possible, but it has not been tried on a real Windows host,
//     so havip does not send one there yet.
//
// So Burst is a no-op that reports 0 sent, and a takeover relies on the
// announcement Windows makes when vip.Manager adds the address (a VIP
// re-added after an external removal is announced again the same way).
// docs/windows.md says what this means for neighbours that cache
// aggressively.
func Open(ifi *net.Interface, logger *slog.Logger) (*Announcer, error) {
	a, err := NewSystem(ifi, logger)
	if err != nil {
		return nil, err
	}
	a.log.Debug("the system announces VIPs itself; no extra announcements are sent")
	return a, nil
}

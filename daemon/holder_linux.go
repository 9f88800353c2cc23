package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/vip"
)

// systemLifetimes returns how long each address of the interface ifname
// stays valid, read in the calling thread's network namespace:
// permanentLifetime for one the kernel keeps without a lifetime
// (IFA_F_PERMANENT), else the whole seconds left of its valid lifetime.
// A missing interface wraps vip.ErrNoLink.
func systemLifetimes(ifname string) (map[netip.Prefix]time.Duration, error) {
	var h netlink.Handle
	l, err := h.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%s: %w", ifname, vip.ErrNoLink)
		}
		return nil, err
	}
	var addrs []netlink.Addr
	for range 5 {
		addrs, err = h.AddrList(l, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Prefix]time.Duration, len(addrs))
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IPNet.IP)
		if !ok {
			continue
		}
		ones, _ := a.IPNet.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), ones)
		const infinite = 0xFFFFFFFF // INFINITY_LIFE_TIME
		if a.Flags&unix.IFA_F_PERMANENT != 0 || a.ValidLft < 0 || a.ValidLft >= infinite {
			out[p] = permanentLifetime
		} else {
			out[p] = time.Duration(a.ValidLft) * time.Second
		}
	}
	return out, nil
}

package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// DialIn opens a connection from inside the named network namespace: the
// socket is created on a thread switched into ns, so it belongs there.
func DialIn(ctx context.Context, ns, network, addr string) (conn net.Conn, err error) {
	target, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("opening namespace %s: %w", ns, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering namespace %s: %w", ns, err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			// The thread stays locked and is discarded with the goroutine.
			err = errors.Join(err, rerr)
			if conn != nil {
				conn.Close()
				conn = nil
			}
			return
		}
		runtime.UnlockOSThread()
	}()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

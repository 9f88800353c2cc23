package nsrun

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// In runs f with a thread in the network namespace ns: the calling
// goroutine's own when it is there already (or when ns is not open),
// otherwise a throwaway locked thread switched into ns and back. If that
// thread cannot be switched back it stays locked and ends with its
// goroutine, so no other goroutine runs in the wrong namespace.
func In(ns netns.NsHandle, f func() error) error {
	if !ns.IsOpen() {
		return f()
	}
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err == nil && cur.Equal(ns) {
		cur.Close()
		defer runtime.UnlockOSThread()
		return f()
	}
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("reading the current network namespace: %w", err)
	}
	cur.Close()

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("reading the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace %s: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// InNamed is In for the namespace named name (as `ip netns` names it).
func InNamed(name string, f func() error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", name, err)
	}
	defer ns.Close()
	return In(ns, f)
}

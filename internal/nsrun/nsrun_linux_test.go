package nsrun

import (
	"errors"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/internal/nstest"
)

// currentIs reports whether the calling thread is in ns.
func currentIs(ns netns.NsHandle) (bool, error) {
	cur, err := netns.Get()
	if err != nil {
		return false, err
	}
	defer cur.Close()
	return cur.Equal(ns), nil
}

func TestInFromElsewhere(t *testing.T) {
	ns := nstest.New(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if in, err := currentIs(ns.NsHandle()); err != nil || in {
		t.Fatalf("test thread already in the test namespace (%v)", err)
	}
	err := In(ns.NsHandle(), func() error {
		in, err := currentIs(ns.NsHandle())
		if err == nil && !in {
			err = errors.New("f ran outside the namespace")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if in, err := currentIs(ns.NsHandle()); err != nil || in {
		t.Errorf("test thread left in the test namespace (%v)", err)
	}
}

func TestInFromInside(t *testing.T) {
	ns := nstest.New(t)
	err := ns.Do(func() error {
		tid := unix.Gettid()
		return In(ns.NsHandle(), func() error {
			if unix.Gettid() != tid {
				return errors.New("f moved to another thread although the caller was in the namespace")
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInNone(t *testing.T) {
	ran := false
	if err := In(netns.None(), func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("In(None) ran=%t err=%v, want f run as is", ran, err)
	}
}

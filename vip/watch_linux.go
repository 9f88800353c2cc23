package vip

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Watch sends the changes of the interface's addresses and link state to
// events until ctx ends, then returns nil. It returns an error only when it
// cannot subscribe to netlink at the start.
//
// Once subscribed, Watch sends Resync first: a consumer that reads the
// current state (List, LinkUp) on each Resync misses nothing between its
// read and the following events. Watch sends Resync again whenever
// notifications may have been lost: the kernel dropped some (the
// subscription is then renewed) or the interface was deleted, renamed or
// created again. LinkChanged is sent only when the operational state
// changes; the deletion of the interface is LinkChanged with Up false (if
// it was up) followed by Resync.
//
// Watch blocks while events is full, but never after ctx ends. It does not
// close events.
func (m *Manager) Watch(ctx context.Context, events chan<- Event) error {
	if err := m.nl(func(*netlink.Handle) error { return nil }); err != nil {
		return fmt.Errorf("watching %s: %w", m.ifname, err)
	}
	s, err := m.subscribe()
	if err != nil {
		return fmt.Errorf("watching %s: %w", m.ifname, err)
	}
	defer func() { s.stop() }()

	w := &watcher{m: m, ctx: ctx, events: events}
	w.reset()
	if !w.send(Event{Kind: Resync}) {
		return nil
	}
	for {
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case u, open := <-s.addrs:
			if !open {
				s.stop()
				if s = m.resubscribe(ctx); s == nil {
					return nil
				}
				w.reset()
				ok = w.send(Event{Kind: Resync})
				break
			}
			ok = w.addr(u)
		case u, open := <-s.links:
			if !open {
				s.stop()
				if s = m.resubscribe(ctx); s == nil {
					return nil
				}
				w.reset()
				ok = w.send(Event{Kind: Resync})
				break
			}
			ok = w.link(u)
		}
		if !ok {
			return nil
		}
	}
}

// watcher holds what Watch knows of the interface.
type watcher struct {
	m      *Manager
	ctx    context.Context
	events chan<- Event

	index int  // the interface's index; 0 while it does not exist
	up    bool // last reported operational state
}

// reset reads the interface's index and state afresh.
func (w *watcher) reset() {
	w.index, w.up = 0, false
	l, err := w.m.link()
	if err != nil {
		return
	}
	w.index = l.Attrs().Index
	w.up = linkUp(l.Attrs())
}

// send delivers e unless ctx ends first; false means stop.
func (w *watcher) send(e Event) bool {
	select {
	case w.events <- e:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *watcher) addr(u netlink.AddrUpdate) bool {
	if w.index == 0 || u.LinkIndex != w.index {
		return true
	}
	p, ok := ipNetPrefix(&u.LinkAddress)
	if !ok {
		return true
	}
	kind := AddrRemoved
	if u.NewAddr {
		kind = AddrAdded
	}
	return w.send(Event{Kind: kind, Prefix: p})
}

func (w *watcher) link(u netlink.LinkUpdate) bool {
	attrs := u.Link.Attrs()
	index := int(u.IfInfomsg.Index)
	deleted := u.Header.Type == unix.RTM_DELLINK
	ours := attrs.Name == w.m.ifname

	switch {
	case w.index != 0 && index == w.index && (deleted || !ours):
		// Deleted, or renamed to something else: gone.
		w.index = 0
		return w.setUp(false) && w.send(Event{Kind: Resync})
	case index == w.index:
		return w.setUp(linkUp(attrs))
	case ours && !deleted:
		// Created, created again, or another link renamed to our name.
		w.index = index
		return w.setUp(linkUp(attrs)) && w.send(Event{Kind: Resync})
	default:
		return true
	}
}

// setUp records the operational state and reports a change.
func (w *watcher) setUp(up bool) bool {
	if up == w.up {
		return true
	}
	w.up = up
	return w.send(Event{Kind: LinkChanged, Up: up})
}

// subscription is one pair of netlink subscriptions, addresses and links.
type subscription struct {
	done  chan struct{}
	addrs chan netlink.AddrUpdate // nil when not subscribed
	links chan netlink.LinkUpdate // nil when not subscribed
}

func (m *Manager) subscribe() (*subscription, error) {
	s := &subscription{
		done:  make(chan struct{}),
		addrs: make(chan netlink.AddrUpdate, 64),
		links: make(chan netlink.LinkUpdate, 64),
	}
	// The library reports the end of a subscription (ENOBUFS included)
	// here and then closes the channel.
	logErr := func(err error) { m.log.Debug("netlink subscription", "err", err) }
	err := netlink.AddrSubscribeWithOptions(s.addrs, s.done, netlink.AddrSubscribeOptions{
		Namespace:              m.ns,
		ErrorCallback:          logErr,
		ReceiveBufferSize:      m.rcvbuf,
		ReceiveBufferForceSize: m.rcvbuf != 0,
	})
	if err != nil {
		s.addrs, s.links = nil, nil
		s.stop()
		return nil, fmt.Errorf("subscribing to address changes: %w", err)
	}
	err = netlink.LinkSubscribeWithOptions(s.links, s.done, netlink.LinkSubscribeOptions{
		Namespace:              m.ns,
		ErrorCallback:          logErr,
		ReceiveBufferSize:      m.rcvbuf,
		ReceiveBufferForceSize: m.rcvbuf != 0,
	})
	if err != nil {
		s.links = nil
		s.stop()
		return nil, fmt.Errorf("subscribing to link changes: %w", err)
	}
	return s, nil
}

// resubscribe subscribes again, retrying with backoff until it works or
// ctx ends (nil).
func (m *Manager) resubscribe(ctx context.Context) *subscription {
	m.log.Info("netlink notifications lost, subscribing again")
	backoff := 50 * time.Millisecond
	for {
		s, err := m.subscribe()
		if err == nil {
			return s
		}
		m.log.Warn("subscribing to netlink", "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// stop ends the subscriptions and waits for their goroutines: closing done
// closes the sockets, which ends the receive loops, which close the
// channels. Draining lets a loop blocked on a full channel get there.
func (s *subscription) stop() {
	if s == nil {
		return
	}
	select {
	case <-s.done:
		return // already stopped
	default:
	}
	close(s.done)
	if s.addrs != nil {
		for range s.addrs {
		}
	}
	if s.links != nil {
		for range s.links {
		}
	}
}

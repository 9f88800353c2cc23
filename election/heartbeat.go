package election

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/havip/havip/election/internal/wire"
)

// heartbeater sends this node's heartbeats and records the members'.
// Every member sends every other one a small heartbeat each
// heartbeat_interval, in frames of their own to members that read them
// (Meta.Frames) and through memberlist to the others. Sending is paced:
// see setPace. Receiving is the transport's (the frames of the pace
// member wake the loop, the others wait in the lazy socket, see package
// wire); arrivals go to presence.
type heartbeater struct {
	self     string
	log      *slog.Logger
	presence *presence
	framer   *wire.Framer
	// tr is the transport under memberlist; nil until Run.
	tr wire.Transport
	// noFrames makes this node neither send nor read heartbeat frames
	// nor announce that it reads them, as a version before them did
	// (set by tests before Run).
	noFrames bool
	// pace names the member whose heartbeats this node sends its own
	// with (see setPace); paced is signalled when one arrives.
	pace  atomic.Pointer[string]
	paced chan struct{}
	// news is signalled when a member's heartbeat announces a new state
	// (presence.onNews).
	news chan struct{}
	// pacedBeats counts the heartbeats sent on the pace member's.
	pacedBeats atomic.Uint64
	// framesRead counts the heartbeat frames read, by kind (eager,
	// lazy); framesSent those sent.
	framesRead [2]atomic.Uint64
	framesSent atomic.Uint64
	// counter numbers this run's heartbeats; msgBuf and frameBuf are
	// the buffers they are encoded and sealed in. The election
	// goroutine's.
	counter  uint64
	msgBuf   []byte
	frameBuf []byte
	// hears is the election goroutine's buffer for the hearing list.
	hears []hearing
}

func newHeartbeater(self string, l *slog.Logger, p *presence, f *wire.Framer) *heartbeater {
	h := &heartbeater{self: self, log: l, presence: p, framer: f, paced: make(chan struct{}, 1), news: make(chan struct{}, 1)}
	p.onNews = func() {
		select {
		case h.news <- struct{}{}:
		default:
		}
	}
	return h
}

// received records a heartbeat from name that arrived at at from from
// (invalid when not known). One from the pace member read as it arrived
// (not from the lazy socket) sends this node's own.
func (h *heartbeater) received(name string, payload []byte, from netip.AddrPort, at time.Time, read bool) {
	hb, ok := parseHeartbeat(payload)
	if !ok {
		h.log.Debug("dropping malformed heartbeat", "peer", name)
		return
	}
	if hb.acks && hb.to != h.self {
		// Sent to another member (and replayed here): its
		// acknowledgement is not this node's.
		return
	}
	if !h.presence.received(name, hb, from, at) {
		return
	}
	if p := h.pace.Load(); read && p != nil && *p == name {
		select {
		case h.paced <- struct{}{}:
		default:
		}
	}
}

// onFrame handles a heartbeat frame, read as it arrived (read) or from
// the lazy socket; b is only valid during the call.
func (h *heartbeater) onFrame(b []byte, from netip.AddrPort, at time.Time, read bool) {
	msg, err := h.framer.Open(b)
	if err != nil {
		h.log.Debug("dropping heartbeat frame", "err", err)
		return
	}
	name, payload, ok := splitNamed(msg)
	if !ok || msg[0] != msgHeartbeat || name == h.self {
		return
	}
	kind := 0
	if b[0] == wire.FrameLazy {
		kind = 1
	}
	h.framesRead[kind].Add(1)
	h.received(name, payload, from, at, read)
}

// eagerFrame is onFrame for the frames the transport reads as they
// arrive; nil when this node does not read frames.
func (h *heartbeater) eagerFrame() wire.FrameFunc {
	if h.noFrames {
		return nil
	}
	return func(b []byte, from netip.AddrPort, at time.Time) { h.onFrame(b, from, at, true) }
}

func (h *heartbeater) lazyFrame(b []byte, from netip.AddrPort, at time.Time) {
	h.onFrame(b, from, at, false)
}

// path says how this node receives heartbeats, for the log: frames, the
// lazy ones from a socket read when the daemon wakes anyway ("frames,
// lazy socket"), frames read as they arrive, or memberlist.
func (h *heartbeater) path() string {
	switch {
	case h.noFrames:
		return "memberlist"
	case h.tr != nil && h.tr.Lazy():
		return "frames, lazy socket"
	}
	return "frames, read as they arrive"
}

// readLazy handles the heartbeat frames waiting in the lazy socket.
func (h *heartbeater) readLazy() {
	if h.tr != nil {
		h.tr.ReadLazy(h.lazyFrame)
	}
}

// setPace picks the member whose heartbeats this node sends its own
// with: the present member with the lowest name, or none when that is
// this node. Every member picks the same one and sends on the arrival
// of its heartbeat, so one wakeup receives and sends, where independent
// ticks would each wake the daemon once more per interval (the pace
// member itself still wakes for its tick and for the heartbeats that
// answer it). The spacing of each member's heartbeats stays the
// interval; its own tick takes over if the pace member falls silent.
func (h *heartbeater) setPace(ms memberTable, now time.Time) {
	var pace *string
	for name, m := range ms {
		if name < h.self && (pace == nil || name < *pace) && h.presence.present(m, now) {
			pace = &m.name
		}
	}
	if h.pace.Load() != pace {
		h.pace.Store(pace)
	}
}

// send sends this node's next heartbeat, announcing metadata version v,
// to the members membership sends to: in a frame to those that read
// frames (eager from the pace member, or when urgent, lazy otherwise),
// through memberlist to the rest. Each member's heartbeat acknowledges
// the last one this node took from it. An urgent heartbeat announces a
// new state of this node or confirms a member's: the receiver waits for
// it, so it wakes the receiver instead of waiting for its next wakeup.
func (h *heartbeater) send(ms *membership, v metaVersionOf, urgent bool) {
	if !ms.running() {
		return
	}
	h.counter++
	h.presence.noteSent(h.counter, time.Now(), v.seq)
	kind := wire.FrameLazy
	if h.pace.Load() == nil || urgent {
		kind = wire.FrameEager
	}
	now := time.Now()
	h.hears = h.presence.hearings(ms.members, now, h.hears[:0])
	ms.forContacts(func(m *member) {
		hb := heartbeat{version: &v, beat: beatID{epoch: v.epoch, counter: h.counter}, acks: true, to: m.name, ack: h.presence.lastBeat(m.name), hears: h.hears}
		h.msgBuf = appendHeartbeat(h.msgBuf[:0], h.self, hb)
		if h.noFrames || !m.hasMeta || !m.meta.Frames {
			ms.sendTo(m, h.msgBuf)
			return
		}
		to, err := netip.ParseAddrPort(m.addr)
		if err != nil {
			ms.sendTo(m, h.msgBuf)
			return
		}
		h.frameBuf = h.framer.Seal(h.frameBuf[:0], kind, h.msgBuf)
		if err := h.tr.WriteFrame(h.frameBuf, to); err != nil {
			h.log.Debug("heartbeat frame failed", "peer", m.name, "err", err)
			return
		}
		h.framesSent.Add(1)
	})
}

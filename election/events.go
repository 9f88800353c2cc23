package election

import (
	"log/slog"
	"sync"
	"time"
)

type eventKind int

const (
	evJoin eventKind = iota
	evLeave
	evUpdate
	evMsg
	evSuspect
	evPingOK
	evDirective
	// evResumed: a member is heard again after a silence (or for the
	// first time); it gets this node's metadata at once.
	evResumed
	// evMetaRequest: a member asks for this node's metadata.
	evMetaRequest
)

// event is what memberlist's delegates and the message handlers hand the
// election goroutine.
type event struct {
	kind eventKind
	name string
	addr string
	meta []byte
	dirs []directive
	// long, on evResumed: the silence outlasted a lease and its margin;
	// at is when the member was heard again.
	long bool
	at   time.Time
	// relayed, on evMsg: the metadata came from another member, not
	// from the member it describes.
	relayed bool
	// rejoined, on evJoin or evUpdate: merged events said the member
	// was gone in between (see merged.gone).
	rejoined bool
}

// eventQueue carries events to the election goroutine; putting one never
// blocks, so memberlist's goroutines never wait for the election. Events
// go through a channel; when it is full (a burst while the election
// goroutine is busy) they are merged per member instead of dropped — a
// lost leave would keep a dead holder "alive" — and the election
// goroutine takes the merged ones after the channel's. While merged
// events wait, new ones are merged too, so each member's events keep
// their order.
type eventQueue struct {
	log *slog.Logger
	ch  chan event
	// more is signalled when merged events wait.
	more chan struct{}

	mu       sync.Mutex
	spilling bool
	order    []string // members with merged events, in first-arrival order
	pending  map[string]*merged
	dirs     map[string]directive
}

// merged is what a burst of events about one member comes down to: its
// last membership change, its newest message, its last probe verdict,
// and whether it asked for (or should get) this node's metadata.
type merged struct {
	member *event // the last join, update or leave
	// gone: a leave was merged; a join or update merged after it says
	// the member came back.
	gone    bool
	msg     *event // the last evMsg from the member itself
	relay   *event // the last evMsg passed on by another member
	probe   *event // the last evSuspect or evPingOK
	resumed bool
	long    bool
	at      time.Time // of the first long resumption
	request bool
}

// eventQueueSize is the channel's capacity: far more than a cluster of
// ten makes between two wakeups of the election goroutine.
const eventQueueSize = 1024

func newEventQueue(l *slog.Logger) *eventQueue {
	return &eventQueue{log: l, ch: make(chan event, eventQueueSize), more: make(chan struct{}, 1),
		pending: map[string]*merged{}, dirs: map[string]directive{}}
}

func (q *eventQueue) put(e event) {
	q.mu.Lock()
	if !q.spilling {
		select {
		case q.ch <- e:
			q.mu.Unlock()
			return
		default:
			q.spilling = true
			q.log.Warn("event queue full, merging member events until the election catches up", "peer", e.name)
		}
	}
	q.mergeLocked(e)
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// mergeLocked folds e into the merged events (q.mu held).
func (q *eventQueue) mergeLocked(e event) {
	if e.kind == evDirective {
		for _, d := range e.dirs {
			if old, ok := q.dirs[d.Instance]; ok && !d.supersedes(old) {
				continue
			}
			if _, ok := q.dirs[d.Instance]; ok || len(q.dirs) < maxDirectives {
				q.dirs[d.Instance] = d
			}
		}
		return
	}
	m := q.pending[e.name]
	if m == nil {
		if len(q.pending) >= maxMembers && !membershipEvent(e.kind) {
			// Messages naming strangers (insecure mode) are not
			// worth unbounded state; memberlist's own reports are
			// never dropped (a lost leave would keep a dead holder
			// "alive"), and memberlist records at most maxMembers
			// names (see aliveDelegate).
			return
		}
		m = &merged{}
		q.pending[e.name] = m
		q.order = append(q.order, e.name)
	}
	switch e.kind {
	case evLeave:
		m.member = &e
		m.gone = true
	case evJoin, evUpdate:
		e.rejoined = e.rejoined || m.gone
		m.member = &e
	case evMsg:
		if e.relayed {
			m.relay = &e
		} else {
			m.msg = &e
		}
	case evSuspect, evPingOK:
		m.probe = &e
	case evResumed:
		m.resumed = true
		if e.long && !m.long {
			m.long, m.at = true, e.at
		}
	case evMetaRequest:
		m.request = true
	}
}

// take returns the merged events, in an order that applies each member's
// membership change before its messages, and ends the merging.
func (q *eventQueue) take() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []event
	for _, d := range q.dirs {
		out = append(out, event{kind: evDirective, dirs: []directive{d}})
	}
	for _, name := range q.order {
		m := q.pending[name]
		for _, e := range []*event{m.member, m.msg, m.relay, m.probe} {
			if e != nil {
				out = append(out, *e)
			}
		}
		if m.resumed {
			out = append(out, event{kind: evResumed, name: name, long: m.long, at: m.at})
		} else if m.request {
			out = append(out, event{kind: evMetaRequest, name: name})
		}
	}
	q.order, q.pending, q.dirs = nil, map[string]*merged{}, map[string]directive{}
	q.spilling = false
	return out
}

// membershipEvent reports whether k is one of memberlist's reports of a
// member's state.
func membershipEvent(k eventKind) bool {
	return k == evJoin || k == evUpdate || k == evLeave || k == evSuspect || k == evPingOK
}

package election

import "log/slog"

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
}

// eventQueue carries events to the election goroutine; putting one never
// blocks, so memberlist's goroutines never wait for the election.
type eventQueue struct {
	log *slog.Logger
	ch  chan event
}

func newEventQueue(l *slog.Logger) *eventQueue {
	return &eventQueue{log: l, ch: make(chan event, 1024)}
}

func (q *eventQueue) put(e event) {
	select {
	case q.ch <- e:
	default:
		q.log.Warn("event queue full, dropping member event", "peer", e.name)
	}
}

package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/havip/havip/election"
	"github.com/havip/havip/status"
)

// eventLogSize is how many events the daemon keeps for `havip events`.
const eventLogSize = 1000

// eventLog keeps the latest events in a ring, numbered from 1, and wakes
// the queries that wait for the next one. Its lock is a leaf: it is
// taken under the daemon's locks and the cloud runners'.
type eventLog struct {
	// run tells this run's numbering from another's.
	run uint64

	mu   sync.Mutex
	ring []status.Event
	last uint64 // sequence number of the newest event, 0 before the first
	// waiters counts the queries waiting for an event.
	waiters int
	// wake is closed, and replaced, when an event is added.
	wake chan struct{}
	// done is closed when the daemon stops: waiting queries answer.
	done     chan struct{}
	doneOnce sync.Once
}

func newEventLog(size int) *eventLog {
	return &eventLog{
		run:  uint64(time.Now().UnixMilli()),
		ring: make([]status.Event, size),
		wake: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// add numbers e, stamps it with the time now unless it has one, and
// keeps it, dropping the oldest event when the log is full.
func (l *eventLog) add(e status.Event) {
	if e.At == "" {
		e.At = status.FormatTime(time.Now())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last++
	e.Seq = l.last
	l.ring[(e.Seq-1)%uint64(len(l.ring))] = e
	close(l.wake)
	l.wake = make(chan struct{})
}

// after returns the events after cursor, how many of them the log no
// longer holds, and a channel closed when another event is added.
func (l *eventLog) after(cursor uint64) (events []status.Event, missed uint64, wake <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := uint64(1)
	if size := uint64(len(l.ring)); l.last > size {
		oldest = l.last - size + 1
	}
	first := max(cursor+1, oldest)
	for seq := first; seq <= l.last; seq++ {
		events = append(events, l.ring[(seq-1)%uint64(len(l.ring))])
	}
	if first > cursor+1 {
		missed = first - cursor - 1
	}
	return events, missed, l.wake
}

// query answers a query of `havip events`: the events after its cursor,
// waiting up to q.Wait for one when there is none, until ctx ends or
// the daemon stops. A cursor of another run reads from the start.
func (l *eventLog) query(ctx context.Context, q status.EventsQuery) status.EventsReply {
	cursor := q.After
	if q.Run != l.run {
		cursor = 0
	}
	events, missed, wake := l.after(cursor)
	if len(events) == 0 && q.Wait > 0 {
		l.wait(+1)
		defer l.wait(-1)
		t := time.NewTimer(q.Wait)
		defer t.Stop()
		select {
		case <-wake:
			events, missed, _ = l.after(cursor)
		case <-t.C:
		case <-ctx.Done():
		case <-l.done:
		}
	}
	reply := status.EventsReply{Run: l.run, Events: events, Next: cursor, Missed: missed}
	if reply.Events == nil {
		reply.Events = []status.Event{}
	}
	if n := len(events); n > 0 {
		reply.Next = events[n-1].Seq
	}
	return reply
}

// wait counts a query that starts (+1) or ends (-1) waiting.
func (l *eventLog) wait(n int) {
	l.mu.Lock()
	l.waiters += n
	l.mu.Unlock()
}

// waiting returns how many queries wait for an event.
func (l *eventLog) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiters
}

// close answers the waiting queries: the daemon stops.
func (l *eventLog) close() { l.doneOnce.Do(func() { close(l.done) }) }

// transition records an instance's transition.
func (l *eventLog) transition(t election.Transition) {
	l.add(status.Event{Kind: status.EventTransition, At: status.FormatTime(t.At), Instance: t.Instance,
		From: t.From.String(), To: t.To.String(), Master: t.Master, Reason: t.Reason})
}

// verdict is a check's result as events name it.
func verdict(healthy bool) string {
	if healthy {
		return "ok"
	}
	return "failed"
}

// check records a track script's new verdict for an instance.
func (l *eventLog) check(instance, check string, healthy bool, reason string) {
	e := status.Event{Kind: status.EventCheck, Instance: instance, Check: check,
		From: verdict(!healthy), To: verdict(healthy)}
	if !healthy {
		e.Reason = reason
	}
	l.add(e)
}

// link records an interface's state when it differs from the last one
// read (prev, known): "" is up, anything else says why it is unusable.
func (l *eventLog) link(ifname, prev string, known bool, reason string) {
	if known && prev == reason {
		return
	}
	e := status.Event{Kind: status.EventCheck, Check: "interface " + ifname, To: verdict(reason == ""), Reason: reason}
	if known {
		e.From = verdict(prev == "")
	}
	l.add(e)
}

// cloudRecorder returns what records an instance's cloud results; the
// runner calls it when the result or its error changes.
func (l *eventLog) cloudRecorder(instance string) func(from, to, err string) {
	return func(from, to, err string) {
		l.add(status.Event{Kind: status.EventCloud, Instance: instance, From: from, To: to, Reason: err})
	}
}

// memberState is a member's state as the status table shows it.
func memberState(m election.MemberStatus) string {
	if m.Maintenance {
		return string(m.State) + ",maintenance"
	}
	return string(m.State)
}

// members records what changed between two views of the members (by
// name, memberState): a member new to the view, a changed state, a
// member gone from it. It returns the new view.
func (l *eventLog) members(prev map[string]string, now []election.MemberStatus) map[string]string {
	next := make(map[string]string, len(now))
	for _, m := range now {
		st := memberState(m)
		next[m.Name] = st
		if old, ok := prev[m.Name]; !ok || old != st {
			e := status.Event{Kind: status.EventMember, Member: m.Name, From: old, To: st}
			if m.Addr != "" {
				e.Reason = "at " + m.Addr
			}
			l.add(e)
		}
	}
	for name, old := range prev {
		if _, ok := next[name]; !ok {
			l.add(status.Event{Kind: status.EventMember, Member: name, From: old, To: "gone"})
		}
	}
	return next
}

// watchEvents is the events task: it records member changes from the
// election's view each time the election says they changed (none
// without an election), and at the end answers the queries still
// waiting, so that the status socket stops at once.
func (d *Daemon) watchEvents(ctx context.Context, node *election.Node) error {
	defer d.events.close()
	var (
		view    map[string]string
		changed <-chan struct{}
	)
	if node != nil {
		changed = node.MembersChanged()
	}
	for {
		if node != nil {
			view = d.events.members(view, node.Status().Members)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

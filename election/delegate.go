package election

import (
	"encoding/json"
	"net/netip"
	"slices"
	"time"
)

// delegate serves memberlist's Delegate: this node's metadata and state
// for gossip and push/pull, and the direct messages. It never blocks:
// what the election goroutine must see goes through the event queue.
type delegate struct{ n *Node }

func (d *delegate) NodeMeta(limit int) []byte {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	if len(d.n.metaBuf) > limit {
		return nil
	}
	return slices.Clone(d.n.metaBuf)
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) < 2 {
		return
	}
	if b[0] == msgDirective {
		var ds []directive
		if err := json.Unmarshal(b[1:], &ds); err == nil {
			d.n.events.put(event{kind: evDirective, dirs: ds})
		}
		return
	}
	name, payload, ok := splitNamed(b)
	if !ok {
		return
	}
	switch b[0] {
	case msgHeartbeat:
		// memberlist does not say where a message came from.
		d.n.beats.received(name, payload, netip.AddrPort{}, time.Now(), true)
	case msgMetaRequest:
		d.n.events.put(event{kind: evMetaRequest, name: name})
	case msgMeta:
		// Metadata orders itself (epoch, seq), but a replayed copy
		// could make a crashed member look alive: only heartbeats,
		// each newer than the last, and probes' answers count as
		// hearing a member.
		d.n.events.put(event{kind: evMsg, name: name, meta: slices.Clone(payload)})
	case msgMetaOf:
		// Passed on by another member: it says nothing of whether
		// the member it names is up.
		d.n.events.put(event{kind: evMsg, name: name, meta: slices.Clone(payload), relayed: true})
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState sends this node's current metadata with every push/pull.
// memberlist's own copy of it is only refreshed by UpdateNode, which runs
// a moment after a takeover; a node joining in that moment must still
// learn that this node holds.
func (d *delegate) LocalState(join bool) []byte { return d.n.localState() }

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	var ps pushState
	if err := json.Unmarshal(buf, &ps); err != nil || ps.Name == "" {
		return
	}
	d.n.events.put(event{kind: evMsg, name: ps.Name, meta: ps.Meta})
	if len(ps.Directives) > 0 {
		d.n.events.put(event{kind: evDirective, dirs: ps.Directives})
	}
}

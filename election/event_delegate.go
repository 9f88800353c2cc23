package election

import (
	"slices"

	"github.com/hashicorp/memberlist"
)

// eventDelegate turns memberlist's membership changes into events.
type eventDelegate struct{ q *eventQueue }

func (d *eventDelegate) NotifyJoin(nd *memberlist.Node) {
	d.q.put(event{kind: evJoin, name: nd.Name, addr: nodeAddr(nd), meta: slices.Clone(nd.Meta)})
}

func (d *eventDelegate) NotifyLeave(nd *memberlist.Node) {
	// nd.State is not kept up to date by memberlist; whether the member
	// left or died comes from its last metadata (Meta.Leaving).
	d.q.put(event{kind: evLeave, name: nd.Name, addr: nodeAddr(nd)})
}

func (d *eventDelegate) NotifyUpdate(nd *memberlist.Node) {
	d.q.put(event{kind: evUpdate, name: nd.Name, addr: nodeAddr(nd), meta: slices.Clone(nd.Meta)})
}

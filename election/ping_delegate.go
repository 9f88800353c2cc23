package election

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// pingDelegate learns of successful probes, which end a suspicion and
// show the member is up.
type pingDelegate struct{ n *Node }

func (p *pingDelegate) AckPayload() []byte { return nil }

func (p *pingDelegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	p.n.presence.heard(other.Name, time.Now())
	p.n.events.put(event{kind: evPingOK, name: other.Name})
}

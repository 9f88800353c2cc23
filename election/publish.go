package election

import (
	"context"
	"time"
)

// buildMeta returns this node's metadata with the given sequence number.
func (n *Node) buildMeta(seq uint64) Meta {
	m := Meta{Epoch: n.epoch, Seq: seq, Maintenance: n.maintenance, Leaving: n.leaving, Frames: !n.beats.noFrames}
	for _, in := range n.insts {
		m.Instances = append(m.Instances, InstanceMeta{Name: in.cfg.Name, Priority: in.prio, Holding: in.holding})
	}
	return m
}

// checkMetaSize reports whether the metadata of these instances fits
// memberlist's limit.
func checkMetaSize(insts []Instance) error {
	probe := Meta{}
	for _, ic := range insts {
		probe.Instances = append(probe.Instances, InstanceMeta{Name: ic.Name})
	}
	_, err := probe.MarshalBinary()
	return err
}

func (n *Node) storeMeta(m Meta) {
	b, err := m.MarshalBinary()
	if err != nil {
		// New and Reload checked the size with the same instances;
		// this cannot grow, so keep the last good metadata.
		n.log.Error("encoding node metadata", "err", err)
		return
	}
	n.mu.Lock()
	n.metaBuf = b
	n.mu.Unlock()
}

// publish records the new local state, tells every alive member at once
// with a direct message (the fast path for a release) and asks the
// publisher to gossip it (the reliable path).
func (n *Node) publish() {
	n.seq++
	n.storeMeta(n.buildMeta(n.seq))
	n.members.sendAll(n.directMessage())
	select {
	case n.pubCh <- struct{}{}:
	default:
	}
}

// directMessage encodes this node's name and current metadata.
func (n *Node) directMessage() []byte {
	n.mu.Lock()
	meta := n.metaBuf
	n.mu.Unlock()
	return namedMessage(msgMeta, n.cfg.Name, meta)
}

// publisher gossips metadata changes; UpdateNode blocks until the update
// went out, so it runs beside the election goroutine, coalescing changes.
func (n *Node) publisher(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pubCh:
			if err := n.gossipMeta(n.cfg.Timing.TCPTimeout); err != nil {
				n.log.Debug("gossiping node metadata", "err", err)
			}
		}
	}
}

// gossipMeta gossips this node's metadata, waiting up to timeout for it to
// go out (memberlist waits only while another member is alive), one call
// at a time.
func (n *Node) gossipMeta(timeout time.Duration) error {
	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	return n.members.ml.UpdateNode(timeout)
}

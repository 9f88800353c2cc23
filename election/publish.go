package election

import (
	"context"
	"time"
)

// buildMeta returns this node's metadata with the given sequence number.
func (n *Node) buildMeta(seq uint64) Meta {
	m := Meta{Epoch: n.epoch, Seq: seq, Maintenance: n.maintenance, Leaving: n.leaving, Frames: !n.beats.noFrames,
		Directives: n.dirDigest, HasDirectives: true}
	for _, in := range n.insts {
		m.Instances = append(m.Instances, InstanceMeta{Name: in.cfg.Name, Priority: in.prio, Holding: in.holding})
	}
	return m
}

// checkMetaSize reports whether the metadata of these instances fits
// memberlist's limit.
func checkMetaSize(insts []Instance) error {
	probe := Meta{HasDirectives: true}
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
	n.publishMeta()
	n.stateSeq = n.seq
}

// publishMeta publishes the metadata as publish does, for a change that
// leaves this node's state as the election counts it (its instances'
// priorities and holding, maintenance) as it was: only the digest of the
// switchovers it knows. A takeover waits until the members know this
// node's state (presence.informed), not until they have every digest.
func (n *Node) publishMeta() {
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
// It waits at most four gossip intervals (tcp_timeout if shorter):
// memberlist decides whether to wait once, when the call begins, and a
// member it then counts as alive may leave before the update goes out;
// with nobody left to gossip to, the call lasts its whole timeout, and
// the shutdown, which waits for the call under way, with it. An update
// not out by then stays queued and goes out all the same.
func (n *Node) publisher(ctx context.Context) {
	wait := min(n.cfg.Timing.TCPTimeout, 4*n.cfg.Timing.GossipInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pubCh:
			if err := n.gossipMeta(ctx, wait); err != nil && ctx.Err() == nil {
				n.log.Debug("gossiping node metadata", "err", err)
			}
		}
	}
}

// gossipMeta gossips this node's metadata, waiting up to timeout for it to
// go out (memberlist waits only while another member is alive), one call
// at a time; nothing once ctx is done. A call under way when the shutdown
// begins finishes first (memberlist is still gossiping then); one that
// would start after it does not.
func (n *Node) gossipMeta(ctx context.Context, timeout time.Duration) error {
	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.members.ml.UpdateNode(timeout)
}

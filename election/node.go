package election

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/havip/havip/config"
)

// Holder puts the VIPs of one instance on this node and takes them away.
// The election calls it from its one goroutine, so both methods must
// return quickly: work that can wait (announcement bursts, cloud calls)
// belongs in the holder's own goroutines.
type Holder interface {
	// Acquire adds the VIPs and starts announcing them.
	Acquire(ctx context.Context) error
	// Release stops announcing and removes the VIPs.
	Release(ctx context.Context) error
}

// Reannouncer is an optional part of a Holder: announce the VIPs again
// (a fresh burst) without re-adding them.
type Reannouncer interface {
	Reannounce()
}

// Transition describes one change of an instance's state.
type Transition struct {
	Instance string
	From, To State
	Reason   string
	Master   string
	At       time.Time
	// MasterLost, on a transition to MASTER, is when this node saw the
	// previous master go (left, died or released); zero when there was
	// none to replace.
	MasterLost time.Time
}

// Options configure a Node.
type Options struct {
	Config *config.Config
	// Holders has one holder per configured instance, by instance name.
	Holders map[string]Holder
	Logger  *slog.Logger
	// OnTransition, if set, is called from the election goroutine after
	// every transition. It must not block.
	OnTransition func(Transition)
	// Ready, if set, is called once, when every instance has left INIT.
	Ready func()
	// Maintenance starts the node drained (a persisted maintenance).
	Maintenance bool
}

// Node is this member of the cluster: it gossips with the others and
// decides the role of each local instance.
type Node struct {
	cfg     *config.Config
	log     *slog.Logger
	onTrans func(Transition)
	ready   func()

	ml     *memberlist.Memberlist
	runCtx context.Context
	events chan event
	ctl    chan controlReq
	kick   chan struct{}
	pubCh  chan struct{}
	// pace names the member whose heartbeats this node sends its own
	// with (see setPace); paced is signalled when one arrives.
	pace  atomic.Pointer[string]
	paced chan struct{}
	// pacedBeats counts the heartbeats sent on the pace member's.
	pacedBeats atomic.Uint64
	// tr is the transport under memberlist; framer seals and opens
	// the heartbeat frames sent on it (frame.go).
	tr     *transport
	framer *framer
	// noFrames makes this node neither send nor read heartbeat frames
	// nor announce that it reads them, as a version before them did
	// (set by tests before Run).
	noFrames bool
	// framesRead counts the heartbeat frames read, by kind (eager,
	// lazy); framesSent those sent.
	framesRead [2]atomic.Uint64
	framesSent atomic.Uint64
	// frameBuf is the election goroutine's buffer for sealing.
	frameBuf []byte
	epoch    uint64
	start    time.Time

	// Owned by the election goroutine.
	insts        []*instance
	members      map[string]*member
	settled      bool
	settleBy     time.Time
	joinBusy     bool
	joinErrs     map[string]string
	readyFired   bool
	maintenance  bool
	lastPubPrios map[string]uint8
	seq          uint64
	leaving      bool
	joinFailed   bool
	// quorumSince is when this node last regained quorum (zero while
	// it has none).
	quorumSince  time.Time
	lastSig      uint64
	directives   map[string]directive
	forcePublish bool
	// mlStopped is set by tests that stop memberlist under the node to
	// simulate a crash.
	mlStopped atomic.Bool
	// mlLive is ml for readers outside the election goroutine.
	mlLive   atomic.Pointer[memberlist.Memberlist]
	selfAddr string

	mu       sync.Mutex // guards the fields below, read by other goroutines
	metaBuf  []byte
	faults   map[string]string
	snapshot Status
	// pubDirectives is a copy of directives for push/pull.
	pubDirectives []directive
	// lastHeard is when any message (heartbeat, state, probe ack) last
	// came from each member.
	lastHeard map[string]time.Time
	// hbVersion is the metadata version each member's last heartbeat
	// announced: when it is newer than the metadata this node has, this
	// node's view of that member is stale.
	hbVersion map[string]metaVersionOf
}

type instance struct {
	cfg         config.Instance
	holder      Holder
	state       State
	since       time.Time
	reason      string
	master      string
	holding     bool
	fault       string
	retryAt     time.Time // after a failed acquire, no new attempt before this
	higherSince time.Time
	recheck     time.Time
	// penalties lower the effective priority, by source (track scripts).
	penalties map[string]int
	// conflict is set while another holder is seen and this node keeps
	// the VIPs.
	conflict bool
	lastFrom State
	// masterLost is when the master this node knew went away.
	masterLost time.Time
	// confirmAt is when a takeover from a holder that went silent may
	// go ahead (see confirmDelay); zero when none is pending.
	confirmAt time.Time
}

type member struct {
	name    string
	addr    string
	state   MemberState
	meta    Meta
	hasMeta bool
	since   time.Time
	// joined is when memberlist last reported it alive after any other
	// state: a member not heard from since has heartbeat_timeout from
	// then to send its first heartbeat.
	joined time.Time
}

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

type event struct {
	kind eventKind
	name string
	addr string
	meta []byte
	dirs []directive
}

// msgMeta is the first byte of a direct message carrying a node's Meta.
const msgMeta byte = 1

// msgHeartbeat is the first byte of a heartbeat: the sender's name and
// the version (epoch, seq) of its current metadata.
const msgHeartbeat byte = 3

// msgMetaRequest is the first byte of a request for the receiver's
// metadata, sent by a node that learned from a heartbeat that its view of
// the receiver is stale; followed by the sender's name.
const msgMetaRequest byte = 5

// heard records that a message from node arrived now.
func (n *Node) heard(node string) { n.heardVersion(node, nil, time.Now()) }

// heardVersion records that a message from node arrived at at and, for a
// heartbeat, the metadata version it announced. A member heard again
// after a silence longer than it takes to stop counting it (or for the
// first time) is sent this node's metadata at once: whatever it missed
// meanwhile, it must not decide on a stale view of this node. A lazy
// heartbeat frame is read after messages that arrived later; the last
// arrival stays.
func (n *Node) heardVersion(node string, v *metaVersionOf, at time.Time) {
	gap := silenceLimit(n.cfg.Cluster.Timing)
	n.mu.Lock()
	if v != nil {
		if old, ok := n.hbVersion[node]; !ok || v.newer(old) {
			n.hbVersion[node] = *v
		}
	}
	last, ok := n.lastHeard[node]
	later := !ok || at.After(last)
	if later {
		n.lastHeard[node] = at
	}
	n.mu.Unlock()
	if later && (!ok || at.Sub(last) > gap) {
		n.enqueue(event{kind: evResumed, name: node})
	}
}

// heartbeat records a heartbeat from node (payload: its metadata version)
// that arrived at at. One from the pace member read as it arrived (not
// from the lazy socket) sends this node's own.
func (n *Node) heartbeat(node string, payload []byte, at time.Time, read bool) {
	var v *metaVersionOf
	if len(payload) >= 16 {
		v = &metaVersionOf{epoch: binary.BigEndian.Uint64(payload), seq: binary.BigEndian.Uint64(payload[8:])}
	}
	n.heardVersion(node, v, at)
	if p := n.pace.Load(); read && p != nil && *p == node {
		select {
		case n.paced <- struct{}{}:
		default:
		}
	}
}

// onFrame handles a heartbeat frame, read as it arrived (read) or from
// the lazy socket; b is only valid during the call.
func (n *Node) onFrame(b []byte, at time.Time, read bool) {
	msg, err := n.framer.open(b)
	if err != nil {
		n.log.Debug("dropping heartbeat frame", "err", err)
		return
	}
	name, payload, ok := splitNamed(msg)
	if !ok || msg[0] != msgHeartbeat || name == n.cfg.Node.Name {
		return
	}
	kind := 0
	if b[0] == frameLazy {
		kind = 1
	}
	n.framesRead[kind].Add(1)
	n.heartbeat(name, payload, at, read)
}

// heartbeatPath says how this node receives heartbeats, for the log:
// frames, the lazy ones from a socket read when the daemon wakes anyway
// ("frames, lazy socket"), frames read as they arrive, or memberlist.
func (n *Node) heartbeatPath() string {
	switch {
	case n.noFrames:
		return "memberlist"
	case n.tr != nil && n.tr.lazy != nil:
		return "frames, lazy socket"
	}
	return "frames, read as they arrive"
}

// readLazy handles the heartbeat frames waiting in the lazy socket.
func (n *Node) readLazy() {
	if n.tr != nil {
		n.tr.readLazy(n.lazyFrame)
	}
}

func (n *Node) lazyFrame(b []byte, at time.Time) { n.onFrame(b, at, false) }

// setPace picks the member whose heartbeats this node sends its own
// with: the present member with the lowest name, or none when that is
// this node. Every member picks the same one and sends on the arrival
// of its heartbeat, so one wakeup receives and sends, where independent
// ticks would each wake the daemon once more per interval (the pace
// member itself still wakes for its tick and for the heartbeats that
// answer it). The spacing of each member's heartbeats stays the
// interval; its own tick takes over if the pace member falls silent.
func (n *Node) setPace(now time.Time) {
	var pace *string
	n.mu.Lock()
	for name, m := range n.members {
		if name < n.cfg.Node.Name && (pace == nil || name < *pace) && n.presentLocked(m, now) {
			pace = &m.name
		}
	}
	n.mu.Unlock()
	if n.pace.Load() != pace {
		n.pace.Store(pace)
	}
}

// staleMember returns a member that counts for the election and whose
// heartbeats announce newer metadata than this node has, or "". Until
// that metadata arrives this node does not know whether it holds a VIP,
// so it must not take one.
func (n *Node) staleMember(now time.Time) string {
	return n.firstMember(func(name string, m *member) bool {
		v, ok := n.hbVersion[name]
		return ok && n.presentLocked(m, now) && (!m.hasMeta || v.newer(m.meta.version()))
	})
}

// firstMember returns the name of a member for which match (called with
// n.mu held) is true, or "".
func (n *Node) firstMember(match func(name string, m *member) bool) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, m := range n.members {
		if match(name, m) {
			return name
		}
	}
	return ""
}

// sendTo sends msg to one member, if it has an address.
func (n *Node) sendTo(m *member, msg []byte) {
	if n.ml == nil || n.mlStopped.Load() || m == nil || m.addr == "" {
		return
	}
	if err := n.ml.SendToAddress(memberlist.Address{Addr: m.addr, Name: m.name}, msg); err != nil {
		n.log.Debug("direct message failed", "peer", m.name, "err", err)
	}
}

// heartbeatMessage encodes this node's heartbeat: its name and the
// version of the metadata it last published.
func (n *Node) heartbeatMessage() []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), n.epoch)
	return n.namedMessage(msgHeartbeat, binary.BigEndian.AppendUint64(v, n.seq))
}

// namedMessage encodes a direct message: its kind, this node's name
// (length first) and the payload.
func (n *Node) namedMessage(kind byte, payload []byte) []byte {
	name := n.cfg.Node.Name
	msg := make([]byte, 0, 2+len(name)+len(payload))
	msg = append(msg, kind, byte(len(name)))
	msg = append(msg, name...)
	return append(msg, payload...)
}

// splitNamed decodes a message namedMessage encoded: the sender's name
// and the payload; ok is false when b is too short.
func splitNamed(b []byte) (name string, payload []byte, ok bool) {
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		return "", nil, false
	}
	l := int(b[1])
	return string(b[2 : 2+l]), b[2+l:], true
}

// present reports whether a member counts for the election now. Without
// heartbeat_timeout that is memberlist's view: alive or suspect. With it,
// heartbeats decide: a member counts while it was heard from within the
// timeout (one that just joined gets that long to send its first), even
// when memberlist has declared it dead — memberlist's prober gives up on
// members whose packets are lost a few times in a row, and the heartbeats
// are the failure detector the timings are built on. Only a member that
// left gracefully is out at once.
func (n *Node) present(m *member, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.presentLocked(m, now)
}

// presentLocked is present with n.mu held.
func (n *Node) presentLocked(m *member, now time.Time) bool {
	to := n.cfg.Cluster.Timing.HeartbeatTimeout
	if to <= 0 {
		return m.state.member()
	}
	if m.state == MemberLeft {
		return false
	}
	// Not heard since it joined, it counts until its first heartbeat
	// is overdue, also if memberlist declares it dead meanwhile.
	last, _ := n.lastSignLocked(m)
	return !last.IsZero() && now.Sub(last) <= to
}

// lastSignLocked (n.mu held) returns when m last showed it is up: the
// last message heard from it, or when it joined if it has not been heard
// since (then heard is false); zero when neither.
func (n *Node) lastSignLocked(m *member) (last time.Time, heard bool) {
	t, ok := n.lastHeard[m.name]
	if !ok || t.Before(m.joined) {
		return m.joined, false
	}
	return t, true
}

// countsLocked reports whether messages from m count towards the lease:
// it is a memberlist member or, with heartbeat_timeout set, a member
// memberlist declared dead whose heartbeats still arrive.
func (n *Node) countsLocked(m *member) bool {
	return m.state.member() || (m.state == MemberDead && n.cfg.Cluster.Timing.HeartbeatTimeout > 0)
}

// presenceSignature summarises what the heartbeat tick can change: which
// members are present and which were heard within the lease.
func (n *Node) presenceSignature(now time.Time) uint64 {
	var sig uint64
	lease := n.cfg.Cluster.Timing.Lease
	quorum := n.cfg.Cluster.QuorumNeeded() > 0
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, m := range n.members {
		h := fnv.New64a()
		h.Write([]byte(name))
		v := h.Sum64()
		if n.presentLocked(m, now) {
			sig ^= v
		}
		if t, ok := n.lastHeard[name]; quorum && ok && now.Sub(t) <= lease {
			sig ^= v*31 + 7
		}
	}
	return sig
}

// heardWithin counts the members (this node included) heard from within d.
func (n *Node) heardWithin(now time.Time, d time.Duration) int {
	c := 1
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, m := range n.members {
		if t, ok := n.lastHeard[name]; ok && n.countsLocked(m) && now.Sub(t) <= d {
			c++
		}
	}
	return c
}

// confirmDelay is how long a takeover from a holder that went silent
// waits and looks again. A daemon that was descheduled for a while (a
// busy host, a paused VM) wakes with its peers' heartbeats still queued
// in its socket; its election loop may run before the reader has handed
// them over, and would see a live holder as silent. Waiting this long
// lets the queued packets in first. It adds this much to a failover.
func confirmDelay(t config.Timing) time.Duration {
	return min(t.HeartbeatInterval, 5*time.Millisecond)
}

// silenceLimit is how long a member must be silent before it stops
// counting: heartbeat_timeout, or with that off the lease and its margin.
func silenceLimit(t config.Timing) time.Duration {
	if t.HeartbeatTimeout > 0 {
		return t.HeartbeatTimeout
	}
	return t.Lease + t.LeaseMargin
}

// unheardMember returns a member that has not left and does not count
// now (not heard within the silence limit), or "".
func (n *Node) unheardMember(now time.Time) string {
	return n.firstMember(func(_ string, m *member) bool {
		return m.state != MemberLeft && !n.presentLocked(m, now)
	})
}

// vanishedHolder returns a member that last said it held the instance
// and no longer counts (silent beyond heartbeat_timeout, or dead), or "".
func (n *Node) vanishedHolder(instance string, now time.Time) string {
	return n.firstMember(func(_ string, m *member) bool {
		if !m.hasMeta || m.state == MemberLeft || n.presentLocked(m, now) {
			return false
		}
		im, ok := m.meta.instance(instance)
		return ok && im.Holding
	})
}

// leaseGuard returns a member that held the instance and is gone (dead to
// memberlist) but was heard from less than Lease + LeaseMargin ago, and
// when that time is up; zero when there is none.
func (n *Node) leaseGuard(instance string, now time.Time) (string, time.Time) {
	t := n.cfg.Cluster.Timing
	who, until := "", time.Time{}
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, m := range n.members {
		if n.presentLocked(m, now) || !m.hasMeta {
			continue
		}
		im, ok := m.meta.instance(instance)
		if !ok || !im.Holding {
			continue
		}
		last, ok := n.lastHeard[name]
		if !ok {
			continue
		}
		if end := last.Add(t.Lease + t.LeaseMargin); end.After(now) && end.After(until) {
			who, until = name, end
		}
	}
	return who, until
}

// New checks the options and prepares a Node; Run starts it.
func New(o Options) (*Node, error) {
	if o.Config == nil {
		return nil, errors.New("election: no config")
	}
	l := o.Logger
	if l == nil {
		l = discardLogger()
	}
	start := time.Now()
	n := &Node{
		cfg:          o.Config,
		log:          l,
		onTrans:      o.OnTransition,
		ready:        o.Ready,
		events:       make(chan event, 1024),
		ctl:          make(chan controlReq),
		runCtx:       context.Background(),
		directives:   map[string]directive{},
		kick:         make(chan struct{}, 1),
		paced:        make(chan struct{}, 1),
		pubCh:        make(chan struct{}, 1),
		epoch:        uint64(start.UnixNano()),
		start:        start,
		members:      map[string]*member{},
		joinErrs:     map[string]string{},
		faults:       map[string]string{},
		lastHeard:    map[string]time.Time{},
		hbVersion:    map[string]metaVersionOf{},
		lastPubPrios: map[string]uint8{},
		maintenance:  o.Maintenance,
	}
	f, err := newFramer(o.Config.Cluster.Name, o.Config.Cluster.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	n.framer = f
	for _, ic := range o.Config.Instances {
		h, ok := o.Holders[ic.Name]
		if !ok {
			return nil, fmt.Errorf("election: no holder for instance %q", ic.Name)
		}
		n.insts = append(n.insts, &instance{cfg: ic, holder: h, state: StateInit, since: start, reason: "starting", penalties: map[string]int{}})
	}
	// Publish the configured priorities from the start, so peers know
	// this node's rank before its first decision.
	for _, in := range n.insts {
		n.lastPubPrios[in.cfg.Name] = n.effectivePriority(in, "")
	}
	if _, err := n.buildMeta(0).MarshalBinary(); err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	n.storeMeta(n.buildMeta(0))
	n.updateSnapshot()
	return n, nil
}

// SetFault marks an instance as unable to hold its VIPs (reason != "")
// or clears the fault (reason == ""). It is safe to call from any
// goroutine.
func (n *Node) SetFault(instance, reason string) {
	n.mu.Lock()
	if reason == "" {
		delete(n.faults, instance)
	} else {
		n.faults[instance] = reason
	}
	n.mu.Unlock()
	n.poke()
}

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// memberlistConfig maps havip's configuration onto memberlist's.
func (n *Node) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	cl := n.cfg.Cluster
	t := cl.Timing
	c.Name = n.cfg.Node.Name
	c.Label = cl.Name
	if len(cl.SecretKey) > 0 {
		c.SecretKey = cl.SecretKey
		c.GossipVerifyIncoming = true
		c.GossipVerifyOutgoing = true
	}
	bind := n.cfg.Node.Bind
	c.BindAddr = bind.Addr().String()
	c.BindPort = int(bind.Port())
	if adv := n.cfg.Node.Advertise; adv.IsValid() {
		c.AdvertiseAddr = adv.Addr().String()
		c.AdvertisePort = int(adv.Port())
	} else {
		c.AdvertisePort = int(bind.Port())
	}
	c.ProbeInterval = t.ProbeInterval
	c.ProbeTimeout = t.ProbeTimeout
	c.SuspicionMult = t.SuspicionMult
	c.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	c.IndirectChecks = t.IndirectChecks
	c.AwarenessMaxMultiplier = t.AwarenessMaxMultiplier
	c.GossipInterval = t.GossipInterval
	c.GossipNodes = t.GossipNodes
	c.RetransmitMult = t.RetransmitMult
	c.PushPullInterval = t.PushPullInterval
	c.TCPTimeout = t.TCPTimeout
	// Messages are a few dozen bytes: LZW costs more CPU (a fresh
	// compressor per packet) than it saves.
	c.EnableCompression = false
	// A restarted member may come back at once; do not hold its name.
	c.DeadNodeReclaimTime = time.Second
	c.Delegate = &delegate{n: n}
	c.Events = &eventDelegate{n: n}
	c.Conflict = &conflictDelegate{n: n}
	c.Ping = &pingDelegate{n: n}
	c.Logger = memberlistLogger(n.log, func(node string) { n.enqueue(event{kind: evSuspect, name: node}) })
	c.LogOutput = nil
	return c
}

// Run joins the cluster and runs the election until ctx is done, then
// releases every VIP, publishes that, leaves the cluster and returns nil.
func (n *Node) Run(ctx context.Context) error {
	// Faults and penalties found before the start (checks' first runs)
	// go into the first metadata: a peer that ranked this node by its
	// configured priority could step down for a node that cannot hold.
	n.mu.Lock()
	faults := maps.Clone(n.faults)
	n.mu.Unlock()
	for _, in := range n.insts {
		n.lastPubPrios[in.cfg.Name] = n.effectivePriority(in, faults[in.cfg.Name])
	}
	n.storeMeta(n.buildMeta(0))

	var onFrame func([]byte, time.Time)
	if !n.noFrames {
		onFrame = func(b []byte, at time.Time) { n.onFrame(b, at, true) }
	}
	tr, err := newTransport(n.cfg.Node.Bind, n.log, onFrame)
	if err != nil {
		return fmt.Errorf("starting memberlist: %w", err)
	}
	mc := n.memberlistConfig()
	mc.Transport = tr
	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Shutdown()
		return fmt.Errorf("starting memberlist on %s: %w", n.cfg.Node.Bind, err)
	}
	n.ml = ml
	n.tr = tr
	n.runCtx = ctx
	local := ml.LocalNode()
	n.selfAddr = nodeAddr(local)
	n.mlLive.Store(ml)
	n.log.Info("memberlist started", "peer", n.cfg.Node.Name, "addr", net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port))),
		"cluster", n.cfg.Cluster.Name, "encrypted", len(n.cfg.Cluster.SecretKey) > 0, "timing", n.cfg.Cluster.Timing.Profile,
		"heartbeats", n.heartbeatPath())

	if len(n.cfg.Cluster.Peers) == 0 {
		n.settled = true
	} else {
		joined, jerr := ml.Join(n.cfg.Cluster.Peers)
		if joined > 0 {
			n.log.Info("joined cluster", "peers_contacted", joined)
			// The join's push/pull carried every member's state; two
			// heartbeats (each announcing its sender's state version)
			// or gossip rounds, whichever come sooner, let updates
			// already in flight arrive before this node decides.
			t := n.cfg.Cluster.Timing
			n.settleBy = time.Now().Add(2 * min(t.GossipInterval, t.HeartbeatInterval))
		} else {
			n.log.Warn("no configured peer reachable, waiting before taking any VIP alone",
				"err", jerr, "grace", n.cfg.Cluster.Timing.StartupGrace)
			n.settleBy = time.Now().Add(n.cfg.Cluster.Timing.StartupGrace)
			n.joinFailed = true
		}
	}

	pubDone := make(chan struct{})
	pubCtx, pubCancel := context.WithCancel(context.Background())
	go func() {
		defer close(pubDone)
		n.publisher(pubCtx)
	}()

	n.loop(ctx)

	n.shutdown()
	pubCancel()
	<-pubDone
	return nil
}

func (n *Node) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	joinDone := make(chan map[string]string, 1)
	every := n.cfg.Cluster.Timing.HeartbeatInterval
	heartbeat := newTicker(every)
	defer heartbeat.Stop()
	hb, hbSeq := n.heartbeatMessage(), n.seq
	var lastBeat time.Time
	// The loop wakes at least once a heartbeat interval (its own tick,
	// or the pace member's heartbeat), so the rejoin round and the safety
	// evaluation (a full one at least every second, even without input)
	// ride on those wakeups instead of tickers of their own: on an idle
	// daemon every wakeup is most of what it costs.
	rejoinEvery := n.cfg.Cluster.Timing.RejoinInterval
	lastRejoin, lastEval := time.Now(), time.Time{}

	for {
		var req *controlReq
		beat, paced := false, false
		select {
		case <-ctx.Done():
			return
		case e := <-n.events:
			n.apply(e)
			n.drain()
		case <-n.kick:
		case r := <-n.ctl:
			r.f()
			req = &r
		case <-timer.C:
		case <-n.paced:
			// The pace member's heartbeat arrived: put the own tick
			// off until just after its next one is due, so that the
			// tick fires only when the pace member falls silent, and
			// send this node's heartbeat in this wakeup.
			heartbeat.Delay(every + every/4)
			beat, paced = true, true
		case <-heartbeat.C():
			beat = true
		case errs := <-joinDone:
			n.joinBusy = false
			n.noteJoinErrors(errs)
			continue
		}
		// Whatever woke the loop, the heartbeats waiting in the lazy
		// socket are read before anything is decided.
		n.readLazy()
		now := time.Now()
		if now.Sub(lastRejoin) >= rejoinEvery {
			lastRejoin = now
			n.rejoin(joinDone)
		}
		if beat {
			if time.Since(lastBeat) < every/2 {
				// A tick delivered before a Delay, or a pace
				// heartbeat just after the own tick sent one (the
				// next arrival will send).
				continue
			}
			if paced {
				n.pacedBeats.Add(1)
			}
			if hbSeq != n.seq {
				hb, hbSeq = n.heartbeatMessage(), n.seq
			}
			n.sendHeartbeats(hb)
			lastBeat = time.Now()
			n.setPace(lastBeat)
			// Under quorum the lease, with heartbeat_timeout the
			// members' presence, is re-checked every beat; the full
			// evaluation runs only when either changed, or when the
			// last one is a second old.
			if sig := n.presenceSignature(lastBeat); sig != n.lastSig {
				n.lastSig = sig
			} else if now.Sub(lastEval) < time.Second {
				continue
			}
		}
		next := n.evaluate(ctx)
		lastEval = now
		if req != nil {
			close(req.done)
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}

// drain applies every queued event without waiting, so one evaluation
// sees a whole burst of updates.
func (n *Node) drain() {
	for {
		select {
		case e := <-n.events:
			n.apply(e)
		default:
			return
		}
	}
}

func (n *Node) apply(e event) {
	if e.kind == evDirective {
		for _, d := range e.dirs {
			n.mergeDirective(d)
		}
		return
	}
	if e.name == n.cfg.Node.Name {
		return
	}
	if e.kind == evResumed || e.kind == evMetaRequest {
		n.sendTo(n.members[e.name], n.directMessage())
		return
	}
	m := n.members[e.name]
	if m == nil {
		if e.kind == evMsg {
			// A direct message from a node we do not know as a member
			// yet: wait for memberlist to introduce it.
			return
		}
		m = &member{name: e.name}
		n.members[e.name] = m
	}
	switch e.kind {
	case evSuspect:
		if m.state == MemberAlive {
			m.state = MemberSuspect
			n.log.Info("member suspect", "peer", e.name, "addr", m.addr)
		}
		return
	case evPingOK:
		if m.state == MemberSuspect {
			m.state = MemberAlive
			n.log.Info("member alive again", "peer", e.name, "addr", m.addr)
		}
		return
	case evMsg:
		if m.state == MemberSuspect {
			m.state = MemberAlive
		}
	case evJoin, evUpdate:
		if m.state != MemberAlive {
			m.since = time.Now()
			if m.state != MemberSuspect {
				m.joined = m.since
			}
			if e.kind == evJoin {
				n.log.Info("member alive", "peer", e.name, "addr", e.addr)
			}
		}
		m.state = MemberAlive
		m.addr = e.addr
	case evLeave:
		st := MemberDead
		if m.hasMeta && m.meta.Leaving {
			st = MemberLeft
		}
		if m.state != st {
			m.since = time.Now()
			m.state = st
			n.mu.Lock()
			present := n.presentLocked(m, m.since)
			_, heard := n.lastSignLocked(m)
			n.mu.Unlock()
			switch {
			case st != MemberDead || !present:
				n.log.Info("member "+string(st), "peer", e.name, "addr", m.addr)
			case heard:
				n.log.Info("member dead to memberlist, but its heartbeats arrive: still counted", "peer", e.name, "addr", m.addr)
			default:
				n.log.Info("member dead to memberlist before its first heartbeat: still counted until that is due", "peer", e.name, "addr", m.addr)
			}
		}
		return
	}
	if len(e.meta) == 0 {
		return
	}
	var meta Meta
	if err := meta.UnmarshalBinary(e.meta); err != nil {
		n.log.Warn("ignoring node metadata", "peer", e.name, "err", err)
		return
	}
	if !m.hasMeta || meta.newer(m.meta) {
		m.meta = meta
		m.hasMeta = true
	}
}

// rejoin joins the configured peers that are not alive members, in the
// background, so a healed partition or a restarted peer is found again
// without waiting for memberlist's own gossip to the dead. A peer given
// by name is looked up in the background too: a lookup can take seconds,
// and the election loop (heartbeats, the lease, takeovers) must not wait
// for it.
func (n *Node) rejoin(done chan<- map[string]string) {
	if n.joinBusy || len(n.cfg.Cluster.Peers) == 0 {
		return
	}
	alive := map[string]bool{}
	for _, m := range n.members {
		if m.state.member() {
			alive[m.addr] = true
		}
	}
	var check []string
	for _, p := range n.cfg.Cluster.Peers {
		if _, err := netip.ParseAddrPort(p); err == nil && alive[resolvePeer(p)] {
			continue
		}
		check = append(check, p)
	}
	if len(check) == 0 {
		return
	}
	n.joinBusy = true
	go func() {
		errs := map[string]string{}
		for _, p := range check {
			if alive[resolvePeer(p)] {
				continue
			}
			if _, err := n.ml.Join([]string{p}); err != nil {
				errs[p] = err.Error()
			} else {
				errs[p] = ""
			}
		}
		done <- errs
	}()
}

// noteJoinErrors logs a peer's join error when it changes, so a peer with
// a wrong key or cluster name is reported once, not every second.
func (n *Node) noteJoinErrors(errs map[string]string) {
	for p, e := range errs {
		if n.joinErrs[p] == e {
			continue
		}
		n.joinErrs[p] = e
		if e == "" {
			n.log.Info("re-joined configured peer", "peer", p)
		} else {
			n.log.Warn("cannot join configured peer", "peer", p, "err", e)
		}
	}
}

// resolvePeer turns "host:port" into "ip:port" the way the transport
// resolves it; an address it cannot resolve is returned unchanged.
func resolvePeer(p string) string {
	if ap, err := resolveUDP(p); err == nil {
		return ap.String()
	}
	return p
}

// quorum returns how many members this node sees (itself included) and
// how many it needs (0: quorum off).
func (n *Node) quorum() (seen, needed int) {
	seen = 1
	now := time.Now()
	for _, m := range n.members {
		if n.present(m, now) {
			seen++
		}
	}
	return seen, n.cfg.Cluster.QuorumNeeded()
}

// evaluate decides every instance, acts on the holders and publishes the
// result. It returns when it next needs to run without new input.
func (n *Node) evaluate(ctx context.Context) time.Time {
	now := time.Now()
	if !n.settled && !n.settleBy.IsZero() && !now.Before(n.settleBy) {
		n.settled = true
	}
	if !n.settled && n.joinFailed {
		// Nobody answered our join, but someone joined us: its
		// push/pull brought the cluster's state.
		for _, m := range n.members {
			if m.state.member() && m.hasMeta {
				n.settled = true
			}
		}
	}
	seen, needed := n.quorum()
	heard := n.heardWithin(now, n.cfg.Cluster.Timing.Lease)
	haveQuorum := needed == 0 || (seen >= needed && heard >= needed)
	switch {
	case !haveQuorum:
		n.quorumSince = time.Time{}
	case n.quorumSince.IsZero():
		n.quorumSince = now
	}

	n.mu.Lock()
	faults := make(map[string]string, len(n.faults))
	for k, v := range n.faults {
		faults[k] = v
	}
	n.mu.Unlock()

	var next time.Time
	changed := false
	for _, in := range n.insts {
		fault := faults[in.cfg.Name]
		if fault == "" && now.Before(in.retryAt) {
			fault = in.fault
		}
		var v verdict
		confirming := false
		if fault != "" {
			v = verdict{reason: fault}
		} else {
			v = decide(situation{
				now:          now,
				self:         Candidate{Node: n.cfg.Node.Name, Priority: int(n.effectivePriority(in, "")), Holding: in.holding},
				peers:        n.peersFor(in.cfg.Name),
				quorum:       haveQuorum,
				settled:      n.settled,
				preempt:      in.cfg.Preempt,
				preemptDelay: in.cfg.PreemptDelay,
				higherSince:  in.higherSince,
				preferred:    n.preferred(in.cfg.Name),
			})
			if !haveQuorum {
				v.reason = fmt.Sprintf("no quorum: sees %d of %d needed", min(seen, heard), needed)
			}
			if v.hold && !in.holding && needed > 0 {
				// A holder that vanished may only be cut off: it
				// releases once its lease runs out; take over only
				// after that and a margin.
				if who, until := n.leaseGuard(in.cfg.Name, now); !until.IsZero() {
					v.hold = false
					v.reason = "waiting for the lease of " + who + " to run out"
					v.recheck = until
				}
			}
			if v.hold && !in.holding {
				if who := n.staleMember(now); who != "" {
					// Ask for it; the answer comes in one round trip.
					v.hold = false
					v.reason = "waiting for the current state of " + who
					v.recheck = now.Add(n.cfg.Cluster.Timing.HeartbeatInterval)
					n.sendTo(n.members[who], n.namedMessage(msgMetaRequest, nil))
				}
			}
			if until := n.quorumSince.Add(silenceLimit(n.cfg.Cluster.Timing)); v.hold && !in.holding && needed > 0 && now.Before(until) {
				// Just back from a partition on the minority side: the
				// members heard first may not be all that are alive,
				// and one not heard yet may hold the VIP by now. Give
				// every member the time a silence takes to count.
				if who := n.unheardMember(now); who != "" {
					v.hold = false
					v.reason = "quorum regained; waiting to hear from " + who
					v.recheck = until
				}
			}
			if v.hold && !in.holding {
				if who := n.vanishedHolder(in.cfg.Name, now); who != "" {
					confirming = true
					if in.confirmAt.IsZero() {
						in.confirmAt = now.Add(confirmDelay(n.cfg.Cluster.Timing))
					}
					if now.Before(in.confirmAt) {
						v.hold = false
						v.reason = "making sure " + who + " is gone"
						v.recheck = in.confirmAt
					}
				}
			}
		}
		if !confirming {
			in.confirmAt = time.Time{}
		}
		in.higherSince = v.higherSince
		in.noteMaster(v.master, n.cfg.Node.Name, now)
		in.master = v.master

		switch {
		case v.hold && !in.holding:
			if err := in.holder.Acquire(ctx); err != nil {
				n.log.Error("acquiring VIPs failed", "instance", in.cfg.Name, "err", err)
				if rerr := in.holder.Release(ctx); rerr != nil {
					n.log.Error("cleaning up after failed acquire", "instance", in.cfg.Name, "err", rerr)
				}
				in.fault = "acquire failed: " + err.Error()
				in.retryAt = now.Add(2 * time.Second)
				v = verdict{reason: in.fault}
				fault = in.fault
			} else {
				in.holding = true
				changed = true
			}
		case v.hold && in.holding && v.conflict:
			// Another holder was seen and this node won: the loser
			// releases; announce again so neighbours that followed
			// the loser come back.
			if !in.conflict {
				if r, ok := in.holder.(Reannouncer); ok {
					n.log.Info("other holder seen, announcing again", "instance", in.cfg.Name)
					r.Reannounce()
				}
			}
		case !v.hold && in.holding:
			if err := in.holder.Release(ctx); err != nil {
				n.log.Error("releasing VIPs failed", "instance", in.cfg.Name, "err", err)
			}
			in.holding = false
			changed = true
		}

		in.conflict = v.conflict && v.hold

		to := StateBackup
		switch {
		case in.holding:
			to = StateMaster
		case fault != "":
			to = StateFault
		}
		if to == StateMaster {
			in.master = n.cfg.Node.Name
		} else if in.master == n.cfg.Node.Name {
			in.master = ""
		}
		n.transition(in, to, v.reason, now)
		for _, t := range []time.Time{v.recheck, in.retryAt} {
			if t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if p := n.effectivePriority(in, fault); n.lastPubPrios[in.cfg.Name] != p {
			n.lastPubPrios[in.cfg.Name] = p
			changed = true
		}
	}
	if !n.settled && !n.settleBy.IsZero() && (next.IsZero() || n.settleBy.Before(next)) {
		next = n.settleBy
	}
	if changed || n.forcePublish {
		n.forcePublish = false
		n.publish()
	}
	n.mu.Lock()
	n.pubDirectives = n.pubDirectives[:0]
	for _, d := range n.directives {
		n.pubDirectives = append(n.pubDirectives, d)
	}
	n.mu.Unlock()
	n.updateSnapshot()
	if !n.readyFired && n.ready != nil && n.allOutOfInit() {
		n.readyFired = true
		n.ready()
	}
	return next
}

func (n *Node) allOutOfInit() bool {
	for _, in := range n.insts {
		if in.state == StateInit {
			return false
		}
	}
	return true
}

// effectivePriority is the priority published for an instance: the
// configured one, or 0 while the node is in maintenance or the instance
// has a fault.
func (n *Node) effectivePriority(in *instance, fault string) uint8 {
	if n.maintenance || n.leaving || fault != "" {
		return 0
	}
	p := in.cfg.Priority
	for _, w := range in.penalties {
		p -= w
	}
	return uint8(max(p, 1))
}

func (n *Node) peersFor(name string) []Candidate {
	var out []Candidate
	now := time.Now()
	for _, m := range n.members {
		if !m.hasMeta || !n.present(m, now) {
			continue
		}
		im, ok := m.meta.instance(name)
		if !ok {
			continue
		}
		out = append(out, Candidate{Node: m.name, Priority: int(im.Priority), Holding: im.Holding})
	}
	slices.SortFunc(out, func(a, b Candidate) int { return strings.Compare(a.Node, b.Node) })
	return out
}

func (n *Node) transition(in *instance, to State, reason string, now time.Time) {
	if in.state == to {
		in.reason = reason
		return
	}
	from := in.state
	in.lastFrom = from
	in.state = to
	in.since = now
	in.reason = reason
	n.log.Info("transition", "instance", in.cfg.Name, "from", from.String(), "state", to.String(),
		"reason", reason, "master", in.master, "vip", config.FormatPrefixes(in.cfg.VIPs))
	if n.onTrans != nil {
		t := Transition{Instance: in.cfg.Name, From: from, To: to, Reason: reason, Master: in.master, At: now}
		if to == StateMaster {
			t.MasterLost = in.masterLost
			in.masterLost = time.Time{}
		}
		n.onTrans(t)
	}
}

// buildMeta returns this node's metadata with the given sequence number.
func (n *Node) buildMeta(seq uint64) Meta {
	m := Meta{Epoch: n.epoch, Seq: seq, Maintenance: n.maintenance, Leaving: n.leaving, Frames: !n.noFrames}
	for _, in := range n.insts {
		m.Instances = append(m.Instances, InstanceMeta{
			Name:     in.cfg.Name,
			Priority: n.lastPubPrios[in.cfg.Name],
			Holding:  in.holding,
		})
	}
	return m
}

func (n *Node) storeMeta(m Meta) {
	b, err := m.MarshalBinary()
	if err != nil {
		// New checked the size with the same instances; this cannot
		// grow, so keep the last good metadata.
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
	n.sendDirect()
	select {
	case n.pubCh <- struct{}{}:
	default:
	}
}

// sendDirect sends the current metadata to every alive member over
// memberlist's packet transport (encrypted and labelled like gossip).
func (n *Node) sendDirect() {
	if n.ml == nil || n.mlStopped.Load() {
		return
	}
	n.sendAll(n.directMessage())
}

// deadContact is how long messages still go to a member memberlist
// declared dead, counted from when it was last heard: long enough that a
// loss burst which made memberlist give up on a member that is up does not
// also stop the heartbeats both ways, short enough not to talk to a
// crashed node for long.
const deadContact = 10 * time.Second

// sendAll sends msg to every alive or suspect member, and to dead ones
// heard from within deadContact, by the addresses this goroutine recorded
// (memberlist's own Node structs may change under a reader).
func (n *Node) sendAll(msg []byte) {
	n.forContacts(func(m *member) { n.sendTo(m, msg) })
}

// forContacts calls fn with each member sendAll sends to.
func (n *Node) forContacts(fn func(m *member)) {
	now := time.Now()
	for _, m := range n.members {
		if m.addr == "" || m.state == MemberLeft {
			continue
		}
		if !m.state.member() {
			n.mu.Lock()
			last, _ := n.lastSignLocked(m)
			n.mu.Unlock()
			if last.IsZero() || now.Sub(last) > deadContact {
				continue
			}
		}
		fn(m)
	}
}

// sendHeartbeats sends heartbeat hb to the members sendAll sends to: in a
// frame to those that read frames (eager from the pace member, lazy from
// the others), through memberlist to the rest.
func (n *Node) sendHeartbeats(hb []byte) {
	if n.ml == nil || n.mlStopped.Load() {
		return
	}
	var frame []byte
	n.forContacts(func(m *member) {
		if n.noFrames || !m.hasMeta || !m.meta.Frames {
			n.sendTo(m, hb)
			return
		}
		to, err := netip.ParseAddrPort(m.addr)
		if err != nil {
			n.sendTo(m, hb)
			return
		}
		if frame == nil {
			kind := frameLazy
			if n.pace.Load() == nil {
				kind = frameEager
			}
			n.frameBuf = n.framer.seal(n.frameBuf[:0], kind, hb)
			frame = n.frameBuf
		}
		if err := n.tr.writeFrame(frame, to); err != nil {
			n.log.Debug("heartbeat frame failed", "peer", m.name, "err", err)
			return
		}
		n.framesSent.Add(1)
	})
}

// directMessage encodes this node's name and current metadata.
func (n *Node) directMessage() []byte {
	n.mu.Lock()
	meta := n.metaBuf
	n.mu.Unlock()
	return n.namedMessage(msgMeta, meta)
}

// publisher gossips metadata changes; UpdateNode blocks until the update
// went out, so it runs beside the election goroutine, coalescing changes.
func (n *Node) publisher(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pubCh:
			if err := n.ml.UpdateNode(n.cfg.Cluster.Timing.TCPTimeout); err != nil {
				n.log.Debug("gossiping node metadata", "err", err)
			}
		}
	}
}

// shutdown releases every VIP, publishes that directly and by gossip,
// leaves the cluster and stops memberlist.
func (n *Node) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	for _, in := range n.insts {
		if in.holding {
			if err := in.holder.Release(ctx); err != nil {
				n.log.Error("releasing VIPs at shutdown", "instance", in.cfg.Name, "err", err)
			}
			in.holding = false
		}
		n.lastPubPrios[in.cfg.Name] = 0
		in.master = ""
		n.transition(in, StateBackup, "shutting down", now)
	}
	n.leaving = true
	n.publish()
	n.updateSnapshot()
	if n.mlStopped.Load() {
		return
	}
	if err := n.ml.UpdateNode(n.cfg.Cluster.Timing.GossipInterval * 4); err != nil {
		n.log.Debug("gossiping release at shutdown", "err", err)
	}
	if err := n.ml.Leave(time.Second); err != nil {
		n.log.Warn("leaving cluster", "err", err)
	}
	if err := n.ml.Shutdown(); err != nil {
		n.log.Warn("stopping memberlist", "err", err)
	}
	n.log.Info("left cluster")
}

// delegate serves memberlist's Delegate; it never blocks.
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
			d.n.enqueue(event{kind: evDirective, dirs: ds})
		}
		return
	}
	name, payload, ok := splitNamed(b)
	if !ok {
		return
	}
	switch b[0] {
	case msgHeartbeat:
		d.n.heartbeat(name, payload, time.Now(), true)
	case msgMetaRequest:
		d.n.heard(name)
		d.n.enqueue(event{kind: evMetaRequest, name: name})
	case msgMeta:
		d.n.heard(name)
		d.n.enqueue(event{kind: evMsg, name: name, meta: slices.Clone(payload)})
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
	d.n.enqueue(event{kind: evMsg, name: ps.Name, meta: ps.Meta})
	if len(ps.Directives) > 0 {
		d.n.enqueue(event{kind: evDirective, dirs: ps.Directives})
	}
}

func (n *Node) enqueue(e event) {
	select {
	case n.events <- e:
	default:
		n.log.Warn("event queue full, dropping member event", "peer", e.name)
	}
}

type eventDelegate struct{ n *Node }

func nodeAddr(nd *memberlist.Node) string {
	a, ok := netip.AddrFromSlice(nd.Addr)
	if !ok {
		return ""
	}
	return netip.AddrPortFrom(a.Unmap(), nd.Port).String()
}

func (d *eventDelegate) NotifyJoin(nd *memberlist.Node) {
	d.n.enqueue(event{kind: evJoin, name: nd.Name, addr: nodeAddr(nd), meta: slices.Clone(nd.Meta)})
}

func (d *eventDelegate) NotifyLeave(nd *memberlist.Node) {
	// nd.State is not kept up to date by memberlist; whether the member
	// left or died comes from its last metadata (Meta.Leaving).
	d.n.enqueue(event{kind: evLeave, name: nd.Name, addr: nodeAddr(nd)})
}

func (d *eventDelegate) NotifyUpdate(nd *memberlist.Node) {
	d.n.enqueue(event{kind: evUpdate, name: nd.Name, addr: nodeAddr(nd), meta: slices.Clone(nd.Meta)})
}

// pingDelegate learns of successful probes, which end a suspicion.
type pingDelegate struct{ n *Node }

func (p *pingDelegate) AckPayload() []byte { return nil }

func (p *pingDelegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	p.n.heard(other.Name)
	p.n.enqueue(event{kind: evPingOK, name: other.Name})
}

type conflictDelegate struct{ n *Node }

func (c *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	c.n.log.Error("another member uses this node name; node names must be unique",
		"peer", existing.Name, "addr", nodeAddr(existing), "other_addr", nodeAddr(other))
}

package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/havip/havip/election/internal/wire"
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

// Renewer is an optional part of a Holder whose VIPs expire unless they
// are renewed (addresses with a lifetime): the election renews them once
// a heartbeat interval while this node holds them and its lease holds,
// so that a daemon that stops — frozen, hung, killed — stops renewing
// and the kernel removes its VIPs. Renew must return quickly; an error
// wrapping ErrLost means the VIPs ran out before they were renewed and
// are gone (or going): the instance no longer holds.
type Renewer interface {
	Renew(ctx context.Context) error
}

// ErrLost is wrapped by a Renew error when the VIPs expired unrenewed.
var ErrLost = errors.New("VIPs lost")

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
	Config Config
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
	// Epoch identifies this run in the node's metadata and heartbeats:
	// the peers order a member's updates by it, and drop its heartbeats
	// of a run with a lower epoch. It must be above every earlier run's
	// (the daemon keeps it in the state directory: see NextEpoch); 0
	// takes the start time in nanoseconds, which a clock stepped back
	// between two runs breaks.
	Epoch uint64
}

// NextEpoch returns the epoch for a run that starts at now after a run
// with epoch prev (0: none known): the start time in nanoseconds, or one
// more than prev when the clock is behind it. Start times keep the order
// with members of versions that used them alone.
func NextEpoch(prev uint64, now time.Time) uint64 {
	return max(prev+1, uint64(now.UnixNano()))
}

// Node is this member of the cluster: it gossips with the others and
// decides the role of each local instance.
//
// Its parts each own their state: membership (memberlist and the member
// table), presence (who was heard when: the lease and quorum),
// heartbeater (heartbeats and their pacing), and the instances with
// their state machine (evaluate: gather facts, step, act, publish). The
// election goroutine (loop) owns the member table, the instances and the
// fields marked below; other goroutines reach it through the event
// queue, control requests and the fields under mu.
type Node struct {
	cfg     Config
	log     *slog.Logger
	onTrans func(Transition)
	ready   func()
	// epoch identifies this run of the daemon in its metadata.
	epoch uint64
	start time.Time

	events   *eventQueue
	presence *presence
	members  *membership
	beats    *heartbeater

	// listen opens the transport memberlist and the heartbeats run on:
	// UDP and TCP on the bind address, or in tests an in-memory network.
	listen func(bind netip.AddrPort, l *slog.Logger, onFrame wire.FrameFunc) (wire.Transport, error)

	runCtx context.Context
	ctl    chan controlReq
	kick   chan struct{}
	pubCh  chan struct{}
	// membersCh is signalled when the members' states in the status
	// snapshot change (MembersChanged); lastMembers is the view it was
	// last signalled for, the election goroutine's.
	membersCh   chan struct{}
	lastMembers []memberView
	// gossipMu serialises memberlist's UpdateNode, which the publisher
	// and the shutdown call: it reads the local node's address outside
	// memberlist's lock while another call writes it.
	gossipMu sync.Mutex

	// Owned by the election goroutine.
	insts      []*instance
	settled    bool
	settleBy   time.Time
	joinFailed bool
	joinBusy   bool
	joinErrs   map[string]string
	// lastSync is when syncWith last started; syncBusy is set while it
	// runs.
	lastSync    time.Time
	syncBusy    atomic.Bool
	readyFired  bool
	maintenance bool
	// stopping is set once Run's context is done: every instance
	// releases (priority 0) while the loop runs on until none holds.
	stopping bool
	leaving  bool
	seq      uint64
	// stateSeq is the metadata version that last changed this node's
	// state as the election counts it (see publishMeta).
	stateSeq uint64
	// quorumSince is when this node last regained quorum (zero while
	// it has none); noQuorum is set while quorum is on and not met.
	quorumSince time.Time
	noQuorum    bool
	hadQuorum   bool
	lastSig     uint64
	directives  map[string]directive
	// dampUntil: until then this node ranks last, its daemon having
	// stalled (see stallDamping).
	dampUntil time.Time
	// disagreeSince is when a member was first seen publishing another
	// digest of the switchovers (see disagreement); zero while all agree.
	disagreeSince time.Time
	// relayed remembers, per member and member whose state was passed
	// on to it, which version and when (see relay); lastRelay is when
	// relay last looked.
	relayed   map[relayKey]relayMark
	lastRelay time.Time
	// relayCount counts the states passed on (tests).
	relayCount int
	// dirDigest is directivesDigest as last published.
	dirDigest    uint64
	forcePublish bool

	mu sync.Mutex // guards the fields below, read by other goroutines
	// metaBuf is this node's encoded metadata, as last published.
	metaBuf []byte
	health  map[string]Health
	// pubDirectives is a copy of directives for push/pull.
	pubDirectives []directive
	snapshot      Status
}

// New checks the options and prepares a Node; Run starts it.
func New(o Options) (*Node, error) {
	if o.Config.Name == "" {
		return nil, errors.New("election: no node name")
	}
	l := o.Logger
	if l == nil {
		l = discardLogger()
	}
	start := time.Now()
	n := &Node{
		cfg:         o.Config,
		log:         l,
		onTrans:     o.OnTransition,
		ready:       o.Ready,
		epoch:       o.Epoch,
		start:       start,
		runCtx:      context.Background(),
		listen:      listenUDP,
		ctl:         make(chan controlReq),
		kick:        make(chan struct{}, 1),
		pubCh:       make(chan struct{}, 1),
		membersCh:   make(chan struct{}, 1),
		joinErrs:    map[string]string{},
		directives:  map[string]directive{},
		health:      map[string]Health{},
		maintenance: o.Maintenance,
		noQuorum:    o.Config.Quorum > 0,
	}
	if n.epoch == 0 {
		n.epoch = uint64(start.UnixNano())
	}
	f, err := wire.NewFramer(o.Config.Cluster, o.Config.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	n.events = newEventQueue(l)
	n.presence = newPresence(o.Config.Name, n.epoch, o.Config.Timing, func(name string, long bool, at time.Time) {
		n.events.put(event{kind: evResumed, name: name, long: long, at: at})
	})
	n.members = newMembership(o.Config.Name, l, n.presence, n.events)
	n.beats = newHeartbeater(o.Config.Name, l, n.presence, f)
	for _, ic := range o.Config.Instances {
		h, ok := o.Holders[ic.Name]
		if !ok {
			return nil, fmt.Errorf("election: no holder for instance %q", ic.Name)
		}
		n.insts = append(n.insts, newInstance(ic, h, start, "starting"))
	}
	if err := checkMetaSize(o.Config.Instances); err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	n.publishPriorities()
	n.storeMeta(n.buildMeta(0))
	n.updateSnapshot()
	return n, nil
}

// SetHealth sets an instance's health: its combined fault (none: "") and
// penalty. It is safe to call from any goroutine. Called before Run (the
// checks' first runs), it goes into the first metadata the peers see;
// later, the election decides again at once.
func (n *Node) SetHealth(instance string, h Health) {
	n.mu.Lock()
	if h == (Health{}) {
		delete(n.health, instance)
	} else {
		n.health[instance] = h
	}
	n.mu.Unlock()
	n.poke()
}

// Reevaluate has the election decide again at once rather than at its
// next event or retry. The daemon calls it when something a decision
// waits on has changed outside the election: VIPs whose removal failed
// have left the interface, so the release tried again now succeeds.
func (n *Node) Reevaluate() { n.poke() }

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// publishPriorities sets every instance's published priority from its
// current health, so peers know this node's rank before its first
// decision (a peer that ranked it by its configured priority could step
// down for a node that cannot hold).
func (n *Node) publishPriorities() {
	now := time.Now()
	for _, in := range n.insts {
		in.prio = n.publishedPriority(in, n.healthOf(in, now), now)
	}
}

// Run joins the cluster and runs the election until ctx is done, then
// releases every VIP, publishes that, leaves the cluster and returns nil.
func (n *Node) Run(ctx context.Context) error {
	n.publishPriorities()
	n.storeMeta(n.buildMeta(0))

	tr, err := n.listen(n.cfg.Bind, n.log, n.beats.eagerFrame())
	if err != nil {
		return fmt.Errorf("starting memberlist: %w", err)
	}
	mc := n.memberlistConfig()
	mc.Transport = tr
	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Shutdown()
		return fmt.Errorf("starting memberlist on %s: %w", n.cfg.Bind, err)
	}
	n.members.ml = ml
	n.beats.tr = tr
	n.runCtx = ctx
	local := ml.LocalNode()
	n.members.selfAddr = nodeAddr(local)
	n.members.live.Store(ml)
	n.log.Info("memberlist started", "peer", n.cfg.Name, "addr", net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port))),
		"cluster", n.cfg.Cluster, "encrypted", len(n.cfg.SecretKey) > 0, "timing", n.cfg.Timing.Profile,
		"heartbeats", n.beats.path())
	n.join(ctx, ml)

	pubDone := make(chan struct{})
	pubCtx, pubCancel := context.WithCancel(context.Background())
	go func() {
		defer close(pubDone)
		n.publisher(pubCtx)
	}()

	n.loop(ctx)

	// The publisher gossips nothing once shutdown begins: the shutdown
	// gossips the last state itself, and a call to memberlist made
	// while or after it leaves would wait out tcp_timeout.
	pubCancel()
	n.shutdown()
	<-pubDone
	return nil
}

func listenUDP(bind netip.AddrPort, l *slog.Logger, onFrame wire.FrameFunc) (wire.Transport, error) {
	return wire.NewUDP(bind, l, onFrame)
}

// join joins the configured peers, all at once (see joinPeers), and sets
// when start-up is over.
func (n *Node) join(ctx context.Context, ml *memberlist.Memberlist) {
	if len(n.cfg.Peers) == 0 {
		n.settled = true
		return
	}
	t := n.cfg.Timing
	// The join's push/pull carries every member's state; two heartbeats
	// (each announcing its sender's state version) or gossip rounds,
	// whichever come sooner, let updates already in flight arrive
	// before this node decides. The other peers' push/pulls, started
	// with the first, are such updates.
	settle := 2 * min(t.GossipInterval, t.HeartbeatInterval)
	joined, err := joinPeers(ctx, func(p string) error {
		_, err := ml.Join([]string{p})
		return err
	}, n.cfg.Peers, settle)
	if joined > 0 {
		n.log.Info("joined cluster", "peers_contacted", joined)
		n.settleBy = time.Now().Add(settle)
		return
	}
	if ctx.Err() != nil {
		return // stopping before any peer answered
	}
	n.log.Warn("no configured peer reachable, waiting before taking any VIP alone",
		"err", err, "grace", t.StartupGrace)
	n.settleBy = time.Now().Add(t.StartupGrace)
	n.joinFailed = true
}

// memberlistConfig maps havip's configuration onto memberlist's.
func (n *Node) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	t := n.cfg.Timing
	c.Name = n.cfg.Name
	c.Label = n.cfg.Cluster
	if len(n.cfg.SecretKey) > 0 {
		c.SecretKey = n.cfg.SecretKey
		c.GossipVerifyIncoming = true
		c.GossipVerifyOutgoing = true
	}
	c.BindAddr = n.cfg.Bind.Addr().String()
	c.BindPort = int(n.cfg.Bind.Port())
	if adv := n.cfg.Advertise; adv.IsValid() {
		c.AdvertiseAddr = adv.Addr().String()
		c.AdvertisePort = int(adv.Port())
	} else {
		c.AdvertisePort = int(n.cfg.Bind.Port())
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
	c.Events = &eventDelegate{q: n.events}
	c.Conflict = &conflictDelegate{log: n.log}
	c.Ping = &pingDelegate{n: n}
	c.Alive = newAliveDelegate(n.cfg.Name)
	c.Logger = memberlistLogger(n.log, func(node string) { n.events.put(event{kind: evSuspect, name: node}) })
	c.LogOutput = nil
	return c
}

// shutdown, once the loop has released every VIP, publishes that
// directly and by gossip, leaves the cluster and stops memberlist.
func (n *Node) shutdown() {
	now := time.Now()
	var stuck []string
	for _, in := range n.insts {
		if in.holding {
			// The loop gave up on a removal that kept failing.
			stuck = append(stuck, in.cfg.Name)
			continue
		}
		in.prio = 0
		in.master = ""
		n.transition(in, StateBackup, "shutting down", now)
	}
	if len(stuck) > 0 {
		// Saying that it leaves would have the others take VIPs that
		// are still on this node's interface. It stops without a word,
		// as a crashed node: they take over once they count it gone,
		// by when the kernel has removed VIPs with a lifetime.
		n.log.Error("stopping with VIPs whose removal failed; not telling the others they are released: they take over once they count this node gone",
			"instance", strings.Join(stuck, ","), "tried_for", stopRelease.String())
		n.updateSnapshot()
		if !n.members.stopped.Load() {
			if err := n.members.ml.Shutdown(); err != nil {
				n.log.Warn("stopping memberlist", "err", err)
			}
		}
		return
	}
	n.leaving = true
	n.publish()
	n.updateSnapshot()
	if n.members.stopped.Load() {
		return
	}
	ml := n.members.ml
	if err := n.gossipMeta(context.Background(), n.cfg.Timing.GossipInterval*4); err != nil {
		n.log.Debug("gossiping release at shutdown", "err", err)
	}
	if err := ml.Leave(time.Second); err != nil {
		n.log.Warn("leaving cluster", "err", err)
	}
	if err := ml.Shutdown(); err != nil {
		n.log.Warn("stopping memberlist", "err", err)
	}
	n.log.Info("left cluster")
}

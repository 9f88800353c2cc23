package election

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election/internal/wire"
)

// tracker records which fake holders hold each instance, and the most
// that ever held one at the same time.
type tracker struct {
	mu      sync.Mutex
	holders map[string]map[string]bool // instance -> node -> holding
	maxHeld map[string]int
	// log is every change, with its time, for a failing test to show.
	log []string
}

func newTracker() *tracker {
	return &tracker{holders: map[string]map[string]bool{}, maxHeld: map[string]int{}}
}

func (t *tracker) set(inst, node string, holding bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holders[inst] == nil {
		t.holders[inst] = map[string]bool{}
	}
	t.holders[inst][node] = holding
	t.log = append(t.log, fmt.Sprintf("%s %s %s holding=%v", time.Now().Format("15:04:05.000000"), inst, node, holding))
	n := 0
	for _, h := range t.holders[inst] {
		if h {
			n++
		}
	}
	t.maxHeld[inst] = max(t.maxHeld[inst], n)
}

func (t *tracker) held(inst string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for n, h := range t.holders[inst] {
		if h {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// history returns the changes so far, one a line.
func (t *tracker) history() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.log, "\n")
}

// resetMax starts counting the most holders at once again from now.
func (t *tracker) resetMax(inst string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.holders[inst] {
		if h {
			n++
		}
	}
	t.maxHeld[inst] = n
}

func (t *tracker) max(inst string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maxHeld[inst]
}

type fakeHolder struct {
	tr         *tracker
	node, inst string
}

func (f *fakeHolder) Acquire(context.Context) error { f.tr.set(f.inst, f.node, true); return nil }
func (f *fakeHolder) Release(context.Context) error { f.tr.set(f.inst, f.node, false); return nil }

var (
	netSeq  atomic.Int32
	basePrt = 20000 + os.Getpid()%20000
)

// testTiming is the fast profile, shortened further for loopback.
func testTiming() config.Timing {
	return config.Timing{
		Profile:                 "test",
		ProbeInterval:           100 * time.Millisecond,
		ProbeTimeout:            50 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 2,
		IndirectChecks:          2,
		AwarenessMaxMultiplier:  1,
		GossipInterval:          20 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        5 * time.Second,
		TCPTimeout:              500 * time.Millisecond,
		RejoinInterval:          300 * time.Millisecond,
		StartupGrace:            500 * time.Millisecond,
		HeartbeatInterval:       50 * time.Millisecond,
		Lease:                   250 * time.Millisecond,
		LeaseMargin:             100 * time.Millisecond,
	}
}

// testCluster runs nodes in this process, over an in-memory network
// (nw) whose links tests can cut, or with udp set before the first start,
// over loopback UDP.
type testCluster struct {
	t     *testing.T
	tr    *tracker
	net   int
	nw    *wire.Network
	udp   bool
	nodes []*testNode
}

type testNode struct {
	cfg *config.Config
	// holders, if set, replace the fake holders start makes.
	holders map[string]Holder
	before  func(*Node) // called between New and Run
	node    *Node
	cancel  context.CancelFunc
	done    chan error
}

// nodeSpec describes one node of a test cluster.
type nodeSpec struct {
	priority int
	preempt  bool
	key      []byte
	label    string
	noInst   bool
	quorum   config.Quorum
}

func newTestCluster(t *testing.T, specs ...nodeSpec) *testCluster {
	t.Helper()
	c := &testCluster{t: t, tr: newTracker(), net: int(netSeq.Add(1)), nw: wire.NewNetwork()}
	for i := range specs {
		c.nodes = append(c.nodes, &testNode{cfg: c.config(i, specs)})
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) addr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(100 + c.net%100), 0, byte(10 + i)}), uint16(basePrt))
}

func (c *testCluster) config(i int, specs []nodeSpec) *config.Config {
	s := specs[i]
	var peers []string
	for j := range specs {
		if j != i {
			peers = append(peers, c.addr(j).String())
		}
	}
	q := s.quorum
	if q == "" {
		q = config.QuorumAuto
	}
	label := s.label
	if label == "" {
		label = "test"
	}
	cfg := &config.Config{
		Node: config.Node{Name: fmt.Sprintf("node%d", i), Bind: c.addr(i)},
		Cluster: config.Cluster{
			Name: label, Peers: peers, SecretKey: s.key, Insecure: s.key == nil,
			Quorum: q, Timing: testTiming(),
		},
	}
	if !s.noInst {
		cfg.Instances = []config.Instance{{
			Name: "web", Interface: "eth0", Priority: s.priority, Preempt: s.preempt,
			VIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32")},
		}}
	}
	return cfg
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	tn := c.nodes[i]
	holders := tn.holders
	if holders == nil {
		holders = map[string]Holder{}
		for _, in := range tn.cfg.Instances {
			holders[in.Name] = &fakeHolder{tr: c.tr, node: tn.cfg.Node.Name, inst: in.Name}
		}
	}
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", tn.cfg.Node.Name)
	}
	n, err := New(Options{Config: NewConfig(tn.cfg), Holders: holders, Logger: logger})
	if err != nil {
		c.t.Fatal(err)
	}
	if !c.udp {
		n.listen = func(bind netip.AddrPort, _ *slog.Logger, onFrame wire.FrameFunc) (wire.Transport, error) {
			return c.nw.NewTransport(bind, onFrame)
		}
	}
	if logger != nil {
		n.onTrans = func(t Transition) {
			logger.Info("transition", "instance", t.Instance, "from", t.From.String(), "state", t.To.String(), "reason", t.Reason, "master", t.Master)
		}
	}
	if tn.before != nil {
		tn.before(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn.node, tn.cancel, tn.done = n, cancel, make(chan error, 1)
	go func() { tn.done <- n.Run(ctx) }()
}

// stop stops node i gracefully and waits for Run to return.
func (c *testCluster) stop(i int) {
	tn := c.nodes[i]
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	select {
	case err := <-tn.done:
		if err != nil {
			c.t.Errorf("node%d: Run: %v", i, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Errorf("node%d: Run did not return after cancel", i)
	}
	tn.cancel = nil
}

// crash stops node i's gossip without releasing or leaving, as kill -9
// would, and stops its election loop without the graceful release.
func (c *testCluster) crash(i int) {
	tn := c.nodes[i]
	var ml *memberlist.Memberlist
	waitUntil(c.t, 5*time.Second, "memberlist runs", func() bool { ml = tn.node.members.live.Load(); return ml != nil })
	tn.node.members.stopped.Store(true)
	if err := ml.Shutdown(); err != nil {
		c.t.Fatal(err)
	}
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *testCluster) waitHolders(want string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := strings.Join(c.tr.held("web"), ",")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("holders of web = %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *testCluster) holdFor(want string, d time.Duration) {
	c.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if got := strings.Join(c.tr.held("web"), ","); got != want {
			c.t.Fatalf("holders of web changed to %q, want %q throughout", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func instanceStatus(t *testing.T, n *Node, name string) InstanceStatus {
	t.Helper()
	for _, is := range n.Status().Instances {
		if is.Name == name {
			return is
		}
	}
	t.Fatalf("no instance %q in status", name)
	return InstanceStatus{}
}

func TestClusterElectsHighestAndHandsOverGracefully(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	c.holdFor("node0", 500*time.Millisecond)
	for i, tn := range c.nodes {
		st := instanceStatus(t, tn.node, "web")
		wantState := StateBackup
		if i == 0 {
			wantState = StateMaster
		}
		if st.State != wantState || st.Master != "node0" {
			t.Errorf("node%d: state %v master %q, want %v node0", i, st.State, st.Master, wantState)
		}
	}
	if s := c.nodes[1].node.Status(); len(s.Members) != 3 || s.QuorumSeen != 3 || s.QuorumNeeded != 2 {
		t.Errorf("node1 status: %d members, quorum %d/%d; want 3 members, 3/2", len(s.Members), s.QuorumSeen, s.QuorumNeeded)
	}

	c.stop(0)
	if got := c.tr.held("web"); len(got) > 1 {
		t.Fatalf("holders right after graceful stop: %v", got)
	}
	c.waitHolders("node1", 5*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Errorf("at most %d nodes held the VIP at once, want 1", m)
	}
	// The leaver is reported as left, not dead.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var st MemberState
		for _, m := range c.nodes[1].node.Status().Members {
			if m.Name == "node0" {
				st = m.State
			}
		}
		if st == MemberLeft {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node0 seen by node1 as %q, want left", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The higher priority comes back and preempts.
	c.nodes[0].cfg = c.config(0, []nodeSpec{{priority: 150, preempt: true}, {}, {}})
	c.start(0)
	c.waitHolders("node0", 10*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Errorf("preemption overlapped: %d holders at once", m)
	}
}

func TestCrashedMasterIsReplaced(t *testing.T) {
	for _, hbTimeout := range []time.Duration{0, 150 * time.Millisecond} {
		t.Run(fmt.Sprintf("heartbeat_timeout=%s", hbTimeout), func(t *testing.T) {
			c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
			for _, tn := range c.nodes {
				tn.cfg.Cluster.Timing.HeartbeatTimeout = hbTimeout
			}
			c.start(0)
			c.start(1)
			c.waitHolders("node0", 10*time.Second)
			c.crash(0)
			// node0's fake holder still "holds" (its VIP would stay
			// behind); node1 must take over once it finds node0 gone.
			c.waitHolders("node0,node1", 10*time.Second)
			deadline := time.Now().Add(5 * time.Second)
			for {
				var st MemberState
				for _, m := range c.nodes[1].node.Status().Members {
					if m.Name == "node0" {
						st = m.State
					}
				}
				if st == MemberDead {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node0 seen by node1 as %q, want dead", st)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestNoPreemptKeepsHolder(t *testing.T) {
	specs := []nodeSpec{{priority: 150}, {priority: 100}}
	c := newTestCluster(t, specs...)
	c.start(1)
	c.waitHolders("node1", 10*time.Second)
	c.start(0)
	c.holdFor("node1", 2*time.Second)
	st := instanceStatus(t, c.nodes[0].node, "web")
	if st.State != StateBackup || st.Master != "node1" {
		t.Errorf("node0: %v master %q, want BACKUP node1", st.State, st.Master)
	}
}

func TestPreemptDelay(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.nodes[1].cfg.Instances[0].PreemptDelay = time.Second
	c.start(1)
	c.waitHolders("node1", 10*time.Second)
	c.start(0)
	// Until node0 is seen, then for the delay, node1 keeps it.
	deadline := time.Now().Add(10 * time.Second)
	for len(c.nodes[1].node.Status().Members) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("node0 never became a member")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.holdFor("node1", 700*time.Millisecond)
	c.waitHolders("node0", 5*time.Second)
}

func TestFaultMovesVIP(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	c.nodes[0].node.SetHealth("web", Health{Fault: "interface eth0 down"})
	c.waitHolders("node1", 5*time.Second)
	st := instanceStatus(t, c.nodes[0].node, "web")
	if st.State != StateFault || st.EffectivePriority != 0 || !strings.Contains(st.Reason, "eth0 down") {
		t.Errorf("faulted node0: %+v", st)
	}
	c.nodes[0].node.SetHealth("web", Health{})
	c.waitHolders("node0", 5*time.Second)
}

func TestForeignNodesNeverJoin(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	off := config.QuorumOff
	c := newTestCluster(t,
		nodeSpec{priority: 150, preempt: true, key: key, quorum: off},
		nodeSpec{priority: 100, preempt: true, key: key, quorum: off},
		nodeSpec{priority: 200, preempt: true, key: other, quorum: off},
		nodeSpec{priority: 200, preempt: true, key: key, label: "other-cluster", quorum: off},
	)
	for i := range c.nodes {
		c.start(i)
	}
	// node2 (wrong key) and node3 (wrong cluster) only ever see
	// themselves, so each holds its own copy; node0 and node1 form the
	// real cluster, where node0 wins although both foreigners publish 200.
	c.waitHolders("node0,node2,node3", 10*time.Second)
	time.Sleep(time.Second)
	for _, i := range []int{0, 1} {
		s := c.nodes[i].node.Status()
		var names []string
		for _, m := range s.Members {
			names = append(names, m.Name)
		}
		if strings.Join(names, ",") != fmt.Sprintf("node%d,node%d", i, 1-i) {
			t.Errorf("node%d lists members %v, want only node0 and node1", i, names)
		}
	}
	for _, i := range []int{2, 3} {
		if s := c.nodes[i].node.Status(); len(s.Members) != 1 {
			t.Errorf("node%d sees %d members, want only itself", i, len(s.Members))
		}
	}
}

// TestRejoinFindsPeerThatJoinedNobody: node0 starts before its peer, so
// its join fails; node1 starts with no peers configured, so it joins
// nobody. Only node0's rejoin round (which rides on the election loop's
// heartbeat wakeups) can bring them together.
func TestRejoinFindsPeerThatJoinedNobody(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true, quorum: config.QuorumOff}, nodeSpec{noInst: true, quorum: config.QuorumOff})
	c.nodes[1].cfg.Cluster.Peers = nil
	c.start(0)
	c.waitHolders("node0", 10*time.Second)
	c.start(1)
	for i := range c.nodes {
		n := c.nodes[i].node
		waitUntil(t, 10*time.Second, fmt.Sprintf("node%d sees both members", i), func() bool {
			return len(n.Status().Members) == 2
		})
	}
	c.holdFor("node0", 300*time.Millisecond)
}

// TestRejoinLooksUpNamesInTheBackground: the rejoin round runs in the
// election loop; a peer given by name must be looked up outside it, or a
// slow resolver would hold the heartbeats and the lease.
func TestRejoinLooksUpNamesInTheBackground(t *testing.T) {
	n, _ := settledNode(t, 0, nodeSpec{priority: 100}, nodeSpec{priority: 50})
	n.cfg.Peers = []string{"peer-one:7946"}
	n.members.members["node0"] = &member{name: "node0", addr: "127.0.0.9:7946", state: MemberAlive}
	release := make(chan struct{})
	looked := make(chan string, 1)
	wire.LookupIP = func(host string) ([]net.IP, error) {
		looked <- host
		<-release
		return []net.IP{net.ParseIP("127.0.0.9")}, nil
	}
	t.Cleanup(func() { wire.LookupIP = net.LookupIP })

	done := make(chan map[string]string, 1)
	returned := make(chan struct{})
	go func() {
		n.rejoin(done)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("rejoin waited for the name lookup")
	}
	if host := <-looked; host != "peer-one" {
		t.Errorf("looked up %q, want peer-one", host)
	}
	close(release)
	// The name resolves to an alive member: nothing to join.
	if errs := <-done; len(errs) != 0 {
		t.Errorf("join attempts %v, want none", errs)
	}
}

func TestWitnessCountsForQuorum(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{noInst: true})
	c.start(0)
	c.start(2)
	// Two of three seen (node0 and the witness): node0 may hold.
	c.waitHolders("node0", 10*time.Second)
	c.stop(2)
	// Without the witness node0 sees 1 of 3 and must release.
	c.waitHolders("", 10*time.Second)
	if st := instanceStatus(t, c.nodes[0].node, "web"); !strings.Contains(st.Reason, "no quorum") {
		t.Errorf("reason %q, want no quorum", st.Reason)
	}
}

// TestMemberlistDeathDoesNotOverrideHeartbeats: under loss memberlist's
// prober declares members dead that are up. With heartbeat_timeout set,
// heartbeats decide: a member declared dead whose heartbeats arrive still
// counts, so the backup does not take over and the master keeps its
// quorum.
func TestMemberlistDeathDoesNotOverrideHeartbeats(t *testing.T) {
	for _, size := range []int{2, 3} {
		t.Run(fmt.Sprintf("nodes=%d", size), func(t *testing.T) {
			specs := []nodeSpec{{priority: 150, preempt: true}}
			for range size - 1 {
				specs = append(specs, nodeSpec{priority: 100, preempt: true})
			}
			c := newTestCluster(t, specs...)
			for _, tn := range c.nodes {
				tn.cfg.Cluster.Timing.HeartbeatTimeout = 300 * time.Millisecond
			}
			for i := range c.nodes {
				c.start(i)
			}
			c.waitHolders("node0", 10*time.Second)
			// Every node hears, falsely, that every other one died, as
			// memberlist reports it after lost probes.
			lie := func() {
				for i, tn := range c.nodes {
					for j := range c.nodes {
						if j != i {
							tn.node.events.put(event{kind: evLeave, name: fmt.Sprintf("node%d", j)})
						}
					}
				}
			}
			lie()
			end := time.Now().Add(2 * time.Second)
			for time.Now().Before(end) {
				c.holdFor("node0", 100*time.Millisecond)
				if c.tr.max("web") != 1 {
					t.Fatalf("%d holders at once", c.tr.max("web"))
				}
			}
			for _, m := range c.nodes[1].node.Status().Members {
				if m.Name == "node0" && m.State != MemberAlive {
					t.Errorf("node0 seen by node1 as %q, want alive (its heartbeats arrive)", m.State)
				}
			}
			if seen := c.nodes[0].node.Status().QuorumSeen; seen != size {
				t.Errorf("node0 sees %d members, want %d", seen, size)
			}
			// A crash still fails over: the heartbeats stop. (The
			// crashed node's loop runs on here; under quorum it
			// releases, as its lease runs out.)
			c.crash(0)
			want := "node0,node1"
			if size > 2 {
				want = "node1"
			}
			c.waitHolders(want, 10*time.Second)
		})
	}
}

// TestDeathBeforeFirstHeartbeat: memberlist may declare a member dead
// before this node has heard its first heartbeat. With heartbeat_timeout
// heartbeats decide, so the member keeps the grace it got when it joined
// (and is still sent heartbeats); it is out once that runs out unheard.
func TestDeathBeforeFirstHeartbeat(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n, _ := settledNode(t, timeout, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	n.apply(event{kind: evJoin, name: "node0", addr: "127.0.0.1:1"})
	joined := n.members.members["node0"].joined
	if joined.IsZero() {
		t.Fatal("join time not recorded")
	}
	n.apply(event{kind: evLeave, name: "node0"})
	m := n.members.members["node0"]
	if m.state != MemberDead {
		t.Fatalf("state %q, want dead", m.state)
	}
	if !n.presence.present(m, joined.Add(timeout/2)) {
		t.Error("a member declared dead before its first heartbeat was due no longer counts")
	}
	if n.presence.present(m, joined.Add(2*timeout)) {
		t.Error("a member never heard still counts after heartbeat_timeout")
	}
	// Heard after the grace ran out: its heartbeats decide from then on.
	heard := joined.Add(2 * timeout)
	setHeard(n, "node0", heard)
	if !n.presence.present(m, heard.Add(timeout/2)) {
		t.Error("a dead member whose heartbeat arrived does not count")
	}
	// A member memberlist reported dead without ever reporting it
	// alive has no grace.
	n.apply(event{kind: evLeave, name: "node9"})
	if n.presence.present(n.members.members["node9"], time.Now()) {
		t.Error("a member only ever reported dead counts")
	}
}

// TestHeartbeatsPaced: every member sends its heartbeats on the arrival
// of those of the present member with the lowest name, which keeps its
// own tick; when that member falls silent, the next lowest paces.
func TestHeartbeatsPaced(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	for _, tn := range c.nodes {
		tn.cfg.Cluster.Timing.HeartbeatTimeout = 300 * time.Millisecond
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	pace := func(i int) string {
		if p := c.nodes[i].node.beats.pace.Load(); p != nil {
			return *p
		}
		return ""
	}
	// waitPaced waits until node i has sent 20 more heartbeats on
	// those of want.
	waitPaced := func(i int, want string) {
		t.Helper()
		start := c.nodes[i].node.beats.pacedBeats.Load()
		deadline := time.Now().Add(10 * time.Second)
		for c.nodes[i].node.beats.pacedBeats.Load() < start+20 || pace(i) != want {
			if time.Now().After(deadline) {
				t.Fatalf("node%d paced by %q, %d beats sent paced; want 20 on %q's", i, pace(i), c.nodes[i].node.beats.pacedBeats.Load()-start, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPaced(1, "node0")
	waitPaced(2, "node0")
	if p, n := pace(0), c.nodes[0].node.beats.pacedBeats.Load(); p != "" || n != 0 {
		t.Errorf("node0, the lowest name, paced by %q (%d beats), want its own tick", p, n)
	}
	c.crash(0)
	c.waitHolders("node1", 10*time.Second)
	waitPaced(2, "node1")
	if p := pace(1); p != "" {
		t.Errorf("node1 paced by %q once node0 is gone, want its own tick", p)
	}
	// node1 and node2 still count each other: no member is out.
	if seen := c.nodes[2].node.Status().QuorumSeen; seen != 2 {
		t.Errorf("node2 sees %d members, want 2", seen)
	}
}

// TestHeartbeatFrames: members that read heartbeat frames exchange their
// heartbeats in them, the pace member's eager and the others' lazy (read
// when the receiver wakes anyway); a member that does not read them (a
// version before them) is sent its heartbeats through memberlist and its
// own, sent the same way, still count.
func TestHeartbeatFrames(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	for _, tn := range c.nodes {
		tn.cfg.Cluster.Timing.HeartbeatTimeout = 300 * time.Millisecond
	}
	c.nodes[2].before = func(n *Node) { n.beats.noFrames = true }
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	n0, n1, n2 := c.nodes[0].node, c.nodes[1].node, c.nodes[2].node
	waitFor := func(what string, cond func() bool) { t.Helper(); waitUntil(t, 10*time.Second, what, cond) }
	const eager, lazy = 0, 1
	// Counted once every member knows node0 holds and a few beats
	// later: while the members learn of each other, one may take
	// itself for the pace member for a beat, and a member confirms a
	// new state with an urgent (eager) heartbeat.
	for i, tn := range c.nodes {
		waitFor(fmt.Sprintf("node%d knows node0 holds", i), func() bool {
			st := tn.node.Status()
			return len(st.Instances) == 1 && st.Instances[0].Master == "node0"
		})
	}
	time.Sleep(c.nodes[0].cfg.Cluster.Timing.HeartbeatTimeout)
	e0, e1, l0, l1 := n0.beats.framesRead[eager].Load(), n1.beats.framesRead[eager].Load(), n0.beats.framesRead[lazy].Load(), n1.beats.framesRead[lazy].Load()
	waitFor("node1 read 20 eager frames and node0 20 lazy ones", func() bool {
		return n1.beats.framesRead[eager].Load() >= e1+20 && n0.beats.framesRead[lazy].Load() >= l0+20
	})
	// node0 paces: it sends eager frames and is sent lazy ones; node1
	// is sent frames by node0 only; node2 neither sends nor gets any.
	if got := n0.beats.framesRead[eager].Load() - e0; got != 0 {
		t.Errorf("node0, the pace member, read %d eager frames, want 0", got)
	}
	if got := n1.beats.framesRead[lazy].Load() - l1; got != 0 {
		t.Errorf("node1 read %d lazy frames, want 0 (node2 sends none)", got)
	}
	if got := n2.beats.framesSent.Load() + n2.beats.framesRead[eager].Load() + n2.beats.framesRead[lazy].Load(); got != 0 {
		t.Errorf("node2, without frames, sent or read %d", got)
	}
	// Heartbeats flow both ways between node2 and the others: forget
	// the versions they announced and see them come back.
	for _, pair := range [][2]*Node{{n0, n2}, {n2, n0}, {n1, n2}, {n2, n1}} {
		at, from := pair[0], pair[1].cfg.Name
		at.presence.forget(from)
		waitFor(at.cfg.Name+" hears "+from+"'s heartbeats", func() bool {
			at.presence.mu.Lock()
			defer at.presence.mu.Unlock()
			return at.presence.peers[from].hasVersion
		})
	}
	for i, tn := range c.nodes {
		waitFor(fmt.Sprintf("node%d sees 3 members", i), func() bool { return tn.node.Status().QuorumSeen == 3 })
	}
	c.crash(0)
	c.waitHolders("node1", 10*time.Second)
	for _, n := range []*Node{n1, n2} {
		waitFor(n.cfg.Name+" sees 2 members once node0 is gone", func() bool { return n.Status().QuorumSeen == 2 })
	}
}

// TestFaultBeforeStartIsPublished: a node whose check failed before the
// election started joins with priority 0, so a lower-priority holder
// never steps down for it.
func TestFaultBeforeStartIsPublished(t *testing.T) {
	for _, how := range []string{"fault", "penalty"} {
		t.Run(how, func(t *testing.T) {
			c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
			c.start(1)
			c.waitHolders("node1", 10*time.Second)
			c.nodes[0].before = func(n *Node) {
				if how == "fault" {
					n.SetHealth("web", Health{Fault: "track script app failed"})
				} else {
					n.SetHealth("web", Health{Penalty: 100})
				}
			}
			c.start(0)
			c.holdFor("node1", 2*time.Second)
			for _, m := range c.nodes[1].node.Status().Members {
				if m.Name != "node0" {
					continue
				}
				want := 0
				if how == "penalty" {
					want = 50
				}
				if m.Priority != want {
					t.Errorf("node1 sees node0 with priority %d, want %d", m.Priority, want)
				}
			}
		})
	}
}

// TestTakeoverFromSilentHolderLooksAgain: a backup that finds the holder
// silent waits confirmDelay and decides again before it acquires, so
// heartbeats that were queued while it was descheduled count first.
func TestTakeoverFromSilentHolderLooksAgain(t *testing.T) {
	n, tr := settledNode(t, 100*time.Millisecond, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	now := time.Now()
	n.members.members["node0"] = &member{name: "node0", addr: "127.0.0.1:1", state: MemberAlive, since: now.Add(-time.Minute), hasMeta: true,
		meta: Meta{Epoch: 1, Seq: 1, Instances: []InstanceMeta{{Name: "web", Priority: 150, Holding: true}}}}
	silent := func() { setHeard(n, "node0", time.Now().Add(-time.Second)) }
	ctx := context.Background()

	silent()
	next := n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("acquired at once from a silent holder: holders %v", h)
	}
	if d := time.Until(next); next.IsZero() || d > confirmDelay(n.cfg.Timing) {
		t.Fatalf("next evaluation in %v, want within %v", d, confirmDelay(n.cfg.Timing))
	}
	if r := n.insts[0].reason; !strings.Contains(r, "making sure node0 is gone") {
		t.Errorf("reason %q", r)
	}

	// The queued heartbeat arrives before the second look: no takeover.
	heard(n, "node0")
	time.Sleep(time.Until(next))
	n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("acquired although node0 was heard again: holders %v", h)
	}
	if !n.insts[0].confirmAt.IsZero() {
		t.Error("confirmation still pending after node0 was heard")
	}

	// Silent on both looks: take over.
	silent()
	next = n.evaluate(ctx)
	time.Sleep(time.Until(next))
	n.evaluate(ctx)
	if h := tr.held("web"); !slices.Equal(h, []string{"node1"}) {
		t.Fatalf("holders %v after the second look, want [node1]", h)
	}
}

// TestStaleViewBlocksTakeover: a member whose heartbeats announce newer
// metadata than this node has (it changed while the two were cut off)
// may hold the VIP by now: this node does not take the VIP until it has
// that member's current state.
func TestStaleViewBlocksTakeover(t *testing.T) {
	n, tr := settledNode(t, 200*time.Millisecond, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 150, preempt: true})
	ctx := context.Background()
	meta := func(seq uint64, holding bool) Meta {
		return Meta{Epoch: 7, Seq: seq, Instances: []InstanceMeta{{Name: "web", Priority: 100, Holding: holding}}}
	}
	n.members.members["node0"] = &member{name: "node0", addr: "127.0.0.1:1", state: MemberAlive, since: time.Now().Add(-time.Minute), hasMeta: true, meta: meta(1, false)}
	heardVersion(n, "node0", metaVersionOf{epoch: 7, seq: 2})

	n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("acquired on a stale view of node0: holders %v", h)
	}
	if r := n.insts[0].reason; !strings.Contains(r, "waiting for the current state of node0") {
		t.Errorf("reason %q", r)
	}

	// node0's current state: it holds. node1 outranks it, so it waits
	// for node0 to release rather than taking the VIP beside it.
	n.members.members["node0"].meta = meta(2, true)
	n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("took the VIP while node0 holds it: holders %v", h)
	}

	// node0 released (version 3, announced and delivered): take it.
	heardVersion(n, "node0", metaVersionOf{epoch: 7, seq: 3})
	n.members.members["node0"].meta = meta(3, false)
	n.evaluate(ctx)
	if h := tr.held("web"); !slices.Equal(h, []string{"node1"}) {
		t.Fatalf("holders %v, want [node1]", h)
	}
}

// TestRegainedQuorumWaitsBeforeTakeover: a node back from the minority
// side of a partition hears some members before others; it does not
// take over from a holder it has not heard yet until a silence would have
// counted (heartbeat_timeout) with quorum regained.
func TestRegainedQuorumWaitsBeforeTakeover(t *testing.T) {
	n, tr := settledNode(t, 60*time.Millisecond, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{noInst: true})
	ctx := context.Background()
	long := time.Now().Add(-time.Minute)
	n.members.members["node0"] = &member{name: "node0", addr: "127.0.0.1:1", state: MemberDead, since: long, hasMeta: true,
		meta: Meta{Epoch: 1, Seq: 1, Instances: []InstanceMeta{{Name: "web", Priority: 150, Holding: true}}}}
	n.members.members["node2"] = &member{name: "node2", addr: "127.0.0.1:2", state: MemberDead, since: long, hasMeta: true, meta: Meta{Epoch: 2, Seq: 1}}
	setHeard(n, "node0", time.Now().Add(-5*time.Second))

	// Cut off: no quorum.
	setHeard(n, "node2", time.Now().Add(-5*time.Second))
	n.evaluate(ctx)
	// The witness is heard again: quorum, but node0 not yet.
	heard(n, "node2")
	next := n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("took over as soon as quorum came back: holders %v", h)
	}
	if r := n.insts[0].reason; !strings.Contains(r, "quorum regained") {
		t.Errorf("reason %q", r)
	}
	// node0's heartbeats arrive in time: nothing to take.
	heard(n, "node0")
	heard(n, "node2")
	time.Sleep(time.Until(next))
	n.evaluate(ctx)
	if h := tr.held("web"); len(h) != 0 {
		t.Fatalf("took over although node0 was heard: holders %v", h)
	}

	// Had node0 stayed silent, node1 takes over once the wait is over.
	setHeard(n, "node0", time.Now().Add(-5*time.Second))
	n.quorumSince = time.Time{}
	setHeard(n, "node2", time.Now().Add(-5*time.Second))
	n.evaluate(ctx) // no quorum
	deadline := time.Now().Add(2 * time.Second)
	for len(tr.held("web")) == 0 && time.Now().Before(deadline) {
		heard(n, "node2")
		next := n.evaluate(ctx)
		if !next.IsZero() {
			time.Sleep(time.Until(next))
		}
	}
	if h := tr.held("web"); !slices.Equal(h, []string{"node1"}) {
		t.Fatalf("holders %v, want [node1] once the wait is over", h)
	}
}

// settledNode makes node1 of a test cluster of specs, with
// heartbeat_timeout set and a fake holder of "web", settled, not running:
// a test drives its evaluate directly.
func settledNode(t *testing.T, heartbeatTimeout time.Duration, specs ...nodeSpec) (*Node, *tracker) {
	t.Helper()
	cfg := newTestCluster(t, specs...).nodes[1].cfg
	cfg.Cluster.Timing.HeartbeatTimeout = heartbeatTimeout
	tr := newTracker()
	n, err := New(Options{Config: NewConfig(cfg), Holders: map[string]Holder{"web": &fakeHolder{tr: tr, node: "node1", inst: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	n.settled = true
	return n, tr
}

// setHeard sets when n last heard name, also to an earlier time than it
// has (presence keeps the last arrival).
func setHeard(n *Node, name string, at time.Time) {
	known(n, name)
	n.presence.mu.Lock()
	n.presence.peers[name].lastHeard = at
	n.presence.mu.Unlock()
}

// heard records that n heard name now.
func heard(n *Node, name string) {
	known(n, name)
	n.presence.heard(name, time.Now())
}

// heardVersion records that n got a heartbeat from name, of a version
// before acknowledgements, announcing v.
func heardVersion(n *Node, name string, v metaVersionOf) {
	known(n, name)
	if !n.presence.received(name, heartbeat{version: &v}, netip.AddrPort{}, time.Now()) {
		panic("heartbeat dropped")
	}
}

// known makes name known to n's presence, as memberlist's introduction
// does, for tests that fill the member table by hand.
func known(n *Node, name string) {
	n.presence.mu.Lock()
	_, ok := n.presence.peers[name]
	n.presence.mu.Unlock()
	if !ok {
		n.presence.know(name, netip.AddrPort{})
	}
}

// MembersChanged fires when a member joins the view and when its state
// changes (here: it crashes and is declared dead), and the Status read
// after it shows the change. Changes coalesce: a receive may stand for
// several, so the test reads Status after each one.
func TestMembersChanged(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.start(1)
	n := c.nodes[1].node
	stateOf := func(name string) MemberState {
		for _, m := range n.Status().Members {
			if m.Name == name {
				return m.State
			}
		}
		return ""
	}
	// waitFor receives from MembersChanged until node0 is seen in want;
	// it fails if the change is only visible without a signal.
	waitFor := func(want MemberState) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for stateOf("node0") != want {
			select {
			case <-n.MembersChanged():
			case <-timeout:
				t.Fatalf("node0 is %q, want %q", stateOf("node0"), want)
			}
		}
	}
	// Drain what node1's own start signalled.
	select {
	case <-n.MembersChanged():
	default:
	}
	c.start(0)
	waitFor(MemberAlive)
	c.crash(0)
	waitFor(MemberDead)
	// Nothing changes now: no signal for a second.
	select {
	case <-n.MembersChanged():
		if got := stateOf("node0"); got != MemberDead {
			t.Fatalf("signalled with node0 %q", got)
		}
	default:
	}
	select {
	case <-n.MembersChanged():
		t.Fatalf("signalled again with nothing changed: %+v", n.Status().Members)
	case <-time.After(time.Second):
	}
}

// A graceful stop does not wait out tcp_timeout. The last node to stop
// still counts the one before it as alive when it gossips that member's
// departure, and the update, with nobody left to gossip to, never goes
// out: the publisher's call lasted tcp_timeout, and the shutdown waited
// for it. Nor does the publisher start gossip once the shutdown began
// (a memberlist that has left sends nothing). stop fails the test when
// Run takes over 10 s; tcp_timeout is 30 s.
func TestStopDoesNotWaitForGossipTimeout(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	for _, tn := range c.nodes {
		// Gossip slow enough that a broadcast queued while the node
		// leaves is still queued when memberlist stops.
		tn.cfg.Cluster.Timing.TCPTimeout = 30 * time.Second
		tn.cfg.Cluster.Timing.GossipInterval = 300 * time.Millisecond
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	for i := range c.nodes {
		c.stop(i)
	}
}

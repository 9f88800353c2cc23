package election

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/havip/havip/election/internal/wire"
)

// TestHeartbeatPath: the start-up log says how heartbeats arrive.
func TestHeartbeatPath(t *testing.T) {
	tr, err := wire.NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), slog.New(slog.DiscardHandler), func([]byte, time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown()
	h := &heartbeater{tr: tr}
	want := "frames, read as they arrive"
	if tr.Lazy() {
		want = "frames, lazy socket"
	}
	if got := h.path(); got != want {
		t.Errorf("with frames: %q, want %q", got, want)
	}
	nolazy, err := wire.NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nolazy.Shutdown()
	h.tr = nolazy
	if got := h.path(); got != "frames, read as they arrive" {
		t.Errorf("without a lazy socket: %q", got)
	}
	h.noFrames = true
	if got := h.path(); got != "memberlist" {
		t.Errorf("without frames: %q", got)
	}
}

// TestClusterOverUDP: the cluster tests run over an in-memory network;
// this one runs the real transport on loopback: a crash of the holder
// fails over, and the heartbeats travel in frames.
func TestClusterOverUDP(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	c.udp = true
	for _, tn := range c.nodes {
		tn.cfg.Cluster.Timing.HeartbeatTimeout = 300 * time.Millisecond
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	n1 := c.nodes[1].node
	read := func() uint64 { return n1.beats.framesRead[0].Load() + n1.beats.framesRead[1].Load() }
	start := read()
	waitUntil(t, 10*time.Second, "node1 reads heartbeat frames", func() bool { return read() >= start+10 })
	c.crash(0)
	c.waitHolders("node1", 10*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Errorf("%d holders at once", m)
	}
}

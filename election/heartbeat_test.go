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
	tr, err := wire.NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), slog.New(slog.DiscardHandler), func([]byte, netip.AddrPort, time.Time) {})
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

// TestHeartbeatEncoding: a heartbeat decodes to what was encoded; one of
// a version before acknowledgements (the version alone) still decodes;
// one cut short anywhere is refused, not misread.
func TestHeartbeatEncoding(t *testing.T) {
	v := metaVersionOf{epoch: 7, seq: 9}
	hb := heartbeat{version: &v, beat: beatID{epoch: 7, counter: 42}, acks: true, to: "node2", ack: beatID{epoch: 5, counter: 17}}
	msg := appendHeartbeat(nil, "node7", hb)
	name, payload, ok := splitNamed(msg)
	if !ok || name != "node7" || msg[0] != msgHeartbeat {
		t.Fatalf("header: %q %v kind %d", name, ok, msg[0])
	}
	got, ok := parseHeartbeat(payload)
	if !ok || *got.version != v || got.beat != hb.beat || !got.acks || got.to != "node2" || got.ack != hb.ack {
		t.Errorf("decoded %+v (version %v), %v; want %+v", got, got.version, ok, hb)
	}
	for i := 1; i < len(payload); i++ {
		if i == 16 {
			continue // the version alone: a heartbeat of an older version
		}
		if _, ok := parseHeartbeat(payload[:i]); ok {
			t.Errorf("a heartbeat cut to %d bytes was accepted", i)
		}
	}
	legacy, ok := parseHeartbeat(payload[:16])
	if !ok || *legacy.version != v || legacy.acks || legacy.beat != (beatID{}) {
		t.Errorf("version-only heartbeat decoded as %+v, %v", legacy, ok)
	}
	if _, ok := parseHeartbeat(append(payload[:16:16], 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8)); ok {
		t.Error("a heartbeat without the acknowledgement flag but with its fields was accepted")
	}
}

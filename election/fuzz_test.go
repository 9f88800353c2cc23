package election

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// fuzzMetas are real metadata: the seeds of the decoders' fuzz targets.
func fuzzMetas() []Meta {
	many := Meta{Epoch: 7, Seq: 1}
	for i := 0; i < 20; i++ {
		many.Instances = append(many.Instances, InstanceMeta{Name: fmt.Sprintf("instance-%02d", i), Priority: uint8(i), Holding: i == 3})
	}
	return []Meta{
		{Epoch: 1, Seq: 2},
		{Epoch: 1<<63 + 5, Seq: 99, Maintenance: true, Leaving: true, Frames: true, Instances: []InstanceMeta{
			{Name: "web", Priority: 150, Holding: true},
			{Name: "db", Priority: 0},
		}},
		many,
	}
}

// fuzzHeartbeats are real heartbeats from node0 to node1: one of a
// version before acknowledgements, and acknowledging ones, the last with
// the members node0 hears.
func fuzzHeartbeats() [][]byte {
	v := metaVersionOf{epoch: 1_700_000_000_000_000_000, seq: 4}
	return [][]byte{
		appendHeartbeat(nil, "node0", heartbeat{version: &v}),
		appendHeartbeat(nil, "node0", heartbeat{version: &v, beat: beatID{epoch: v.epoch, counter: 12}, acks: true, to: "node1",
			ack: beatID{epoch: 1_700_000_000_500_000_000, counter: 11}}),
		appendHeartbeat(nil, "node0", heartbeat{version: &v, beat: beatID{epoch: v.epoch, counter: 1}, acks: true, to: "node1"}),
		appendHeartbeat(nil, "node0", heartbeat{version: &v, beat: beatID{epoch: v.epoch, counter: 13}, acks: true, to: "node1",
			ack: beatID{epoch: 1_700_000_000_500_000_000, counter: 12}, hears: []hearing{{name: nameHash("node1"), age: 40}, {name: nameHash("node2"), age: 65535}}}),
	}
}

func mustMarshal(t testing.TB, m Meta) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzMetaDecode: metadata arrives from any member (gossip, push/pull,
// direct messages). Decoding never panics, leaves the value alone when
// it fails, and what it accepts encodes again, within memberlist's size
// limit, to the same value.
func FuzzMetaDecode(f *testing.F) {
	for _, m := range fuzzMetas() {
		b := mustMarshal(f, m)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{metaVersion + 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		before := Meta{Epoch: 42, Instances: []InstanceMeta{{Name: "before"}}}
		m := before
		if err := m.UnmarshalBinary(b); err != nil {
			if !reflect.DeepEqual(m, before) {
				t.Fatalf("decoding %x failed (%v) but changed the value to %+v", b, err, m)
			}
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%x decodes to %+v, which does not encode: %v", b, m, err)
		}
		if len(enc) > maxMetaSize {
			t.Fatalf("%x decodes to %+v, which encodes to %d bytes, more than %d", b, m, len(enc), maxMetaSize)
		}
		// The decoder skips only unknown flags and trailing bytes.
		if len(enc) > len(b) {
			t.Fatalf("%x (%d bytes) decodes to %+v, which encodes to %d bytes", b, len(b), m, len(enc))
		}
		var again Meta
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("%x re-encoded as %x does not decode: %v", b, enc, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("%x: round trip (-first +again):\n%s", b, diff)
		}
	})
}

// FuzzNamedMessage: every direct message starts with its kind and its
// sender's name. What splitNamed accepts is exactly what namedMessage
// makes of its parts, and what namedMessage makes splits back.
func FuzzNamedMessage(f *testing.F) {
	f.Add(namedMessage(msgMeta, "node0", mustMarshal(f, fuzzMetas()[1])), byte(msgMeta), "node0")
	f.Add(namedMessage(msgMetaRequest, "node2", nil), byte(msgMetaRequest), "node2")
	for _, hb := range fuzzHeartbeats() {
		f.Add(hb, byte(msgHeartbeat), "node0")
	}
	f.Add([]byte{msgHeartbeat, 9, 'n'}, byte(0), "")
	f.Add([]byte{msgMeta}, byte(0xff), strings.Repeat("n", 255))
	f.Fuzz(func(t *testing.T, b []byte, kind byte, name string) {
		got, payload, ok := splitNamed(b)
		if !ok {
			if len(b) >= 2 && len(b) >= 2+int(b[1]) {
				t.Fatalf("%x refused", b)
			}
		} else {
			if len(got) != int(b[1]) {
				t.Fatalf("%x: name %q of %d bytes, the message says %d", b, got, len(got), b[1])
			}
			if again := namedMessage(b[0], got, payload); !bytes.Equal(again, b) {
				t.Fatalf("%x splits into %q and %x, which make %x", b, got, payload, again)
			}
		}

		// Names are checked by the configuration: at most 64 bytes.
		if len(name) > 255 {
			name = name[:255]
		}
		msg := namedMessage(kind, name, b)
		got, payload, ok = splitNamed(msg)
		if !ok || msg[0] != kind || got != name || !bytes.Equal(payload, b) {
			t.Fatalf("message %x from %q: splits into %q and %x (%v)", b, name, got, payload, ok)
		}
	})
}

// FuzzHeartbeat: heartbeats come from every member, in frames or through
// memberlist. parseHeartbeat never panics; a heartbeat it accepts, of a
// version before acknowledgements or acknowledging, is encoded by
// appendHeartbeat to exactly the bytes it came as; and every heartbeat
// appendHeartbeat makes parses back to itself.
func FuzzHeartbeat(f *testing.F) {
	for _, msg := range fuzzHeartbeats() {
		_, payload, _ := splitNamed(msg)
		f.Add(payload, uint64(1_700_000_000_000_000_000), uint64(4), uint64(12), "node1", uint64(1_700_000_000_500_000_000), uint64(11), true)
	}
	f.Add([]byte{}, uint64(0), uint64(0), uint64(0), "", uint64(0), uint64(0), false)
	f.Add(make([]byte, 15), uint64(1), uint64(0), uint64(0), "", uint64(0), uint64(0), true)
	f.Fuzz(func(t *testing.T, payload []byte, epoch, seq, counter uint64, to string, ackEpoch, ackCounter uint64, acks bool) {
		const name = "node0"
		hb, ok := parseHeartbeat(payload)
		if ok && (hb.acks || hb.version != nil) {
			if !hb.acks && len(payload) != 16 {
				t.Fatalf("%x: a heartbeat without acknowledgements of %d bytes", payload, len(payload))
			}
			if hb.acks && hb.beat.epoch != hb.version.epoch {
				t.Fatalf("%x: beat of epoch %d in a heartbeat of epoch %d", payload, hb.beat.epoch, hb.version.epoch)
			}
			msg := appendHeartbeat(nil, name, hb)
			// Flag bits this version does not know are ignored (a
			// later version may set them): compare without them.
			want := payload
			if hb.acks {
				want = bytes.Clone(payload)
				want[24] &= hbAcks
			}
			if _, again, _ := splitNamed(msg); !bytes.Equal(again, want) {
				t.Fatalf("heartbeat %x decodes to %+v, which encodes to %x", payload, hb, again)
			}
		}

		if len(to) > 255 {
			to = to[:255]
		}
		v := metaVersionOf{epoch: epoch, seq: seq}
		want := heartbeat{version: &v}
		if acks {
			want.acks, want.beat, want.to, want.ack = true, beatID{epoch: epoch, counter: counter}, to, beatID{epoch: ackEpoch, counter: ackCounter}
		}
		msg := appendHeartbeat(nil, name, want)
		from, p, ok := splitNamed(msg)
		if !ok || msg[0] != msgHeartbeat || from != name {
			t.Fatalf("heartbeat %+v: message %x", want, msg)
		}
		got, ok := parseHeartbeat(p)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("heartbeat %+v: %x parses to %+v (%v)", want, p, got, ok)
		}
	})
}

// fuzzNode is node1 of a cluster without a key, never run, that knows
// node0 and node2 as memberlist would have introduced them.
func fuzzNode(t testing.TB) *Node {
	t.Helper()
	cfg := &config.Config{
		Node: config.Node{Name: "node1", Bind: netip.MustParseAddrPort("127.0.0.1:7946")},
		Cluster: config.Cluster{
			Name: "test", Peers: []string{"127.0.0.1:7945", "127.0.0.1:7947"}, Insecure: true,
			Quorum: config.QuorumAuto, Timing: testTiming(),
		},
		Instances: []config.Instance{{
			Name: "web", Interface: "eth0", Priority: 100,
			VIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32")},
		}},
	}
	n, err := New(Options{Config: NewConfig(cfg), Holders: map[string]Holder{"web": &fakeHolder{tr: newTracker(), node: "node1", inst: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"node0", "node2"} {
		meta := mustMarshal(t, Meta{Epoch: 1, Seq: 1, Frames: true, Instances: []InstanceMeta{{Name: "web", Priority: 100, Holding: i == 0}}})
		n.apply(event{kind: evJoin, name: name, addr: fmt.Sprintf("127.0.0.1:%d", 7945+2*i), meta: meta})
	}
	return n
}

// FuzzDelegate feeds memberlist's delegate what any host on the network
// can send a cluster without a key: direct messages (NotifyMsg) and
// push/pull states (MergeRemoteState), to a node whose election keeps up
// and to one whose event queue is full (behind); see delegateCheck.
func FuzzDelegate(f *testing.F) {
	seed := fuzzNode(f)
	seed.mu.Lock()
	seed.pubDirectives = []directive{{Instance: "web", Target: "node2", Issued: 1_700_000_000_000_000_000, Issuer: "node1"}}
	seed.mu.Unlock()
	state := seed.localState()
	meta := mustMarshal(f, fuzzMetas()[1])
	dirs := mustJSON(f, []directive{{Instance: "web", Target: "node0", Issued: 1_700_000_000_000_000_001, Issuer: "node2", Cleared: true}})
	strangerState := mustJSON(f, pushState{Name: "stranger", Meta: meta})

	// More directives than a node keeps, each for another instance, and
	// more senders than it has members: too big to mutate usefully, so
	// checked once here.
	var many []directive
	for i := 0; i < maxDirectives+44; i++ {
		many = append(many, directive{Instance: fmt.Sprintf("i%d", i), Target: "node0", Issued: int64(i), Issuer: "node2"})
	}
	var msgs, states [][]byte
	for i := 0; i < 2*maxMembers; i++ {
		name := fmt.Sprintf("stranger%d", i)
		msgs = append(msgs, namedMessage(msgMetaRequest, name, nil), namedMessage(msgMeta, name, meta))
		states = append(states, mustJSON(f, pushState{Name: name, Meta: meta, Directives: many[i : i+1]}))
	}
	msgs = append(msgs, append([]byte{msgDirective}, mustJSON(f, many)...))
	states = append(states, mustJSON(f, pushState{Name: "node2", Meta: meta, Directives: many}))
	for _, behind := range []bool{false, true} {
		if n := delegateCheck(f, msgs, states, false, behind); len(n.directives) != maxDirectives {
			f.Fatalf("%d directives kept of %d, want %d", len(n.directives), len(many), maxDirectives)
		}
	}

	for _, behind := range []bool{false, true} {
		f.Add(namedMessage(msgMeta, "node0", meta), state, false, behind)
		f.Add(namedMessage(msgMeta, "stranger", meta), strangerState, true, behind)
		f.Add(namedMessage(msgMetaRequest, "node2", nil), []byte("{}"), false, behind)
		f.Add(append([]byte{msgDirective}, dirs...), state, true, behind)
		for _, hb := range fuzzHeartbeats() {
			f.Add(hb, []byte(`{"name":"node1"}`), false, behind)
		}
	}
	f.Fuzz(func(t *testing.T, msg, state []byte, join, behind bool) {
		delegateCheck(t, [][]byte{msg}, [][]byte{state}, join, behind)
	})
}

// delegateCheck gives msgs to NotifyMsg and states to MergeRemoteState
// of a fuzzNode, with its event queue full first when behind, and applies
// the events as the election goroutine would. The delegate must neither
// panic nor block, and however many names and directives the messages
// carry, what the node records of them stays bounded: messages introduce
// no member, merged events are bounded like the member table, and the
// directives kept are at most maxDirectives. It returns the node.
func delegateCheck(t testing.TB, msgs, states [][]byte, join, behind bool) *Node {
	t.Helper()
	n := fuzzNode(t)
	n.presence.mu.Lock()
	peers := len(n.presence.peers)
	n.presence.mu.Unlock()
	if behind {
		for len(n.events.ch) < cap(n.events.ch) {
			n.events.put(event{kind: evPingOK, name: "node0"})
		}
	}
	d := &delegate{n: n}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, msg := range msgs {
			d.NotifyMsg(msg)
		}
		for _, state := range states {
			d.MergeRemoteState(state, join)
		}
	}()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatal("the delegate blocked")
	}

	q := n.events
	q.mu.Lock()
	pending, queuedDirs := len(q.pending), len(q.dirs)
	q.mu.Unlock()
	if pending > maxMembers || queuedDirs > maxDirectives {
		t.Fatalf("merged events for %d members and %d directives, at most %d and %d", pending, queuedDirs, maxMembers, maxDirectives)
	}
	n.drain()
	if len(q.ch) != 0 || len(q.pending) != 0 || len(q.dirs) != 0 {
		t.Fatalf("events left after drain: %d queued, %d members and %d directives merged", len(q.ch), len(q.pending), len(q.dirs))
	}
	if len(n.members.members) != 2 || n.members.members["node0"] == nil || n.members.members["node2"] == nil {
		t.Fatalf("members after messages: %v", slices.Sorted(maps.Keys(n.members.members)))
	}
	n.presence.mu.Lock()
	after := len(n.presence.peers)
	n.presence.mu.Unlock()
	if after != peers {
		t.Fatalf("presence knows %d members after messages, %d before", after, peers)
	}
	if len(n.directives) > maxDirectives {
		t.Fatalf("%d directives kept, at most %d", len(n.directives), maxDirectives)
	}
	return n
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

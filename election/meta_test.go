package election

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetaRoundTrip(t *testing.T) {
	tests := []Meta{
		{Epoch: 1, Seq: 2},
		{Epoch: 1<<63 + 5, Seq: 99, Maintenance: true, Leaving: true, Frames: true, Instances: []InstanceMeta{
			{Name: "web", Priority: 150, Holding: true},
			{Name: "db", Priority: 0},
		}},
		{Epoch: 3, Seq: 4, Frames: true, Directives: 0xfeedface12345678, HasDirectives: true, Instances: []InstanceMeta{{Name: "web", Priority: 100}}},
		{Epoch: 3, Seq: 4, HasDirectives: true},
	}
	for _, want := range tests {
		b, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Meta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestMetaLimits(t *testing.T) {
	var m Meta
	for i := 0; i < 20; i++ {
		m.Instances = append(m.Instances, InstanceMeta{Name: strings.Repeat("x", 30) + string(rune('a'+i)), Priority: 1})
	}
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "512") {
		t.Errorf("oversized metadata: got err %v, want one naming the 512-byte limit", err)
	}
	var got Meta
	if err := got.UnmarshalBinary([]byte{9, 0, 0}); !errors.Is(err, errMetaVersion) {
		t.Errorf("unknown version: got %v", err)
	}
	good, _ := Meta{Instances: []InstanceMeta{{Name: "web", Priority: 1}}}.MarshalBinary()
	if err := got.UnmarshalBinary(good[:len(good)-1]); err == nil {
		t.Error("truncated metadata decoded without error")
	}
}

// TestMetaDirectivesCompatible: metadata with the directives' digest
// decodes, in the format before it, as that format's fields (the digest
// follows everything such a decoder reads), and metadata from before it
// decodes without one.
func TestMetaDirectivesCompatible(t *testing.T) {
	old := Meta{Epoch: 3, Seq: 4, Instances: []InstanceMeta{{Name: "web", Priority: 100, Holding: true}}}
	b, err := old.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Meta
	if err := got.UnmarshalBinary(b); err != nil || got.HasDirectives {
		t.Errorf("metadata without the digest: %+v, %v", got, err)
	}
	withDigest := old
	withDigest.Directives, withDigest.HasDirectives = 42, true
	nb, err := withDigest.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nb[:17], b[:17]) || !bytes.Equal(nb[18:len(b)], b[18:]) || nb[17] != b[17]|flagDirectives || len(nb) != len(b)+8 {
		t.Errorf("the digest changes more than a flag and 8 trailing bytes:\n%x\n%x", b, nb)
	}
	if err := got.UnmarshalBinary(nb[:len(nb)-1]); err == nil {
		t.Error("a truncated digest decoded without error")
	}
}

// TestMetaSizeCountsTheDigest: instances whose metadata fits memberlist's
// 512 bytes only without the directives' digest are refused up front,
// not when the node first publishes.
func TestMetaSizeCountsTheDigest(t *testing.T) {
	insts := []Instance{{Name: strings.Repeat("a", 255)}, {Name: strings.Repeat("b", 232)}}
	bare := Meta{Instances: []InstanceMeta{{Name: insts[0].Name}, {Name: insts[1].Name}}}
	if b, err := bare.MarshalBinary(); err != nil || len(b) != maxMetaSize {
		t.Fatalf("without the digest: %d bytes, %v; want exactly %d", len(b), err, maxMetaSize)
	}
	if err := checkMetaSize(insts); err == nil {
		t.Error("checkMetaSize accepted metadata 8 bytes over the limit with the digest")
	}
	if err := checkMetaSize(insts[:1]); err != nil {
		t.Errorf("one instance: %v", err)
	}
}

// TestDirectivesDigest: the same directives give the same digest on every
// node, whatever order they arrived in; any change in one gives another.
func TestDirectivesDigest(t *testing.T) {
	a := directive{Instance: "web", Target: "node1", Issued: 100, Issuer: "node0"}
	b := directive{Instance: "db", Target: "node2", Issued: 200, Issuer: "node1"}
	if d := directivesDigest(nil); d != 0 {
		t.Errorf("no directives: %x, want 0", d)
	}
	one := directivesDigest(map[string]directive{"web": a, "db": b})
	if two := directivesDigest(map[string]directive{"db": b, "web": a}); one != two {
		t.Errorf("same directives, other order: %x and %x", one, two)
	}
	seen := map[uint64]string{one: "both"}
	cleared := a
	cleared.Cleared = true
	retarget := a
	retarget.Target = "node2"
	reissued := a
	reissued.Issued++
	for name, d := range map[string]directive{"cleared": cleared, "another target": retarget, "issued later": reissued} {
		got := directivesDigest(map[string]directive{"web": d, "db": b})
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same digest as %s", name, prev)
		}
		seen[got] = name
	}
}

func TestMetaNewer(t *testing.T) {
	a := Meta{Epoch: 10, Seq: 5}
	if !(Meta{Epoch: 10, Seq: 6}).newer(a) || (Meta{Epoch: 10, Seq: 5}).newer(a) {
		t.Error("sequence order wrong")
	}
	if !(Meta{Epoch: 11, Seq: 0}).newer(a) || (Meta{Epoch: 9, Seq: 100}).newer(a) {
		t.Error("a restarted daemon (new epoch) must win over any sequence of the old one")
	}
}

// TestNamedMessageRoundTrip: what namedMessage encodes, splitNamed
// decodes; truncated messages are refused, not misread.
func TestNamedMessageRoundTrip(t *testing.T) {
	msg := namedMessage(msgHeartbeat, "node7", []byte{1, 2, 3})
	if msg[0] != msgHeartbeat {
		t.Fatalf("kind %d", msg[0])
	}
	name, payload, ok := splitNamed(msg)
	if !ok || name != "node7" || !bytes.Equal(payload, []byte{1, 2, 3}) {
		t.Errorf("splitNamed = %q %v %v", name, payload, ok)
	}
	if name, payload, ok := splitNamed(namedMessage(msgMetaRequest, "node7", nil)); !ok || name != "node7" || len(payload) != 0 {
		t.Errorf("no payload: %q %v %v", name, payload, ok)
	}
	for _, b := range [][]byte{nil, {msgMeta}, msg[:5]} {
		if _, _, ok := splitNamed(b); ok {
			t.Errorf("splitNamed(%v) accepted a truncated message", b)
		}
	}
}

package election

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// metaVersion is the format version of the node metadata. A node ignores
// metadata of a version it does not know (it then treats the member as
// holding nothing and being ineligible), so a rolling upgrade that changes
// the format must bump it.
const metaVersion = 1

// maxMetaSize is memberlist's limit for NodeMeta; more panics.
const maxMetaSize = 512

// Meta is what a node publishes about itself, in memberlist's NodeMeta and
// in direct messages.
type Meta struct {
	// Epoch identifies one run of the daemon (its start time in
	// nanoseconds); with Seq it orders updates, so a stale direct message
	// never overrides newer gossip.
	Epoch uint64
	Seq   uint64
	// Maintenance is set while the node is drained.
	Maintenance bool
	// Leaving is set in the last update a node sends before it leaves
	// the cluster, so peers can tell a graceful leave from a death.
	Leaving bool
	// Frames is set by a node that reads heartbeat frames (package wire);
	// peers send it their heartbeats through memberlist otherwise.
	Frames    bool
	Instances []InstanceMeta
	// Directives digests the switchover directives the node knows (see
	// directivesDigest); HasDirectives is false from a node of a version
	// before it. A member whose digest differs from this node's is sent
	// this node's directives until they agree.
	Directives    uint64
	HasDirectives bool
}

// InstanceMeta is the published state of one instance.
type InstanceMeta struct {
	Name string
	// Priority is the effective priority; 0 means not eligible.
	Priority uint8
	// Holding is true while the node has the VIPs on its interface.
	Holding bool
}

// newer reports whether m is a later update than o.
func (m Meta) newer(o Meta) bool { return m.version().newer(o.version()) }

// version is m's (epoch, seq).
func (m Meta) version() metaVersionOf { return metaVersionOf{epoch: m.Epoch, seq: m.Seq} }

// metaVersionOf is the (epoch, seq) of a node's metadata.
type metaVersionOf struct{ epoch, seq uint64 }

// newer reports whether v is a later version than o.
func (v metaVersionOf) newer(o metaVersionOf) bool {
	if v.epoch != o.epoch {
		return v.epoch > o.epoch
	}
	return v.seq > o.seq
}

// instance returns the published state of the named instance.
func (m Meta) instance(name string) (InstanceMeta, bool) {
	for _, im := range m.Instances {
		if im.Name == name {
			return im, true
		}
	}
	return InstanceMeta{}, false
}

const (
	flagMaintenance = 1 << 0
	flagLeaving     = 1 << 1
	flagFrames      = 1 << 2
	// flagDirectives: the directives' digest follows the instances
	// (a decoder of a version before it ignores both).
	flagDirectives = 1 << 3
	flagHolding    = 1 << 0
)

// MarshalBinary encodes m compactly: version, epoch, seq, flags, count,
// then per instance the name, priority and flags, then (flagDirectives)
// the directives' digest.
func (m Meta) MarshalBinary() ([]byte, error) {
	if len(m.Instances) > 255 {
		return nil, fmt.Errorf("node metadata: %d instances, at most 255", len(m.Instances))
	}
	b := make([]byte, 0, 19+len(m.Instances)*16)
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, m.Epoch)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	var flags byte
	if m.Maintenance {
		flags |= flagMaintenance
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	if m.Frames {
		flags |= flagFrames
	}
	if m.HasDirectives {
		flags |= flagDirectives
	}
	b = append(b, flags, byte(len(m.Instances)))
	for _, im := range m.Instances {
		if len(im.Name) == 0 || len(im.Name) > 255 {
			return nil, fmt.Errorf("node metadata: instance name %q has a bad length", im.Name)
		}
		b = append(b, byte(len(im.Name)))
		b = append(b, im.Name...)
		var f byte
		if im.Holding {
			f |= flagHolding
		}
		b = append(b, im.Priority, f)
	}
	if m.HasDirectives {
		b = binary.BigEndian.AppendUint64(b, m.Directives)
	}
	if len(b) > maxMetaSize {
		return nil, fmt.Errorf("node metadata is %d bytes, memberlist allows %d", len(b), maxMetaSize)
	}
	return b, nil
}

var errMetaVersion = errors.New("unknown node metadata version")

// UnmarshalBinary decodes what MarshalBinary produced.
func (m *Meta) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty node metadata")
	}
	if b[0] != metaVersion {
		return fmt.Errorf("%w %d", errMetaVersion, b[0])
	}
	if len(b) < 19 {
		return errors.New("short node metadata")
	}
	if len(b) > maxMetaSize {
		// No member publishes more (memberlist's limit); a direct
		// message could carry it, and must not grow the member table.
		return fmt.Errorf("node metadata of %d bytes, more than %d", len(b), maxMetaSize)
	}
	out := Meta{
		Epoch:       binary.BigEndian.Uint64(b[1:9]),
		Seq:         binary.BigEndian.Uint64(b[9:17]),
		Maintenance: b[17]&flagMaintenance != 0,
		Leaving:     b[17]&flagLeaving != 0,
		Frames:      b[17]&flagFrames != 0,
	}
	n := int(b[18])
	rest := b[19:]
	for i := 0; i < n; i++ {
		if len(rest) < 1 {
			return errors.New("truncated node metadata")
		}
		l := int(rest[0])
		if len(rest) < 1+l+2 {
			return errors.New("truncated node metadata")
		}
		if l == 0 {
			return errors.New("node metadata: an instance without a name")
		}
		out.Instances = append(out.Instances, InstanceMeta{
			Name:     string(rest[1 : 1+l]),
			Priority: rest[1+l],
			Holding:  rest[2+l]&flagHolding != 0,
		})
		rest = rest[3+l:]
	}
	if b[17]&flagDirectives != 0 {
		if len(rest) < 8 {
			return errors.New("truncated node metadata")
		}
		out.Directives, out.HasDirectives = binary.BigEndian.Uint64(rest), true
	}
	*m = out
	return nil
}

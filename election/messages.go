package election

import (
	"encoding/binary"
	"hash/fnv"
)

// Direct messages between members go through memberlist's packet path
// (encrypted and labelled like gossip), or for heartbeats in frames of
// their own (package wire). The first byte is the kind; named messages then
// carry the sender's name, length first, and a payload.
const (
	// msgMeta carries a node's Meta.
	msgMeta byte = 1
	// msgDirective carries switchover directives (JSON, no name).
	msgDirective byte = 2
	// msgHeartbeat is a heartbeat: the sender's name and the version
	// (epoch, seq) of its current metadata.
	msgHeartbeat byte = 3
	// msgMetaRequest asks the receiver for its metadata; sent by a node
	// that learned from a heartbeat that its view of the receiver is
	// stale.
	msgMetaRequest byte = 5
	// msgMetaOf carries another member's Meta, named by that member: a
	// member passes on the state of a member it hears to one whose
	// heartbeats say it does not (see Node.relay). A version before it
	// ignores the kind.
	msgMetaOf byte = 6
)

// namedMessage encodes a named message from name.
func namedMessage(kind byte, name string, payload []byte) []byte {
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

// beatID identifies one heartbeat of a member: the run that sent it
// (its metadata epoch) and its counter within that run, which only ever
// grows.
type beatID struct{ epoch, counter uint64 }

// newer reports whether b comes after o.
func (b beatID) newer(o beatID) bool {
	if b.epoch != o.epoch {
		return b.epoch > o.epoch
	}
	return b.counter > o.counter
}

// heartbeat is a decoded heartbeat's payload:
//
//	version: epoch (8) seq (8)
//	then, from members that acknowledge:
//	counter (8) | flags (1) | recipient name length (1) | recipient name | ack epoch (8) | ack counter (8)
//	| count (1) | count × (member name hash (4) | milliseconds since heard (2))
//
// A heartbeat is sent to one member: it acknowledges the last heartbeat
// its sender took from that member, so the recipient learns that its own
// heartbeats get through (its lease) and not only that it hears the
// sender. The recipient's name keeps a heartbeat sent to one member from
// acknowledging anything when replayed to another. The last part says
// which members the sender hears, and how long ago it last did: a member
// does not take over from a holder that another member still hears. A
// version before acknowledgements sends only the version and reads only
// that.
type heartbeat struct {
	version *metaVersionOf
	beat    beatID // zero from a member that does not acknowledge
	acks    bool
	to      string
	ack     beatID
	hears   []hearing
}

// hearing is one entry of a heartbeat's list of members its sender hears.
type hearing struct {
	name uint32 // nameHash of the member's name
	age  uint16 // milliseconds since the sender last heard it, capped
}

// maxHearings bounds a heartbeat's list: a cluster has at most ten
// members.
const maxHearings = 16

// nameHash is the hash a heartbeat's hearing list names members by.
func nameHash(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

const hbAcks = 1 << 0

// appendHeartbeat encodes hb as a heartbeat from name.
func appendHeartbeat(dst []byte, name string, hb heartbeat) []byte {
	dst = append(dst, msgHeartbeat, byte(len(name)))
	dst = append(dst, name...)
	var v metaVersionOf
	if hb.version != nil {
		v = *hb.version
	}
	dst = binary.BigEndian.AppendUint64(dst, v.epoch)
	dst = binary.BigEndian.AppendUint64(dst, v.seq)
	if !hb.acks {
		return dst
	}
	dst = binary.BigEndian.AppendUint64(dst, hb.beat.counter)
	dst = append(dst, hbAcks, byte(len(hb.to)))
	dst = append(dst, hb.to...)
	dst = binary.BigEndian.AppendUint64(dst, hb.ack.epoch)
	dst = binary.BigEndian.AppendUint64(dst, hb.ack.counter)
	n := min(len(hb.hears), maxHearings)
	dst = append(dst, byte(n))
	for _, e := range hb.hears[:n] {
		dst = binary.BigEndian.AppendUint32(dst, e.name)
		dst = binary.BigEndian.AppendUint16(dst, e.age)
	}
	return dst
}

// parseHeartbeat decodes a heartbeat's payload; ok is false when it is
// cut short. The beat's epoch is the version's: one per run.
func parseHeartbeat(payload []byte) (hb heartbeat, ok bool) {
	if len(payload) < 16 {
		return heartbeat{}, len(payload) == 0
	}
	v := metaVersionOf{epoch: binary.BigEndian.Uint64(payload), seq: binary.BigEndian.Uint64(payload[8:])}
	hb.version = &v
	rest := payload[16:]
	if len(rest) == 0 {
		return hb, true
	}
	// Flag bits other than hbAcks are ignored: a later version may set
	// them for what this one does not read.
	if len(rest) < 10 || rest[8]&hbAcks == 0 {
		return heartbeat{}, false
	}
	hb.acks = true
	hb.beat = beatID{epoch: v.epoch, counter: binary.BigEndian.Uint64(rest)}
	l := int(rest[9])
	rest = rest[10:]
	if len(rest) < l+17 {
		return heartbeat{}, false
	}
	hb.to = string(rest[:l])
	hb.ack = beatID{epoch: binary.BigEndian.Uint64(rest[l:]), counter: binary.BigEndian.Uint64(rest[l+8:])}
	rest = rest[l+16:]
	n := int(rest[0])
	rest = rest[1:]
	if n > maxHearings || len(rest) != 6*n {
		return heartbeat{}, false
	}
	if n > 0 {
		hb.hears = make([]hearing, n)
	}
	for i := range hb.hears {
		hb.hears[i] = hearing{name: binary.BigEndian.Uint32(rest[6*i:]), age: binary.BigEndian.Uint16(rest[6*i+4:])}
	}
	return hb, true
}

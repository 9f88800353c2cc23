package election

import "encoding/binary"

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

// heartbeatMessage encodes name's heartbeat announcing metadata version v.
func heartbeatMessage(name string, v metaVersionOf) []byte {
	p := binary.BigEndian.AppendUint64(make([]byte, 0, 16), v.epoch)
	return namedMessage(msgHeartbeat, name, binary.BigEndian.AppendUint64(p, v.seq))
}

// heartbeatVersion decodes a heartbeat's payload; nil when it carries no
// version.
func heartbeatVersion(payload []byte) *metaVersionOf {
	if len(payload) < 16 {
		return nil
	}
	return &metaVersionOf{epoch: binary.BigEndian.Uint64(payload), seq: binary.BigEndian.Uint64(payload[8:])}
}

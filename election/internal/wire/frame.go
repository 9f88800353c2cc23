package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
)

// Heartbeats between members that both read frames (the election's
// Meta.Frames) do not go through memberlist's packet path but in frames
// of their own on the same UDP port. The first byte tells them from
// memberlist's packets (which start with a message type below 16, an
// encryption version 0 or 1, or the label marker 244) and tells the
// kernel which of two sockets on the port gets the frame (see
// lazySocket): an eager frame wakes the receiver, a lazy one waits in the
// socket until the election loop wakes for something else. Only the pace
// member's heartbeats are eager; the others' answers are read by each
// member when the next pace heartbeat or its own tick wakes it, so every
// member wakes about once a heartbeat interval instead of once for each
// peer's heartbeat.
//
//	plain:  kind | 0 | label length | label | message
//	sealed: kind | 1 | nonce (12) | AES-GCM(message), the first two bytes and the label authenticated
const (
	FrameEager byte = 0xC8
	FrameLazy  byte = 0xC9

	framePlain  byte = 0
	frameSealed byte = 1
)

// maxFrame is the largest frame read: a heartbeat is a few dozen bytes.
const maxFrame = 512

// frameKeyContext separates the frame key from memberlist's use of the
// cluster key.
const frameKeyContext = "havip heartbeat frame v1"

// IsFrame reports whether a packet is a heartbeat frame (of either kind).
func IsFrame(b []byte) bool {
	return len(b) > 0 && (b[0] == FrameEager || b[0] == FrameLazy)
}

// Framer seals and opens heartbeat frames for one cluster: its label
// (cluster.name) and, when the cluster has a key, AES-GCM under a key
// derived from it.
type Framer struct {
	label []byte
	aead  cipher.AEAD // nil when the cluster has no key

	// A sealed frame's nonce is a random prefix and a counter (one
	// random draw per 2³² frames, not one system call per frame).
	mu     sync.Mutex
	prefix [8]byte
	count  uint32
}

// NewFramer returns the framer of the cluster with this label and key
// (none: frames are only labelled, not sealed).
func NewFramer(label string, key []byte) (*Framer, error) {
	if len(label) > 255 {
		return nil, errors.New("cluster label longer than 255 bytes")
	}
	f := &Framer{label: []byte(label)}
	if len(key) == 0 {
		return f, nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(frameKeyContext))
	sub := m.Sum(nil)
	if len(key) > len(sub) {
		return nil, errors.New("cluster key longer than 32 bytes")
	}
	block, err := aes.NewCipher(sub[:len(key)])
	if err != nil {
		return nil, err
	}
	if f.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	rand.Read(f.prefix[:])
	return f, nil
}

// Seal appends the frame of msg to dst.
func (f *Framer) Seal(dst []byte, kind byte, msg []byte) []byte {
	if f.aead == nil {
		dst = append(dst, kind, framePlain, byte(len(f.label)))
		dst = append(dst, f.label...)
		return append(dst, msg...)
	}
	start := len(dst)
	dst = append(dst, kind, frameSealed)
	dst = f.nonce(dst)
	nonce := dst[start+2:]
	return f.aead.Seal(dst, nonce, msg, f.aad(dst[start:start+2]))
}

// nonce appends the next nonce (12 bytes): unique for this process, and
// the random prefix makes a repeat across processes sharing the key
// vanishingly unlikely.
func (f *Framer) nonce(dst []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	if f.count == 0 {
		rand.Read(f.prefix[:])
	}
	dst = append(dst, f.prefix[:]...)
	return binary.BigEndian.AppendUint32(dst, f.count)
}

// aad is what a sealed frame authenticates besides the message: its
// first two bytes and the cluster label.
func (f *Framer) aad(head []byte) []byte {
	a := make([]byte, 0, 2+len(f.label))
	return append(append(a, head...), f.label...)
}

var (
	errFrameShort = errors.New("short heartbeat frame")
	errFrameMode  = errors.New("heartbeat frame sealed differently from this cluster's (key set on one side only)")
	errFrameLabel = errors.New("heartbeat frame from another cluster (label differs)")
	errFrameOpen  = errors.New("heartbeat frame does not authenticate (another cluster's key, or altered)")
)

// Open returns the message in frame b, checked against the label and
// key; it may share b's memory.
func (f *Framer) Open(b []byte) ([]byte, error) {
	if len(b) < 3 || !IsFrame(b) {
		return nil, errFrameShort
	}
	if f.aead == nil {
		if b[1] != framePlain {
			return nil, errFrameMode
		}
		l := int(b[2])
		if len(b) < 3+l {
			return nil, errFrameShort
		}
		if string(b[3:3+l]) != string(f.label) {
			return nil, errFrameLabel
		}
		return b[3+l:], nil
	}
	if b[1] != frameSealed {
		return nil, errFrameMode
	}
	ns := f.aead.NonceSize()
	if len(b) < 2+ns+f.aead.Overhead() {
		return nil, errFrameShort
	}
	msg, err := f.aead.Open(nil, b[2:2+ns], b[2+ns:], f.aad(b[:2]))
	if err != nil {
		return nil, errFrameOpen
	}
	return msg, nil
}

package wire

import (
	"bytes"
	"errors"
	"testing"
)

// msgHeartbeat is the election's heartbeat message type, the first byte
// of what a frame carries.
const msgHeartbeat byte = 3

func TestFrameRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	msg := []byte{msgHeartbeat, 5, 'n', 'o', 'd', 'e', '0', 1, 2, 3}
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"sealed", key}, {"sealed-16", key[:16]}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFramer("prod", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range []byte{FrameEager, FrameLazy} {
				b := f.Seal([]byte("junk"), kind, msg)
				if !bytes.HasPrefix(b, []byte("junk")) {
					t.Fatalf("seal did not append: %x", b)
				}
				b = b[4:]
				if !IsFrame(b) || b[0] != kind {
					t.Fatalf("frame %x: kind %x, want %x", b, b[0], kind)
				}
				if tc.key != nil && bytes.Contains(b, msg[2:7]) {
					t.Errorf("sealed frame %x shows the sender's name", b)
				}
				got, err := f.Open(b)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("open = %x, %v; want %x", got, err, msg)
				}
			}
			// The same heartbeat sealed twice: never the same nonce.
			if a, b := f.Seal(nil, FrameLazy, msg), f.Seal(nil, FrameLazy, msg); tc.key != nil && bytes.Equal(a[2:14], b[2:14]) {
				t.Errorf("two frames with nonce %x", a[2:14])
			}
		})
	}
}

func TestFrameRejects(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	msg := []byte{msgHeartbeat, 1, 'a'}
	mk := func(label string, key []byte) *Framer {
		f, err := NewFramer(label, key)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	plain, sealed := mk("prod", nil), mk("prod", key)
	sealedFrame := sealed.Seal(nil, FrameLazy, msg)
	flipped := bytes.Clone(sealedFrame)
	flipped[0] = FrameEager
	altered := bytes.Clone(sealedFrame)
	altered[len(altered)-1] ^= 1
	for _, tc := range []struct {
		name  string
		by    *Framer
		frame []byte
		want  error
	}{
		{"plain from another cluster", plain, mk("test", nil).Seal(nil, FrameEager, msg), errFrameLabel},
		{"sealed for another cluster", sealed, mk("test", key).Seal(nil, FrameEager, msg), errFrameOpen},
		{"another key", sealed, mk("prod", bytes.Repeat([]byte{8}, 16)).Seal(nil, FrameEager, msg), errFrameOpen},
		{"plain to a keyed cluster", sealed, plain.Seal(nil, FrameEager, msg), errFrameMode},
		{"sealed to an open cluster", plain, sealedFrame, errFrameMode},
		{"kind changed on the way", sealed, flipped, errFrameOpen},
		{"altered", sealed, altered, errFrameOpen},
		{"truncated", sealed, sealedFrame[:20], errFrameShort},
		{"plain truncated in the label", plain, plain.Seal(nil, FrameEager, msg)[:5], errFrameShort},
		{"not a frame", plain, []byte{0, 0, 0, 0}, errFrameShort},
	} {
		if got, err := tc.by.Open(tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("%s: open = %x, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := NewFramer("prod", bytes.Repeat([]byte{1}, 33)); err == nil {
		t.Error("a 33-byte key accepted")
	}
}

// TestFrameKindsAreNotMemberlist: memberlist's packets start with a
// message type (below 16), an encryption version (0, 1) or its label
// marker (244); none of those may be taken for a frame.
func TestFrameKindsAreNotMemberlist(t *testing.T) {
	for b := 0; b < 16; b++ {
		if IsFrame([]byte{byte(b)}) {
			t.Errorf("memberlist type %d taken for a frame", b)
		}
	}
	if IsFrame([]byte{244}) || IsFrame(nil) {
		t.Error("label marker or empty packet taken for a frame")
	}
}

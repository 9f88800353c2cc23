package election

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	msg := []byte{msgHeartbeat, 5, 'n', 'o', 'd', 'e', '0', 1, 2, 3}
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"sealed", key}, {"sealed-16", key[:16]}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newFramer("prod", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range []byte{frameEager, frameLazy} {
				b := f.seal([]byte("junk"), kind, msg)
				if !bytes.HasPrefix(b, []byte("junk")) {
					t.Fatalf("seal did not append: %x", b)
				}
				b = b[4:]
				if !isFrame(b) || b[0] != kind {
					t.Fatalf("frame %x: kind %x, want %x", b, b[0], kind)
				}
				if tc.key != nil && bytes.Contains(b, msg[2:7]) {
					t.Errorf("sealed frame %x shows the sender's name", b)
				}
				got, err := f.open(b)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("open = %x, %v; want %x", got, err, msg)
				}
			}
			// The same heartbeat sealed twice: never the same nonce.
			if a, b := f.seal(nil, frameLazy, msg), f.seal(nil, frameLazy, msg); tc.key != nil && bytes.Equal(a[2:14], b[2:14]) {
				t.Errorf("two frames with nonce %x", a[2:14])
			}
		})
	}
}

func TestFrameRejects(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	msg := []byte{msgHeartbeat, 1, 'a'}
	mk := func(label string, key []byte) *framer {
		f, err := newFramer(label, key)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	plain, sealed := mk("prod", nil), mk("prod", key)
	sealedFrame := sealed.seal(nil, frameLazy, msg)
	flipped := bytes.Clone(sealedFrame)
	flipped[0] = frameEager
	altered := bytes.Clone(sealedFrame)
	altered[len(altered)-1] ^= 1
	for _, tc := range []struct {
		name  string
		by    *framer
		frame []byte
		want  error
	}{
		{"plain from another cluster", plain, mk("test", nil).seal(nil, frameEager, msg), errFrameLabel},
		{"sealed for another cluster", sealed, mk("test", key).seal(nil, frameEager, msg), errFrameOpen},
		{"another key", sealed, mk("prod", bytes.Repeat([]byte{8}, 16)).seal(nil, frameEager, msg), errFrameOpen},
		{"plain to a keyed cluster", sealed, plain.seal(nil, frameEager, msg), errFrameMode},
		{"sealed to an open cluster", plain, sealedFrame, errFrameMode},
		{"kind changed on the way", sealed, flipped, errFrameOpen},
		{"altered", sealed, altered, errFrameOpen},
		{"truncated", sealed, sealedFrame[:20], errFrameShort},
		{"plain truncated in the label", plain, plain.seal(nil, frameEager, msg)[:5], errFrameShort},
		{"not a frame", plain, []byte{0, 0, 0, 0}, errFrameShort},
	} {
		if got, err := tc.by.open(tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("%s: open = %x, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := newFramer("prod", bytes.Repeat([]byte{1}, 33)); err == nil {
		t.Error("a 33-byte key accepted")
	}
}

// TestFrameKindsAreNotMemberlist: memberlist's packets start with a
// message type (below 16), an encryption version (0, 1) or its label
// marker (244); none of those may be taken for a frame.
func TestFrameKindsAreNotMemberlist(t *testing.T) {
	for b := 0; b < 16; b++ {
		if isFrame([]byte{byte(b)}) {
			t.Errorf("memberlist type %d taken for a frame", b)
		}
	}
	if isFrame([]byte{244}) || isFrame(nil) {
		t.Error("label marker or empty packet taken for a frame")
	}
}

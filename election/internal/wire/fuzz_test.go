package wire

import (
	"bytes"
	"testing"
)

// fuzzKey is the cluster key of the sealing framer in FuzzFrameOpen; the
// sealed frames in testdata/fuzz/FuzzFrameOpen were sealed with it.
var fuzzKey = bytes.Repeat([]byte{7}, 32)

// FuzzFrameOpen feeds arbitrary packets to the framers of a cluster
// without a key and of one with a key, and seals arbitrary messages:
// Open never panics, what it accepts is what Seal would have made of
// it, every sealed message opens to itself, and no byte of a sealed
// frame can be altered without Open noticing.
func FuzzFrameOpen(f *testing.F) {
	plain, err := NewFramer("prod", nil)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := NewFramer("prod", fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	hb := []byte{msgHeartbeat, 5, 'n', 'o', 'd', 'e', '0', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}
	f.Add(plain.Seal(nil, FrameEager, hb), hb, byte(1), uint16(0))
	f.Add(sealed.Seal(nil, FrameLazy, hb), hb, byte(0x80), uint16(20))
	f.Add(sealed.Seal(nil, FrameEager, nil), []byte{}, byte(0xff), uint16(1))
	f.Add([]byte{FrameLazy, framePlain, 0}, []byte{msgHeartbeat}, byte(2), uint16(3))
	f.Add([]byte{FrameEager, frameSealed}, []byte{}, byte(1), uint16(0))
	f.Add([]byte{0, 0, 0, 0}, bytes.Repeat([]byte{0xaa}, maxFrame), byte(4), uint16(300))
	f.Fuzz(func(t *testing.T, frame, msg []byte, mask byte, at uint16) {
		if mask == 0 {
			mask = 1
		}
		if len(msg) > maxFrame {
			msg = msg[:maxFrame]
		}
		openPlain, errPlain := plain.Open(frame)
		openSealed, errSealed := sealed.Open(frame)
		if errPlain == nil && errSealed == nil {
			t.Fatalf("frame %x opens both plain and sealed", frame)
		}
		if errPlain == nil {
			// A plain frame is its header, the label and the message,
			// nothing else: sealing the message again gives it back.
			if again := plain.Seal(nil, frame[0], openPlain); !bytes.Equal(again, frame) {
				t.Fatalf("plain frame %x opens to %x, which seals to %x", frame, openPlain, again)
			}
		}
		if errSealed == nil {
			if want := len(frame) - 2 - sealed.aead.NonceSize() - sealed.aead.Overhead(); len(openSealed) != want {
				t.Fatalf("sealed frame %x of %d bytes opens to %d bytes, want %d", frame, len(frame), len(openSealed), want)
			}
			if again, err := sealed.Open(sealed.Seal(nil, frame[0], openSealed)); err != nil || !bytes.Equal(again, openSealed) {
				t.Fatalf("message %x sealed again opens to %x, %v", openSealed, again, err)
			}
		}

		for _, kind := range []byte{FrameEager, FrameLazy} {
			for _, fr := range []*Framer{plain, sealed} {
				b := fr.Seal([]byte("junk"), kind, msg)
				if !bytes.HasPrefix(b, []byte("junk")) {
					t.Fatalf("seal did not append: %x", b)
				}
				b = b[4:]
				if !IsFrame(b) || b[0] != kind {
					t.Fatalf("frame %x of kind %x", b, kind)
				}
				got, err := fr.Open(b)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %x: frame %x opens to %x, %v", msg, b, got, err)
				}
			}
			// Sealed: any byte altered, the frame does not open.
			b := sealed.Seal(nil, kind, msg)
			for _, i := range flips(len(b), at) {
				b[i] ^= mask
				if got, err := sealed.Open(b); err == nil {
					t.Fatalf("sealed frame with byte %d xor %#x opens to %x", i, mask, got)
				}
				b[i] ^= mask
			}
			// Plain: the header and the label are checked, the kind only
			// for being a frame; the message is not protected.
			b = plain.Seal(nil, kind, msg)
			head := 3 + len(plain.label)
			for _, i := range flips(len(b), at) {
				b[i] ^= mask
				got, err := plain.Open(b)
				switch {
				case i == 0 && IsFrame(b):
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("plain frame of kind %x: opens to %x, %v", b[0], got, err)
					}
				case i < head:
					if err == nil {
						t.Fatalf("plain frame with byte %d xor %#x opens to %x", i, mask, got)
					}
				default:
					if err != nil || !bytes.Equal(got, b[head:]) {
						t.Fatalf("plain frame with message byte %d altered: opens to %x, %v", i, got, err)
					}
				}
				b[i] ^= mask
			}
		}
	})
}

// flips is where FuzzFrameOpen alters a frame of n bytes: everywhere in
// one of a heartbeat's size; in a longer one, its first and last 32
// bytes and the one at.
func flips(n int, at uint16) []int {
	const edge = 32
	var out []int
	for i := 0; i < n; i++ {
		if n <= 4*edge || i < edge || i >= n-edge || i == int(at)%n {
			out = append(out, i)
		}
	}
	return out
}

package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// headerSentinels are the errors ParseHeader may wrap, exactly one at a time.
var headerSentinels = []error{
	segment.ErrNotSegment, segment.ErrVersion, segment.ErrTruncated,
	segment.ErrSizeMismatch, segment.ErrNotInitialized,
}

func validHeader(dataSize int64) []byte {
	h := segment.Header{
		Version: 1, HeaderSize: 128, DataOffset: 128, DataSize: dataSize,
		Created: time.Unix(0, 1700000000000000000), Refreshed: time.Unix(0, 1700000000000000001),
	}
	b, err := h.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzHeader: ParseHeader never panics; it fails with exactly one segment
// sentinel, or returns a header that encodes back to the same bytes (bar
// the reserved ones) and parses again to itself.
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzHeader$' -fuzztime 30s
func FuzzHeader(f *testing.F) {
	f.Add(validHeader(64), int64(192))
	f.Add(validHeader(0), int64(128))
	f.Add(validHeader(64), int64(191))
	f.Add(validHeader(64), int64(193))
	f.Add(make([]byte, 128), int64(4096))
	f.Add([]byte{}, int64(0))
	f.Add([]byte("\x7fELF\x02\x01\x01"), int64(8))
	f.Fuzz(func(t *testing.T, b []byte, fileSize int64) {
		h, err := segment.ParseHeader(b, fileSize)
		if err != nil {
			n := 0
			for _, s := range headerSentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
			}
			return
		}
		if len(b) < segment.HeaderSize || fileSize < h.DataOffset+h.DataSize {
			t.Fatalf("accepted %d bytes of a %d-byte file as %+v", len(b), fileSize, h)
		}
		enc, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", h, err)
		}
		// Every field but the reserved bytes round-trips exactly.
		for _, r := range [][2]int{{0, 48}, {64, 72}} {
			if !bytes.Equal(enc[r[0]:r[1]], b[r[0]:r[1]]) {
				t.Fatalf("bytes %d..%d: encoded % x, parsed from % x", r[0], r[1], enc[r[0]:r[1]], b[r[0]:r[1]])
			}
		}
		h2, err := segment.ParseHeader(enc, fileSize)
		if err != nil || !h2.Created.Equal(h.Created) || !h2.Refreshed.Equal(h.Refreshed) ||
			h2.DataOffset != h.DataOffset || h2.DataSize != h.DataSize || h2.LockWord != h.LockWord ||
			h2.LockHolder != h.LockHolder || h2.LockStamp != h.LockStamp || h2.Version != h.Version {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", h, h2, err)
		}
		if got := binary.NativeEndian.Uint32(enc[64:]); got != h.LockWord {
			t.Fatalf("lock word at 64 is %#x, want %#x", got, h.LockWord)
		}
	})
}

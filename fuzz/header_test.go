package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// headerSentinels are the errors ParseHeader may wrap, exactly one at a time.
var headerSentinels = []error{
	segment.ErrNotSegment, segment.ErrVersion, segment.ErrTruncated,
	segment.ErrSizeMismatch, segment.ErrNotInitialized, segment.ErrCorrupt,
}

// validHeader encodes a header with a table of slots entries, the first
// attached, and the data region right after the table.
func validHeader(slots int, dataSize int64, remove bool) []byte {
	table := make([]segment.Slot, slots)
	table[0] = segment.Slot{PID: 4242, Attached: true, Generation: 3}
	h := segment.Header{
		Version: 2, HeaderSize: 256, TableOffset: 256, Slots: slots,
		DataOffset: (256 + 8*int64(slots) + 63) / 64 * 64, DataSize: dataSize,
		Created: time.Unix(0, 1700000000000000000), Refreshed: time.Unix(0, 1700000000000000001),
		RemoveWhenUnused: remove, Overflow: 2, LockWord: 7, LockStamp: 9, Notify: 11, Notifications: 13,
		Table: table,
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
	f.Add(validHeader(64, 64, false), int64(768+64))
	f.Add(validHeader(1, 0, true), int64(320))
	f.Add(validHeader(3, 64, false), int64(320+63))
	f.Add(validHeader(3, 64, true), int64(320+65))
	f.Add(validHeader(8, 0, false), int64(320))
	f.Add(make([]byte, 256), int64(4096))
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
		end := 256 + 8*h.Slots
		if len(b) < end || fileSize < h.DataOffset+h.DataSize || h.DataOffset < int64(end) ||
			h.Slots < 1 || h.Slots > segment.MaxSlots || len(h.Table) != h.Slots {
			t.Fatalf("accepted %d bytes of a %d-byte file as %+v", len(b), fileSize, h)
		}
		for i, s := range h.Table {
			if s.Attached != (s.PID != 0) {
				t.Fatalf("slot %d accepted as %+v", i, s)
			}
		}
		enc, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", h, err)
		}
		// Every field but the reserved bytes round-trips exactly.
		for _, r := range [][2]int{{0, 72}, {128, 136}, {256, end}} {
			if !bytes.Equal(enc[r[0]:r[1]], b[r[0]:r[1]]) {
				t.Fatalf("bytes %d..%d: encoded % x, parsed from % x", r[0], r[1], enc[r[0]:r[1]], b[r[0]:r[1]])
			}
		}
		h2, err := segment.ParseHeader(enc, fileSize)
		if err != nil || !h2.Created.Equal(h.Created) || !h2.Refreshed.Equal(h.Refreshed) ||
			h2.DataOffset != h.DataOffset || h2.DataSize != h.DataSize || h2.LockWord != h.LockWord ||
			h2.LockStamp != h.LockStamp || h2.LockHolder != h.LockHolder || h2.Version != h.Version ||
			h2.Slots != h.Slots || h2.RemoveWhenUnused != h.RemoveWhenUnused || h2.Overflow != h.Overflow ||
			h2.Notify != h.Notify || h2.Notifications != h.Notifications || h2.NotifySeq != h.NotifySeq ||
			h2.NotifyWaiters != h.NotifyWaiters || !slices.Equal(h2.Table, h.Table) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", h, h2, err)
		}
		if got := binary.NativeEndian.Uint32(enc[64:]); got != h.LockWord {
			t.Fatalf("lock word at 64 is %#x, want %#x", got, h.LockWord)
		}
	})
}

package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// headerSentinels are the errors ParseHeader may wrap, exactly one at a time.
var headerSentinels = []error{
	segment.ErrNotSegment, segment.ErrVersion, segment.ErrTruncated,
	segment.ErrSizeMismatch, segment.ErrNotInitialized, segment.ErrCorrupt,
}

// validHeader encodes a version 2 header with a table of slots entries,
// the first attached, and the data region right after the table.
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

// validHeader3 encodes a version 3 header with a table of slots entries,
// the name, an undo log of logLines lines of entries (none if 0), and the
// data region after them. It returns the bytes and the file's size.
func validHeader3(slots int, name string, logLines int64, dataSize int64) ([]byte, int64) {
	nameOff := 256 + 8*int64(slots)
	h := segment.Header{
		Version: 3, HeaderSize: 256, TableOffset: 256, Slots: slots, DataSize: dataSize,
		Created: time.Unix(0, 1700000000000000000), LockWord: 1, LockStamp: 1,
		Table: make([]segment.Slot, slots), Name: name, NameOffset: nameOff,
	}
	if len(name) > segment.MaxName {
		h.Name, h.NameTruncated = name[:segment.MaxName], true
	}
	h.Table[0] = segment.Slot{PID: 77, Attached: true, Generation: 1}
	end := (nameOff + int64(len(h.Name)) + 63) / 64 * 64
	if logLines > 0 {
		h.TxLogOffset, h.TxLogSize = end, 64+64*logLines
		end += h.TxLogSize
	}
	h.DataOffset = end
	b, err := h.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b, end + dataSize
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
	for _, c := range []struct {
		slots int
		name  string
		lines int64
		size  int64
	}{{64, "/name", 0, 64}, {1, "", 1, 0}, {3, "a name with spaces", 4, 100}, {2, strings.Repeat("long", 1100), 2, 8}} {
		b, size := validHeader3(c.slots, c.name, c.lines, c.size)
		f.Add(b, size)
	}
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
		if h.Version == 3 {
			end += len(h.Name)
			logEnd := h.TxLogOffset + h.TxLogSize
			if h.NameOffset != int64(256+8*h.Slots) || len(h.Name) > segment.MaxName || strings.IndexByte(h.Name, 0) >= 0 ||
				h.NameTruncated != (binary.NativeEndian.Uint32(b[56:])&2 != 0) || h.TxLogOffset%64 != 0 ||
				h.TxLogSize%64 != 0 || (h.TxLogSize == 0) != (h.TxLogOffset == 0) ||
				(h.TxLogSize != 0 && (h.TxLogOffset < int64(end) || logEnd > h.DataOffset || h.TxLogSize > 64+segment.MaxTxLog)) {
				t.Fatalf("accepted name and log: %+v", h)
			}
		} else if h.Version != 2 || h.Name != "" || h.TxLogSize != 0 {
			t.Fatalf("accepted version %d as %+v", h.Version, h)
		}
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
		// Every field but the reserved bytes round-trips exactly (in
		// version 2, 192..216 are reserved too).
		ranges := [][2]int{{0, 72}, {128, 136}, {256, end}}
		if h.Version == 3 {
			ranges = append(ranges, [2]int{192, 216})
		}
		for _, r := range ranges {
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
			h2.NotifyWaiters != h.NotifyWaiters || !slices.Equal(h2.Table, h.Table) || h2.Name != h.Name ||
			h2.NameTruncated != h.NameTruncated || h2.NameOffset != h.NameOffset || h2.TxLogOffset != h.TxLogOffset ||
			h2.TxLogSize != h.TxLogSize {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", h, h2, err)
		}
		if got := binary.NativeEndian.Uint32(enc[64:]); got != h.LockWord {
			t.Fatalf("lock word at 64 is %#x, want %#x", got, h.LockWord)
		}
	})
}

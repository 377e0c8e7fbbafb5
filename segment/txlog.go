package segment

import (
	"encoding/binary"
	"strconv"
)

// The undo log's format. Pure functions on byte slices, no system calls,
// so that they are property-tested on any system (txlog_test.go).
//
// The log lies at the header's TxLogOffset, TxLogSize bytes long, in two
// parts: a control line and the entry area.
//
//	offset size field
//	     0    4 head: 0 when the log is empty, else 1 + the offset in the
//	            entry area of the newest entry; written only by the lock's
//	            holder, with atomic (release) stores, and read atomically
//	     4   60 reserved, zero
//	    64      entry area, TxLogSize-64 bytes: entries one after another
//	            from offset 0, each at a multiple of 8:
//	              0  8 data offset: where in the data region the bytes were
//	              8  4 length n of the snapshot
//	             12  4 link: 1 + the offset of the entry before this one,
//	                   0 for the first entry (which is at offset 0)
//	             16  n the n bytes as they were before the transaction
//	                   changed them, then padding to a multiple of 8
//
// Only the entries that the head reaches, by the links, are in the log:
// bytes past the newest entry are left over from earlier transactions or
// from a writer killed before it published, and never read. An entry is
// written whole before the head is moved onto it (publish last), so a
// torn entry is never part of the log; see the package documentation for
// the order of every store.

const (
	logControl  = cacheLine // the control line, before the entry area
	entryHeader = 16
)

// entrySize is the size in the entry area of a snapshot of n bytes.
func entrySize(n int) int { return entryHeader + (n+7)&^7 }

// putEntryHeader writes the header of an entry for n bytes at data offset
// off, after the entry whose head value is prev (0: none), at the start
// of e. The caller has checked that the entry fits.
func putEntryHeader(e []byte, off, n int, prev uint32) {
	ne := binary.NativeEndian
	ne.PutUint64(e[0:], uint64(off))
	ne.PutUint32(e[8:], uint32(n))
	ne.PutUint32(e[12:], prev)
}

// walkLog walks the entries of the entry area ent whose head is head,
// newest first, for a data region of dataLen bytes, checking each: that
// it lies at a multiple of 8 inside the area, that the newest ends inside
// it and every other one just where the next begins, that the oldest is at
// offset 0, and that the bytes it covers lie inside the data region. It
// calls fn, if not nil, with each entry's data offset and old bytes, after
// checking the entry. It returns how many entries it walked and the bytes
// they hold, and what is wrong with the first bad entry, or "". A walk
// ends: every step moves to a lower offset. ent may be shared memory that
// another process scribbles on meanwhile: every field is read once, and
// checked before it is used.
func walkLog(ent []byte, head uint32, dataLen int, fn func(off int, old []byte)) (entries, n int, problem string) {
	ne := binary.NativeEndian
	limit := len(ent) // where the entry being checked must end, at most
	exact := false    // must it end there exactly (all but the newest)?
	for link := head; link != 0; {
		p := int64(link) - 1
		at := " at " + strconv.FormatInt(p, 10)
		if p%8 != 0 || p > int64(limit)-entryHeader {
			return entries, n, "entry" + at + " is not at a multiple of 8 before " + strconv.Itoa(limit)
		}
		e := ent[p:limit]
		off, size := ne.Uint64(e[0:]), int64(ne.Uint32(e[8:]))
		end := p + entryHeader + (size+7)&^7
		switch {
		case end > int64(limit) || exact && end != int64(limit):
			return entries, n, "entry" + at + " of " + strconv.FormatInt(size, 10) + " bytes does not end at " + strconv.Itoa(limit)
		case off > uint64(dataLen) || uint64(size) > uint64(dataLen)-off:
			return entries, n, "entry" + at + " covers bytes " + strconv.FormatUint(off, 10) + " to " +
				strconv.FormatUint(off+uint64(size), 10) + ", outside the data region of " + strconv.Itoa(dataLen) + " bytes"
		}
		link = ne.Uint32(e[12:])
		if link == 0 && p != 0 {
			return entries, n, "first entry" + at + ", not at 0"
		}
		if fn != nil {
			fn(int(off), e[entryHeader:entryHeader+size])
		}
		entries++
		n += int(size)
		limit, exact = int(p), true
	}
	return entries, n, ""
}

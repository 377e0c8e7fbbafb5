package segment

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/posixshm/posixshm/lock"
)

// Errors about a segment's header. They reach the caller inside an
// *fs.PathError whose Err names the file and says what was wrong, and which
// unwraps to one of these; test for them with errors.Is. ReadHeader
// documents which check gives which error.
var (
	// ErrNotSegment: the file does not start with a segment's magic
	// number; it is some other kind of file.
	ErrNotSegment = errors.New("not a posixshm segment")
	// ErrVersion: the file is a segment of a layout version this package
	// does not read (version 1 segments, written by earlier releases,
	// included: remove them and create them again), was written on a
	// machine of the other byte order, or uses a feature (a flag) this
	// package does not know.
	ErrVersion = errors.New("unsupported segment version")
	// ErrTruncated: the file is shorter than a header, or shorter than the
	// header says the segment is. Mapping it would fault.
	ErrTruncated = errors.New("segment file truncated")
	// ErrSizeMismatch: the header's sizes contradict each other or the
	// file's size, or an existing segment is not the size the caller
	// asked for (OpenOrCreate).
	ErrSizeMismatch = errors.New("segment size mismatch")
	// ErrNotInitialized: the file is empty or its magic number is still
	// zero: its creator has not (yet) published the header. Opening waits
	// up to Options.InitTimeout for a creator that lives, and not for one
	// that died (see the package documentation). A creator that died
	// before publishing leaves such a file behind for good (unless the
	// segment was to remove itself when unused: the next opener removes
	// it), and the cure is to unlink the name.
	ErrNotInitialized = errors.New("segment not initialized")
	// ErrCorrupt: a field holds a value no version of this package
	// writes: an attachment table entry that is neither free nor a
	// process's attachment. The segment cannot be trusted to say who uses
	// it; remove it and create it again.
	ErrCorrupt = errors.New("segment header corrupt")
)

// HeaderSize is the size of the fixed part of a version 2 segment header.
// The attachment table follows it, then the data region.
//
// The header is native endian (shared memory never leaves its machine) and
// laid out in 64-byte cache lines, so that lock traffic, notifications
// and attachments do not disturb one another or the readers of line 0:
//
//	offset size field
//	     0    8 magic "\x89SHM\r\n\x1a\n" (the same bytes on every machine)
//	     8    4 version, 2
//	    12    4 header size, 256
//	    16    8 data offset: a multiple of 64, at or after the table's end
//	    24    8 data size in bytes
//	    32    8 created at, Unix nanoseconds
//	    40    8 refreshed at, Unix nanoseconds; updated atomically (see Refresh)
//	    48    4 table offset, 256
//	    52    4 slot count: entries in the table, 1 to MaxSlots
//	    56    4 flags: bit 0 remove when unused; other bits are refused
//	    60    4 overflow count: attachments that found no free slot (atomic)
//	    64    8 lock word (package lock): state half at 64, stamp half at 68
//	    72   56 reserved, zero
//	   128    4 notify word (package lock's notify word: lock.Cond, lock.SplitNotify)
//	   132    4 notification count: added to by every notification (atomic)
//	   136  120 reserved, zero
//	   256      attachment table: slot count entries of 8 bytes (see Slot)
//	            data (data offset), data size bytes; the file ends there
//
// With the default DefaultSlots the table ends at 768, where the data
// starts. The creator writes every field and then stores the magic, last
// and atomically; a file whose magic is still zero is being initialized.
const HeaderSize = 256

// HeaderVersion is the layout version this package writes and reads.
const HeaderVersion = 2

// DefaultSlots is the size of the attachment table unless Options.Slots
// says otherwise; MaxSlots is the largest table a segment may have.
const (
	DefaultSlots = 64
	MaxSlots     = 1 << 16
)

// Offsets of the header fields; see HeaderSize.
const (
	offMagic       = 0
	offVersion     = 8
	offHeaderSize  = 12
	offDataOffset  = 16
	offDataSize    = 24
	offCreated     = 32
	offRefreshed   = 40
	offTableOffset = 48
	offSlots       = 52
	offFlags       = 56
	offOverflow    = 60
	offLockWord    = 64
	offLockStamp   = 68
	offNotify      = 128
	offNotifyCount = 132
	tableOffset    = HeaderSize

	cacheLine = 64
	slotSize  = 8
)

// Flag bits of the header's flags word.
const (
	flagRemoveWhenUnused = 1 << 0
	knownFlags           = flagRemoveWhenUnused
)

// magicBytes opens every segment. The first byte has its high bit set and
// is not 0x7f, so no text, ELF or all-zero file can match; the CR LF, ^Z
// and LF catch files mangled by line-ending conversion, as in PNG's
// signature. It is compared as a native-endian uint64, so the bytes are the
// same on every machine and the byte order shows in the version instead.
const magicBytes = "\x89SHM\r\n\x1a\n"

var magic = binary.NativeEndian.Uint64([]byte(magicBytes))

// Header is the decoded header of a segment, attachment table included.
type Header struct {
	Version     uint32
	HeaderSize  int64
	DataOffset  int64 // where the data region starts
	DataSize    int64 // length of the data region
	Created     time.Time
	Refreshed   time.Time // the shared refreshed-at stamp
	TableOffset int64     // where the attachment table starts
	// Slots is the number of entries in the attachment table.
	Slots int
	// RemoveWhenUnused: the segment's file is removed when its last live
	// user detaches (Options.RemoveWhenUnused).
	RemoveWhenUnused bool
	// Overflow counts the attachments, since creation, that found every
	// slot taken by a live process (they attached all the same).
	Overflow  uint32
	LockWord  uint32 // raw state half of the lock word (package lock's layout)
	LockStamp uint32 // raw stamp half of the lock word
	// LockHolder is the PID the lock's holder recorded in its slot (in its
	// own PID namespace), 0 if the lock is free or its holder has no slot.
	// The holder's Tag (lock.HolderPID(LockWord)) is its slot + 1, or more
	// than MaxSlots for a holder without a slot (see the package
	// documentation).
	LockHolder int
	Notify     uint32 // raw notify word (package lock's layout)
	// NotifySeq and NotifyWaiters decode the notify word (see
	// lock.SplitNotify): its sequence, which moves on every notification
	// that finds a waiter, and whether some process may be waiting.
	NotifySeq     uint32
	NotifyWaiters bool
	// Notifications counts the notifications made (Segment.Notify,
	// NotifyAll), waiters or not, modulo 2^32; see
	// Segment.Notifications.
	Notifications uint32
	// Table is the attachment table as recorded, one entry per slot. An
	// entry that says Attached may belong to a process that has died:
	// Users tells the live ones.
	Table []Slot
}

// A Slot is one entry of the attachment table: one 64-bit word, written
// atomically, laid out as
//
//	bits  0..29  PID of the attached process, as it sees itself; 0 when free
//	bit  30      attached
//	bit  31      reserved, zero
//	bits 32..63  generation: incremented by every attachment that takes the slot
//
// Who is attached is decided by the kernel, not by this word: an attached
// process holds a write lock on the byte of the segment's file at offset
// TableOffset + 8*slot (see the package documentation). The word records
// the PID for display and the generation, which tells successive users of
// a slot apart.
type Slot struct {
	PID        int
	Attached   bool
	Generation uint32
}

// Slot word layout; see Slot.
const (
	slotPIDMask  = 1<<30 - 1
	slotAttached = 1 << 30
	slotReserved = 1 << 31
)

func (s Slot) word() uint64 {
	w := uint64(s.PID) | uint64(s.Generation)<<32
	if s.Attached {
		w |= slotAttached
	}
	return w
}

func decodeSlot(w uint64) Slot {
	return Slot{PID: int(w & slotPIDMask), Attached: w&slotAttached != 0, Generation: uint32(w >> 32)}
}

// slotProblem says what is impossible about a slot word, or "".
func slotProblem(w uint64) string {
	switch s := decodeSlot(w); {
	case w&slotReserved != 0:
		return "reserved bit set"
	case s.Attached && s.PID == 0:
		return "attached without a PID"
	case !s.Attached && s.PID != 0:
		return "free but names PID " + strconv.Itoa(s.PID)
	}
	return ""
}

// tableEnd is where a table of n slots ends, and dataStart where the data
// region of a segment with n slots starts.
func tableEnd(n int) int64     { return tableOffset + slotSize*int64(n) }
func dataStart(n int) int64    { return roundUp(tableEnd(n), cacheLine) }
func roundUp(n, m int64) int64 { return (n + m - 1) / m * m }

// headerError is the Err of the *fs.PathError for a file refused because
// of its header. It names the file and unwraps to one of the Err* sentinels.
type headerError struct {
	File   string // the file, when known
	Err    error  // ErrNotSegment, ErrVersion, ...
	Reason string // details
}

func (e *headerError) Error() string {
	s := e.Err.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

func (e *headerError) Unwrap() error { return e.Err }

func fault(err error, reason string) *headerError { return &headerError{Err: err, Reason: reason} }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ParseHeader decodes and validates the header and attachment table at the
// start of b, the first bytes of a file that is fileSize bytes long, with
// the checks and errors that ReadHeader documents; b must reach the end of
// the table. It makes no system call. The error, if any, unwraps to one of
// the Err* sentinels.
func ParseHeader(b []byte, fileSize int64) (Header, error) {
	h, err := parseHeader(b, fileSize)
	if err != nil {
		return Header{}, err
	}
	return h, nil
}

// parseHeader is ParseHeader with a concrete error type.
func parseHeader(b []byte, fileSize int64) (Header, *headerError) {
	if fileSize == 0 {
		return Header{}, fault(ErrNotInitialized, "file is empty (if its creator died, remove the object and create it again)")
	}
	h, err := decodeFixed(b, fileSize)
	if err != nil {
		return Header{}, err
	}
	if err := checkFileSize(h.DataOffset+h.DataSize, fileSize); err != nil {
		return Header{}, err
	}
	if err := decodeTable(&h, b); err != nil {
		return Header{}, err
	}
	return h, nil
}

// decodeFixed decodes and checks the fixed part of a header (its first
// HeaderSize bytes), without the table. fileSize < 0 means unknown: only
// the length of b counts.
func decodeFixed(b []byte, fileSize int64) (Header, *headerError) {
	var h Header
	avail := int64(len(b))
	if fileSize >= 0 {
		avail = min(avail, fileSize)
	}
	if avail < offHeaderSize {
		return h, fault(ErrTruncated, itoa(avail)+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	ne := binary.NativeEndian
	switch m := ne.Uint64(b[offMagic:]); {
	case m == 0:
		return h, fault(ErrNotInitialized, "magic number is zero: the creator has not published the header (if it died, remove the object and create it again)")
	case m != magic:
		return h, fault(ErrNotSegment, "wrong magic number")
	}
	// The version comes before any size check: a version 1 segment is
	// shorter than this version's header, and must be told apart.
	h.Version = ne.Uint32(b[offVersion:])
	if h.Version != HeaderVersion {
		return h, fault(ErrVersion, versionProblem(h.Version))
	}
	if avail < HeaderSize {
		return h, fault(ErrTruncated, itoa(avail)+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	h.HeaderSize = int64(ne.Uint32(b[offHeaderSize:]))
	h.TableOffset = int64(ne.Uint32(b[offTableOffset:]))
	slots := ne.Uint32(b[offSlots:])
	off, size := ne.Uint64(b[offDataOffset:]), ne.Uint64(b[offDataSize:])
	if reason := checkLayout(h.HeaderSize, h.TableOffset, slots, off, size); reason != "" {
		return h, fault(ErrSizeMismatch, reason)
	}
	flags := ne.Uint32(b[offFlags:])
	if flags&^knownFlags != 0 {
		return h, fault(ErrVersion, "flags 0x"+strconv.FormatUint(uint64(flags), 16)+
			" include features this package does not know (written by a newer version?)")
	}
	h.Slots = int(slots)
	h.RemoveWhenUnused = flags&flagRemoveWhenUnused != 0
	h.DataOffset, h.DataSize = int64(off), int64(size)
	h.Created = fromNanos(int64(ne.Uint64(b[offCreated:])))
	h.Refreshed = fromNanos(int64(ne.Uint64(b[offRefreshed:])))
	h.Overflow = ne.Uint32(b[offOverflow:])
	h.LockWord = ne.Uint32(b[offLockWord:])
	h.LockStamp = ne.Uint32(b[offLockStamp:])
	h.Notify = ne.Uint32(b[offNotify:])
	h.NotifySeq, h.NotifyWaiters = lock.SplitNotify(h.Notify)
	h.Notifications = ne.Uint32(b[offNotifyCount:])
	return h, nil
}

// versionProblem explains a version this package does not read.
func versionProblem(v uint32) string {
	switch {
	case bits.ReverseBytes32(v) == HeaderVersion || bits.ReverseBytes32(v) == 1:
		return "written on a machine of the other byte order"
	case v == 1:
		return "version 1, written by an earlier release of this package, which this one does not read: " +
			"remove the segment (posixshm rm, or Unlink) and create it again"
	}
	return "version " + itoa(int64(v)) + ", this package reads " + itoa(HeaderVersion)
}

// decodeTable decodes and checks the attachment table of h from b, the
// file's first bytes.
func decodeTable(h *Header, b []byte) *headerError {
	end := tableEnd(h.Slots)
	if int64(len(b)) < end {
		return fault(ErrTruncated, "have "+itoa(int64(len(b)))+" bytes of the header, its attachment table ends at "+itoa(end))
	}
	ne := binary.NativeEndian
	word := func(i int) uint64 { return ne.Uint64(b[tableOffset+slotSize*i:]) }
	if hf := checkTable(h.Slots, word); hf != nil {
		return hf
	}
	h.Table = make([]Slot, h.Slots)
	for i := range h.Table {
		h.Table[i] = decodeSlot(word(i))
	}
	h.LockHolder = lockHolderPID(h)
	return nil
}

// checkTable checks the n slot words that word returns.
func checkTable(n int, word func(i int) uint64) *headerError {
	for i := range n {
		if p := slotProblem(word(i)); p != "" {
			return fault(ErrCorrupt, "attachment table slot "+strconv.Itoa(i)+": "+p+
				" (remove the segment and create it again)")
		}
	}
	return nil
}

// checkLayout checks the header's own sizes and returns what is wrong.
func checkLayout(hsize, toff int64, slots uint32, off, size uint64) string {
	switch {
	case hsize != HeaderSize:
		return "header size " + itoa(hsize) + ", version 2 has " + itoa(HeaderSize)
	case toff != tableOffset:
		return "attachment table at " + itoa(toff) + ", version 2 has it at " + itoa(tableOffset)
	case slots == 0 || slots > MaxSlots:
		return "slot count " + strconv.FormatUint(uint64(slots), 10) + " is not between 1 and " + itoa(MaxSlots)
	case off < uint64(dataStart(int(slots))) || off%cacheLine != 0:
		return "data offset " + strconv.FormatUint(off, 10) + " is not a multiple of 64 after the attachment table (which ends at " +
			itoa(tableEnd(int(slots))) + ")"
	case off > maxSegment || size > maxSegment-off:
		return "data offset " + strconv.FormatUint(off, 10) + " plus size " + strconv.FormatUint(size, 10) + " is out of range"
	}
	return ""
}

// checkFileSize checks a file of fileSize bytes against the end of the data
// region the header declares.
func checkFileSize(end, fileSize int64) *headerError {
	switch {
	case fileSize < end:
		return fault(ErrTruncated, "file has "+itoa(fileSize)+" bytes, header says "+itoa(end))
	case fileSize != end && !(roundsObjectSize && fileSize == roundPage(end)):
		return fault(ErrSizeMismatch, "file has "+itoa(fileSize)+" bytes, header says "+itoa(end))
	}
	return nil
}

// roundsObjectSize: macOS rounds the size of its kernel shared memory
// objects up to whole pages, so fstat reports the rounded size.
const roundsObjectSize = runtime.GOOS == "darwin" || runtime.GOOS == "ios"

func roundPage(n int64) int64 { return roundUp(n, int64(os.Getpagesize())) }

// maxSegment bounds the end of a segment, so that offsets and sizes never
// overflow an int64.
const maxSegment = 1 << 62

// AppendBinary appends the encoded header and attachment table to b, with
// the magic number set, and returns the extended slice (TableOffset +
// 8*Slots bytes more; the padding up to DataOffset is not included).
// LockHolder, NotifySeq and NotifyWaiters are not encoded: they are
// derived from the lock word and the table, and from Notify. The header must be valid: Version 2, HeaderSize and TableOffset
// 256, Slots between 1 and MaxSlots, Table empty (all slots free) or one
// entry per slot, each of them possible, DataOffset a multiple of 64 at or
// after the table's end, DataSize not negative; otherwise b is returned
// unchanged with an error wrapping ErrVersion, ErrSizeMismatch or
// ErrCorrupt. A zero time encodes as 0, which decodes as the zero
// time.Time.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	if h.Version != HeaderVersion {
		return b, fault(ErrVersion, "cannot encode version "+itoa(int64(h.Version)))
	}
	if h.DataOffset < 0 || h.DataSize < 0 || h.Slots < 0 || h.Slots > MaxSlots {
		return b, fault(ErrSizeMismatch, "negative data offset, data size or slot count, or too many slots")
	}
	if reason := checkLayout(h.HeaderSize, h.TableOffset, uint32(h.Slots), uint64(h.DataOffset), uint64(h.DataSize)); reason != "" {
		return b, fault(ErrSizeMismatch, reason)
	}
	if len(h.Table) != 0 && len(h.Table) != h.Slots {
		return b, fault(ErrSizeMismatch, strconv.Itoa(len(h.Table))+" table entries for "+strconv.Itoa(h.Slots)+" slots")
	}
	for i, s := range h.Table {
		if s.PID < 0 || s.PID > slotPIDMask {
			return b, fault(ErrCorrupt, "slot "+strconv.Itoa(i)+": PID "+strconv.Itoa(s.PID)+" does not fit in 30 bits")
		}
		if p := slotProblem(s.word()); p != "" {
			return b, fault(ErrCorrupt, "slot "+strconv.Itoa(i)+": "+p)
		}
	}
	n := len(b)
	b = append(b, make([]byte, tableEnd(h.Slots))...)
	e := b[n:]
	ne := binary.NativeEndian
	ne.PutUint64(e[offMagic:], magic)
	ne.PutUint32(e[offVersion:], h.Version)
	ne.PutUint32(e[offHeaderSize:], uint32(h.HeaderSize))
	ne.PutUint64(e[offDataOffset:], uint64(h.DataOffset))
	ne.PutUint64(e[offDataSize:], uint64(h.DataSize))
	ne.PutUint64(e[offCreated:], uint64(toNanos(h.Created)))
	ne.PutUint64(e[offRefreshed:], uint64(toNanos(h.Refreshed)))
	ne.PutUint32(e[offTableOffset:], uint32(h.TableOffset))
	ne.PutUint32(e[offSlots:], uint32(h.Slots))
	var flags uint32
	if h.RemoveWhenUnused {
		flags |= flagRemoveWhenUnused
	}
	ne.PutUint32(e[offFlags:], flags)
	ne.PutUint32(e[offOverflow:], h.Overflow)
	ne.PutUint32(e[offLockWord:], h.LockWord)
	ne.PutUint32(e[offLockStamp:], h.LockStamp)
	ne.PutUint32(e[offNotify:], h.Notify)
	ne.PutUint32(e[offNotifyCount:], h.Notifications)
	for i, s := range h.Table {
		ne.PutUint64(e[tableOffset+slotSize*i:], s.word())
	}
	return b, nil
}

// MarshalBinary returns the encoded header and table; see AppendBinary.
func (h Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(nil)
}

// UnmarshalBinary decodes and validates the header and table at the start
// of b as ParseHeader does, except for the checks against the file's size.
func (h *Header) UnmarshalBinary(b []byte) error {
	v, err := decodeFixed(b, -1)
	if err != nil {
		return err
	}
	if err := decodeTable(&v, b); err != nil {
		return err
	}
	*h = v
	return nil
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// newHeader is the header Create writes: every slot free.
func newHeader(size int64, slots int, removeWhenUnused bool, now time.Time) Header {
	return Header{
		Version:          HeaderVersion,
		HeaderSize:       HeaderSize,
		DataOffset:       dataStart(slots),
		DataSize:         size,
		Created:          now,
		Refreshed:        now,
		TableOffset:      tableOffset,
		Slots:            slots,
		RemoveWhenUnused: removeWhenUnused,
	}
}

package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// HeaderSize is the size of the fixed part of a segment header. The
// attachment table follows it; in version 3 the name the segment was
// created under and the undo log follow the table; then the data region.
//
// The header is native endian (shared memory never leaves its machine) and
// laid out in 64-byte cache lines, so that lock traffic, notifications
// and attachments do not disturb one another or the readers of line 0:
//
//	offset size field
//	     0    8 magic "\x89SHM\r\n\x1a\n" (the same bytes on every machine)
//	     8    4 version: 3 (this package writes it), or 2 (it reads it too)
//	    12    4 header size, 256
//	    16    8 data offset: a multiple of 64, at or after the end of the
//	            undo log (version 3 with a log), of the name (version 3)
//	            or of the table
//	    24    8 data size in bytes
//	    32    8 created at, Unix nanoseconds
//	    40    8 refreshed at, Unix nanoseconds; updated atomically (see Refresh)
//	    48    4 table offset, 256
//	    52    4 slot count: entries in the table, 1 to MaxSlots
//	    56    4 flags: bit 0 remove when unused; bit 1 (version 3) the name
//	            is truncated; other bits are refused
//	    60    4 overflow count: attachments that found no free slot (atomic)
//	    64    8 lock word (package lock): state half at 64, stamp half at 68
//	    72   56 reserved, zero
//	   128    4 notify word (package lock's notify word: lock.Cond, lock.SplitNotify)
//	   132    4 notification count: added to by every notification (atomic)
//	   136   56 reserved, zero
//	   192    4 name offset: the table's end (version 3; reserved in version 2)
//	   196    4 name length in bytes, 0 to MaxName (version 3)
//	   200    8 undo log offset: 0 if there is no log, else the first
//	            multiple of 64 at or after the name's end (version 3)
//	   208    8 undo log size in bytes: 0, or a multiple of 64 from
//	            128 to 64+MaxTxLog (version 3)
//	   216   40 reserved, zero
//	   256      attachment table: slot count entries of 8 bytes (see Slot)
//	            name (version 3): name length bytes, no NUL among them
//	            undo log (version 3, if any): its first 64 bytes the log's
//	              control line, then its entries (see Tx)
//	            data (data offset), data size bytes; the file ends there
//
// Line 3 (192-255) holds only fields the creator writes once, so the lock
// line and the notify line keep a cache line each. With the default
// DefaultSlots the table ends at 768; a version 3 segment's data then
// starts at 768 plus its name rounded up to 64 bytes, plus the log.
//
// A version 2 segment, written by earlier releases, has zeros at 192-255
// and neither name nor log: it opens and works as before (its data, at its
// data offset, is never moved), ReadHeader reports its Name as unknown
// (HasName false), and Begin refuses it with ErrNoTxLog.
//
// The creator writes every field and then stores the magic, last and
// atomically; a file whose magic is still zero is being initialized.
const HeaderSize = 256

// HeaderVersion is the layout version this package writes. It also reads
// version 2 (see HeaderSize).
const HeaderVersion = 3

// MaxName is the most bytes of a segment's name that its header records
// (PATH_MAX on Linux). A longer name is recorded as its first MaxName
// bytes, with Header.NameTruncated set.
const MaxName = 4096

// MaxTxLog is the largest undo log a segment may have (Options.TxLog).
const MaxTxLog = 1 << 30

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
	offNameOffset  = 192 // version 3 from here on
	offNameLen     = 196
	offLogOffset   = 200
	offLogSize     = 208
	tableOffset    = HeaderSize

	cacheLine = 64
	slotSize  = 8
)

// Flag bits of the header's flags word, and those each version knows.
const (
	flagRemoveWhenUnused = 1 << 0
	flagNameTruncated    = 1 << 1 // version 3
	knownFlags2          = flagRemoveWhenUnused
	knownFlags3          = flagRemoveWhenUnused | flagNameTruncated
)

// minVersion is the oldest layout version this package reads.
const minVersion = 2

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

	// Name is the name the segment was created under, byte for byte as
	// its creator passed it to Create or OpenOrCreate: under a hashed
	// layout (OpenBSD's /tmp/<sha256>.shm) the only record of it. Only
	// version 3 headers record it (HasName): a version 2 segment's Name is
	// "", which a reader should show as unknown ("-"), not as the empty
	// name (a valid name on OpenBSD). A name longer than MaxName bytes is
	// recorded as its first MaxName bytes, with NameTruncated set: show it
	// as cut (with a trailing "..."). Names may hold any bytes but NUL,
	// so quote them for display.
	Name          string
	NameTruncated bool
	// NameOffset is where the name is stored: the table's end (version 3),
	// 0 in version 2.
	NameOffset int64
	// TxLogOffset and TxLogSize locate the undo log of transactions
	// (Options.TxLog, Segment.Begin): its control line and entries. Both
	// are 0 when the segment has no log, as in every version 2 segment.
	TxLogOffset int64
	TxLogSize   int64
}

// HasName reports whether the header records the segment's name: version
// 3 and later. See Name.
func (h Header) HasName() bool { return h.Version >= 3 }

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
	if err := decodeName(&h, b); err != nil {
		return Header{}, err
	}
	return h, nil
}

// decodeFixed decodes and checks the fixed part of a header (its first
// HeaderSize bytes), without the table and the name. fileSize < 0 means
// unknown: only the length of b counts.
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
	if h.Version < minVersion || h.Version > HeaderVersion {
		return h, fault(ErrVersion, versionProblem(h.Version))
	}
	if avail < HeaderSize {
		return h, fault(ErrTruncated, itoa(avail)+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	l := layoutFields{
		version: h.Version,
		hsize:   int64(ne.Uint32(b[offHeaderSize:])),
		toff:    int64(ne.Uint32(b[offTableOffset:])),
		slots:   ne.Uint32(b[offSlots:]),
		off:     ne.Uint64(b[offDataOffset:]),
		size:    ne.Uint64(b[offDataSize:]),
	}
	if h.Version >= 3 {
		l.nameOff, l.nameLen = ne.Uint32(b[offNameOffset:]), ne.Uint32(b[offNameLen:])
		l.logOff, l.logSize = ne.Uint64(b[offLogOffset:]), ne.Uint64(b[offLogSize:])
	}
	if reason := l.check(); reason != "" {
		return h, fault(ErrSizeMismatch, reason)
	}
	flags := ne.Uint32(b[offFlags:])
	known := uint32(knownFlags2)
	if h.Version >= 3 {
		known = knownFlags3
	}
	if flags&^known != 0 {
		return h, fault(ErrVersion, "flags 0x"+strconv.FormatUint(uint64(flags), 16)+
			" include features this package does not know in version "+itoa(int64(h.Version))+" (written by a newer version?)")
	}
	if flags&flagNameTruncated != 0 && l.nameLen != MaxName {
		return h, fault(ErrCorrupt, "name marked truncated, but "+itoa(int64(l.nameLen))+" bytes long, not "+itoa(MaxName)+
			" (remove the segment and create it again)")
	}
	h.HeaderSize, h.TableOffset = l.hsize, l.toff
	h.Slots = int(l.slots)
	h.RemoveWhenUnused = flags&flagRemoveWhenUnused != 0
	h.NameTruncated = flags&flagNameTruncated != 0
	h.DataOffset, h.DataSize = int64(l.off), int64(l.size)
	h.NameOffset = int64(l.nameOff)
	h.TxLogOffset, h.TxLogSize = int64(l.logOff), int64(l.logSize)
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
	switch r := bits.ReverseBytes32(v); {
	case r >= 1 && r <= HeaderVersion:
		return "written on a machine of the other byte order"
	case v == 1:
		return "version 1, written by an earlier release of this package, which this one does not read: " +
			"remove the segment (posixshm rm, or Unlink) and create it again"
	}
	return "version " + itoa(int64(v)) + ", this package reads " + itoa(minVersion) + " to " + itoa(HeaderVersion)
}

// headerEnd is where the variable parts of the header whose fixed part h
// was decoded from b end: the table, and in version 3 the name (whose
// length decodeFixed has checked).
func headerEnd(h *Header, b []byte) int64 {
	if h.Version < 3 {
		return tableEnd(h.Slots)
	}
	return h.NameOffset + int64(binary.NativeEndian.Uint32(b[offNameLen:]))
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

// decodeName decodes and checks the name of a version 3 header h, whose
// fixed part decodeFixed decoded from b, the file's first bytes.
func decodeName(h *Header, b []byte) *headerError {
	if h.Version < 3 {
		return nil
	}
	end := headerEnd(h, b)
	if end-h.NameOffset > MaxName { // b changed since decodeFixed checked it (a mapping)
		return fault(ErrSizeMismatch, "name of "+itoa(end-h.NameOffset)+" bytes, longer than "+itoa(MaxName))
	}
	if int64(len(b)) < end {
		return fault(ErrTruncated, "have "+itoa(int64(len(b)))+" bytes of the header, its name ends at "+itoa(end))
	}
	name := b[h.NameOffset:end]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		return fault(ErrCorrupt, "name has a NUL byte at "+strconv.Itoa(i)+" (remove the segment and create it again)")
	}
	h.Name = string(name)
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

// layoutFields are the header fields that place a segment's parts, as
// stored (version 2 has no name and no log: zero).
type layoutFields struct {
	version          uint32
	hsize, toff      int64
	slots            uint32
	off, size        uint64 // the data region
	nameOff, nameLen uint32
	logOff, logSize  uint64
}

// check checks the header's own sizes and returns what is wrong, in the
// order ReadHeader documents.
func (l layoutFields) check() string {
	v := "version " + itoa(int64(l.version))
	switch {
	case l.hsize != HeaderSize:
		return "header size " + itoa(l.hsize) + ", " + v + " has " + itoa(HeaderSize)
	case l.toff != tableOffset:
		return "attachment table at " + itoa(l.toff) + ", " + v + " has it at " + itoa(tableOffset)
	case l.slots == 0 || l.slots > MaxSlots:
		return "slot count " + strconv.FormatUint(uint64(l.slots), 10) + " is not between 1 and " + itoa(MaxSlots)
	}
	start, after := tableEnd(int(l.slots)), "the attachment table"
	if l.version >= 3 {
		nameEnd := int64(l.nameOff) + int64(l.nameLen)
		switch {
		case int64(l.nameOff) != start:
			return "name at " + itoa(int64(l.nameOff)) + ", " + v + " has it at the table's end, " + itoa(start)
		case l.nameLen > MaxName:
			return "name of " + itoa(int64(l.nameLen)) + " bytes, longer than " + itoa(MaxName)
		case (l.logOff == 0) != (l.logSize == 0):
			return "undo log at " + strconv.FormatUint(l.logOff, 10) + " of " + strconv.FormatUint(l.logSize, 10) +
				" bytes: offset and size must both be 0 (no log) or neither"
		case l.logSize != 0 && (l.logSize%cacheLine != 0 || l.logSize < minTxLogArea || l.logSize > cacheLine+MaxTxLog):
			return "undo log of " + strconv.FormatUint(l.logSize, 10) + " bytes is not a multiple of 64 from " +
				itoa(minTxLogArea) + " to " + itoa(cacheLine+MaxTxLog)
		case l.logSize != 0 && l.logOff != uint64(roundUp(nameEnd, cacheLine)):
			return "undo log at " + strconv.FormatUint(l.logOff, 10) + ", " + v + " has it at the first multiple of 64 after the name, " +
				itoa(roundUp(nameEnd, cacheLine))
		}
		start, after = nameEnd, "the name"
		if l.logSize != 0 {
			start, after = int64(l.logOff+l.logSize), "the undo log"
		}
	}
	switch {
	case l.off < uint64(roundUp(start, cacheLine)) || l.off%cacheLine != 0:
		return "data offset " + strconv.FormatUint(l.off, 10) + " is not a multiple of 64 after " + after +
			" (which ends at " + itoa(start) + ")"
	case l.off > maxSegment || l.size > maxSegment-l.off:
		return "data offset " + strconv.FormatUint(l.off, 10) + " plus size " + strconv.FormatUint(l.size, 10) + " is out of range"
	}
	return ""
}

// txLogArea is the size of the undo log area for Options.TxLog n: the
// control line and n bytes rounded up to whole lines; 0 for none.
func txLogArea(n int64) int64 {
	if n == 0 {
		return 0
	}
	return cacheLine + roundUp(n, cacheLine)
}

// minTxLogArea is the smallest log area: the control line and one line of
// entries.
const minTxLogArea = 2 * cacheLine

// recordedName is the part of name that a header records, and whether it
// is cut.
func recordedName(name string) (string, bool) {
	if len(name) > MaxName {
		return name[:MaxName], true
	}
	return name, false
}

// placeParts places the parts of a new version 3 segment with slots
// slots, called name, with an undo log for txLog bytes of entries.
func placeParts(slots int, name string, txLog int64) (nameOff, logOff, logSize, dataOff int64) {
	rec, _ := recordedName(name)
	nameOff = tableEnd(slots)
	end := roundUp(nameOff+int64(len(rec)), cacheLine)
	if logSize = txLogArea(txLog); logSize != 0 {
		logOff = end
		end += logSize
	}
	return nameOff, logOff, logSize, end
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

// AppendBinary appends the encoded header, attachment table and (version
// 3) name to b, with the magic number set, and returns the extended slice
// (up to the table's end, or the name's; the padding up to the undo log
// and the data is not included, nor is the log: zeros are an empty log).
// LockHolder, NotifySeq and NotifyWaiters are not encoded: they are
// derived from the lock word and the table, and from Notify. The header
// must be valid, as decoding checks it: Version 2 or 3, HeaderSize and
// TableOffset 256, Slots between 1 and MaxSlots, Table empty (all slots
// free) or one entry per slot, each of them possible; in version 3
// NameOffset at the table's end, a Name of at most MaxName bytes without
// NUL (MaxName exactly if NameTruncated), TxLogOffset and TxLogSize both
// 0 or placed as HeaderSize documents; in version 2 no name and no log;
// DataOffset a multiple of 64 at or after all these, DataSize not
// negative. Otherwise b is returned unchanged with an error wrapping
// ErrVersion, ErrSizeMismatch or ErrCorrupt. A zero time encodes as 0,
// which decodes as the zero time.Time.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	if h.Version < minVersion || h.Version > HeaderVersion {
		return b, fault(ErrVersion, "cannot encode version "+itoa(int64(h.Version)))
	}
	if h.DataOffset < 0 || h.DataSize < 0 || h.Slots < 0 || h.Slots > MaxSlots || h.NameOffset < 0 ||
		h.NameOffset > math.MaxUint32 || h.TxLogOffset < 0 || h.TxLogSize < 0 {
		return b, fault(ErrSizeMismatch, "negative or too large offset, size or slot count")
	}
	if h.Version < 3 && (h.Name != "" || h.NameTruncated || h.NameOffset != 0 || h.TxLogOffset != 0 || h.TxLogSize != 0) {
		return b, fault(ErrVersion, "version 2 records no name and no undo log")
	}
	if len(h.Name) > MaxName || h.NameTruncated && len(h.Name) != MaxName {
		return b, fault(ErrCorrupt, "name of "+strconv.Itoa(len(h.Name))+" bytes (truncated: "+strconv.FormatBool(h.NameTruncated)+
			"); at most "+itoa(MaxName)+", exactly that if truncated")
	}
	if strings.IndexByte(h.Name, 0) >= 0 {
		return b, fault(ErrCorrupt, "name has a NUL byte")
	}
	l := layoutFields{
		version: h.Version, hsize: h.HeaderSize, toff: h.TableOffset, slots: uint32(h.Slots),
		off: uint64(h.DataOffset), size: uint64(h.DataSize),
		nameOff: uint32(h.NameOffset), nameLen: uint32(len(h.Name)),
		logOff: uint64(h.TxLogOffset), logSize: uint64(h.TxLogSize),
	}
	if reason := l.check(); reason != "" {
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
	end := tableEnd(h.Slots)
	if h.Version >= 3 {
		end = h.NameOffset + int64(len(h.Name))
	}
	n := len(b)
	b = append(b, make([]byte, end)...)
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
	if h.NameTruncated {
		flags |= flagNameTruncated
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
	if h.Version >= 3 {
		ne.PutUint32(e[offNameOffset:], uint32(h.NameOffset))
		ne.PutUint32(e[offNameLen:], uint32(len(h.Name)))
		ne.PutUint64(e[offLogOffset:], uint64(h.TxLogOffset))
		ne.PutUint64(e[offLogSize:], uint64(h.TxLogSize))
		copy(e[h.NameOffset:], h.Name)
	}
	return b, nil
}

// MarshalBinary returns the encoded header and table; see AppendBinary.
func (h Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(nil)
}

// UnmarshalBinary decodes and validates the header, table and name at the
// start of b as ParseHeader does, except for the checks against the file's
// size.
func (h *Header) UnmarshalBinary(b []byte) error {
	v, err := decodeFixed(b, -1)
	if err != nil {
		return err
	}
	if err := decodeTable(&v, b); err != nil {
		return err
	}
	if err := decodeName(&v, b); err != nil {
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

// newHeader is the header Create writes for a segment called name: every
// slot free, the name recorded, an empty undo log of opts.TxLog bytes.
func newHeader(name string, size int64, slots int, opts Options, now time.Time) Header {
	rec, cut := recordedName(name)
	nameOff, logOff, logSize, dataOff := placeParts(slots, name, int64(opts.TxLog))
	return Header{
		Version:          HeaderVersion,
		HeaderSize:       HeaderSize,
		DataOffset:       dataOff,
		DataSize:         size,
		Created:          now,
		Refreshed:        now,
		TableOffset:      tableOffset,
		Slots:            slots,
		RemoveWhenUnused: opts.RemoveWhenUnused,
		Name:             rec,
		NameTruncated:    cut,
		NameOffset:       nameOff,
		TxLogOffset:      logOff,
		TxLogSize:        logSize,
	}
}

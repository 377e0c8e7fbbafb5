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
	// does not read, or was written on a machine of the other byte order.
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
	// Options.InitTimeout before giving up with this error; a
	// creator that crashed leaves such a file behind for good, and the
	// cure is to unlink the name.
	ErrNotInitialized = errors.New("segment not initialized")
)

// HeaderSize is the size of a version 1 segment header, which is also
// where its data region starts.
//
// The header is native endian (shared memory never leaves its machine) and
// is laid out in two 64-byte cache lines, so that lock traffic on the
// second line does not disturb readers of the first:
//
//	offset size field
//	     0    8 magic "\x89SHM\r\n\x1a\n" (the same bytes on every machine)
//	     8    4 version, 1
//	    12    4 header size, 128
//	    16    8 data offset: a multiple of 64, at least the header size (128)
//	    24    8 data size in bytes
//	    32    8 created at, Unix nanoseconds
//	    40    8 refreshed at, Unix nanoseconds; updated atomically (see Refresh)
//	    48   16 reserved, zero
//	    64    8 lock word (lock.New64), at the start of its own cache line:
//	            state half at 64, the holder's stamp at 68
//	    72   56 reserved, zero
//	   128      data (data offset), data size bytes; the file ends there
//
// The creator writes every field and then stores the magic, last and
// atomically; a file whose magic is still zero is being initialized.
const HeaderSize = 128

// HeaderVersion is the layout version this package writes and reads.
const HeaderVersion = 1

// Offsets of the header fields; see HeaderSize.
const (
	offMagic      = 0
	offVersion    = 8
	offHeaderSize = 12
	offDataOffset = 16
	offDataSize   = 24
	offCreated    = 32
	offRefreshed  = 40
	offLockWord   = 64

	cacheLine = 64
)

// magicBytes opens every segment. The first byte has its high bit set and
// is not 0x7f, so no text, ELF or all-zero file can match; the CR LF, ^Z
// and LF catch files mangled by line-ending conversion, as in PNG's
// signature. It is compared as a native-endian uint64, so the bytes are the
// same on every machine and the byte order shows in the version instead.
const magicBytes = "\x89SHM\r\n\x1a\n"

var magic = binary.NativeEndian.Uint64([]byte(magicBytes))

// Header is the decoded header of a segment.
type Header struct {
	Version    uint32
	HeaderSize int64
	DataOffset int64 // where the data region starts
	DataSize   int64 // length of the data region
	Created    time.Time
	Refreshed  time.Time // the shared refreshed-at stamp
	LockWord   uint32    // raw state half of the lock word (package lock's layout)
	LockHolder int       // PID in the lock word, 0 if unlocked
	// LockStamp is the stamp half of the lock word: the holder's start
	// time (low 32 bits of clock ticks) where known, 0 when unlocked.
	LockStamp uint32
}

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

// ParseHeader decodes and validates the header at the start of b, the
// first bytes of a file that is fileSize bytes long, with the checks and
// errors that ReadHeader documents. It makes no system call. The error, if
// any, unwraps to one of the Err* sentinels.
func ParseHeader(b []byte, fileSize int64) (Header, error) {
	h, err := parseHeader(b, fileSize)
	if err != nil {
		return Header{}, err
	}
	return h, nil
}

// parseHeader is ParseHeader with a concrete error type.
func parseHeader(b []byte, fileSize int64) (Header, *headerError) {
	switch {
	case fileSize == 0:
		return Header{}, fault(ErrNotInitialized, "file is empty (if its creator died, remove the object and create it again)")
	case fileSize < HeaderSize:
		return Header{}, fault(ErrTruncated, itoa(fileSize)+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	h, err := decodeHeader(b)
	if err != nil {
		return Header{}, err
	}
	if err := checkFileSize(h.DataOffset+h.DataSize, fileSize); err != nil {
		return Header{}, err
	}
	return h, nil
}

// decodeHeader decodes and checks a header on its own, without a file.
func decodeHeader(b []byte) (Header, *headerError) {
	var h Header
	if len(b) < HeaderSize {
		return h, fault(ErrTruncated, itoa(int64(len(b)))+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	ne := binary.NativeEndian
	switch m := ne.Uint64(b[offMagic:]); {
	case m == 0:
		return h, fault(ErrNotInitialized, "magic number is zero: the creator has not published the header (if it died, remove the object and create it again)")
	case m != magic:
		return h, fault(ErrNotSegment, "wrong magic number")
	}
	h.Version = ne.Uint32(b[offVersion:])
	if h.Version != HeaderVersion {
		if bits.ReverseBytes32(h.Version) == HeaderVersion {
			return h, fault(ErrVersion, "written on a machine of the other byte order")
		}
		return h, fault(ErrVersion, "version "+itoa(int64(h.Version))+", this package reads "+itoa(HeaderVersion))
	}
	h.HeaderSize = int64(ne.Uint32(b[offHeaderSize:]))
	off, size := ne.Uint64(b[offDataOffset:]), ne.Uint64(b[offDataSize:])
	if reason := checkLayout(h.HeaderSize, off, size); reason != "" {
		return h, fault(ErrSizeMismatch, reason)
	}
	h.DataOffset, h.DataSize = int64(off), int64(size)
	h.Created = fromNanos(int64(ne.Uint64(b[offCreated:])))
	h.Refreshed = fromNanos(int64(ne.Uint64(b[offRefreshed:])))
	h.LockWord, h.LockStamp = lock.Split64(ne.Uint64(b[offLockWord:]))
	h.LockHolder = lock.HolderPID(h.LockWord)
	return h, nil
}

// checkLayout checks the header's own sizes and returns what is wrong.
func checkLayout(hsize int64, off, size uint64) string {
	switch {
	case hsize != HeaderSize:
		return "header size " + itoa(hsize) + ", version 1 has " + itoa(HeaderSize)
	case off < HeaderSize || off%cacheLine != 0:
		return "data offset " + strconv.FormatUint(off, 10) + " is not a multiple of 64 after the header"
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

func roundPage(n int64) int64 {
	p := int64(os.Getpagesize())
	return (n + p - 1) / p * p
}

// maxSegment bounds the end of a segment, so that offsets and sizes never
// overflow an int64.
const maxSegment = 1 << 62

// AppendBinary appends the encoded header to b, with the magic number set,
// and returns the extended slice. LockHolder is not encoded: it is derived
// from LockWord. The header must be valid: Version 1, HeaderSize 128,
// DataOffset a multiple of 64 no less than 128, DataSize not negative;
// otherwise b is returned unchanged with an error wrapping ErrVersion or
// ErrSizeMismatch. A zero time encodes as 0, which decodes as the zero
// time.Time.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	if h.Version != HeaderVersion {
		return b, fault(ErrVersion, "cannot encode version "+itoa(int64(h.Version)))
	}
	if h.DataOffset < 0 || h.DataSize < 0 {
		return b, fault(ErrSizeMismatch, "negative data offset or size")
	}
	if reason := checkLayout(h.HeaderSize, uint64(h.DataOffset), uint64(h.DataSize)); reason != "" {
		return b, fault(ErrSizeMismatch, reason)
	}
	n := len(b)
	b = append(b, make([]byte, HeaderSize)...)
	e := b[n:]
	ne := binary.NativeEndian
	ne.PutUint64(e[offMagic:], magic)
	ne.PutUint32(e[offVersion:], h.Version)
	ne.PutUint32(e[offHeaderSize:], uint32(h.HeaderSize))
	ne.PutUint64(e[offDataOffset:], uint64(h.DataOffset))
	ne.PutUint64(e[offDataSize:], uint64(h.DataSize))
	ne.PutUint64(e[offCreated:], uint64(toNanos(h.Created)))
	ne.PutUint64(e[offRefreshed:], uint64(toNanos(h.Refreshed)))
	ne.PutUint32(e[offLockWord:], h.LockWord)
	ne.PutUint32(e[offLockWord+4:], h.LockStamp)
	return b, nil
}

// MarshalBinary returns the encoded header; see AppendBinary.
func (h Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, HeaderSize))
}

// UnmarshalBinary decodes and validates the header at the start of b as
// ParseHeader does, except for the checks against the file's size.
func (h *Header) UnmarshalBinary(b []byte) error {
	v, err := decodeHeader(b)
	if err != nil {
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

// newHeader is the header Create writes.
func newHeader(size int64, now time.Time) Header {
	return Header{
		Version:    HeaderVersion,
		HeaderSize: HeaderSize,
		DataOffset: HeaderSize,
		DataSize:   size,
		Created:    now,
		Refreshed:  now,
	}
}

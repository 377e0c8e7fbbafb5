package segment

import (
	"io/fs"
	"os"
	"time"

	"github.com/posixshm/posixshm/internal/memfault"
	"github.com/posixshm/posixshm/internal/unixutil"
	"golang.org/x/sys/unix"
)

// Info describes a segment: its header and its file.
type Info struct {
	Name, Path string
	Version    uint32
	HeaderSize int64
	DataOffset int64
	DataSize   int64
	Created    time.Time
	Refreshed  time.Time // the shared refreshed-at stamp
	LockHolder int       // PID of the lock's holder (see Header.LockHolder), 0 if free
	// Notifications is the notification count (see
	// Segment.Notifications); NotifySeq and NotifyWaiters decode the
	// notify word (see Header).
	Notifications uint32
	NotifySeq     uint32
	NotifyWaiters bool
	// Slots is the size of the attachment table.
	Slots int
	// RemoveWhenUnused: the file is removed when its last user detaches
	// (Options.RemoveWhenUnused).
	RemoveWhenUnused bool
	// Users are the live attachments, this process's included (see
	// Attached).
	Users Attachments
	// Unlinked is true when the file has no name left (st_nlink is 0):
	// processes that have it mapped still share it, but new ones can no
	// longer open it. This is what daily(8) does to an unrefreshed segment.
	Unlinked     bool
	FileSize     int64
	Atime, Mtime time.Time
	Uid          int
	Mode         os.FileMode // permission bits
}

// Stat describes the segment, with who is attached (see Attached). It
// refreshes nothing. If the file has been
// truncated under the mapping, it returns what fstat said with an error
// wrapping ErrTruncated (touching Bytes would then fault). If there is an
// error, it will be of type *fs.PathError.
func (s *Segment) Stat() (Info, error) {
	s.rmu.Lock() // keeps Close from unmapping the header under us
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return Info{}, &fs.PathError{Op: "fstat", Path: s.name, Err: fs.ErrClosed}
	}
	path := s.path
	var st unix.Stat_t
	if err := unixutil.Fstat(s.att.fd, &st); err != nil {
		return Info{}, pathError("fstat", s.name, path, "", err)
	}
	info := Info{
		Name:     s.name,
		Path:     path,
		Unlinked: st.Nlink == 0,
		FileSize: st.Size,
		Atime:    time.Unix(0, st.Atim.Nano()),
		Mtime:    time.Unix(0, st.Mtim.Nano()),
		Uid:      int(st.Uid),
		Mode:     os.FileMode(st.Mode & 0o777),
	}
	if st.Size < int64(len(s.mem)) {
		return info, segmentError(s.name, path, fault(ErrTruncated,
			"file has "+itoa(st.Size)+" bytes, the mapping "+itoa(int64(len(s.mem)))))
	}
	h, err := s.header()
	if err != nil {
		return info, err
	}
	info.Version, info.HeaderSize = h.Version, h.HeaderSize
	info.DataOffset, info.DataSize = h.DataOffset, h.DataSize
	info.Created, info.Refreshed = h.Created, h.Refreshed
	info.LockHolder = h.LockHolder
	info.Notifications, info.NotifySeq, info.NotifyWaiters = h.Notifications, h.NotifySeq, h.NotifyWaiters
	info.Slots, info.RemoveWhenUnused = h.Slots, h.RemoveWhenUnused
	if info.Users, err = liveUsers(s.att.fd, &h, s.att); err != nil {
		return info, pathError("fcntl", s.name, path, "", err)
	}
	return info, nil
}

// ReadHeader reads and validates the segment header, attachment table and
// (version 3) the name the segment was created under (Header.Name) of the
// open file f, which need not be a segment: it is for looking at
// files without opening them as segments. It maps the file only if it
// cannot be read (macOS kernel objects), never writes to it, never waits
// and never refreshes it; on Linux it reads with O_NOATIME when it may
// (briefly setting it on f's open file description), so that looking at a
// stale segment does not make it look used. Elsewhere (OpenBSD's FFS marks
// a file accessed on every read) it puts back an access time that reading
// moved, through f's descriptor, unless the modification time moved too.
// Both need the caller to own the file (or be root). The table says who
// attached, not who lives: see Users.
//
// The checks come in this order; the first that fails decides the error:
//
//	file (fstat)                                         error
//	is empty                                             ErrNotInitialized
//	is shorter than 12 bytes                             ErrTruncated
//	magic number is zero (creator still at work)         ErrNotInitialized
//	magic number is anything else                        ErrNotSegment
//	version is not 2 or 3 (version 1 included: recreate  ErrVersion
//	  it), or is 2 or 3 in the other byte order
//	is shorter than HeaderSize (256 bytes)               ErrTruncated
//	header size or table offset is not 256, slot count   ErrSizeMismatch
//	  is not 1..MaxSlots
//	version 3: name offset is not the table's end, or    ErrSizeMismatch
//	  the name is longer than MaxName
//	version 3: undo log offset and size are not both 0   ErrSizeMismatch
//	  or both set, its size is not a multiple of 64
//	  from 128 to 64+MaxTxLog, or its offset is not the
//	  first multiple of 64 after the name
//	data offset is not a multiple of 64 at or after the  ErrSizeMismatch
//	  table (version 3: the name, or the undo log), or
//	  offset plus size overflow
//	flags has bits this version does not know            ErrVersion
//	version 3: name marked truncated, but shorter than   ErrCorrupt
//	  MaxName
//	is shorter than data offset + data size              ErrTruncated
//	is longer than that                                  ErrSizeMismatch
//	a table entry is impossible (see Slot)               ErrCorrupt
//	version 3: the name has a NUL byte                   ErrCorrupt
//
// (macOS rounds its kernel objects up to whole pages; a size so rounded is
// accepted there.) If there is an error, it will be of type *fs.PathError
// with Op "segment" and Path f.Name(); header errors unwrap to the
// sentinel in the table. (An fstat or pread that fails gives Op "fstat" or
// "pread" with the system's error.)
func ReadHeader(f *os.File) (Header, error) { return onFile(f, readHeader) }

// onFile calls fn with f's descriptor and name.
func onFile[T any](f *os.File, fn func(fd int, name string) (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	rc, cerr := f.SyscallConn()
	if cerr == nil {
		cerr = rc.Control(func(fd uintptr) { v, err = fn(int(fd), f.Name()) })
	}
	if cerr != nil {
		return v, &fs.PathError{Op: opSegment, Path: f.Name(), Err: cerr}
	}
	return v, err
}

func readHeader(fd int, name string) (Header, error) {
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return Header{}, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	// The fixed header first, which says how long the table and the name
	// are.
	b, err := readStart(fd, name, min(st.Size, HeaderSize))
	if err != nil {
		return Header{}, err
	}
	if h, hf := decodeFixed(b, st.Size); hf == nil && checkFileSize(h.DataOffset+h.DataSize, st.Size) == nil {
		if b, err = readStart(fd, name, headerEnd(&h, b)); err != nil {
			return Header{}, err
		}
	}
	h, hf := parseHeader(b, st.Size)
	if hf != nil {
		return Header{}, &fs.PathError{Op: opSegment, Path: name, Err: hf}
	}
	return h, nil
}

// readStart reads the first n bytes of the file (fewer at its end), with
// pread, or through a mapping where the file cannot be read (kernel
// objects, on macOS).
func readStart(fd int, name string, n int64) ([]byte, error) {
	// Looking is not using: where there is no O_NOATIME (preadFull sets
	// it on Linux), put back the access time that reading may move, before
	// anyone judges the file by it.
	restore := unixutil.KeepAtime(fd)
	defer restore()
	b := make([]byte, n)
	m, err := preadFull(fd, b)
	if err == nil {
		return b[:m], nil
	}
	hm, merr := unix.Mmap(fd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if merr != nil {
		return nil, &fs.PathError{Op: "pread", Path: name, Err: err}
	}
	read := memfault.Catch(func() { snapshot(b, hm) })
	unix.Munmap(hm)
	if !read {
		return nil, &fs.PathError{Op: opSegment, Path: name, Err: fault(ErrTruncated, errTruncatedUnder)}
	}
	return b, nil
}

// preadFull reads len(b) bytes at offset 0, fewer only at end of file.
func preadFull(fd int, b []byte) (int, error) {
	defer unixutil.Noatime(fd)()
	n := 0
	for n < len(b) {
		m, err := unixutil.IgnoringEINTR2(func() (int, error) { return unix.Pread(fd, b[n:], int64(n)) })
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, nil
		}
		n += m
	}
	return n, nil
}

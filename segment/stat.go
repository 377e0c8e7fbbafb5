package segment

import (
	"io/fs"
	"os"
	"time"

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
	LockHolder int       // PID in the lock word, 0 if unlocked
	// Unlinked is true when the file has no name left (st_nlink is 0):
	// processes that have it mapped still share it, but new ones can no
	// longer open it. This is what daily(8) does to an unrefreshed segment.
	Unlinked     bool
	FileSize     int64
	Atime, Mtime time.Time
	Uid          int
	Mode         os.FileMode // permission bits
}

// Stat describes the segment. It refreshes nothing. If the file has been
// truncated under the mapping, it returns what fstat said with an error
// wrapping ErrTruncated (touching Bytes would then fault). If there is an
// error, it will be of type *fs.PathError.
func (s *Segment) Stat() (Info, error) {
	s.rmu.Lock() // keeps Close from unmapping the header under us
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return Info{}, &fs.PathError{Op: "fstat", Path: s.name, Err: fs.ErrClosed}
	}
	path := s.f.Name()
	var st unix.Stat_t
	if err := unixutil.Fstat(s.fd, &st); err != nil {
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
	var buf [HeaderSize]byte
	if !noFault(func() { snapshot(&buf, s.mem) }) {
		return info, segmentError(s.name, path, fault(ErrTruncated, errTruncatedUnder))
	}
	h, hf := decodeHeader(buf[:])
	if hf != nil {
		return info, segmentError(s.name, path, hf)
	}
	info.Version, info.HeaderSize = h.Version, h.HeaderSize
	info.DataOffset, info.DataSize = h.DataOffset, h.DataSize
	info.Created, info.Refreshed = h.Created, h.Refreshed
	info.LockHolder = h.LockHolder
	return info, nil
}

// ReadHeader reads and validates the segment header of the open file f,
// which need not be a segment: it is for looking at files without opening
// them as segments. It maps the file only if it cannot be read (macOS kernel objects), never writes to it, never
// waits and never refreshes it; on Linux it reads with O_NOATIME when it
// may (briefly setting it on f's open file description), so that looking
// at a stale segment does not make it look used. Elsewhere, reading may
// update the access time as the file system's mount options say.
//
// The checks come in this order; the first that fails decides the error:
//
//	file (fstat)                                        error
//	is empty                                            ErrNotInitialized
//	is shorter than HeaderSize (128 bytes)              ErrTruncated
//	magic number is zero (creator still at work)        ErrNotInitialized
//	magic number is anything else                       ErrNotSegment
//	version is not 1 (or is 1 in the other byte order)  ErrVersion
//	header size is not 128, data offset is not a        ErrSizeMismatch
//	  multiple of 64 at or after it, or they overflow
//	is shorter than data offset + data size             ErrTruncated
//	is longer than that                                 ErrSizeMismatch
//
// (macOS rounds its kernel objects up to whole pages; a size so rounded is
// accepted there.) If there is an error, it will be of type *fs.PathError
// with Op "segment" and Path f.Name(); header errors unwrap to the
// sentinel in the table. (An fstat or pread that fails gives Op "fstat" or
// "pread" with the system's error.)
func ReadHeader(f *os.File) (Header, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return Header{}, &fs.PathError{Op: opSegment, Path: f.Name(), Err: err}
	}
	var (
		h    Header
		herr error
	)
	if err := rc.Control(func(fd uintptr) { h, herr = readHeader(int(fd), f.Name()) }); err != nil {
		return Header{}, &fs.PathError{Op: opSegment, Path: f.Name(), Err: err}
	}
	return h, herr
}

func readHeader(fd int, name string) (Header, error) {
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return Header{}, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	var buf [HeaderSize]byte
	n := 0
	if st.Size >= HeaderSize {
		var err error
		if n, err = preadFull(fd, buf[:]); err != nil {
			// Kernel objects (macOS) cannot be read, only mapped.
			hm, merr := unix.Mmap(fd, 0, HeaderSize, unix.PROT_READ, unix.MAP_SHARED)
			if merr != nil {
				return Header{}, &fs.PathError{Op: "pread", Path: name, Err: err}
			}
			read := noFault(func() { snapshot(&buf, hm) })
			unix.Munmap(hm)
			if !read {
				return Header{}, &fs.PathError{Op: opSegment, Path: name, Err: fault(ErrTruncated, errTruncatedUnder)}
			}
			n = HeaderSize
		}
	}
	h, hf := parseHeader(buf[:n], st.Size)
	if hf != nil {
		return Header{}, &fs.PathError{Op: opSegment, Path: name, Err: hf}
	}
	return h, nil
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

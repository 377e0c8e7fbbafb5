package posixshm

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// A Mapping is a whole shared memory object mapped into this process
// (mmap with MAP_SHARED), as Python's SharedMemory.buf and Boost's
// mapped_region give it: what one process stores in Bytes, every process
// that maps the object sees. It is for plain objects, shared with programs
// in any language; package segment maps objects with a header and a lock.
type Mapping struct {
	mu       sync.Mutex
	b        []byte
	name     string
	writable bool
}

// Map maps the whole object open as f: any *os.File from [Open],
// [Dir.Open], [CreateTemp] or [OpenAnonymous] (any regular file, in fact).
// The mapping is writable if f was opened for reading and writing, and
// read-only if f was opened with O_RDONLY, so a reader cannot scribble on
// the object by mistake: a store into a read-only mapping is a fault.
// f may be closed once Map returns; the mapping stays until Close.
//
// The object must already have its size (f.Truncate): an empty object is
// refused with EINVAL, one larger than this process can map with EFBIG,
// and one opened write-only (which mmap cannot map) with EACCES. The
// mapping keeps the size the object had when it was mapped.
//
// Another process may shrink the object under the mapping (ftruncate):
// touching bytes past the new end then raises SIGBUS, which kills a Go
// program unless the access runs under debug.SetPanicOnFault. Objects
// shared with programs you do not trust call for that care, or for package
// segment, whose own accesses turn such faults into errors.
//
// A file that is not a regular file (a named pipe, a directory, a device)
// is refused with ENODEV, as mmap(2) refuses most of them.
//
// An object made large with Truncate but never written (sparse) maps
// whole, but its pages are allocated only when touched: on a tmpfs whose
// free space runs out first, that touch raises SIGBUS too.
//
// If there is an error, it will be of type *fs.PathError with Op "mmap"
// and Path f.Name() (os.ErrInvalid for a nil f).
func Map(f *os.File) (*Mapping, error) {
	if f == nil {
		return nil, &fs.PathError{Op: "mmap", Err: os.ErrInvalid}
	}
	m := &Mapping{name: f.Name()}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = m.mmap(int(fd)) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	return m, nil
}

// mmap maps the object open as fd into m.
func (m *Mapping) mmap(fd int) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("fcntl F_GETFL: %w", err)
	}
	prot := unix.PROT_READ
	switch fl & unix.O_ACCMODE {
	case unix.O_RDWR:
		prot |= unix.PROT_WRITE
	case unix.O_WRONLY:
		return fmt.Errorf("opened write-only (O_WRONLY), and a mapping needs read access: %w", syscall.EACCES)
	}
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if kind := uint32(st.Mode) & unix.S_IFMT; kind != unix.S_IFREG {
		return fmt.Errorf("not a regular file (%s), so no shared memory object: %w", fileKind(kind), syscall.ENODEV)
	}
	size, err := mapSize(st.Size)
	if err != nil {
		return err
	}
	b, err := unix.Mmap(fd, 0, size, prot, unix.MAP_SHARED)
	if err == syscall.ENOMEM {
		return fmt.Errorf("object of %d bytes does not fit in this process's address space: %w", size, err)
	}
	if err != nil {
		return err
	}
	m.b, m.writable = b, prot&unix.PROT_WRITE != 0
	return nil
}

// mapSize checks an object's size for mapping: an empty object has nothing
// to map (mmap itself would say EINVAL, without saying why), and an int
// must hold the size.
func mapSize(size int64) (int, error) {
	switch {
	case size == 0:
		return 0, fmt.Errorf("empty object: give it a size first (Truncate): %w", syscall.EINVAL)
	case size < 0 || uint64(size) > math.MaxInt:
		return 0, fmt.Errorf("object of %s bytes is larger than this process can map: %w",
			strconv.FormatInt(size, 10), syscall.EFBIG)
	}
	return int(size), nil
}

// Bytes returns the mapped memory, Size bytes long, or nil after Close.
// Stores into it are visible to every process that maps the object; where
// they must be ordered across processes, use sync/atomic on aligned words,
// or a lock (package lock, or a segment).
func (m *Mapping) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.b
}

// Size returns the number of bytes mapped: the object's size when it was
// mapped (0 after Close).
func (m *Mapping) Size() int { return len(m.Bytes()) }

// Writable reports whether the mapping may be written: whether the file
// was open for reading and writing when it was mapped.
func (m *Mapping) Writable() bool { return m.writable }

// Close unmaps the memory; the slices Bytes returned must not be used
// afterwards (touching them is a fault). It does not remove the object
// (Unlink does). Closing a closed Mapping returns an error wrapping
// fs.ErrClosed. If there is an error, it will be of type *fs.PathError
// with Op "munmap".
func (m *Mapping) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b == nil {
		return &fs.PathError{Op: "munmap", Path: m.name, Err: fs.ErrClosed}
	}
	b := m.b
	m.b = nil
	if err := unix.Munmap(b); err != nil {
		return &fs.PathError{Op: "munmap", Path: m.name, Err: err}
	}
	return nil
}

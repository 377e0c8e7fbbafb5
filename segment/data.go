package segment

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
)

// Copying in and out of the data region without a fault. Bytes gives the
// mapping itself, which faults (SIGBUS) wherever the file was truncated
// under it, as any mapping does; ReadAt and WriteAt copy under the same
// guard as the package's own accesses (fault.go) and return an error
// wrapping ErrTruncated instead.

var (
	_ io.ReaderAt = (*Segment)(nil)
	_ io.WriterAt = (*Segment)(nil)
)

// errNegative is what ReadAt and WriteAt say about a negative offset.
var errNegative = errors.New("negative offset")

// ReadAt copies len(p) bytes of the data region (Bytes), from offset off,
// into p, as io.ReaderAt does: it returns the number of bytes copied, and
// io.EOF if the data region ends before p is full. If the file was
// truncated under the mapping it returns 0 and an error wrapping
// ErrTruncated (p may hold part of the data), where reading Bytes would
// fault. It takes no lock: take the segment's lock (or agree otherwise
// with the writers) for a consistent copy. It may run concurrently with
// Close, which waits for it; afterwards it returns an error wrapping
// fs.ErrClosed. Other errors are of type *fs.PathError.
func (s *Segment) ReadAt(p []byte, off int64) (n int, err error) {
	return s.copyAt("read", p, off, false)
}

// WriteAt copies p into the data region (Bytes) at offset off, as
// io.WriterAt does, and returns len(p). All of p or nothing: if p does not
// fit, it writes nothing and returns an error wrapping io.ErrShortWrite.
// If the file was truncated under the mapping it returns 0 and an error
// wrapping ErrTruncated, where writing to Bytes would fault. It takes no
// lock and may run concurrently with Close, as ReadAt. If there is an
// error, it will be of type *fs.PathError.
func (s *Segment) WriteAt(p []byte, off int64) (n int, err error) {
	return s.copyAt("write", p, off, true)
}

func (s *Segment) copyAt(op string, p []byte, off int64, write bool) (n int, err error) {
	// Announce the call before looking at stClosed: Close either sees it
	// and waits for it (waitWatchers) before it unmaps, or it sees Close.
	s.watchers.Add(1)
	defer s.watchers.Add(-1)
	if s.state.Load()&stClosed != 0 {
		return 0, &fs.PathError{Op: op, Path: s.name, Err: fs.ErrClosed}
	}
	size := int64(len(s.data))
	switch {
	case off < 0:
		return 0, &fs.PathError{Op: op, Path: s.name, Err: errNegative}
	case write && (off > size || int64(len(p)) > size-off):
		return 0, &fs.PathError{Op: op, Path: s.name, Err: fmt.Errorf("%d bytes at offset %d do not fit in the %d-byte data region: %w", len(p), off, size, io.ErrShortWrite)}
	case off >= size:
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, op, &err)
	if write {
		n = copy(s.data[off:], p)
	} else {
		n = copy(p, s.data[off:])
	}
	g.done = true
	if n < len(p) {
		err = io.EOF
	}
	return n, err
}

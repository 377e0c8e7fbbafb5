package segment

import (
	"errors"
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// Record locks: the kernel's word on who is attached to a segment.
//
// Each attached process holds a write lock on one byte of the segment's
// file that stands for its attachment (see Slot, overflowBase and
// gateByte); the kernel drops it when the process dies, however it dies
// and in whichever PID namespace it runs, and any process can ask with
// F_GETLK whether somebody holds it. These are the only functions that
// take, drop and test such locks; the commands they use (open file
// description locks on Linux, POSIX record locks elsewhere) come from
// reclock_linux.go and reclock_other.go.

// gateByte is the byte of the file that attaching and removing processes
// lock (shared and exclusive) to decide removal and attachment under one
// rule; see remove.go. It is the first byte of the magic number, which no
// user locks.
const gateByte = 0

// overflowBase is the file offset of the record-lock byte of the first
// overflow attachment (one that found no free slot): attachment k locks
// byte overflowBase+k. It lies beyond the end of any segment (maxSegment),
// where no data byte can be, and locks may lie past the end of a file.
const overflowBase = maxSegment

// maxOverflow bounds the overflow bytes tried, and so the number of
// processes attached without a slot at one time.
const maxOverflow = 1 << 20

// errNoRecordLocks: the object takes no record locks (F_SETLK gives
// EBADF): macOS's and FreeBSD's kernel shared memory objects, which are not
// files. Liveness falls back to PIDs there.
var errNoRecordLocks = errors.New("the object takes no record locks")

// flock fills a lock description of the bytes [start, start+n); n = 0
// means to the end of the file and beyond.
func flock(typ int16, start, n int64) unix.Flock_t {
	// Pid must be 0 for open file description locks.
	return unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: start, Len: n}
}

// tryLock takes a lock on the bytes [start, start+n) without waiting and
// reports whether it got it: false if another process (another open file
// description, on Linux) holds a conflicting lock.
func tryLock(fd int, typ int16, start, n int64) (bool, error) {
	lk := flock(typ, start, n)
	err := unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLk, &lk) })
	switch {
	case err == nil:
		return true, nil
	case err == syscall.EAGAIN || err == syscall.EACCES:
		return false, nil
	case err == syscall.EBADF:
		return false, errNoRecordLocks
	}
	return false, err
}

// waitLock takes a lock on the bytes [start, start+n), waiting for
// conflicting locks to go. The only locks waited for are the removal
// gate's, which are held for a few system calls at a time (or until the
// holder dies, when the kernel drops them).
func waitLock(fd int, typ int16, start, n int64) error {
	lk := flock(typ, start, n)
	err := unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLkW, &lk) })
	if err == syscall.EBADF {
		return errNoRecordLocks
	}
	return err
}

// unlock drops this process's locks on the bytes [start, start+n).
func unlock(fd int, start, n int64) error {
	lk := flock(unix.F_UNLCK, start, n)
	return unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLk, &lk) })
}

// heldLock reports a lock that another process (another open file
// description, on Linux) holds on some of the bytes [start, start+n): its
// start and length (0: to the end of the file and beyond), or ok false if
// there is none. A process's own POSIX locks, and on Linux the locks taken
// through fd's own open file description, are never reported: the caller
// knows those itself.
func heldLock(fd int, start, n int64) (at, length int64, ok bool, err error) {
	lk := flock(unix.F_WRLCK, start, n)
	err = unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdGetLk, &lk) })
	switch {
	case err == syscall.EBADF:
		return 0, 0, false, errNoRecordLocks
	case err != nil:
		return 0, 0, false, err
	case lk.Type == unix.F_UNLCK:
		return 0, 0, false, nil
	}
	return lk.Start, lk.Len, true, nil
}

// heldLocks calls fn with the start and length (as heldLock reports them)
// of each lock that others hold on the bytes [start, end) (end < 0: to the
// end of the file and beyond), at most limit times.
// F_GETLK reports one conflicting lock at a time, so it asks again on each
// side of every lock found: 2k+1 calls for k locks.
func heldLocks(fd int, start, end int64, limit int, fn func(at, length int64)) error {
	type span struct{ lo, hi int64 } // hi < 0: unbounded
	todo := []span{{start, end}}
	for found := 0; len(todo) > 0 && found < limit; {
		sp := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		n := int64(0)
		if sp.hi >= 0 {
			if n = sp.hi - sp.lo; n <= 0 {
				continue
			}
		}
		at, length, ok, err := heldLock(fd, sp.lo, n)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		found++
		fn(at, length)
		at = max(at, sp.lo) // a lock may start before the span
		todo = append(todo, span{sp.lo, at})
		if length > 0 {
			todo = append(todo, span{at + length, sp.hi})
		}
	}
	return nil
}

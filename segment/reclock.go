package segment

import (
	"errors"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// Record locks: the kernel's word on who is attached to a segment.
//
// Each attached process holds a write lock on one byte of the segment's
// file that stands for its attachment (see Slot and overflowBase); the
// kernel drops it when the process dies, however it dies and in whichever
// PID namespace it runs, and any process can ask with F_GETLK whether
// somebody holds it. Only write locks count: whoever may read the file may
// also read-lock any byte of it, so the probes ask about read locks, which
// only write locks conflict with (heldLock), and an attacher passes a
// byte that somebody read-locks by (see claimAny and claimPinned). These are the only functions that
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

// maxOverflow bounds the overflow bytes, and so the number of processes
// attached without a slot at one time (their lock words' tags are
// overflowTags+k, identity.go).
const maxOverflow = 1 << 20

// maxOverflowProbes bounds the record-lock calls of one search for an
// overflow byte: a process that can only read the file may read-lock any
// bytes, and such locks must cost an attacher a few calls, not one per
// byte. Each failed try skips every byte of the lock in its way (lockEnd),
// so one lock over the whole range costs two calls; it takes that many
// locks of distinct owners (open file descriptions, processes), each in
// the way of the next, to exhaust the bound.
const maxOverflowProbes = 1 << 12

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

// waitLock takes a lock on the bytes [start, start+n), trying again
// while another process holds a conflicting lock, for up to wait. Never
// F_SETLKW: a process that may only read the file can hold a read lock
// for as long as it likes, and nothing of ours may wait for it for ever.
// The locks waited for legitimately, the removal gate's, are held for a
// few system calls at a time (or until their holder dies, when the kernel
// drops them), and the gate is taken while other processes keep taking it
// shared, so it tries often: every 20 µs at first, then up to every 2 ms.
// It returns errBusy if the lock was still held when wait ran out.
func waitLock(fd int, typ int16, start, n int64, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for d := 20 * time.Microsecond; ; d = min(2*d, 2*time.Millisecond) {
		ok, err := tryLock(fd, typ, start, n)
		if err != nil || ok {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errBusy
		}
		time.Sleep(min(d, left))
	}
}

// errBusy: waitLock gave up.
var errBusy = errors.New("held by another process")

// unlock drops this process's locks on the bytes [start, start+n).
func unlock(fd int, start, n int64) error {
	lk := flock(unix.F_UNLCK, start, n)
	return unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLk, &lk) })
}

// heldLock reports a write lock that another process (another open file
// description, on Linux) holds on some of the bytes [start, start+n): its
// start and length (0: to the end of the file and beyond), or ok false if
// there is none. A process's own POSIX locks, and on Linux the locks taken
// through fd's own open file description, are never reported: the caller
// knows those itself.
//
// It asks F_GETLK about a read lock, which only a write lock conflicts
// with: attachments hold write locks, and anybody who may read the file
// may take read locks on any of its bytes, which must neither fake an
// attachment (Users, gc, removal, a lock holder's liveness) nor a live
// creator.
func heldLock(fd int, start, n int64) (at, length int64, ok bool, err error) {
	return getLock(fd, unix.F_RDLCK, start, n)
}

// lockedBy reports any lock, read or write, that another process holds on
// some of the bytes [start, start+n), as heldLock does: what keeps this
// process from taking a write lock there.
func lockedBy(fd int, start, n int64) (at, length int64, ok bool, err error) {
	return getLock(fd, unix.F_WRLCK, start, n)
}

// getLock asks F_GETLK whether a lock of type typ on the bytes
// [start, start+n) would conflict with a lock that another process holds,
// and reports that lock (see heldLock).
func getLock(fd int, typ int16, start, n int64) (at, length int64, ok bool, err error) {
	lk := flock(typ, start, n)
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

// lockEnd returns the end of the lock that another process holds on the
// byte at (which a try to write-lock it just failed on): the first byte
// after it, or -1 if it reaches to the end of the file and beyond. It
// returns at itself if the lock has gone meanwhile.
func lockEnd(fd int, at int64) (int64, error) {
	start, length, ok, err := lockedBy(fd, at, 1)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return at, nil
	case length == 0:
		return -1, nil
	}
	return max(start+length, at+1), nil
}

// heldLocks calls fn with the start and length (as heldLock reports them)
// of each write lock that others hold on the bytes [start, end) (end < 0: to the
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

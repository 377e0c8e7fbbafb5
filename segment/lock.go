package segment

import (
	"context"
	"errors"
	"io/fs"
	"runtime/debug"

	"github.com/posixshm/posixshm/lock"
)

// Lock takes the segment's lock, waiting as long as necessary.
//
// It returns nil, or lock.ErrOwnerDead (test with errors.Is) if the
// previous holder died holding it. With ErrOwnerDead the lock IS held: the
// data it protects may be half-updated, so repair it, then Unlock as usual.
// Exactly one locker gets ErrOwnerDead for each death. A holder counts as
// dead once a waiter has waited Options.StaleAfter and the kernel no longer
// holds its attachment's record lock (see the package documentation); the
// *lock.OwnerDeadError names its slot and the PID its process recorded. If
// the segment is closed while Lock waits, Lock gives up with an error
// wrapping fs.ErrClosed.
//
// Taking the lock refreshes the segment if the shared refreshed-at stamp is
// older than the refresh interval (see Refresh); otherwise the check costs
// one atomic load and no system call.
//
// If the file was truncated under the mapping, Lock (and every method that
// touches the header, the table or the words) returns an error wrapping
// ErrTruncated rather than fault (see the package documentation).
func (s *Segment) Lock() (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "lock", &err)
	if err = s.mu.Lock(); err != nil {
		err = s.lockError("lock", err)
	} else {
		s.used()
	}
	g.done = true
	return err
}

// TryLock takes the lock if that needs no waiting: (true, nil) on success,
// (false, nil) if a live attachment holds it, and (true, lock.ErrOwnerDead)
// if it took the lock over from a dead holder, as Lock describes.
func (s *Segment) TryLock() (ok bool, err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "lock", &err)
	ok, err = s.mu.TryLock()
	if ok {
		s.used()
	}
	if err != nil {
		err = s.lockError("lock", err)
	}
	g.done = true
	return ok, err
}

// LockContext is Lock, giving up with ctx.Err() and without the lock when
// ctx is done first.
func (s *Segment) LockContext(ctx context.Context) (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "lock", &err)
	if err = s.mu.LockContext(ctx); err != nil {
		err = s.lockError("lock", err)
	} else {
		s.used()
	}
	g.done = true
	return err
}

// Unlock releases the lock. It returns package lock's errors as they are:
// one wrapping lock.ErrNotHeld if this process does not hold the lock, and
// one wrapping fs.ErrClosed after Close; and one wrapping ErrTruncated if
// the file was truncated under the mapping.
func (s *Segment) Unlock() (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "unlock", &err)
	err = s.mu.Unlock()
	g.done = true
	return err
}

// lockError finishes a lock call that returned err: ErrOwnerDead comes
// with the lock held, so the use counts; a closed Mutex means a closed
// Segment; a sleeping waiter that found the word's memory gone, a
// truncated file.
func (s *Segment) lockError(op string, err error) error {
	switch {
	case errors.Is(err, lock.ErrOwnerDead):
		s.used()
	case errors.Is(err, fs.ErrClosed):
		return &fs.PathError{Op: op, Path: s.name, Err: fs.ErrClosed}
	}
	return s.faultError(op, err)
}

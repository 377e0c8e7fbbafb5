package segment

import (
	"context"
	"errors"
	"io/fs"

	"github.com/posixshm/posixshm/lock"
)

// Lock takes the segment's lock, waiting as long as necessary.
//
// It returns nil, or lock.ErrOwnerDead (test with errors.Is) if the
// previous holder died holding it. With ErrOwnerDead the lock IS held: the
// data it protects may be half-updated, so repair it, then Unlock as usual.
// Exactly one locker gets ErrOwnerDead for each death. A holder counts as
// dead once a waiter has waited Options.StaleAfter and finds its
// process gone (see package lock). If the segment is closed while Lock
// waits, Lock gives up with an error wrapping fs.ErrClosed.
//
// Taking the lock refreshes the segment if the shared refreshed-at stamp is
// older than the refresh interval (see Refresh); otherwise the check costs
// one atomic load and no system call.
func (s *Segment) Lock() error {
	return s.lockContext(context.Background())
}

// TryLock takes the lock if that needs no waiting: (true, nil) on success,
// (false, nil) if a live process holds it, and (true, lock.ErrOwnerDead)
// if it took the lock over from a dead holder, as Lock describes.
func (s *Segment) TryLock() (bool, error) {
	s.pin.RLock()
	defer s.pin.RUnlock()
	if err := s.checkOpen("lock"); err != nil {
		return false, err
	}
	ok, err := s.mu.TryLock()
	if ok {
		s.used()
	}
	return ok, err
}

// LockContext is Lock, giving up with ctx.Err() and without the lock when
// ctx is done first.
func (s *Segment) LockContext(ctx context.Context) error { return s.lockContext(ctx) }

func (s *Segment) lockContext(ctx context.Context) error {
	s.pin.RLock()
	defer s.pin.RUnlock()
	if err := s.checkOpen("lock"); err != nil {
		return err
	}
	// Wait on a context that Close cancels too, so that Close never
	// unmaps the lock word under a waiter (see Close).
	wctx := s.closing
	if ctx.Done() != nil {
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.closing, cancel)()
		wctx = c
	}
	err := s.mu.LockContext(wctx)
	if err == nil || errors.Is(err, lock.ErrOwnerDead) {
		s.used()
		return err
	}
	if s.closing.Err() != nil && ctx.Err() == nil {
		return &fs.PathError{Op: "lock", Path: s.name, Err: fs.ErrClosed}
	}
	return err
}

// Unlock releases the lock. It returns an error wrapping lock.ErrNotHeld if
// this process does not hold it.
func (s *Segment) Unlock() error {
	s.pin.RLock()
	defer s.pin.RUnlock()
	if err := s.checkOpen("unlock"); err != nil {
		return err
	}
	return s.mu.Unlock()
}

// checkOpen fails once the segment is closed: its lock word is unmapped.
func (s *Segment) checkOpen(op string) error {
	if s.state.Load()&stClosed != 0 {
		return &fs.PathError{Op: op, Path: s.name, Err: fs.ErrClosed}
	}
	return nil
}

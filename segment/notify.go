package segment

import (
	"context"
	"errors"
	"io/fs"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// The header's notify line holds two words (see HeaderSize):
//
//   - the notify word (offset 128), package lock's: a lock.Cond over it is
//     what waiters sleep on, and what wakes them;
//   - the notification count (offset 132), which every notification adds
//     1 to before it wakes anyone.
//
// The Cond alone serves Wait, under the lock: its waiters check their
// condition under the lock and need nothing else. WaitNotification has no
// condition but "a notification came since", and the notify word cannot
// say that. Its sequence moves only for notifications that find the
// waiters bit set, and a Signal that finds nobody asleep clears the bit
// after it moved the sequence: a waiter that reads the word in between
// finds the bit set, and keeps a value that the next notification (which
// then finds the bit clear, and writes nothing) leaves as it is. The count
// moves on every notification, so a count that differs from the mark is
// proof of one, and a count equal to it proof of none.

// Wait is WaitContext with a context that is never done.
func (s *Segment) Wait() error { return s.WaitContext(context.Background()) }

// WaitContext releases the segment's lock, which the caller must hold,
// waits until a process (this one included) calls Notify or NotifyAll (or
// runs "posixshm notify"), and takes the lock again before it returns;
// releasing the lock and starting to wait are one step for notifications
// made after a change under the lock. This is a condition variable: check
// the condition under the lock, wait while it does not hold, and check
// again after every return, which is a hint, not a promise:
//
//	if err := s.Lock(); err != nil { ... } // lock.ErrOwnerDead: repair
//	for !ready(s.Bytes()) {
//		if err := s.WaitContext(ctx); err != nil { ... }
//	}
//	... use s.Bytes() ...
//	s.Unlock()
//	s.NotifyAll() // if waiters wait for what this changed
//
// A return without a notification meant for the caller (a spurious
// wake-up) is normal: another waiter acted first; or a wake-up was lost to
// a notifier or a woken waiter killed at the wrong moment, and every
// waiter then looks at the notify word by itself within Options.StaleAfter
// (lock.DefaultRecheck, 100 ms, if 0); see lock.Cond.WaitContext.
//
// It returns nil with the lock held; ctx's error, with the lock held, when
// ctx is done first (a cancellation is noticed within about the time
// waited so far, at least 5 ms, and at most 20 ms late, a deadline on
// time: the wait sleeps on the caller's goroutine, with nothing registered
// on ctx); lock.ErrOwnerDead (test with errors.Is), with the
// lock held, if a process died holding the lock while this one waited:
// repair the data, as after Lock; an error wrapping lock.ErrNotHeld,
// without waiting, if this process did not hold the lock; and an error
// wrapping fs.ErrClosed, without the lock, if the segment is closed.
//
// Taking the lock again counts as use, as Lock does (see Refresh), but
// sleeping does not: a process that may wait for longer than the refresh
// interval while nobody else uses the segment should run KeepAlive.
func (s *Segment) WaitContext(ctx context.Context) (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "wait", &err)
	err = s.cond.WaitContext(ctx, s.mu)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.used() // the lock is held again
	} else {
		err = s.lockError("wait", err)
	}
	g.done = true
	return err
}

// Notify wakes one waiter in Wait or WaitContext (in any process, this
// one included), if there is one, and makes every WaitNotification return
// (see there). It is
// lock.Cond's Signal (named after "posixshm notify", and so that nobody
// reads it as sending a Unix signal): with nobody waiting it makes no
// system call; it adds 1 to the notification count, which is its one
// write to shared memory. Make the change that waiters look for under the
// lock; Notify may come after Unlock.
//
// Every waiter of the segment shares its one notify word, so a waiter
// woken by Notify may not be one that can act on the change. When waiters
// wait for different conditions (a queue's consumers for items and its
// producer for room), use NotifyAll, or a lock.Cond of your own for each
// condition in the data region. Notify counts as use, as Lock does (see
// Refresh). After Close, and on a file truncated under the mapping
// (see Stat), it does nothing.
func (s *Segment) Notify() { s.notify(false) }

// NotifyAll wakes every process waiting for a notification: in Wait,
// WaitContext and WaitNotification. With nobody waiting it makes no
// system call; it adds 1 to the notification count. See Notify.
func (s *Segment) NotifyAll() { s.notify(true) }

func (s *Segment) notify(all bool) {
	st := s.state.Load()
	if st&stClosed != 0 {
		return // the header may be unmapped
	}
	var err error // a truncated file: nothing to notify, nobody to tell
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "notify", &err)
	// The count first: whoever the wake-up reaches finds it moved.
	atomic.AddUint32(s.count, 1)
	if all {
		s.cond.Broadcast()
	} else {
		s.cond.Signal()
	}
	if st&stDue != 0 {
		s.refreshDue()
	}
	g.done = true
}

// Notifications returns the segment's notification count: the number of
// notifications (Notify, NotifyAll, "posixshm notify") ever made on the
// segment, modulo 2^32. It is a mark for WaitNotification: every
// notification made after Notifications returned moves the count away
// from what it returned. It only reads; after Close, and on a file
// truncated under the mapping (see Stat), it returns 0.
func (s *Segment) Notifications() (n uint32) {
	if s.state.Load()&stClosed != 0 {
		return 0
	}
	var err error
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "load", &err)
	n = atomic.LoadUint32(s.count)
	g.done = true
	return n
}

// WaitNotification waits, without the lock, until the notification count
// is no longer since, and returns it: at once if it has already moved,
// else as soon as some process notifies. With since taken from
// Notifications, no notification made after that call is missed, however
// soon it comes; and the count returned is the mark for the next call, so
// a loop misses nothing made while it works on the last one:
//
//	seen := s.Notifications()
//	for {
//		... look at the data (under the lock, or with atomics) ...
//		if seen, err = s.WaitNotification(ctx, seen); err != nil { ... }
//	}
//
// It is for processes that have no condition of their own to check under
// the lock (posixshm wait): a return says that a notification was made,
// never less, but every waiter returns on every notification. NotifyAll
// wakes them at once; Notify wakes one of the processes asleep on the
// notify word at once and the others within Options.StaleAfter
// (lock.DefaultRecheck, 100 ms, if 0), which is also the longest a wait
// can take to notice a notification whose wake-up was lost (its process
// killed after it counted and before it woke anyone).
//
// It returns ctx's error when ctx is done first (noticed within about the
// time waited so far, at least 5 ms, and at most 20 ms late; a deadline on
// time), an error wrapping fs.ErrClosed when the segment is closed, and
// one wrapping ErrTruncated when the file was truncated under the mapping.
// It sleeps on the caller's goroutine and starts no other. A return with a
// notification
// counts as use (see Refresh); sleeping does not, as for Wait.
func (s *Segment) WaitNotification(ctx context.Context, since uint32) (n uint32, err error) {
	// Announce the call before looking at stClosed: Close either sees it
	// and waits for it, or it sees Close (waitWatchers).
	s.watchers.Add(1)
	defer s.watchers.Add(-1)
	n = since
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "wait", &err)
	n, err = s.waitNotification(ctx, since)
	g.done = true
	return n, err
}

func (s *Segment) waitNotification(ctx context.Context, since uint32) (uint32, error) {
	if s.state.Load()&stClosed != 0 {
		return since, &fs.PathError{Op: "wait", Path: s.name, Err: fs.ErrClosed}
	}
	// The count is an event count over the notify word (lock.Cond's
	// WaitCount): a notification adds to the count before it wakes
	// anyone, and the wait announces itself on the word before it looks at
	// the count, so nothing made after since was taken is missed, and no
	// timer has to close a window between the look and the sleep. A
	// notifier killed between its count and its wake-up is noticed within
	// about the time waited so far, at the latest within the recheck
	// interval. All of it on this goroutine: no helper
	// goroutine, timer or channel stands between the wake-up and the
	// return.
	n, err := s.cond.WaitCount(ctx, s.count, since)
	switch {
	case err == nil:
		s.used()
		return n, nil
	case errors.Is(err, fs.ErrClosed) || s.state.Load()&stClosed != 0:
		return since, &fs.PathError{Op: "wait", Path: s.name, Err: fs.ErrClosed}
	}
	return since, s.faultError("wait", err)
}

// waitWatchers returns when no call of WaitNotification touches the
// header any more; stClosed is set and the Cond closed, so each of them
// is on its way out.
func (s *Segment) waitWatchers() {
	for d := 20 * time.Microsecond; s.watchers.Load() != 0; d = min(2*d, time.Millisecond) {
		time.Sleep(d)
	}
}

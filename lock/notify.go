package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/futex"
)

// The notify word: 32 bits in shared memory, native endian, that a Cond's
// waiters (and a Semaphore's) sleep on. See "Waiting for data" in the
// package documentation.
//
//	bits  0..30  sequence: moves on every notification that finds a waiter
//	bit  31      waiters: someone may wait for the sequence to move
//
// A word of 0 (any zeroed memory) is a valid notify word with nobody
// waiting.
const (
	seqMask       = 1<<31 - 1
	notifyWaiters = 1 << 31

	// DefaultRecheck is how long a Cond's waiter sleeps at most before it
	// looks at the notify word by itself, unless WithStaleAfter says
	// otherwise: the longest a wake-up lost to a process killed in the
	// middle of a notification (or to a woken waiter killed before it
	// could act) can delay the waiters.
	DefaultRecheck = 100 * time.Millisecond

	// maxChunk bounds one sleep in futex(2): a timespec of 32-bit
	// systems holds at most 68 years, and nothing is lost by waking up
	// once a day to look.
	maxChunk = 24 * time.Hour
)

// SplitNotify decodes the value of a notify word (a Cond's, or the first
// word of a Semaphore): its sequence, which moves on every notification
// that finds a waiter, and whether some process may be waiting.
func SplitNotify(word uint32) (seq uint32, waiters bool) {
	return word & seqMask, word&notifyWaiters != 0
}

// errRecheck is what waitWord.wait returns when its limit passed with the
// word unchanged.
var errRecheck = errors.New("lock: recheck")

// waitWord is what Cond and Semaphore share: one process's handle on a
// notify word, with the sleeping, the notifying and the closing.
type waitWord struct {
	w       *uint32
	flags   uint32       // atomic: flagClosed
	waiting atomic.Int32 // goroutines that may touch w; close waits for 0
	backoff bool         // never sleep in futex(2)
	recheck time.Duration
	closed  error // what a closed handle returns
}

func (n *waitWord) isClosed() bool { return atomic.LoadUint32(&n.flags)&flagClosed != 0 }

// announce sets the waiters bit (unless it is set already) and returns the
// word's value with it: the value to sleep on. Whoever notifies after this
// sees the bit and moves the sequence.
func (n *waitWord) announce() uint32 {
	for {
		v := atomic.LoadUint32(n.w)
		if v&notifyWaiters != 0 || atomic.CompareAndSwapUint32(n.w, v, v|notifyWaiters) {
			return v | notifyWaiters
		}
	}
}

// notify wakes one waiter (all: every waiter). With nobody waiting it is a
// load of the word and nothing else.
func (n *waitWord) notify(all bool) {
	// Small enough to inline: the flags (closed: the word may be
	// unmapped), the word, and nothing else.
	if atomic.LoadUint32(&n.flags) == 0 && atomic.LoadUint32(n.w)&notifyWaiters != 0 {
		n.notifySlow(all)
	}
}

// notifySlow moves the sequence of a word whose waiters bit is set and
// wakes the sleepers. Every waiter announced itself before it slept on the
// word's value, so it either sleeps (and is woken here) or will find the
// value changed when it calls futex(2) (which then returns at once).
func (n *waitWord) notifySlow(all bool) {
	v := atomic.LoadUint32(n.w)
	for v&notifyWaiters != 0 {
		next := (v+1)&seqMask | notifyWaiters
		if all || !haveFutex {
			// Everyone wakes (or, polling, sees the change): nobody is
			// left waiting on the new value.
			next &^= notifyWaiters
		}
		if atomic.CompareAndSwapUint32(n.w, v, next) {
			n.wake(next, all)
			return
		}
		v = atomic.LoadUint32(n.w)
	}
	// Another notification cleared the bit after moving the sequence and
	// woke every sleeper: ours is part of it.
}

// wake wakes the sleepers of a word whose sequence we just moved to v.
func (n *waitWord) wake(v uint32, all bool) {
	switch {
	case !haveFutex:
	case all:
		futexWakeN(n.w, maxWake)
	case futexWakeN(n.w, 1) == 0:
		// Nobody slept: the waiters bit is stale (its waiters were
		// woken, gave up or died) or theirs are about to sleep and will
		// find the value changed. Clear it, so that notifications make
		// no system call again until someone waits, and wake whoever
		// fell asleep on v between our wake-up and the clear.
		if atomic.CompareAndSwapUint32(n.w, v, v&^notifyWaiters) {
			futexWakeN(n.w, maxWake)
		}
	}
}

// close marks the handle closed and returns when no goroutine of this
// process waits on the word any more (Mutex.Close does the same).
func (n *waitWord) close() {
	atomic.OrUint32(&n.flags, flagClosed)
	for d := 20 * time.Microsecond; n.waiting.Load() != 0; d = min(2*d, time.Millisecond) {
		// Again and again: a waiter that checked the flag just before we
		// set it misses a wake-up that comes before its futex(2) call.
		futexWakeN(n.w, maxWake)
		time.Sleep(d)
	}
}

// A sleeper is one waiting goroutine's state while it sleeps on a word,
// perhaps several times (a Semaphore's waiter wakes up for its checks).
// It sleeps on the caller's goroutine and nowhere else: no helper
// goroutine, timer or channel, so that a wake-up is the return of one
// futex(2) call (see internal/futex for how the sleep keeps the P).
type sleeper struct {
	n        *waitWord
	ctx      context.Context
	useFutex bool
	backoff  time.Duration // next sleep when polling
	// ctxPoll bounds the next sleep when ctx can be cancelled: a futex(2)
	// sleep cannot select on ctx.Done(), so the sleeper looks at ctx
	// between sleeps that start at minPoll and double up to maxCtxPoll.
	// A cancellation is therefore noticed within about the time waited so
	// far (at least minPoll), and never more than maxCtxPoll later (a
	// deadline in time).
	ctxPoll time.Duration
}

// minPoll is the first bound of a sleep whose context can be cancelled
// (see sleeper.ctxPoll; maxCtxPoll is the last), and of WaitCount's sleeps
// between looks at its counter. Not less: on the VM of bench/run a futex(2)
// sleep with a timeout of 1–2 ms wakes 6–8 µs later than one with a timeout
// of 5 ms or more, or none, when it is woken (bench/NOTES.md).
const minPoll = 5 * time.Millisecond

func (n *waitWord) sleeper(ctx context.Context) sleeper {
	return sleeper{n: n, ctx: ctx, useFutex: haveFutex && !n.backoff, backoff: minSleep, ctxPoll: minPoll}
}

// wait sleeps while the word's value is v. It returns nil once the value
// differs, errRecheck when limit passed with the value unchanged, ctx's
// error when ctx is done, and the handle's closed error once it is closed.
// A futex(2) sleep may end early for any reason; wait then looks again.
func (s *sleeper) wait(v uint32, limit time.Duration) error {
	n := s.n
	now := time.Now()
	end := now.Add(min(limit, maxChunk))
	deadline, hasDeadline := s.ctx.Deadline()
	cancellable := s.ctx.Done() != nil
	for {
		if n.isClosed() {
			return n.closed
		}
		if atomic.LoadUint32(n.w) != v {
			return nil
		}
		if cancellable {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		d := end.Sub(now)
		if d <= 0 {
			return errRecheck
		}
		if hasDeadline {
			// ctx.Err reports the deadline a moment after it passed:
			// meanwhile, short sleeps.
			d = max(min(d, deadline.Sub(now)), minFutexWait)
		}
		if cancellable && d > s.ctxPoll {
			d = s.ctxPoll
			s.ctxPoll = min(2*s.ctxPoll, maxCtxPoll)
		}
		if s.useFutex {
			// The kernel sleeps only while the word still holds v, which
			// closes the window between our load and the sleep.
			if _, err := futex.Sleep(n.w, v, now, now.Add(d), futex.Any); err == syscall.EFAULT {
				return errFault // the word's memory is gone: loading it would fault
			} else if err != nil {
				s.useFutex = false // futex(2) unusable here: poll instead
			}
		} else {
			time.Sleep(min(s.backoff, d))
			s.backoff = min(2*s.backoff, maxSleep)
		}
		now = time.Now()
	}
}

// A Cond is one process's handle on a notify word in shared memory: a
// condition variable whose waiters can be in any process that maps the
// word, and which no process can break by dying. See "Waiting for data"
// in the package documentation.
//
// The word holds a sequence number and a waiters bit, nothing per waiter:
// a waiter killed at any point leaves at most a stale waiters bit, which
// the next notification clears, and never blocks a notifier.
type Cond struct {
	n waitWord
}

// NewCond returns a Cond over the 32-bit notify word at word, which must
// be 4-byte aligned and live in memory shared by all users (MAP_SHARED);
// zeroed memory is a valid notify word. Of the options, WithBackoff makes
// this handle's waiters poll with exponential backoff instead of sleeping
// in futex(2) (the only mode on systems other than Linux; waiters of both
// kinds can share a word), and WithStaleAfter sets how long a waiter
// sleeps at most before it looks at the word by itself (default
// DefaultRecheck); the others do not apply. NewCond panics if word is nil
// or misaligned.
func NewCond(word *uint32, opts ...Option) *Cond {
	if word == nil || uintptr(unsafe.Pointer(word))%4 != 0 {
		panic("lock: NewCond: notify word is nil or not 4-byte aligned")
	}
	c := config{staleAfter: DefaultRecheck}
	for _, o := range opts {
		o(&c)
	}
	if c.staleAfter <= 0 {
		c.staleAfter = DefaultRecheck
	}
	return &Cond{n: waitWord{w: word, backoff: c.backoff, recheck: c.staleAfter,
		closed: fmt.Errorf("lock: cond closed: %w", fs.ErrClosed)}}
}

// Wait is WaitContext with a context that is never done.
func (c *Cond) Wait(m *Mutex) error {
	return c.WaitContext(context.Background(), m)
}

// WaitContext releases m, which the caller must hold, waits until another
// goroutine or process calls Signal or Broadcast, and locks m again before
// it returns; releasing m and starting to wait are atomic with respect to
// notifications made under m. Like sync.Cond's, a return is a hint, not a
// promise: wait in a loop that checks the condition under m.
//
//	if err := mu.Lock(); err != nil { ... }
//	for !condition() {
//		if err := c.WaitContext(ctx, mu); err != nil { ... }
//	}
//	... use the condition ...
//	mu.Unlock()
//
// WaitContext may return without a notification (a spurious wake-up): when
// another waiter's wake-up was lost to a process killed in the middle of a
// notification, or was taken by a waiter killed before it acted, every
// waiter returns within the recheck interval (WithStaleAfter) to look for
// itself; and a notification that found no sleeper may wake a waiter that
// arrived at the same moment.
//
// It returns nil; ctx's error when ctx is done first (with m locked
// again; a ctx that is already done returns at once, with m still held and
// nothing waited for); the error of m's Lock: an *OwnerDeadError with m
// held if m's previous holder died holding it (repair the data m
// protects, as after Lock), an error wrapping fs.ErrClosed without m if m
// was closed; an error wrapping fs.ErrClosed without m if c was closed
// (m is released); or m's Unlock error (ErrNotHeld) if the caller did not
// hold m, without waiting; an error wrapping syscall.EFAULT, without m, if
// the word's memory is gone (see Closing in the package documentation). A
// lost ctx and a dead owner together return the *OwnerDeadError.
//
// m may be nil: WaitContext then just waits for the next notification
// (with the same spurious wake-ups), as for a caller with no condition to
// check.
//
// The condition must be changed under m for no notification to be lost:
// Signal and Broadcast may come after m's Unlock, but a change made
// without m between a waiter's check and its wait would go unnoticed, as
// with any condition variable.
//
// WaitContext sleeps on the caller's goroutine: it starts no goroutine and
// no timer. A cancellation of ctx is noticed within about the time already
// waited, never more than 20 ms late; a deadline on time (see "Waiting for
// data" in the package documentation).
func (c *Cond) WaitContext(ctx context.Context, m *Mutex) error {
	return c.wait(ctx, m)
}

// WaitCount waits, without a Mutex, until the 32-bit counter at count no
// longer holds since, and returns its value: at once if it has moved
// already, else as soon as a notifier that moves the counter and then
// calls Signal or Broadcast wakes it. It is an event count: a notifier
// adds to the counter (an atomic add, in any process) before it notifies,
// and a waiter that took since from the counter misses nothing made after
// that, however soon. WaitCount announces itself on the notify word before
// it looks at the counter, so a notification that comes after the look
// sees the announcement and wakes it, or changes the word first (futex(2)
// then does not sleep); no timer is needed to close that window. A counter
// moved by a notifier killed before it notified is noticed within about the
// time waited so far (WaitCount looks at the counter 5 ms after it began to
// sleep, then at doubling intervals), and at the latest within the recheck
// interval (WithStaleAfter). Signal wakes one waiter of the word and
// Broadcast every one; the others return within the same bounds.
// count must be 4-byte aligned, in memory shared by all users.
//
// It returns ctx's error when ctx is done first (noticed as WaitContext
// notices it), and an error wrapping fs.ErrClosed once c is closed. It
// sleeps on the caller's goroutine and starts no other.
func (c *Cond) WaitCount(ctx context.Context, count *uint32, since uint32) (uint32, error) {
	if n := atomic.LoadUint32(count); n != since {
		return n, nil
	}
	if err := ctx.Err(); err != nil {
		return since, err
	}
	n := &c.n
	n.waiting.Add(1)
	defer n.waiting.Add(-1)
	s := n.sleeper(ctx)
	for d := minPoll; ; d = min(2*d, n.recheck) {
		if n.isClosed() {
			return since, n.closed
		}
		v := n.announce()
		if k := atomic.LoadUint32(count); k != since {
			return k, nil
		}
		if err := s.wait(v, min(d, n.recheck)); err != nil && err != errRecheck {
			return since, err
		}
	}
}

// wait is WaitContext.
func (c *Cond) wait(ctx context.Context, m *Mutex) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := &c.n
	// Announce the waiter before the second look at the flag, so that
	// Close either sees it or it sees Close.
	n.waiting.Add(1)
	// Until the count is undone below: a load of a word whose memory is
	// gone faults, and a caller that recovers from the fault
	// (SetPanicOnFault) must not leave a waiter counted: Close would wait
	// for it for ever.
	counted := true
	defer func() {
		if counted {
			n.waiting.Add(-1)
		}
	}()
	if n.isClosed() {
		counted = false
		n.waiting.Add(-1)
		if m != nil {
			m.Unlock()
		}
		return n.closed
	}
	// The value read while m is held is what we sleep on: a notification
	// that comes after our Unlock moves the sequence (it sees the waiters
	// bit we set), so the sleep cannot miss it, whether it comes before
	// our futex(2) call or during it.
	v := n.announce()
	if m != nil {
		if err := m.Unlock(); err != nil {
			counted = false
			n.waiting.Add(-1)
			return err
		}
	}
	s := n.sleeper(ctx)
	var err error
	for {
		if err = s.wait(v, n.recheck); err != errRecheck {
			break
		}
	}
	counted = false
	n.waiting.Add(-1)
	if err == n.closed || err == errFault || m == nil {
		return err
	}
	if lerr := m.Lock(); lerr != nil {
		return lerr
	}
	return err
}

// Signal wakes one waiter, if there is any, in this or another process.
// With nobody waiting it makes no system call and writes nothing. Where
// waiters poll (WithBackoff, systems other than Linux) it wakes every
// waiter, as Broadcast does. A waiter killed after Signal woke it takes
// the notification with it: the others notice within their recheck
// interval (see WaitContext). After Close, Signal does nothing.
func (c *Cond) Signal() { c.n.notify(false) }

// Broadcast wakes every waiter, in this and every other process. With
// nobody waiting it makes no system call and writes nothing. After Close,
// Broadcast does nothing.
func (c *Cond) Broadcast() { c.n.notify(true) }

// Close ends this handle's use of the word, so that the memory can be
// unmapped: this process's goroutines waiting in Wait or WaitContext
// return an error wrapping fs.ErrClosed (without their Mutex), and Close
// returns when none of them touches the word any more. Waiters in other
// processes may wake up once and sleep on. Later Waits fail the same way
// and later notifications do nothing, without touching the word. Calls
// that have not started when Close begins (a Signal on its way to the
// word) are not waited for: do not unmap the word while they can run.
func (c *Cond) Close() { c.n.close() }

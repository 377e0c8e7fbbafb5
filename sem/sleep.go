package sem

import (
	"context"
	"errors"
	"time"

	"github.com/posixshm/posixshm/internal/futex"
)

// How long one sleep of a waiter lasts at most. A waiter sleeps in
// futex(2) with a timeout and looks at the semaphore, its context and
// Close again after each, rather than registering with anything that
// would wake it: no goroutine, timer or channel per wait. The bound also
// caps what a poster killed between its increment and its wake-up costs
// this process's waiters (C's waiters, which sleep without a timeout,
// then wait for the next post).
const (
	recheck = 100 * time.Millisecond // a wait that cannot be cancelled
	ctxPoll = 20 * time.Millisecond  // a wait whose context can be

	// Where there is no futex(2) to reach, a waiter polls, backing off
	// from minPoll to maxPoll: the most a post waits for a poller.
	minPoll = 20 * time.Microsecond
	maxPoll = time.Millisecond
)

// errNoFutex says that futexWait cannot sleep on this system: the waiter
// polls instead.
var errNoFutex = errors.New("no futex")

// waiter is one blocking wait: what ends it, and its polling backoff.
type waiter struct {
	s        *Semaphore
	ctx      context.Context // nil: none
	deadline time.Time       // zero: none
	poll     time.Duration
	sl       sleeper
}

// block sleeps while *addr == val, for a bounded time, and returns the
// reason to give up (Close, the context, the deadline) or nil to look at
// the semaphore again. It refreshes the file when that is due: a process
// that waits uses the semaphore.
func (w *waiter) block(addr *uint32, val uint32) error {
	st := w.s.state.Load()
	if st&stClosed != 0 {
		return errClosed
	}
	if st&stDue != 0 {
		w.s.refreshDue()
	}
	d := recheck
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if w.ctx.Done() != nil {
			d = ctxPoll
		}
	}
	if !w.deadline.IsZero() {
		left := time.Until(w.deadline)
		if left <= 0 {
			if w.ctx != nil {
				return context.DeadlineExceeded
			}
			return errTimedOut
		}
		d = min(d, left)
	}
	if w.sl.sleepOn(addr, val, d) == errNoFutex {
		w.poll = min(max(2*w.poll, minPoll), maxPoll, d)
		time.Sleep(w.poll)
	}
	return nil
}

// sleeper is one waiter's sleeps (nothing to remember: the rule that
// keeps the P keeps its own record, per P).
type sleeper struct{}

// sleepOn sleeps while *addr == val, for at most d, in futex(2) (shared:
// no FUTEX_PRIVATE_FLAG, as C's sem_wait); errNoFutex where futex(2)
// cannot be reached. Any other return means "look again".
//
// This is the one place where this package sleeps. It sleeps in a futex
// of its own (futex_linux.go; on OpenBSD libc's futex(2), which C's
// sem_wait sleeps in and which package futex does not reach, since there
// the module's own words poll), but keeps the P across the sleep by the
// rule every sleep of the module follows: futex.KeepP, which explains
// why (Go's sysmon retakes the P of a goroutine that has not been
// through the scheduler for 10 ms, and its wake-up then costs several
// thread switches).
func (sl *sleeper) sleepOn(addr *uint32, val uint32, d time.Duration) error {
	futex.KeepP(time.Now())
	return futexWait(addr, val, d)
}

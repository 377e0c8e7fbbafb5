package sem

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
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

// sleeper is what sleepOn remembers about one waiter's sleeps.
type sleeper struct {
	long bool // the last sleep lasted longSleep or more
}

// sleepOn sleeps while *addr == val, for at most d, in futex(2) (shared:
// no FUTEX_PRIVATE_FLAG, as C's sem_wait); errNoFutex where futex(2)
// cannot be reached. Any other return means "look again".
//
// This is the one place where this package sleeps, so that it can be
// switched to the project's shared sleep helper (internal, issue 22) when
// that lands. Until then it carries its own copy of the helper's trick:
// runtime.Gosched before the sleep, at most once per yieldEvery in the
// process. A goroutine that has not been through the scheduler for 10 ms
// has its P taken by sysmon while it sleeps in a system call (retake in
// runtime/proc.go, Go 1.26: sysretake), and its wake-up then goes through
// exitsyscall's slow path, which wakes sysmon on another CPU: several
// thread switches and about ten times C's wake-up latency. A recent
// Gosched keeps the P. A sleep of longSleep or more loses it anyway, so a
// waiter whose last sleep lasted that long does not yield before the next.
func (sl *sleeper) sleepOn(addr *uint32, val uint32, d time.Duration) error {
	start := time.Now()
	if !sl.long {
		keepP(start)
	}
	err := futexWait(addr, val, d)
	sl.long = time.Since(start) >= longSleep
	return err
}

const (
	yieldEvery = 5 * time.Millisecond  // at most one yield this often, process-wide
	longSleep  = 10 * time.Millisecond // a sleep this long loses the P anyway
)

// lastYield is when keepP last yielded (monotonic ns since yieldEpoch).
var lastYield atomic.Int64

var yieldEpoch = time.Now()

// keepP yields the processor if no waiter of this process has for
// yieldEvery.
func keepP(now time.Time) {
	t := int64(now.Sub(yieldEpoch))
	if last := lastYield.Load(); t-last >= int64(yieldEvery) && lastYield.CompareAndSwap(last, t) {
		runtime.Gosched()
	}
}

package sem

import (
	"sync/atomic"
	"syscall"
)

// glibc's protocol (nptl/sem_post.c and sem_waitcommon.c, glibc 2.21 and
// later), on the words of its struct new_sem. Its rules, which a C
// program and this package follow alike:
//
//   - A waiter registers (nwaiters + 1) before it looks for a unit, and
//     sleeps in futex(2) on the value's 32 bits only while they say 0.
//   - sem_post adds a unit and, in the same atomic step, reads whether
//     anyone is registered; only then does it wake one sleeper, with a
//     shared futex (the semaphore's private field says FUTEX_SHARED).
//   - A waiter that takes a unit unregisters in the same compare-and-swap
//     (64-bit), or just after (32-bit); one that gives up (timeout,
//     cancellation; here also a done context or Close) unregisters and
//     takes nothing.
//
// So a unit is never lost to a waiter that dies at any point: it either
// took the unit in one atomic step or did not. A waiter that dies while
// registered leaves nwaiters one too high, which only makes every later
// post issue a futex wake that finds nobody. glibc's waiters do not spin.

// post64 is sem_post on the 64-bit data word d, whose value half fw is.
func post64(d *uint64, fw *uint32) error {
	for {
		x := atomic.LoadUint64(d)
		if uint32(x) >= glibcValueMax {
			return syscall.EOVERFLOW
		}
		if atomic.CompareAndSwapUint64(d, x, x+1) {
			if x>>32 != 0 {
				futexWake(fw, 1)
			}
			return nil
		}
	}
}

// tryWait64 is sem_trywait on d.
func tryWait64(d *uint64) bool {
	for {
		x := atomic.LoadUint64(d)
		if uint32(x) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(d, x, x-1) {
			return true
		}
	}
}

// oneWaiter is 1 in nwaiters, the high half of the data word.
const oneWaiter = 1 << 32

// wait64 is __new_sem_wait_slow64 on d, sleeping on fw through w.
func wait64(d *uint64, fw *uint32, w *waiter) error {
	x := atomic.AddUint64(d, oneWaiter)
	for {
		if uint32(x) == 0 {
			if err := w.block(fw, 0); err != nil {
				atomic.AddUint64(d, ^uint64(oneWaiter-1)) // minus oneWaiter
				return err
			}
			x = atomic.LoadUint64(d)
			continue
		}
		// Take a unit and unregister in one step.
		if atomic.CompareAndSwapUint64(d, x, x-1-oneWaiter) {
			return nil
		}
		x = atomic.LoadUint64(d)
	}
}

// The 32-bit format keeps the value shifted left by one in v, with bit 0
// set while there may be waiters, and counts the waiters in a word of its
// own (nwaiters), which sem_post cannot read in the same step.
const (
	valueShift   = 1 // SEM_VALUE_SHIFT
	nwaitersMask = 1 // SEM_NWAITERS_MASK
)

// post32 is sem_post on the 32-bit value word v.
func post32(v *uint32) error {
	for {
		x := atomic.LoadUint32(v)
		if x>>valueShift >= glibcValueMax {
			return syscall.EOVERFLOW
		}
		if atomic.CompareAndSwapUint32(v, x, x+1<<valueShift) {
			if x&nwaitersMask != 0 {
				futexWake(v, 1)
			}
			return nil
		}
	}
}

// tryWait32 is sem_trywait on v.
func tryWait32(v *uint32) bool {
	for {
		x := atomic.LoadUint32(v)
		if x>>valueShift == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(v, x, x-1<<valueShift) {
			return true
		}
	}
}

// wait32 is __new_sem_wait_slow64 without 64-bit atomics, on the value
// word v and the nwaiters word nw.
func wait32(v, nw *uint32, w *waiter) error {
	atomic.AddUint32(nw, 1)
	x := atomic.LoadUint32(v)
	for {
		// Set the waiters bit before sleeping, and sleep only while the
		// word says "no unit, waiters bit set".
		for x>>valueShift == 0 {
			for x&nwaitersMask == 0 {
				if atomic.CompareAndSwapUint32(v, x, x|nwaitersMask) {
					x |= nwaitersMask
					break
				}
				x = atomic.LoadUint32(v)
			}
			if x>>valueShift != 0 {
				break
			}
			if err := w.block(v, nwaitersMask); err != nil {
				finish32(v, nw)
				return err
			}
			x = atomic.LoadUint32(v)
		}
		if atomic.CompareAndSwapUint32(v, x, x-1<<valueShift) {
			finish32(v, nw)
			return nil
		}
		x = atomic.LoadUint32(v)
	}
}

// finish32 is __sem_wait_32_finish: stop being a waiter, clearing the
// waiters bit if this seems to be the last one, and if that guess was
// wrong set it again and wake as many waiters as there are units.
func finish32(v, nw *uint32) {
	guess := atomic.LoadUint32(nw)
	if guess == 1 {
		atomic.AndUint32(v, ^uint32(nwaitersMask))
	}
	final := atomic.AddUint32(nw, ^uint32(0)) + 1 // the count before ours went
	if final > 1 && guess == 1 {
		if n := atomic.OrUint32(v, nwaitersMask) >> valueShift; n > 0 {
			futexWake(v, int(min(n, maxWake)))
		}
	}
}

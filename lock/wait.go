package lock

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// Contention tuning. The spin phase covers critical sections of a few
// hundred nanoseconds without a system call; longer waits sleep.
const (
	activeSpins  = 4  // iterations that just re-read the word
	passiveSpins = 16 // then iterations that yield the P to other goroutines
	minSleep     = time.Microsecond
	maxSleep     = time.Millisecond // backoff cap: bounds the latency a sleeper adds
	minFutexWait = 50 * time.Microsecond
)

// seenHolder remembers the start time of the holder a waiter examined, so a
// later check can notice that the PID now names a different process.
type seenHolder struct {
	pid   int
	start uint64
}

// lockSlow is Lock after the fast path failed.
func (m *Mutex) lockSlow(ctx context.Context) error {
	for i := range activeSpins + passiveSpins {
		w := atomic.LoadUint32(m.word)
		if w&pidMask == 0 {
			if atomic.CompareAndSwapUint32(m.word, w, m.pid|w&waitersBit) {
				return m.acquired(nil)
			}
			continue
		}
		if i < activeSpins {
			spinPause()
		} else {
			runtime.Gosched()
		}
	}

	useFutex := haveFutex && !m.backoff
	if useFutex && ctx.Done() != nil {
		// A futex sleep cannot select on ctx.Done(), so cancellation wakes
		// every sleeper on the word; the others just re-check and sleep
		// again. A cancellation that lands between our ctx.Err() check and
		// the futex call is still noticed at the end of that (bounded) sleep.
		stop := context.AfterFunc(ctx, func() { futexWake(m.word, math.MaxInt32) })
		defer stop()
	}
	var (
		nextCheck = time.Now().Add(m.staleAfter)
		sleep     = minSleep
		seen      seenHolder
		slept     bool // in futex(2) at least once
	)
	for {
		if err := ctx.Err(); err != nil {
			if slept {
				// An Unlock's wake-up may have picked us, now leaving:
				// pass it on, or the next sleeper would sleep on until
				// its stale check although the lock may be free.
				futexWake(m.word, 1)
			}
			return err
		}
		w := atomic.LoadUint32(m.word)
		if w&pidMask == 0 {
			nw := m.pid
			if useFutex {
				// We may have slept, and so may others: acquire with the
				// waiters bit so our Unlock wakes the next sleeper. Acquiring
				// with plain pid here would lose their wake-up ("Futexes Are
				// Tricky", mutex #3: a woken waiter locks with state 2).
				nw |= waitersBit
			}
			if atomic.CompareAndSwapUint32(m.word, w, nw|w&waitersBit) {
				return m.acquired(nil)
			}
			continue
		}
		now := time.Now()
		if !now.Before(nextCheck) {
			nextCheck = now.Add(m.staleAfter)
			if m.ownerDead(w, &seen) {
				// One CAS from the exact word we examined: if anything
				// changed meanwhile (another waiter recovered it, the
				// holder was not dead after all) we start over.
				if atomic.CompareAndSwapUint32(m.word, w, stolen(m.pid, w)) {
					return m.acquired(&OwnerDeadError{PID: HolderPID(w)})
				}
				continue
			}
		}
		if !useFutex {
			time.Sleep(sleep)
			sleep = min(2*sleep, maxSleep)
			continue
		}
		if w&waitersBit == 0 {
			// Announce the sleeper before sleeping, so the holder's Unlock
			// (which sees the bit in its CAS) issues a wake. If the CAS
			// fails the word changed: re-examine it.
			if !atomic.CompareAndSwapUint32(m.word, w, w|waitersBit) {
				continue
			}
			w |= waitersBit
		}
		d := nextCheck.Sub(now)
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, dl.Sub(now))
		}
		// The kernel sleeps only while the word still equals w, which
		// closes the window between our load and the sleep. Any return
		// (wake, EAGAIN, EINTR, timeout, spurious) just re-examines it.
		slept = true
		if err := futexWait(m.word, w, max(d, minFutexWait)); err != nil {
			useFutex = false // futex unusable here (ENOSYS...): back off instead
		}
	}
}

// ownerDead reports whether the holder recorded in w is known to be dead:
// gone, an unreaped zombie, or (with the fingerprint, or without one from
// seen) a new process that was given the holder's PID. A holder that is another
// goroutine of this process is alive by definition.
func (m *Mutex) ownerDead(w uint32, seen *seenHolder) bool {
	pid := HolderPID(w)
	if pid == 0 || pid == int(m.pid) {
		return false
	}
	if !signalable(pid) {
		return true
	}
	state, start, ok := procStat(pid)
	if !ok {
		return false // no /proc information here: kill(2) said alive
	}
	if state == 'Z' || state == 'X' {
		return true
	}
	if m.fp != nil && reused(atomic.LoadUint64(m.fp), pid, start) {
		return true
	}
	if m.fp == nil && seen != nil {
		// Without a fingerprint, a holder PID whose process changed while
		// we waited most likely names a dead holder's reused PID. It can
		// also be a new holder that got the PID after the old one unlocked
		// and exited; only the fingerprint tells those apart, so with one
		// this guess is not made.
		if seen.pid == pid && seen.start != start {
			return true
		}
		seen.pid, seen.start = pid, start
	}
	return false
}

// Alive reports whether a process with this PID exists and is not an
// unreaped zombie. A process owned by another user counts as alive.
func Alive(pid int) bool {
	if pid <= 0 || !signalable(pid) {
		return false
	}
	state, _, ok := procStat(pid)
	return !ok || (state != 'Z' && state != 'X')
}

// spinPause burns a few dozen cycles without touching shared memory
// (Go offers no PAUSE instruction; noinline keeps the loop from vanishing).
//
//go:noinline
func spinPause() int {
	n := 0
	for i := range 30 {
		n += i
	}
	return n
}

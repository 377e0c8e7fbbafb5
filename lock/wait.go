package lock

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/internal/futex"
)

// Contention tuning. The spin phase catches a holder that is about to
// unlock without a system call; longer waits sleep. See doc.go and spin.
const (
	minSpin      = 250 * time.Nanosecond // the spin's limit, when spinning has not paid lately
	maxSpin      = 2 * time.Microsecond  // and when it has
	spinCheck    = 16                    // reads of the word between two looks at the clock
	passiveSpins = 16                    // if the holder is this process, yields of the P instead
	minSleep     = time.Microsecond
	maxSleep     = time.Millisecond // backoff cap: bounds the latency a sleeper adds
	minFutexWait = 50 * time.Microsecond

	// starveAfter is how long a waiter waits before it forbids barging
	// (the starving bit), as in sync.Mutex. It also bounds how long a
	// starving bit whose waiter died holds the others back: by then they
	// have waited as long and may take the lock themselves.
	starveAfter = time.Millisecond

	// maxCtxPoll bounds each sleep of a waiter whose context can be
	// cancelled: a futex(2) sleep cannot select on ctx.Done(), and waking
	// the sleeper from a context.AfterFunc would cost an allocation and a
	// registration per wait. The sleep starts at starveAfter and grows
	// to this while the holder keeps the lock (see quiet in wait).
	maxCtxPoll = 20 * time.Millisecond

	maxWake = math.MaxInt32 // futex(2): wake every sleeper
)

// sleepHook, when a test sets it, sees the length of every sleep of a
// Mutex's waiter, the timeout of a futex(2) sleep or a backoff's
// time.Sleep (export_test.go).
var sleepHook func(d time.Duration)

// haveFutex reports whether waiters sleep in futex(2): on Linux; elsewhere
// (and in the openbsdsim build) they spin and back off.
const haveFutex = futex.Supported

// Sleepers tell the kernel which kind they are (their futex bitset), so
// that Unlock can wake a starving waiter and no other (see doc.go).
const (
	sleepNormal   = 1
	sleepStarving = 2
)

// futexWake wakes up to n sleepers on addr of any kind.
func futexWake(addr *uint32, n int) { futex.Wake(addr, n, futex.Any) }

// futexWakeKind wakes up to n sleepers on addr of the given kind.
func futexWakeKind(addr *uint32, n int, kind uint32) { futex.Wake(addr, n, kind) }

// futexWakeN wakes up to n sleepers on addr of any kind and returns how
// many it woke (0 where futex(2) is missing or failed).
func futexWakeN(addr *uint32, n int) int { return futex.Wake(addr, n, futex.Any) }

// lockSlow is Lock after the fast path failed; a nil ctx is
// context.Background() (so that Lock need not call it, and stays small
// enough to inline: for the same reason lockSlow itself is not inlined).
//
//go:noinline
func (m *Mutex) lockSlow(ctx context.Context) error {
	// The fast path of 32-bit mode, in a function small enough that the
	// call costs little.
	if atomic.LoadUint32(&m.flags) == flagNarrow && atomic.CompareAndSwapUint32(m.w32, 0, uint32(m.self)) {
		return nil
	}
	return m.lockContended(ctx)
}

// lockContended is Lock when the word is not free, or flags are set.
func (m *Mutex) lockContended(ctx context.Context) error {
	f := atomic.LoadUint32(&m.flags)
	if ctx == nil {
		ctx = context.Background()
	}
	if f&flagClosed != 0 {
		return errClosed
	}
	if f&flagMaybeInherited != 0 && !m.ent.inherited.Load() {
		atomic.AndUint32(&m.flags, ^uint32(flagMaybeInherited))
	}
	// Announce the waiter before the second look at the flag, so that
	// Close either sees it or it sees Close (both are sequentially
	// consistent atomics).
	m.waiting.Add(1)
	defer m.waiting.Add(-1)
	if atomic.LoadUint32(&m.flags)&flagClosed != 0 {
		return errClosed
	}
	if m.spin() {
		return nil
	}
	return m.wait(ctx)
}

// spin watches the word for a holder that is about to unlock, and takes
// it when it is free: it re-reads the word with a PAUSE between reads and
// looks at the clock every spinCheck reads, for up to the handle's spin
// limit (about 0.25 to 2 µs; reading the word as the holder writes it is
// what catches a handoff within a cache-line transfer, where the old spin
// read it 5 times in 100 ns and spent the rest on bookkeeping). The limit
// adapts to past success, per handle: a spin that took the lock moves it
// a quarter of the way up to maxSpin, one that ended asleep an eighth of
// the way down to minSpin. So a waiter behind short critical sections in
// another process (a ping-pong) spins up to 2 µs, and one behind long
// holds soon spins only 250 ns before it sleeps.
//
// A free word is taken only if it was free at the read before, a PAUSE
// earlier (or at the first read), and a spin that sees the word taken by
// another in between ends at once, asleep: under sustained contention the
// holder barges, taking the word again a few ns after its Unlock, and a
// spinner that caught those instants, or only kept pulling the cache line
// away from the holder, would turn the Unlocks into handoffs, a
// cache-line transfer each (in 2-process runs, from about a hundred
// handoffs per 2 M increments to thousands or millions, at up to three
// times the cost per increment). The starving bit, not the spin, bounds
// how long a waiter waits (doc.go).
//
// Where the holder is another goroutine of this process (the word shows
// our identity), the spinner yields the P instead (runtime.Gosched), up to
// passiveSpins times: the holder may need this P to run at all.
//
// bench/c/lockword.h spins the same way, so that the handoff figures
// compare equal polling (TestLockwordMatchesLock checks the constants).
func (m *Mutex) spin() bool {
	limit := m.spinLimit.get()
	var start time.Time
	free, passive := true, 0
	for i := 1; ; i++ {
		v := m.load()
		if v&(tagMask|starvingBit) == 0 {
			if free {
				// A free word ends an inheritance (registry.go) before
				// we take it, or another goroutine would take our lock
				// over as the predecessor's.
				m.endInheritance()
				if m.cas(v, m.self|v&waitersBit) {
					m.spinLimit.won(limit)
					return true
				}
				m.spinLimit.lost(limit) // taken under our nose: see below
				return false
			}
			free = true
		} else if free && i > 1 {
			// Free at the last read, taken now by another: a holder that
			// barges (or another waiter). Every read of ours pulls the
			// cache line from it and slows its next compare-and-swap, so
			// spinning on only makes the lock slower for all: sleep.
			m.spinLimit.lost(limit)
			return false
		} else if free = false; v&^flagBits == m.self {
			if passive++; passive > passiveSpins {
				return false
			}
			runtime.Gosched()
			continue
		}
		futex.Pause()
		if i%spinCheck == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) >= limit {
				m.spinLimit.lost(limit)
				return false
			}
		}
	}
}

// A spinLimit is a handle's adaptive spin limit (see Mutex.spin); the
// zero value starts at maxSpin.
type spinLimit struct{ ns atomic.Int64 }

func (l *spinLimit) get() time.Duration {
	if d := time.Duration(l.ns.Load()); d != 0 {
		return d
	}
	return maxSpin
}

// won records a spin, with the given limit, that got what it waited for.
func (l *spinLimit) won(limit time.Duration) { l.ns.Store(int64(limit + (maxSpin-limit)/4)) }

// lost records a spin, with the given limit, that ended in a sleep.
func (l *spinLimit) lost(limit time.Duration) { l.ns.Store(int64(limit - (limit-minSpin)/8)) }

// wait is the sleeping phase of lockSlow. See the state machine in doc.go.
func (m *Mutex) wait(ctx context.Context) error {
	useFutex := haveFutex && !m.backoff
	var (
		now       = time.Now()
		nextCheck = now.Add(m.staleAfter) // next stale check of the holder
		starveAt  = now.Add(starveAfter)
		starving  bool // waited starveAfter: may take a lock with the starving bit
		sleep     = minSleep
		slept     bool // in futex(2) at least once
		// quiet bounds a sleep of a waiter that has starved. It starts at
		// starveAfter and doubles, up to the stale interval, each time a
		// sleep ends by its timeout with the word exactly as it was: the
		// same holder has held the lock all along (a long critical
		// section), so there was no handoff to miss, and a waiter behind
		// it then wakes a few dozen times a second rather than a thousand.
		// Any change of the word brings it back to starveAfter, so under
		// contention starving waiters still look every millisecond.
		quiet = starveAfter
		// prevBackoff is the word at a backoff waiter's last sleep.
		prevBackoff uint64
	)
	for {
		if atomic.LoadUint32(&m.flags)&flagClosed != 0 {
			m.leave(slept, starving)
			return errClosed
		}
		if err := ctx.Err(); err != nil {
			m.leave(slept, starving)
			return err
		}
		v := m.load()
		mine := v&^flagBits == m.self
		if !mine {
			m.endInheritance()
		}
		if tagOf(v) == 0 && (v&starvingBit == 0 || starving) {
			nv := m.self | v&waitersBit
			if slept {
				// Others may sleep too: acquire with the waiters bit so
				// that our Unlock wakes the next sleeper ("Futexes Are
				// Tricky", mutex #3: a woken waiter locks with state 2).
				nv |= waitersBit
			}
			// A starving waiter takes the lock without the starving bit;
			// other starving waiters set it again when they next look.
			if m.cas(v, nv) {
				return nil
			}
			continue
		}
		now = time.Now()
		if !starving && !now.Before(starveAt) {
			starving = true
		}
		if tagOf(v) != 0 && !now.Before(nextCheck) {
			nextCheck = now.Add(m.staleAfter)
			if done, err := m.staleCheck(v, mine, starving); done {
				return err
			}
		}
		flags := v
		if starving && tagOf(v) != 0 {
			flags |= starvingBit
		}
		if useFutex && (!slept || starving) {
			// Announce the sleeper, so that the holder's Unlock (which
			// sees the bit in its compare-and-swap) wakes one. Only the
			// first sleep and a starving waiter do: a waiter that was
			// woken and found the lock taken again (the unlocker barged)
			// sleeps quietly until it starves, rather than have every
			// Unlock of a barging holder pay a wake and every sleeper
			// wake, fail and sleep again.
			flags |= waitersBit
		}
		if flags != v {
			// Announce the sleeper (the holder's Unlock sees the waiters
			// bit in its compare-and-swap and issues a wake) and, once
			// starving, forbid barging. If the word changed, look again.
			if !m.cas(v, flags) {
				continue
			}
			v = flags
		}
		if !useFutex {
			// No wake-up comes: the sleep bounds the handoff latency, so
			// it backs off only to maxSleep while the lock changes hands.
			// Behind one holder that keeps the lock (the word exactly as
			// at the last look, starving bit set), it keeps doubling up
			// to quiet's bound, as a futex sleeper's timeout does: a
			// waiter behind a long hold then wakes some 50 times a second
			// rather than 1000, and notices the Unlock at most that much
			// later than it would have, never later than it already
			// waited for that holder. Stale checks and deadlines still
			// bound each sleep.
			d := sleep
			if starving && v == prevBackoff {
				sleep = min(2*sleep, max(maxSleep, m.staleAfter))
				d = min(sleep, nextCheck.Sub(now))
				if dl, ok := ctx.Deadline(); ok {
					d = min(d, dl.Sub(now))
				}
				if ctx.Done() != nil {
					d = min(d, maxCtxPoll)
				}
			} else {
				sleep = min(2*sleep, maxSleep)
			}
			prevBackoff = v
			if sleepHook != nil {
				sleepHook(max(d, minSleep))
			}
			time.Sleep(max(d, minSleep))
			continue
		}
		// Every sleep ends by the next stale check, a non-starving waiter's
		// by the time it starves, and a starving one's within starveAfter:
		// another starving waiter may have taken the lock without the bit
		// meanwhile, and then this one must set it again.
		d := min(nextCheck.Sub(now), quiet)
		if !starving {
			d = min(d, starveAt.Sub(now))
		}
		if ctx.Done() != nil {
			d = min(d, maxCtxPoll)
			if dl, ok := ctx.Deadline(); ok {
				d = min(d, dl.Sub(now))
			}
		}
		// The kernel sleeps only while the state half still equals v,
		// which closes the window between our load and the sleep. Any
		// return (wake, EAGAIN, EINTR, timeout, spurious) just looks again.
		if sleepHook != nil {
			sleepHook(max(d, minFutexWait))
		}
		slept = true
		kind := uint32(sleepNormal)
		if v&starvingBit != 0 && starving {
			kind = sleepStarving // woken alone by an Unlock that sees the bit
		}
		timedOut, err := futex.Sleep(m.w32, uint32(v), now, now.Add(max(d, minFutexWait)), kind)
		if err == syscall.EFAULT {
			// The word's memory is gone (a file truncated under its
			// mapping): touching it would fault, leave included.
			return errFault
		}
		if err != nil {
			useFutex = false // futex unusable here (ENOSYS...): back off instead
		}
		switch {
		case !starving || m.load() != v:
			quiet = starveAfter // the lock changes hands: short sleeps
		case timedOut:
			quiet = min(2*quiet, m.staleAfter)
		default:
			// An early return with nothing changed: a signal (futex(2)
			// returns EINTR for any signal that has a handler, and Go
			// has one for every signal) or a spurious wake-up. The
			// holder still keeps the lock: sleep as long as before.
		}
	}
}

// staleCheck asks whether the holder recorded in v is dead and, if so,
// takes the lock over with one compare-and-swap from exactly v: if the word
// changed meanwhile (another waiter recovered it, the holder unlocked, a
// new holder came), nothing happens. mine says that v shows our own
// identity. done reports that the lock is ours (err is then the
// *OwnerDeadError).
func (m *Mutex) staleCheck(v uint64, mine, starving bool) (done bool, err error) {
	if mine {
		return m.inherit(v, starving)
	}
	h := holderOf(v)
	dead, pid := m.id.Dead(h)
	if dead && m.cas(v, m.stolen(v, starving)) {
		return true, &OwnerDeadError{PID: pid, Holder: h}
	}
	return false, nil
}

// inherit takes the lock over from a predecessor with our identity (see
// registry.go), if the word still shows it and no other goroutine of this
// process did so first. A word that shows our identity while this process
// is not an heir is held by this process, alive by definition.
func (m *Mutex) inherit(v uint64, starving bool) (done bool, err error) {
	if m.ent == nil || !m.ent.inherited.CompareAndSwap(true, false) {
		return false, nil
	}
	h := holderOf(v)
	for ; v&^flagBits == m.self; v = m.load() {
		if m.cas(v, m.stolen(v, starving)) {
			pid := 0
			if m.pids {
				pid = int(h.Tag)
			}
			return true, &OwnerDeadError{PID: pid, Holder: h}
		}
	}
	return false, nil
}

// endInheritance records that the word was seen without our identity: a
// predecessor's lock, if there was one, has been released or taken over.
func (m *Mutex) endInheritance() {
	if m.ent != nil && m.ent.inherited.Load() {
		m.ent.inherited.Store(false)
	}
}

// stolen is the word with which we take the lock over from the dead
// holder recorded in v. Where waiters sleep in futex(2) it carries the
// waiters bit even if v does not: the dead holder may have taken the lock
// after a woken waiter's wake-up, leaving older sleepers that only an
// Unlock that sees the bit will wake. Without it they would sleep until
// their stale check. The starving bit stays unless we are the starving
// waiter.
func (m *Mutex) stolen(v uint64, starving bool) uint64 {
	nv := m.self | v&waitersBit
	if haveFutex {
		nv |= waitersBit
	}
	if !starving {
		nv |= v & starvingBit
	}
	return nv
}

// leave is a waiter giving up without the lock. A starving waiter takes
// the starving bit it may have set away, so that lockers do not wait for
// it in vain (another starving waiter sets it again when it next looks).
// One that slept hands on a wake-up that may have been meant for it:
// otherwise the next sleeper would sleep on until its stale check although
// the lock may be free.
func (m *Mutex) leave(slept, starving bool) {
	for v := m.load(); starving && v&starvingBit != 0; v = m.load() {
		if m.cas(v, v&^starvingBit) {
			break
		}
	}
	if slept {
		futexWake(m.w32, 1)
	}
}

// tryLockSlow is TryLock after the fast path failed.
func (m *Mutex) tryLockSlow() (bool, error) {
	f := atomic.LoadUint32(&m.flags)
	if f == flagNarrow && atomic.CompareAndSwapUint32(m.w32, 0, uint32(m.self)) {
		return true, nil
	}
	if f&flagClosed != 0 {
		return false, errClosed
	}
	for range 4 { // a retry only follows a change of the word
		v := m.load()
		mine := v&^flagBits == m.self
		if !mine {
			m.endInheritance()
		}
		if tagOf(v) == 0 {
			if m.cas(v, m.self|v&flagBits) {
				return true, nil
			}
			continue
		}
		if mine && (m.ent == nil || !m.ent.inherited.Load()) {
			return false, nil // held by this process
		}
		if done, err := m.staleCheck(v, mine, false); done {
			return true, err
		}
		if m.load() == v {
			return false, nil // alive, or unknown
		}
	}
	return false, nil
}

package lock

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// DefaultStaleAfter is how long a waiter waits before it first checks
// whether the holder is still alive, unless WithStaleAfter says otherwise.
const DefaultStaleAfter = 20 * time.Millisecond

// A Mutex is one process's handle on a lock word in shared memory.
// It may be used by many goroutines at once. See the package documentation
// for the ownership rules.
type Mutex struct {
	// The word: w32 is the state half (the futex word), w64 the whole
	// 64-bit word, nil in 32-bit mode.
	w32 *uint32
	w64 *uint64

	self    uint64 // our Holder as a logical word value (pack)
	selfMem uint64 // self as a 64-bit atomic stores it (toMem)

	// flags is the one in-process word the fast paths load: nonzero sends
	// them to the slow paths, where 32-bit mode has its own fast path.
	flags   uint32       // atomic: flagClosed | flagMaybeInherited | flagNarrow
	waiting atomic.Int32 // goroutines in lockSlow; Close waits for 0

	spinLimit spinLimit // how long a waiter spins (wait.go)

	id         Identity
	pids       bool // id is the default: Tags are PIDs
	ent        *wordEntry
	cleanup    runtime.Cleanup
	staleAfter time.Duration
	backoff    bool // never sleep in futex(2)
}

const (
	flagClosed         = 1 << iota // Close was called: touch the word no more
	flagMaybeInherited             // ent.inherited may be set: check it
	// flagNarrow marks 32-bit mode, so that Lock and Unlock can be one
	// compare-and-swap of the 64-bit word, small enough to inline, and
	// a 32-bit word takes one call more.
	flagNarrow
)

type config struct {
	staleAfter time.Duration
	backoff    bool
	id         Identity
}

// An Option configures a Mutex in New or New64.
type Option func(*config)

// WithStaleAfter sets how long a waiter waits before it checks whether the
// holder is alive, and how often it checks again while it keeps waiting. It
// also bounds every sleep of a waiter. Values ≤ 0 select DefaultStaleAfter.
func WithStaleAfter(d time.Duration) Option {
	return func(c *config) { c.staleAfter = d }
}

// WithBackoff makes waiters spin and then sleep with exponential backoff
// instead of sleeping in futex(2). This is the only mode on systems other
// than Linux. Waiters in both modes can share a word.
func WithBackoff() Option {
	return func(c *config) { c.backoff = true }
}

// WithIdentity makes the Mutex identify holders with id instead of the
// default identity (PID and start time, probed with kill(2) and /proc).
// Every user of a word must use the same kind of identity.
func WithIdentity(id Identity) Option {
	return func(c *config) { c.id = id }
}

// New returns a Mutex over a 32-bit word, which must be 4-byte aligned and
// live in memory shared by all users (MAP_SHARED). The word records the
// holder's Tag only, so its Stamp is always 0 (see the package
// documentation for what that leaves unknown). New panics if word is nil or
// misaligned, or if the identity's Tag is out of range.
func New(word *uint32, opts ...Option) *Mutex {
	if word == nil || uintptr(unsafe.Pointer(word))%4 != 0 {
		panic("lock: New: lock word is nil or not 4-byte aligned")
	}
	return newMutex(word, nil, opts)
}

// New64 returns a Mutex over a 64-bit word, which must be 8-byte aligned
// and live in memory shared by all users (MAP_SHARED). The holder's Tag and
// Stamp are written by the one compare-and-swap that takes the lock. Where
// Atomic64 is false, New64 uses the word's state half alone, as New does
// (every user of the word must then be built for such a GOARCH). New64
// panics if word is nil or misaligned, or if the identity's Tag is out of
// range.
func New64(word *uint64, opts ...Option) *Mutex {
	if word == nil || uintptr(unsafe.Pointer(word))%8 != 0 {
		panic("lock: New64: lock word is nil or not 8-byte aligned")
	}
	state := (*uint32)(unsafe.Pointer(word)) // the lower address
	if !Atomic64 {
		return newMutex(state, nil, opts)
	}
	return newMutex(state, word, opts)
}

func newMutex(w32 *uint32, w64 *uint64, opts []Option) *Mutex {
	c := config{staleAfter: DefaultStaleAfter}
	for _, o := range opts {
		o(&c)
	}
	if c.staleAfter <= 0 {
		c.staleAfter = DefaultStaleAfter
	}
	m := &Mutex{w32: w32, w64: w64, staleAfter: c.staleAfter, backoff: c.backoff, id: c.id}
	if m.id == nil {
		m.id, m.pids = defaultIdentity(), true
	}
	self := m.id.Self()
	if self.Tag == 0 || self.Tag > MaxTag {
		panic(fmt.Sprintf("lock: identity's Tag %d is not in 1..MaxTag", self.Tag))
	}
	if w64 == nil {
		self.Stamp = 0
	}
	m.self = pack(self, w64 != nil)
	m.selfMem = toMem(m.self)
	if w64 == nil {
		atomic.StoreUint32(&m.flags, flagNarrow)
	}
	if w64 == nil || self.Stamp == 0 {
		// The word cannot tell us from a predecessor with our Tag: see
		// registry.go.
		m.ent = register(w32, m.load()&^flagBits == m.self)
		m.cleanup = runtime.AddCleanup(m, unregister, w32)
		if m.ent.inherited.Load() {
			atomic.OrUint32(&m.flags, flagMaybeInherited)
		}
	}
	return m
}

// load returns the word's logical value.
func (m *Mutex) load() uint64 {
	if m.w64 != nil {
		return fromMem(atomic.LoadUint64(m.w64))
	}
	return uint64(atomic.LoadUint32(m.w32))
}

// cas replaces the word's logical value old with new.
func (m *Mutex) cas(old, new uint64) bool {
	if m.w64 != nil {
		return atomic.CompareAndSwapUint64(m.w64, toMem(old), toMem(new))
	}
	return atomic.CompareAndSwapUint32(m.w32, uint32(old), uint32(new))
}

// Lock acquires the lock, waiting as long as necessary. It returns nil, or
// ErrOwnerDead with the lock held if the previous holder died holding it,
// or an error wrapping fs.ErrClosed without the lock once Close was called.
func (m *Mutex) Lock() error {
	// Small enough to inline: the uncontended path is a load of the
	// in-process flags and one compare-and-swap (in 32-bit mode, in
	// lockSlow).
	if atomic.LoadUint32(&m.flags) == 0 && atomic.CompareAndSwapUint64(m.w64, 0, m.selfMem) {
		return nil
	}
	return m.lockSlow(nil)
}

// LockContext is like Lock but gives up when ctx is done, returning
// ctx.Err() without the lock. A ctx that is already done always fails. A
// waiter notices a deadline on time, and a cancellation within 20 ms (it
// has no registration with ctx to be woken by; see the package
// documentation).
func (m *Mutex) LockContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if atomic.LoadUint32(&m.flags) == 0 && atomic.CompareAndSwapUint64(m.w64, 0, m.selfMem) {
		return nil
	}
	return m.lockSlow(ctx)
}

// TryLock acquires the lock if it can without waiting. It returns
// (false, nil) if another holder is alive (including another goroutine of
// this process), (true, nil) on success, and (true, ErrOwnerDead) if it took
// the lock over from a dead holder. A failed TryLock asks the identity
// whether the holder is dead (with the default identity: kill(2) and, on
// Linux, a read of /proc). TryLock takes a free lock even when a starving
// waiter has forbidden barging: it never waits, so it could never get a
// turn of its own.
func (m *Mutex) TryLock() (bool, error) {
	if atomic.LoadUint32(&m.flags) == 0 && atomic.CompareAndSwapUint64(m.w64, 0, m.selfMem) {
		return true, nil
	}
	return m.tryLockSlow()
}

// Unlock releases the lock. It returns an error wrapping ErrNotHeld, and
// leaves the word alone, if this process does not hold the lock, and an
// error wrapping fs.ErrClosed once Close was called.
func (m *Mutex) Unlock() error {
	if atomic.LoadUint32(&m.flags) == 0 && atomic.CompareAndSwapUint64(m.w64, m.selfMem, 0) {
		return nil
	}
	return m.unlockSlow()
}

// Holder returns who holds the lock now (Tag 0: nobody), or the zero
// Holder once Close was called.
func (m *Mutex) Holder() Holder {
	if atomic.LoadUint32(&m.flags)&flagClosed != 0 {
		return Holder{}
	}
	return holderOf(m.load())
}

// Close ends this handle's use of the word, so that the memory can be
// unmapped: it wakes this process's goroutines waiting in Lock or
// LockContext on it (with one futex wake of every sleeper on the word;
// other processes' waiters re-check and sleep again) and returns when none
// is waiting any more; they return an error wrapping fs.ErrClosed. Later
// calls of every method return such an error (Holder: the zero Holder)
// without touching the word. Close does not release a lock this process
// holds.
//
// Close waits only for goroutines inside Lock's wait. A call that has not
// started waiting when Close begins (a Lock or TryLock on its way to the
// word, an Unlock) may still touch the word: the caller must not unmap the
// word while such calls can run, as with any memory.
func (m *Mutex) Close() {
	if atomic.OrUint32(&m.flags, flagClosed)&flagClosed == 0 && m.ent != nil {
		m.cleanup.Stop()
		unregister(m.w32)
	}
	for d := 20 * time.Microsecond; m.waiting.Load() != 0; d = min(2*d, time.Millisecond) {
		// Again and again: a waiter that checked the flag just before we
		// set it misses a wake-up that comes before its futex(2) call.
		futexWake(m.w32, maxWake)
		time.Sleep(d)
	}
}

// unlockSlow is Unlock when the fast path's compare-and-swap failed: flags
// are set (waiters, starving), this handle is closed or may be an heir, or
// the lock is not ours.
//
//go:noinline
func (m *Mutex) unlockSlow() error {
	if atomic.LoadUint32(&m.flags) == flagNarrow && atomic.CompareAndSwapUint32(m.w32, uint32(m.self), 0) {
		return nil // the fast path of 32-bit mode
	}
	return m.unlockFlags()
}

// unlockFlags is Unlock when flag bits are set in the word or the Mutex.
func (m *Mutex) unlockFlags() error {
	if err := m.checkFlags(); err != nil {
		return err
	}
	for {
		v := m.load()
		if v&^flagBits != m.self {
			return notHeld(holderOf(v), m.pids)
		}
		// Keep the starving bit: the next Lock of a waiter that is not
		// starving, ours included, must let the starving one in.
		if m.cas(v, v&starvingBit) {
			if v&waitersBit != 0 {
				if v&starvingBit != 0 {
					// Wake a starving waiter, the one that has slept
					// longest (the kernel's queue is FIFO), and no other:
					// the others may not take the lock and would only
					// sleep again.
					futexWakeKind(m.w32, 1, sleepStarving)
				} else {
					futexWake(m.w32, 1)
				}
			}
			return nil
		}
		// Only waiters setting flag bits change a held word under its
		// holder (a live holder's lock is never taken over): retry.
	}
}

// checkFlags handles the in-process flags on a slow path: closed, and an
// inheritance (registry.go) that may have ended.
func (m *Mutex) checkFlags() error {
	f := atomic.LoadUint32(&m.flags)
	if f&flagClosed != 0 {
		return errClosed
	}
	if f&flagMaybeInherited != 0 {
		if m.ent.inherited.Load() {
			// The word shows our identity, left by a predecessor:
			// this process never took the lock.
			return m.inheritedNotHeld()
		}
		atomic.AndUint32(&m.flags, ^uint32(flagMaybeInherited))
	}
	return nil
}

// inheritedNotHeld is Unlock's error while the word still shows the
// predecessor whose identity we share.
func (m *Mutex) inheritedNotHeld() error {
	v := m.load()
	if v&^flagBits != m.self {
		m.ent.inherited.CompareAndSwap(true, false)
		return notHeld(holderOf(v), m.pids)
	}
	return fmt.Errorf("%w (held by a dead process with the same identity, tag %d; Lock recovers it)", ErrNotHeld, tagOf(v))
}

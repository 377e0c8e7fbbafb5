package lock

import (
	"context"
	"fmt"
	"os"
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
	word *uint32
	pid  uint32 // os.Getpid() at New

	fp    *uint64 // nil: no fingerprint
	fpVal uint64  // our own fingerprint, stored in *fp while we hold the lock

	staleAfter time.Duration
	backoff    bool // never sleep in futex(2)
}

type config struct {
	staleAfter time.Duration
	fp         *uint64
	backoff    bool
}

// An Option configures a Mutex in New.
type Option func(*config)

// WithStaleAfter sets how long a waiter waits before it checks whether the
// holder is alive, and how often it checks again while it keeps waiting.
// Values ≤ 0 select DefaultStaleAfter.
func WithStaleAfter(d time.Duration) Option {
	return func(c *config) { c.staleAfter = d }
}

// WithFingerprint names an 8-byte-aligned word in the same shared memory
// where the holder records its PID and start time, so that waiters can tell
// a dead holder whose PID was given to a new process. All users of a lock
// word should agree on using it. A nil fp disables the fingerprint; so does a
// system where the start time of a process is not available (only Linux
// provides it here).
func WithFingerprint(fp *uint64) Option {
	return func(c *config) { c.fp = fp }
}

// WithBackoff makes waiters spin and then sleep with exponential backoff
// instead of sleeping in futex(2). This is the only mode on systems other
// than Linux. Waiters in both modes can share a word.
func WithBackoff() Option {
	return func(c *config) { c.backoff = true }
}

// New returns a Mutex over word, which must be 4-byte aligned and live in
// memory shared by all users (MAP_SHARED). New panics if word is nil or
// misaligned, or if the PID does not fit the word.
func New(word *uint32, opts ...Option) *Mutex {
	if word == nil || uintptr(unsafe.Pointer(word))%4 != 0 {
		panic("lock: New: lock word is nil or not 4-byte aligned")
	}
	c := config{staleAfter: DefaultStaleAfter}
	for _, o := range opts {
		o(&c)
	}
	if c.staleAfter <= 0 {
		c.staleAfter = DefaultStaleAfter
	}
	pid := os.Getpid()
	if pid <= 0 || pid > pidMask {
		panic(fmt.Sprintf("lock: New: pid %d does not fit in 30 bits", pid))
	}
	m := &Mutex{word: word, pid: uint32(pid), staleAfter: c.staleAfter, backoff: c.backoff}
	if c.fp != nil {
		if uintptr(unsafe.Pointer(c.fp))%8 != 0 {
			panic("lock: WithFingerprint: word not 8-byte aligned")
		}
		if _, start, ok := procStat(pid); ok {
			m.fp, m.fpVal = c.fp, fingerprint(pid, start)
		}
	}
	return m
}

// Lock acquires the lock, waiting as long as necessary. It returns nil, or
// ErrOwnerDead with the lock held if the previous holder died holding it.
func (m *Mutex) Lock() error {
	// Small enough to inline: the uncontended path is this one CAS.
	if m.fp == nil && atomic.CompareAndSwapUint32(m.word, 0, m.pid) {
		return nil
	}
	return m.lock(context.Background())
}

// LockContext is like Lock but gives up when ctx is done, returning
// ctx.Err() without the lock. A ctx that is already done always fails.
func (m *Mutex) LockContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.lock(ctx)
}

func (m *Mutex) lock(ctx context.Context) error {
	if atomic.CompareAndSwapUint32(m.word, 0, m.pid) {
		return m.acquired(nil)
	}
	return m.lockSlow(ctx)
}

// TryLock acquires the lock if it can without waiting. It returns
// (false, nil) if another holder is alive (including another goroutine of
// this process), (true, nil) on success, and (true, ErrOwnerDead) if it took
// the lock over from a dead holder. A failed TryLock costs a kill(2) probe.
func (m *Mutex) TryLock() (bool, error) {
	if atomic.CompareAndSwapUint32(m.word, 0, m.pid) {
		return true, m.acquired(nil)
	}
	for range 4 { // a retry only follows a change of the word
		w := atomic.LoadUint32(m.word)
		if w&pidMask == 0 {
			if atomic.CompareAndSwapUint32(m.word, w, m.pid|w&waitersBit) {
				return true, m.acquired(nil)
			}
			continue
		}
		if !m.ownerDead(w, nil) {
			return false, nil
		}
		if atomic.CompareAndSwapUint32(m.word, w, stolen(m.pid, w)) {
			return true, m.acquired(&OwnerDeadError{PID: HolderPID(w)})
		}
	}
	return false, nil
}

// Unlock releases the lock. It returns an error wrapping ErrNotHeld, and
// leaves the word alone, if this process does not hold the lock.
func (m *Mutex) Unlock() error {
	// Fast path: held by us, nobody asleep, no fingerprint to clear.
	if m.fp == nil && atomic.CompareAndSwapUint32(m.word, m.pid, 0) {
		return nil
	}
	return m.unlockSlow()
}

// stolen is the word with which pid takes the lock over from the dead
// holder recorded in w. Where waiters sleep in futex(2) it carries the
// waiters bit even if w does not: the dead holder may have taken the lock
// after a woken waiter's wake-up, leaving older sleepers that only an
// Unlock that sees the bit will wake. Without it they would sleep until
// their stale check, however long WithStaleAfter made that.
func stolen(pid, w uint32) uint32 {
	if haveFutex {
		return pid | waitersBit
	}
	return pid | w&waitersBit
}

// Holder returns the PID of the process holding the lock, 0 if it is free.
func (m *Mutex) Holder() int { return HolderPID(atomic.LoadUint32(m.word)) }

// acquired finishes every successful acquisition and passes err through.
func (m *Mutex) acquired(err error) error {
	if m.fp != nil {
		atomic.StoreUint64(m.fp, m.fpVal)
	}
	return err
}

func (m *Mutex) unlockSlow() error {
	w := atomic.LoadUint32(m.word)
	if w&pidMask != m.pid {
		return fmt.Errorf("%w (holder pid %d)", ErrNotHeld, HolderPID(w))
	}
	if m.fp != nil {
		// Clear before releasing: once the word is 0 a new holder may
		// store its own fingerprint, which we must not erase.
		atomic.StoreUint64(m.fp, 0)
	}
	for {
		// Only a waiter setting the waiters bit can change the word under
		// us (nobody else may release or steal a live holder's lock).
		if atomic.CompareAndSwapUint32(m.word, w, 0) {
			if w&waitersBit != 0 {
				futexWake(m.word, 1)
			}
			return nil
		}
		w = atomic.LoadUint32(m.word)
		if w&pidMask != m.pid {
			return fmt.Errorf("%w (holder pid %d)", ErrNotHeld, HolderPID(w))
		}
	}
}

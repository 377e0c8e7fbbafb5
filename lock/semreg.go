package lock

import (
	"sync"
	"sync/atomic"
)

// Where the identity cannot tell this process from a dead predecessor with
// the same Tag (32-bit units, or a Stamp of 0: the default identity on
// systems without /proc), a unit that shows our identity may be ours or
// the predecessor's. As for a Mutex (registry.go), what the process knows
// is what it took itself: the units that show our identity when the
// process makes its first Semaphore over the memory are a predecessor's.
// The process counts them (inherited: recovered by its waiters with
// ErrOwnerDead, once each) and the units it takes and releases (held:
// Release with none held says ErrNotHeld). The units look alike, so only
// the counts matter.
//
// The count taken when the first Semaphore is made can be too high: a
// waiter of another process may have judged the predecessor dead (its PID
// named no process) just before the PID was given to this process, and
// take the unit over after the count. So a recovery counts again, and
// recovers only while more units show our identity than the process
// holds. For that count to be exact, what changes which units show our
// identity (taking, releasing, recovering) is serialized in the process
// (mu) while any inherited unit is left; once none is, nothing needs it.
// What is left is the window of a 32-bit Mutex word (doc.go): a waiter
// whose compare-and-swap comes after the recovery, from the value it
// judged, takes the unit from this process.

// semKey names a semaphore and an identity in this process.
type semKey struct {
	addr *uint32 // the semaphore's notify word
	self uint64  // the identity's logical word value
}

// semEntry is what this process's Semaphores over one semKey share.
type semEntry struct {
	refs      int // under semRegistry.mu
	inherited atomic.Int32
	held      atomic.Int32
	mu        sync.Mutex // while inherited > 0: taking, releasing, recovering
}

// lock serializes a change of the units that show our identity while an
// inherited unit may be left (see above) and reports whether it did: the
// caller then unlocks mu. inherited only decreases, so a caller that
// finds it 0 needs no lock, nor does anyone after it.
func (e *semEntry) lock() bool {
	if e == nil || e.inherited.Load() <= 0 {
		return false
	}
	e.mu.Lock()
	return true
}

var semRegistry struct {
	mu sync.Mutex
	m  map[semKey]*semEntry
}

// semRegister adds a Semaphore; count counts the units that show our
// identity, for the first one.
func semRegister(k semKey, count func() int32) *semEntry {
	semRegistry.mu.Lock()
	defer semRegistry.mu.Unlock()
	e := semRegistry.m[k]
	if e == nil {
		if semRegistry.m == nil {
			semRegistry.m = make(map[semKey]*semEntry)
		}
		e = &semEntry{}
		e.inherited.Store(count())
		semRegistry.m[k] = e
	}
	e.refs++
	return e
}

// semUnregister drops a Semaphore (Close, or it was collected).
func semUnregister(k semKey) {
	semRegistry.mu.Lock()
	defer semRegistry.mu.Unlock()
	if e := semRegistry.m[k]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(semRegistry.m, k)
		}
	}
}

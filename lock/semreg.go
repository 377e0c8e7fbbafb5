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

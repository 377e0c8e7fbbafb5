package lock

import (
	"sync"
	"sync/atomic"
)

// Where a word cannot tell two holders with the same Tag apart (a 32-bit
// word, or a Stamp of 0), a word that shows this process's own identity may
// have been left by a dead process that had the same PID, or be held by
// this process through another Mutex. What the process knows is which
// words it has Mutexes over: a word that shows our identity when the
// process makes its first Mutex over that address was not locked by this
// process through that address, so its holder is a predecessor. The
// registry remembers those addresses; its entry's inherited flag stays set
// until a Mutex of this process takes the lock over (once) or sees the word
// in any other state.

// wordEntry is what the Mutexes of this process over one address share.
type wordEntry struct {
	refs      int         // live Mutexes over the address; under registry.mu
	inherited atomic.Bool // the word still shows a predecessor with our identity
}

var registry struct {
	mu    sync.Mutex
	words map[*uint32]*wordEntry
}

// register adds a Mutex over the state half at addr; shows tells whether
// the word now shows this process's identity.
func register(addr *uint32, shows bool) *wordEntry {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	e := registry.words[addr]
	if e == nil {
		if registry.words == nil {
			registry.words = make(map[*uint32]*wordEntry)
		}
		e = &wordEntry{}
		e.inherited.Store(shows)
		registry.words[addr] = e
	}
	e.refs++
	return e
}

// unregister drops a Mutex over addr (Close, or the Mutex was collected).
func unregister(addr *uint32) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if e := registry.words[addr]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(registry.words, addr)
		}
	}
}

package lock

// Word layout; see the package documentation. This file is pure logic.
//
// Inside the package a word's value is handled as a uint64 v whose low 32
// bits are the state half and whose high 32 bits are the stamp, whatever
// the byte order; toMem and fromMem convert to and from the value a 64-bit
// atomic sees in memory, where the state half is at the lower address.
// A 32-bit word is the state half alone (stamp 0).
const (
	tagMask     = MaxTag  // bits 0..29: the holder's Tag, 0 = unlocked
	waitersBit  = 1 << 30 // some process may sleep in futex(2) on the state half
	starvingBit = 1 << 31 // a waiter waited too long: no barging (see doc.go)
	flagBits    = waitersBit | starvingBit

	stampShift = 32
)

// MaxTag is the largest Tag a word can hold (30 bits).
const MaxTag = 1<<30 - 1

// pack is the logical value of a word held by h, with no flag bits.
func pack(h Holder) uint64 { return uint64(h.Tag) | uint64(h.Stamp)<<stampShift }

// holderOf is who holds a word of logical value v (Tag 0: nobody).
func holderOf(v uint64) Holder {
	return Holder{Tag: uint32(v) & tagMask, Stamp: uint32(v >> stampShift)}
}

func tagOf(v uint64) uint32 { return uint32(v) & tagMask }

// toMem converts a logical value to what a 64-bit atomic operation stores:
// on a big-endian machine the lower address holds the high half.
func toMem(v uint64) uint64 {
	if bigEndian {
		return v<<32 | v>>32
	}
	return v
}

// fromMem is the inverse of toMem (the same swap).
func fromMem(w uint64) uint64 { return toMem(w) }

// Split64 splits the value of a 64-bit lock word, as loaded from memory
// with sync/atomic or read in native byte order, into its state half (the
// 32 bits at the lower address, laid out as a 32-bit word) and the stamp.
func Split64(word uint64) (state, stamp uint32) {
	v := fromMem(word)
	return uint32(v), uint32(v >> stampShift)
}

// HolderPID returns the Tag of the holder recorded in a 32-bit word or
// state half (the PID with the default identity), or 0 if that value means
// unlocked.
func HolderPID(state uint32) int { return int(state & tagMask) }

// Waiters reports whether a 32-bit word or state half has the waiters bit
// set.
func Waiters(state uint32) bool { return state&waitersBit != 0 }

// Starving reports whether a 32-bit word or state half has the starving
// bit set: a waiter that waited too long forbids barging.
func Starving(state uint32) bool { return state&starvingBit != 0 }

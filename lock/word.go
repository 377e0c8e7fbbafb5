package lock

// Word layout; see the package documentation. This file is pure logic.
//
// Inside the package a word's value is handled as a uint64 v whose low 32
// bits are the state half and whose high 32 bits are the stamp, whatever
// the byte order; toMem and fromMem convert to and from the value a 64-bit
// atomic sees in memory, where the state half is at the lower address.
// A 32-bit word is the state half alone (stamp 0).
const (
	tagMask = MaxTag // bits 0..28: the holder's Tag, 0 = unlocked
	// narrowBit marks a holder that wrote the state half alone, with a
	// 32-bit compare-and-swap (New, or New64 where Atomic64 is false).
	// The other half of a 64-bit word then holds whatever stamp an
	// earlier 64-bit holder left there, which is nobody's evidence about
	// this one (see doc.go). A 64-bit writer writes Tag and Stamp with
	// one compare-and-swap, and the bit clear.
	narrowBit   = 1 << 29
	waitersBit  = 1 << 30 // some process may sleep in futex(2) on the state half
	starvingBit = 1 << 31 // a waiter waited too long: no barging (see doc.go)
	flagBits    = waitersBit | starvingBit

	stampShift = 32
)

// MaxTag is the largest Tag a word can hold (29 bits).
const MaxTag = 1<<29 - 1

// pack is the logical value of a word held by h, with no flag bits: in a
// 64-bit word (wide) the Tag and the Stamp; in a 32-bit word the Tag and
// the narrow bit.
func pack(h Holder, wide bool) uint64 {
	if !wide {
		return uint64(h.Tag) | narrowBit
	}
	return uint64(h.Tag) | uint64(h.Stamp)<<stampShift
}

// holderOf is who holds a word of logical value v (Tag 0: nobody). The
// other half is the holder's Stamp unless the narrow bit says that the
// holder wrote the state half alone: its Stamp is then 0, unknown, as in
// a 32-bit word.
func holderOf(v uint64) Holder {
	h := Holder{Tag: uint32(v) & tagMask}
	if v&narrowBit == 0 {
		h.Stamp = uint32(v >> stampShift)
	}
	return h
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
// 32 bits at the lower address, laid out as a 32-bit word) and the
// holder's stamp: the other half, or 0 if the state half's narrow bit
// says that a 32-bit writer, which cannot write the other half, holds it.
func Split64(word uint64) (state, stamp uint32) {
	v := fromMem(word)
	return uint32(v), holderOf(v).Stamp
}

// HolderPID returns the Tag of the holder recorded in a 32-bit word or
// state half (the PID with the default identity), or 0 if that value means
// unlocked.
func HolderPID(state uint32) int { return int(state & tagMask) }

// Waiters reports whether a 32-bit word or state half has the waiters bit
// set.
func Waiters(state uint32) bool { return state&waitersBit != 0 }

// Narrow reports whether the holder recorded in a state half wrote it
// with a 32-bit compare-and-swap (New, or New64 where Atomic64 is false),
// so that the other half of a 64-bit word is not its stamp.
func Narrow(state uint32) bool { return state&narrowBit != 0 }

// Starving reports whether a 32-bit word or state half has the starving
// bit set: a waiter that waited too long forbids barging.
func Starving(state uint32) bool { return state&starvingBit != 0 }

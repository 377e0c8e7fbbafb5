package lock

// Word layout; see the package documentation. This file is pure logic.
const (
	pidMask    = 1<<30 - 1 // holder PID
	waitersBit = 1 << 30   // someone may sleep in futex(2) on the word
	// bit 31 is reserved.

	fpShift = 40 // fingerprint: PID<<fpShift | start&fpMask
	fpMask  = 1<<fpShift - 1
)

// HolderPID returns the PID of the process holding a lock whose word has the
// value word, or 0 if that value means unlocked.
func HolderPID(word uint32) int { return int(word & pidMask) }

// Waiters reports whether the word value has the waiters bit set.
func Waiters(word uint32) bool { return word&waitersBit != 0 }

// fingerprint packs a PID and its start time into a fingerprint word value.
func fingerprint(pid int, start uint64) uint64 {
	return uint64(pid)<<fpShift | start&fpMask
}

// reused reports whether the fingerprint fp proves that the process now
// running as pid (which started at start) is not the one that wrote fp.
// A fingerprint written by another PID (or not yet written, 0) proves
// nothing: the holder may simply not have stored its own yet.
func reused(fp uint64, pid int, start uint64) bool {
	return fp>>fpShift == uint64(pid) && fp&fpMask != start&fpMask
}

//go:build linux && !openbsdsim

package futex

import (
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether Sleep sleeps in futex(2) and Wake wakes it.
const Supported = true

// futex(2) operations. Deliberately not FUTEX_PRIVATE_FLAG: the words are
// shared between processes, and private futexes are keyed by mm.
const (
	wake       = 1  // FUTEX_WAKE: a Wake of every kind (as glibc's)
	waitBitset = 9  // FUTEX_WAIT_BITSET: absolute CLOCK_MONOTONIC timeout
	wakeBitset = 10 // FUTEX_WAKE_BITSET
)

// clock relates Go's monotonic time to CLOCK_MONOTONIC, which
// FUTEX_WAIT_BITSET's absolute timeouts use: Go reads the same clock, from
// an origin of its own. Measured at the first sleep, so that a sleep costs
// no extra system call.
var clock = sync.OnceValue(func() (c struct {
	mono int64
	at   time.Time
}) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	c.mono, c.at = ts.Nano(), time.Now()
	return c
})

// Sleep sleeps while *addr == val, until deadline at most (the zero Time:
// no limit), as a sleeper of kind bits (a nonzero bitset: a Wake reaches
// it if their bitsets share a bit; Any for every Wake). now is the
// caller's time.Now, read just before: Sleep uses it to keep the P (see
// keepP) without reading the clock itself.
//
// It returns with timedOut false on any wake-up the caller must simply
// re-check (woken, the word already changed, a signal, a spurious
// wake-up), timedOut true when the sleep lasted until deadline, and an
// error (the errno) only if futex(2) cannot be used at all (ENOSYS under
// some sandboxes): the caller should then poll.
//
// Where Supported is false, no wake-up comes: Sleep sleeps until deadline
// in time.Sleep, or returns at once if *addr != val, and callers bound
// deadline by their polling interval.
func Sleep(addr *uint32, val uint32, now, deadline time.Time, bits uint32) (timedOut bool, err error) {
	var ts *unix.Timespec
	if !deadline.IsZero() {
		c := clock()
		t := unix.NsecToTimespec(c.mono + deadline.Sub(c.at).Nanoseconds())
		ts = &t
	}
	keepP(now)
	// Syscall6, not RawSyscall6: the thread blocks, and the scheduler must
	// know it (a stop-the-world would otherwise wait for the sleep to end).
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), waitBitset,
		uintptr(val), uintptr(unsafe.Pointer(ts)), 0, uintptr(bits))
	switch e {
	case unix.ETIMEDOUT:
		return true, nil
	case 0, unix.EAGAIN, unix.EINTR:
		return false, nil
	}
	return false, e
}

// Wake wakes up to n sleepers on addr whose kind shares a bit with bits
// (Any: every sleeper) and returns how many it woke; 0 if futex(2) failed.
// A raw system call: FUTEX_WAKE never blocks, so the scheduler need not
// know.
func Wake(addr *uint32, n int, bits uint32) int {
	op := uintptr(wakeBitset)
	if bits == Any {
		op = wake
	}
	r, _, e := unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), op, uintptr(n), 0, 0, uintptr(bits))
	if e != 0 {
		return 0
	}
	return int(r)
}

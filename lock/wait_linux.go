//go:build linux && !openbsdsim

package lock

import (
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// haveFutex reports whether waiters sleep in futex(2).
const haveFutex = true

// futex(2) operations. Deliberately not FUTEX_PRIVATE_FLAG: the word is
// shared between processes, and private futexes are keyed by mm.
const (
	futexWaitOp       = 0  // FUTEX_WAIT: a sleeper of no particular kind
	futexWakeOp       = 1  // FUTEX_WAKE: any sleeper
	futexWaitBitsetOp = 9  // FUTEX_WAIT_BITSET: absolute CLOCK_MONOTONIC timeout
	futexWakeBitsetOp = 10 // FUTEX_WAKE_BITSET
)

// Sleepers tell the kernel which kind they are, so that Unlock can wake a
// starving waiter and no other (see doc.go).
const (
	sleepNormal   = 1
	sleepStarving = 2
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

// futexSleep sleeps while *addr == val, until deadline at most, as a sleeper
// of the given kind. It returns nil on any wake-up the caller must simply
// re-check (woken, EAGAIN: word changed, EINTR, ETIMEDOUT), timedOut true
// when the sleep lasted until the deadline, and the errno if futex(2)
// cannot be used at all.
func futexSleep(addr *uint32, val uint32, deadline time.Time, kind uint32) (timedOut bool, err error) {
	c := clock()
	ts := unix.NsecToTimespec(c.mono + deadline.Sub(c.at).Nanoseconds())
	// Syscall6, not RawSyscall6: the thread may block, so the Go scheduler
	// must see it enter a system call and hand its P to another thread.
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitBitsetOp,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, uintptr(kind))
	switch e {
	case unix.ETIMEDOUT:
		return true, nil
	case 0, unix.EAGAIN, unix.EINTR:
		return false, nil
	}
	return false, e
}

// futexWait sleeps while *addr == val, for at most d, as a sleeper of no
// particular kind (FUTEX_WAIT): any wake-up reaches it. Same results as
// futexSleep. The Mutex's waiters use futexSleep; this is for other words.
func futexWait(addr *uint32, val uint32, d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR, unix.ETIMEDOUT:
		return nil
	}
	return e
}

// futexWake wakes up to n sleepers on addr of any kind.
func futexWake(addr *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

// futexWakeKind wakes up to n sleepers on addr of the given kind.
func futexWakeKind(addr *uint32, n int, kind uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeBitsetOp, uintptr(n), 0, 0, uintptr(kind))
}

package lock

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// haveFutex reports whether waiters sleep in futex(2).
const haveFutex = true

// futex(2) operations. Deliberately not FUTEX_PRIVATE_FLAG: the word is
// shared between processes, and private futexes are keyed by mm.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait sleeps while *addr == val, for at most d. It returns nil on any
// wake-up the caller must simply re-check (woken, EAGAIN: word changed,
// EINTR, ETIMEDOUT) and the errno if futex(2) cannot be used at all.
func futexWait(addr *uint32, val uint32, d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	// Syscall6, not RawSyscall6: the thread may block, so the Go scheduler
	// must see it enter a system call and hand its P to another thread.
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR, unix.ETIMEDOUT:
		return nil
	}
	return e
}

// futexWake wakes up to n sleepers on addr.
func futexWake(addr *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

//go:build linux

package sem

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futex(2) operations, without FUTEX_PRIVATE_FLAG: the words are shared
// between processes, and private futexes are keyed by address space. The
// openbsdsim build uses these too, in place of OpenBSD's futex(2), which
// has the same two operations with the same meaning (a relative timeout,
// shared futexes keyed by the mapped object): see futex_openbsd.go.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait sleeps while *addr == val, for at most d. Every return means
// "look again": woken, the word changed (EAGAIN), a signal (EINTR), the
// timeout.
func futexWait(addr *uint32, val uint32, d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	// Syscall6, not RawSyscall6: the thread may block, so the scheduler
	// must see it enter a system call.
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return nil
}

// futexWake wakes up to n sleepers on addr, in any process.
func futexWake(addr *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

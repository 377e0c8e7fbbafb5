package sem

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenBSD's futex(2) (sys/kern/sys_futex.c) wakes waiters of other
// processes: a futex without FUTEX_PRIVATE_FLAG on a MAP_SHARED mapping of
// a file is keyed by the file's object and offset (futex_addrs), and libc's
// semaphores use exactly such futexes since lib/libc/thread/synch.h rev
// 1.10 (FUTEX_WAIT and FUTEX_WAKE; rev 1.3 had the private ones). So C's
// sem_wait sleeps in it and only a futex wake-up ends that sleep: a post
// from Go must make one. But Go reaches OpenBSD's system calls only
// through libc: since OpenBSD 7.5 (pinsyscalls) a system call made from
// anywhere but libc's own stub kills the process, syscall.Syscall answers
// ENOSYS for every number but two, and neither package syscall nor
// golang.org/x/sys/unix has a futex stub. So this file calls libc's futex
// through a trampoline of its own (futex_openbsd_*.s), the way x/sys calls
// every other libc function, and the runtime's syscall6, which switches to
// the system stack and reads errno. This is built for every OpenBSD
// architecture Go supports but has not been run on OpenBSD here; the
// openbsdsim build runs the same callers over Linux's futex(2).
const (
	futexWaitOp = 1 // FUTEX_WAIT
	futexWakeOp = 2 // FUTEX_WAKE
)

// futexWait sleeps while *addr == val, for at most d. Every return but
// errNoFutex means "look again". futex(2) reports errors as -1 and errno
// since sys_futex.c rev 1.12, and as a positive return value before; either
// way only ENOSYS (a kernel without futex(2), before OpenBSD 6.2) matters.
func futexWait(addr *uint32, val uint32, d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	r, _, e := syscall_syscall6(libc_futex_trampoline_addr, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	if e == syscall.ENOSYS || r == uintptr(syscall.ENOSYS) {
		return errNoFutex
	}
	return nil
}

// futexWake wakes up to n sleepers on addr, in any process.
func futexWake(addr *uint32, n int) {
	syscall_syscall6(libc_futex_trampoline_addr, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

// Implemented in the runtime package (runtime/sys_openbsd3.go): calls fn
// on the system stack as a system call, returning errno when it fails.
//
//go:linkname syscall_syscall6 syscall.syscall6
func syscall_syscall6(fn, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)

var libc_futex_trampoline_addr uintptr

//go:cgo_import_dynamic libc_futex futex "libc.so"

//go:build linux && !openbsdsim

package lock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// futexWakeN wakes up to n sleepers on addr (FUTEX_WAKE, shared, as
// futexWake) and returns how many it woke; 0 if futex(2) failed. A raw
// system call: FUTEX_WAKE never blocks, so the scheduler need not know.
func futexWakeN(addr *uint32, n int) int {
	r, _, e := unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
	if e != 0 {
		return 0
	}
	return int(r)
}

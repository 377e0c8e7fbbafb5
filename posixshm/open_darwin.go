package posixshm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// macOS keeps shared memory objects in the kernel. libSystem's shm_open
// is variadic, which a cgo-free package cannot call without assembly, so
// we make the system call it wraps, SYS_shm_open (266) and SYS_shm_unlink
// (267) in xnu's bsd/kern/syscalls.master: its wrapper only fetches the
// mode from the variadic arguments. Go's syscall.Syscall traps directly
// on darwin; Apple does not promise a stable system call interface, but
// these numbers have not changed since Mac OS X 10.0.
var native Layout = kernelObjects{check: darwinCheckName, open: darwinOpen, unlink: darwinUnlink}

// darwinOpen is shm_open. The kernel sets close-on-exec on every
// descriptor it returns (UF_EXCLOSE in posix_shm.c) and checks the flags
// itself.
func darwinOpen(name *byte, flag int, perm uint32) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_SHM_OPEN, uintptr(unsafe.Pointer(name)), uintptr(flag), uintptr(perm))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func darwinUnlink(name *byte) error {
	if _, _, e := unix.Syscall(unix.SYS_SHM_UNLINK, uintptr(unsafe.Pointer(name)), 0, 0); e != 0 {
		return e
	}
	return nil
}

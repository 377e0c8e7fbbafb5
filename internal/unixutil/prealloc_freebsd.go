package unixutil

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// preallocate reserves the first size bytes of fd with posix_fallocate(2),
// a chunk at a time; see Preallocate. That system call returns its error
// as its result and leaves errno alone. Its 64-bit arguments take two
// words each (and a pad on arm) on 32-bit systems: there it is not called,
// and Preallocate writes zeros instead.
func preallocate(fd int, size int64) error {
	if unsafe.Sizeof(uintptr(0)) < 8 {
		return syscall.ENOSYS
	}
	for off := int64(0); off < size; off += preallocChunk {
		n := min(preallocChunk, size-off)
		err := IgnoringEINTR(func() error {
			r, _, errno := unix.Syscall(unix.SYS_POSIX_FALLOCATE, uintptr(fd), uintptr(off), uintptr(n))
			switch {
			case errno != 0:
				return errno
			case r != 0:
				return syscall.Errno(r)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

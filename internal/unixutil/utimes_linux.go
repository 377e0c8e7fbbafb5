//go:build linux && !openbsdsim

package unixutil

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futimesNow sets fd's access and modification times to now. It calls
// utimensat(fd, NULL, NULL, 0) directly (futimens), because x/sys's Futimes
// on Linux goes through a /proc/self/fd path, which allocates and needs /proc.
func futimesNow(fd int) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, 0, 0, 0, 0)
	if e != 0 {
		return syscall.Errno(e)
	}
	return nil
}

// SetAtime sets fd's access time to atime and leaves its modification time
// as it is: futimens(fd, {atime, UTIME_OMIT}). mtime, which other systems
// must set along, is not used here.
func SetAtime(fd int, atime, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), {Nsec: unix.UTIME_OMIT}}
	return IgnoringEINTR(func() error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return syscall.Errno(e)
		}
		return nil
	})
}

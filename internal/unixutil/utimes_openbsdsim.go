//go:build linux && openbsdsim

package unixutil

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The openbsdsim build runs OpenBSD's glue on Linux. OpenBSD sets a
// descriptor's times with futimes(2), a system call Linux lacks (x/sys's
// Futimes on Linux goes through /proc/self/fd, which a pledged OpenBSD
// process could not read), so this file stands in for it with
// utimensat(fd, NULL, times, 0) given futimes's arguments: both times, to
// the microsecond, or both now. Everything else in this package is the
// code OpenBSD runs (utimes_other.go's comments apply).

func futimesNow(fd int) error { return futimes(fd, nil) }

func SetAtime(fd int, atime, mtime time.Time) error {
	tv := []unix.Timeval{unix.NsecToTimeval(atime.UnixNano()), unix.NsecToTimeval(mtime.UnixNano())}
	return IgnoringEINTR(func() error { return futimes(fd, tv) })
}

// futimes is futimes(2): tv nil means now, else [atime, mtime].
func futimes(fd int, tv []unix.Timeval) error {
	var p unsafe.Pointer
	var ts [2]unix.Timespec
	if tv != nil {
		for i := range ts {
			ts[i] = unix.NsecToTimespec(tv[i].Nano())
		}
		p = unsafe.Pointer(&ts[0])
	}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(p), 0, 0, 0)
	if e != 0 {
		return syscall.Errno(e)
	}
	return nil
}

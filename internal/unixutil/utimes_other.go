//go:build unix && !linux

package unixutil

import (
	"time"

	"golang.org/x/sys/unix"
)

// futimesNow sets fd's access and modification times to now: futimes(fd, NULL).
func futimesNow(fd int) error { return unix.Futimes(fd, nil) }

// SetAtime sets fd's access time to atime, and its modification time to
// mtime, which should be the one it has: x/sys has no futimens (nor
// UTIME_OMIT) on every system, only futimes, which sets both, to the
// microsecond.
func SetAtime(fd int, atime, mtime time.Time) error {
	tv := []unix.Timeval{unix.NsecToTimeval(atime.UnixNano()), unix.NsecToTimeval(mtime.UnixNano())}
	return IgnoringEINTR(func() error { return unix.Futimes(fd, tv) })
}

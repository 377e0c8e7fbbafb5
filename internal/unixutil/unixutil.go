// Package unixutil holds the small system-call helpers that package posixshm
// and package segment both need: EINTR retries, fstat, futimens and
// O_NOATIME. It is internal: its API may change with its two users.
package unixutil

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// IgnoringEINTR retries fn while it fails with EINTR. Go installs its signal
// handlers with SA_RESTART, but some systems still return EINTR from calls
// that can block (open of a FIFO, for one), as the os package also notes.
func IgnoringEINTR(fn func() error) error {
	for {
		err := fn()
		if err != syscall.EINTR {
			return err
		}
	}
}

// IgnoringEINTR2 is IgnoringEINTR for a call that also returns a value.
func IgnoringEINTR2[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != syscall.EINTR {
			return v, err
		}
	}
}

// Fstat is fstat(2), retried on EINTR.
func Fstat(fd int, st *unix.Stat_t) error {
	return IgnoringEINTR(func() error { return unix.Fstat(fd, st) })
}

// Touch sets fd's access and modification times to now, as futimes(fd,
// NULL) does, retried on EINTR.
func Touch(fd int) error {
	return IgnoringEINTR(func() error { return futimesNow(fd) })
}

func nop() {}

// NoTmpfile makes OpenTmpfile fail as if O_TMPFILE were not available, so
// that tests run on Linux the temporary-name path that other systems take.
var NoTmpfile bool

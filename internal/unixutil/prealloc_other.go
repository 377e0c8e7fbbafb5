//go:build unix && !freebsd && (!linux || openbsdsim)

package unixutil

import "syscall"

// preallocate has no system call to make here (OpenBSD, NetBSD, DragonFly,
// illumos, macOS; and the openbsdsim build, which runs OpenBSD's code):
// Preallocate writes zeros instead.
func preallocate(fd int, size int64) error { return syscall.ENOSYS }

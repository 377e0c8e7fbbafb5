//go:build unix && (!linux || openbsdsim)

package inode

import "golang.org/x/sys/unix"

// POSIX record locks: OpenBSD's only kind (and the openbsdsim build's),
// which the kernel drops when any descriptor of the file is closed (see
// the package documentation).
const (
	cmdSetLk = unix.F_SETLK
	cmdGetLk = unix.F_GETLK
)

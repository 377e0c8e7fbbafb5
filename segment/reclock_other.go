//go:build unix && (!linux || openbsdsim)

package segment

import "golang.org/x/sys/unix"

// POSIX record locks (OpenBSD has no other kind; the openbsdsim build tag
// selects them on Linux too). They belong to the process, and the kernel
// drops ALL of a process's locks on a file when ANY of its descriptors of
// that file is closed: hence one shared descriptor per file and process
// (attach.go), and the warning in the package documentation.
const (
	cmdSetLk = unix.F_SETLK
	cmdGetLk = unix.F_GETLK
)

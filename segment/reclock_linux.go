//go:build linux && !openbsdsim

package segment

import "golang.org/x/sys/unix"

// Linux: open file description locks. They belong to the open file
// description, not to the process, so closing another descriptor of the
// same file does not drop them (POSIX record locks have that trap; see
// reclock_other.go), and they conflict between descriptions of one process
// too. The package still keeps one descriptor per file and process, so
// that the same code runs here as on OpenBSD.
const (
	cmdSetLk = unix.F_OFD_SETLK
	cmdGetLk = unix.F_OFD_GETLK
)

//go:build linux && !openbsdsim

package inode

import "golang.org/x/sys/unix"

// Linux: open file description locks, as package segment takes.
const (
	cmdSetLk = unix.F_OFD_SETLK
	cmdGetLk = unix.F_OFD_GETLK
)

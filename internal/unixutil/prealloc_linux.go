//go:build linux && !openbsdsim

package unixutil

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// preallocate reserves the first size bytes of fd with fallocate(2) (mode
// 0: allocate, keep the size): in one call, or after a signal interrupted
// it, a chunk at a time; see Preallocate.
func preallocate(fd int, size int64) error {
	if err := unix.Fallocate(fd, 0, 0, size); err != syscall.EINTR {
		return err
	}
	for off := int64(0); off < size; off += preallocChunk {
		n := min(preallocChunk, size-off)
		if err := IgnoringEINTR(func() error { return unix.Fallocate(fd, 0, off, n) }); err != nil {
			return err
		}
	}
	return nil
}

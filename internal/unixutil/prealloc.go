package unixutil

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Preallocate reserves storage for the first size bytes of the file fd,
// whose size is at least that already and whose bytes there are all
// zeros (a file just sized with ftruncate), so that storing into them
// through a mapping can no longer fault for want of space: a shortage is
// ENOSPC (or EDQUOT) now, from this call, instead of SIGBUS later. Where
// the system has a call for it, that call does it (Linux fallocate(2),
// FreeBSD posix_fallocate(2); see preallocate in the per-system files);
// where it has none, or the file system refuses it, Preallocate writes a
// zero byte into every block, as glibc's posix_fallocate does when
// fallocate(2) is not supported: the file's contents do not change, and
// every block is then allocated, except where the file system stores
// zeros as holes (ZFS with compression on; and as a copy-on-write file
// system, ZFS needs new blocks at every later write in any case). It
// reports which way it took.
//
// A size larger than the file system's free space is ENOSPC at once,
// before anything is allocated: reserving what cannot be had would take
// all the memory a tmpfs has left (and then give it back) on the way.
func Preallocate(fd int, size int64) (byWrites bool, err error) {
	if size <= 0 {
		return false, nil
	}
	if sp, err := FreeSpace(fd); err == nil && sp.Total > 0 && size > sp.Free && !NoSpaceCheck {
		return false, syscall.ENOSPC
	}
	err = preallocate(fd, size)
	// No such call, or not on this file system (ENOTSUP is EOPNOTSUPP on
	// some systems, not on others). EINVAL is how FreeBSD's ZFS says so
	// (the arguments here are always valid).
	if err == syscall.ENOSYS || err == syscall.EOPNOTSUPP || err == syscall.ENOTSUP || err == syscall.EINVAL {
		return true, writeZeros(fd, size)
	}
	return false, err
}

// preallocChunk is how much one fallocate(2) call reserves once a call
// for the whole file was interrupted by a signal (EINTR, which undoes the
// call's work on tmpfs): then a signal costs at most this much work again,
// so that a large reservation always finishes.
const preallocChunk = 64 << 20

// NoSpaceCheck makes Preallocate skip its comparison with the free space,
// so that tests see the reservation itself fail.
var NoSpaceCheck bool

// writeZeros writes a zero byte at the start of every block of the first
// size bytes of fd, and at its last byte. A block is the file's st_blksize,
// at most a page: tmpfs allocates pages, other file systems blocks.
func writeZeros(fd int, size int64) error {
	var st unix.Stat_t
	if err := Fstat(fd, &st); err != nil {
		return err
	}
	step := int64(unix.Getpagesize())
	if bs := int64(st.Blksize); bs >= 512 && bs < step {
		step = bs
	}
	zero := []byte{0}
	for off := int64(0); ; off += step {
		if off >= size {
			off = size - 1 // the last block, which may be partial
		}
		if _, err := IgnoringEINTR2(func() (int, error) { return unix.Pwrite(fd, zero, off) }); err != nil {
			return err
		}
		if off == size-1 {
			return nil
		}
	}
}

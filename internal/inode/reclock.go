package inode

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// The record locks of creation (the creation lock of posixshm's new
// objects), with the commands package segment uses for its attachments:
// open file description locks on Linux, POSIX record locks elsewhere and
// with -tags openbsdsim (reclock_linux.go, reclock_other.go).

// TryLock takes a write lock on the byte at off without waiting, and
// reports whether it got it: false if another process (another open file
// description, on Linux) holds a lock on it.
func TryLock(fd int, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: off, Len: 1}
	err := unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLk, &lk) })
	if err == syscall.EAGAIN || err == syscall.EACCES {
		return false, nil
	}
	return err == nil, err
}

// Unlock drops this process's lock on the byte at off.
func Unlock(fd int, off int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart, Start: off, Len: 1}
	return unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdSetLk, &lk) })
}

// Locked reports whether another process (another open file
// description, on Linux) holds a write lock on the byte at off. It asks
// F_GETLK about a read lock, which only a write lock conflicts with, so
// that whoever may read the file cannot fake a creator with a read lock.
// A process's own POSIX locks are never reported to it: see Creating.
func Locked(fd int, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: off, Len: 1}
	if err := unixutil.IgnoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmdGetLk, &lk) }); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

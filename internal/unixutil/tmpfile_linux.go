//go:build linux && !openbsdsim

package unixutil

import (
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// How LinkTmpfile links, once known: linkat(2) of the descriptor itself
// with AT_EMPTY_PATH where the kernel lets this process (it needs
// CAP_DAC_READ_SEARCH), else of /proc/self/fd/N, which any process may
// link if it has /proc; or not at all.
const (
	linkUnknown = iota
	linkEmptyPath
	linkProc
	linkNone
)

var linkHow atomic.Int32

// OpenTmpfile opens a new regular file in the directory dir that no name
// leads to (open(2) with O_TMPFILE, for reading and writing, close on
// exec), created with mode less the umask. LinkTmpfile names it later.
//
// It fails with ENOTSUP where there is no such file to be had: a file
// system that refuses O_TMPFILE (EOPNOTSUPP; EISDIR from kernels before
// 3.11, which take the flag for O_DIRECTORY), a process that could not
// link one (no CAP_DAC_READ_SEARCH and no /proc: a chroot, the pledge
// simulation), or NoTmpfile set. Callers then create the file under a
// temporary name instead.
func OpenTmpfile(dir string, mode uint32) (int, error) {
	if NoTmpfile {
		return -1, syscall.ENOTSUP
	}
	switch linkHow.Load() {
	case linkNone:
		return -1, syscall.ENOTSUP
	case linkUnknown:
		// Without /proc, only CAP_DAC_READ_SEARCH could link the file,
		// which a chroot or sandbox without /proc seldom leaves: use
		// temporary names there.
		if unix.Access("/proc/self/fd", unix.X_OK) != nil {
			linkHow.Store(linkNone)
			return -1, syscall.ENOTSUP
		}
	}
	fd, err := IgnoringEINTR2(func() (int, error) {
		return unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, mode)
	})
	switch err {
	case nil:
		return fd, nil
	case syscall.EOPNOTSUPP, syscall.EISDIR, syscall.EINVAL:
		return -1, syscall.ENOTSUP
	}
	return -1, err
}

// LinkTmpfile gives the file fd, from OpenTmpfile, the name base in the
// directory dirfd (AT_FDCWD: base is a path), failing with EEXIST if the
// name exists, as link(2) does. The first call finds out how this process
// may link (see linkHow): with AT_EMPTY_PATH if it can, a system call
// cheaper than the lookup of /proc/self/fd/N.
func LinkTmpfile(fd, dirfd int, base string) error {
	for {
		switch how := linkHow.Load(); how {
		case linkEmptyPath, linkUnknown:
			err := IgnoringEINTR(func() error { return unix.Linkat(fd, "", dirfd, base, unix.AT_EMPTY_PATH) })
			if err != syscall.ENOENT && err != syscall.EPERM {
				if err == nil {
					linkHow.CompareAndSwap(linkUnknown, linkEmptyPath)
				}
				return err
			}
			// Without CAP_DAC_READ_SEARCH (never had it, or dropped
			// it): ENOENT (EPERM from some kernels), as for a missing
			// directory, which /proc's link reports again. Through
			// /proc from now on.
			linkHow.CompareAndSwap(how, linkProc)
		case linkProc:
			// The magic link, followed (AT_SYMLINK_FOLLOW), leads to
			// the file, which any process may link.
			return IgnoringEINTR(func() error {
				return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, base, unix.AT_SYMLINK_FOLLOW)
			})
		default:
			return syscall.ENOTSUP
		}
	}
}

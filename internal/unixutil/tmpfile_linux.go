//go:build linux && !openbsdsim

package unixutil

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenTmpfile opens a new regular file in the directory dir that no name
// leads to (open(2) with O_TMPFILE, for reading and writing, close on
// exec), created with mode less the umask. LinkTmpfile names it later.
//
// It fails with ENOTSUP where there is no such file to be had: a file
// system that refuses O_TMPFILE (EOPNOTSUPP; EISDIR from kernels before
// 3.11, which take the flag for O_DIRECTORY), no /proc/self/fd to link it
// from, or NoTmpfile set. Callers then create the file under a temporary
// name instead.
func OpenTmpfile(dir string, mode uint32) (int, error) {
	if NoTmpfile {
		return -1, syscall.ENOTSUP
	}
	// Without /proc (a chroot, the pledge simulation) the file could
	// not be linked: an unprivileged linkat needs it.
	if err := unix.Access("/proc/self/fd", unix.X_OK); err != nil {
		return -1, syscall.ENOTSUP
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
// name exists, as link(2) does. It links /proc/self/fd/N, following that
// magic link (AT_SYMLINK_FOLLOW), as any user may; linkat of fd itself
// with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
func LinkTmpfile(fd, dirfd int, base string) error {
	return IgnoringEINTR(func() error {
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, base, unix.AT_SYMLINK_FOLLOW)
	})
}

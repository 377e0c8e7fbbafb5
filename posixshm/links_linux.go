//go:build linux && !openbsdsim

package posixshm

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// onlyName checks that base in dirfd was a name of fd's file, st, when
// fstat(2) showed it one link, in a directory where others may remove
// names. A lookup cannot tell on Linux: unlink(2) drops the link count
// before it removes the name from the dentry cache, where lookups still
// find it meanwhile, so a name being removed looks like the file's only
// one. (Measured: with a process linking and unlinking another file at the
// path in a loop, a check by lstat(2) still accepted 1 open in 300 to 600;
// this one accepted none in 8 million.)
//
// unlink(2) holds the directory's lock until the name is gone from the
// cache, and a name removed from the cache while we hold the file open
// (through that very cache entry) shows as " (deleted)" in /proc/self/fd.
// So: renameat2 of base onto itself with RENAME_NOREPLACE, a lookup under
// the directory's lock that changes nothing (EEXIST), waits out any
// removal that had begun; if /proc/self/fd still shows the name after
// that, it was never removed, so it was a real name of the file when
// fstat(2) counted one link, and so the file's only name.
//
// Without /proc, or where renameat2 is refused, it falls back to the
// lookup of sameOnlyName, which narrows the race without closing it.
func onlyName(fd, dirfd int, base string, st *unix.Stat_t) (string, error) {
	err := unixutil.IgnoringEINTR(func() error { return unix.Renameat2(dirfd, base, dirfd, base, unix.RENAME_NOREPLACE) })
	switch err {
	case syscall.EEXIST:
	case syscall.ENOENT:
		return "", errReplaced
	default:
		return sameOnlyName(dirfd, base, st)
	}
	var buf [4096]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n == len(buf) {
		return sameOnlyName(dirfd, base, st)
	}
	// The name as the cache has it: the last element of base, unless
	// the file was renamed or its name removed (" (deleted)" appended).
	if !strings.HasSuffix(string(buf[:n]), "/"+base[strings.LastIndexByte(base, '/')+1:]) {
		return "", errReplaced
	}
	return "", nil
}

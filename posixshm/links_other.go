//go:build unix && (!linux || openbsdsim)

package posixshm

import "golang.org/x/sys/unix"

// onlyName checks that base in dirfd names fd's file, st, with one link,
// in a directory where others may remove names, by a lookup after
// fstat(2) (see links_linux.go for why that is not enough on Linux).
// OpenBSD looks a name up with its directory's vnode locked, the lock
// unlink(2) holds while it removes the name and drops the link count, so
// there the lookup tells the truth. Systems whose name caches are read
// without that lock (FreeBSD's and NetBSD's fast paths) may have Linux's
// window, which this narrows without closing; that is not tested here.
func onlyName(fd, dirfd int, base string, st *unix.Stat_t) (string, error) {
	return sameOnlyName(dirfd, base, st)
}

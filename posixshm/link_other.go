//go:build unix && !solaris

package posixshm

import "golang.org/x/sys/unix"

// linkAt links the file at the path old at base in the directory dirfd
// (AT_FDCWD: base is a path), whose path is path.
func linkAt(old string, dirfd int, base, path string) error {
	return unix.Linkat(unix.AT_FDCWD, old, dirfd, base, 0)
}

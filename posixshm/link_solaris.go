package posixshm

import "golang.org/x/sys/unix"

// linkAt links the file at the path old at base in the directory dirfd,
// whose path is path. golang.org/x/sys has no linkat(2) for illumos and
// Solaris, so this links by path, as their libc does: the walk to the
// directory (illumosDir.walk) has checked that nobody but the caller (or
// root) can replace the directories on the way.
func linkAt(old string, dirfd int, base, path string) error { return unix.Link(old, path) }

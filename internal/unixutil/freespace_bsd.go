//go:build darwin || freebsd || dragonfly

package unixutil

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes free for unprivileged users on the file
// system that holds path, as statfs(2) reports them (f_bsize is the
// fundamental block size here, the unit of f_bavail).
func FreeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := IgnoringEINTR(func() error { return unix.Statfs(path, &st) }); err != nil {
		return 0, err
	}
	return mulFree(int64(st.Bavail), int64(st.Bsize)), nil
}

package unixutil

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes free for unprivileged users on the file
// system that holds path, as statfs(2) reports them.
func FreeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := IgnoringEINTR(func() error { return unix.Statfs(path, &st) }); err != nil {
		return 0, err
	}
	return mulFree(st.F_bavail, int64(st.F_bsize)), nil
}

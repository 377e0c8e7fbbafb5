package unixutil

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes free for unprivileged users on the file
// system that holds path, as statfs(2) reports them.
func FreeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := IgnoringEINTR(func() error { return unix.Statfs(path, &st) }); err != nil {
		return 0, err
	}
	unit := int64(st.Frsize) // f_bavail counts fragments (statvfs(3)); 0 before Linux 2.6
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	return mulFree(int64(st.Bavail), unit), nil
}

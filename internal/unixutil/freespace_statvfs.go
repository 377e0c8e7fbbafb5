//go:build netbsd || solaris

package unixutil

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes free for unprivileged users on the file
// system that holds path, as statvfs(2) reports them.
func FreeSpace(path string) (int64, error) {
	var st unix.Statvfs_t
	if err := IgnoringEINTR(func() error { return unix.Statvfs(path, &st) }); err != nil {
		return 0, err
	}
	return mulFree(int64(st.Bavail), int64(st.Frsize)), nil
}

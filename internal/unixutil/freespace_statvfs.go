//go:build netbsd || solaris

package unixutil

import "golang.org/x/sys/unix"

func freeSpace(fd int) (Space, error) {
	var st unix.Statvfs_t
	if err := unix.Fstatvfs(fd, &st); err != nil {
		return Space{}, err
	}
	return space(int64(st.Blocks), int64(st.Bfree), int64(st.Bavail), int64(st.Frsize)), nil
}

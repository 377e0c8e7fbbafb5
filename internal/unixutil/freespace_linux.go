package unixutil

import "golang.org/x/sys/unix"

func freeSpace(fd int) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return Space{}, err
	}
	unit := int64(st.Frsize) // the block counts' unit (statvfs(3)); 0 before Linux 2.6
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	return space(int64(st.Blocks), int64(st.Bfree), int64(st.Bavail), unit), nil
}

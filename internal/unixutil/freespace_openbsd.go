package unixutil

import "golang.org/x/sys/unix"

func freeSpace(fd int) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return Space{}, err
	}
	return space(int64(st.F_blocks), int64(st.F_bfree), st.F_bavail, int64(st.F_bsize)), nil
}

//go:build darwin || freebsd || dragonfly

package unixutil

import "golang.org/x/sys/unix"

// freeSpace: f_bsize is the fundamental block size here, the unit of the
// block counts.
func freeSpace(fd int) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return Space{}, err
	}
	return space(int64(st.Blocks), int64(st.Bfree), int64(st.Bavail), int64(st.Bsize)), nil
}

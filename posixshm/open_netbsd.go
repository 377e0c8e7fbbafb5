package posixshm

import (
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// NetBSD's librt keeps objects in the tmpfs at /var/shm.
var native Layout = netbsdDir{dir: netbsdShmDir, checkFS: netbsdCheckFS}

// netbsdFSOK remembers a successful check, as librt's shm_ok does.
var netbsdFSOK atomic.Bool

// netbsdCheckFS is librt's _shm_check_fs: open dir, fstatvfs1 with
// ST_NOWAIT (= MNT_NOWAIT), fstat; netbsdCheckDir decides. Any failure is
// ENOTSUP, as in librt.
func netbsdCheckFS(dir string) (string, syscall.Errno) {
	if netbsdFSOK.Load() {
		return "", 0
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "cannot open the directory: " + err.Error(), syscall.ENOTSUP
	}
	defer unix.Close(fd)
	var sv unix.Statvfs_t
	if err := unix.Fstatvfs1(fd, &sv, unix.MNT_NOWAIT); err != nil {
		return "fstatvfs1: " + err.Error(), syscall.ENOTSUP
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "fstat: " + err.Error(), syscall.ENOTSUP
	}
	reason, errno := netbsdCheckDir(unix.ByteSliceToString(sv.Fstypename[:]), uint32(st.Mode))
	if errno == 0 {
		netbsdFSOK.Store(true)
	}
	return reason, errno
}

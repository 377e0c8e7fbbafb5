package posixshm

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD keeps shared memory objects in the kernel: libc's shm_open
// (lib/libc/sys/shm_open.c) is the shm_open2 system call with O_CLOEXEC
// added, or on kernels before 13 (osreldate < 1300048) the older
// shm_open system call, which sets close-on-exec itself.
var native Layout = kernelObjects{check: freebsdCheckName, open: freebsdOpen, unlink: freebsdUnlink}

const (
	sysShmOpen2         = 571               // shm_open2(path, flags, mode, shmflags, name)
	sysFreebsd12ShmOpen = unix.SYS_SHM_OPEN // 482: COMPAT_FREEBSD12 since 13.0
	shmAnon             = 1                 // SHM_ANON is (char *)1
	shmAllowSealing     = 1                 // SHM_ALLOW_SEALING
)

// freebsdOpen is libc's shm_open. The kernel checks the flags: O_RDONLY
// or O_RDWR with O_CREAT, O_EXCL, O_TRUNC and O_CLOEXEC only, else EINVAL
// (so O_NOFOLLOW, which means nothing here, is refused as in C).
func freebsdOpen(name *byte, flag int, perm uint32) (int, error) {
	fd, err := shmOpen2(uintptr(unsafe.Pointer(name)), flag, perm, 0)
	runtime.KeepAlive(name) // name must outlive the system call, see shmOpen2
	return fd, err
}

func freebsdUnlink(name *byte) error {
	if _, _, e := unix.Syscall(unix.SYS_SHM_UNLINK, uintptr(unsafe.Pointer(name)), 0, 0); e != 0 {
		return e
	}
	return nil
}

// shmOpen2 calls shm_open2 with O_CLOEXEC added, as libc does, and falls
// back to the pre-13 shm_open on ENOSYS. The probe is safe: the Go
// runtime does not die of the SIGSYS FreeBSD sends with ENOSYS
// (runtime/signal_freebsd.go, golang.org/issue/15204). path is shmAnon or
// the address of a NUL-terminated name on the (non-moving) heap, which
// the caller keeps alive with runtime.KeepAlive until this returns.
func shmOpen2(path uintptr, flag int, mode uint32, shmflags int) (int, error) {
	r, _, e := unix.Syscall6(sysShmOpen2, path, uintptr(flag|unix.O_CLOEXEC), uintptr(mode), uintptr(shmflags), 0, 0)
	if e == syscall.ENOSYS {
		// The old call refuses O_CLOEXEC on some releases and always
		// sets close-on-exec; it has no shmflags (no sealing).
		r, _, e = unix.Syscall(sysFreebsd12ShmOpen, path, uintptr(flag&^unix.O_CLOEXEC), uintptr(mode))
	}
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

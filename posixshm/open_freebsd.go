package posixshm

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD keeps shared memory objects in the kernel: libc's shm_open
// (lib/libc/sys/shm_open.c) is the shm_open2 system call with O_CLOEXEC
// added, or on kernels before 13 (osreldate < 1300048) the older
// shm_open system call, which sets close-on-exec itself.
var native layout = freebsdShm{}

const (
	sysShmOpen2         = 571               // shm_open2(path, flags, mode, shmflags, name)
	sysFreebsd12ShmOpen = unix.SYS_SHM_OPEN // 482: COMPAT_FREEBSD12 since 13.0
	shmAnon             = 1                 // SHM_ANON is (char *)1
	shmAllowSealing     = 1                 // SHM_ALLOW_SEALING
)

// freebsdShm is FreeBSD's convention. Objects are not files: Path
// returns the name itself, the kernel's key for the object.
type freebsdShm struct{}

func (freebsdShm) Path(name string) (string, error) {
	if err := freebsdCheckName(name); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	return name, nil
}

// Open is libc's shm_open. The kernel checks the flags: O_RDONLY or
// O_RDWR with O_CREAT, O_EXCL, O_TRUNC and O_CLOEXEC only, else EINVAL
// (so O_NOFOLLOW, which means nothing here, is refused as in C).
func (freebsdShm) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := freebsdCheckName(name); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	fd, err := shmOpen2(uintptr(unsafe.Pointer(p)), flag, uint32(perm.Perm()), 0)
	runtime.KeepAlive(p) // p must outlive the system call, see shmOpen2
	if err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (freebsdShm) Unlink(name string) error {
	if err := freebsdCheckName(name); err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_SHM_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return pathError(opUnlink, name, "", "", e)
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

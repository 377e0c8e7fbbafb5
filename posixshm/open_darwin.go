package posixshm

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// macOS keeps shared memory objects in the kernel. libSystem's shm_open
// is variadic, which a cgo-free package cannot call without assembly, so
// we make the system call it wraps, SYS_shm_open (266) and SYS_shm_unlink
// (267) in xnu's bsd/kern/syscalls.master: its wrapper only fetches the
// mode from the variadic arguments. Go's syscall.Syscall traps directly
// on darwin; Apple does not promise a stable system call interface, but
// these numbers have not changed since Mac OS X 10.0.
var native layout = darwinShm{}

// darwinShm is macOS's convention. Objects are not files: Path returns
// the name itself, the kernel's key for the object.
type darwinShm struct{}

func (darwinShm) Path(name string) (string, error) {
	if err := darwinCheckName(name); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	return name, nil
}

// Open is shm_open. The kernel sets close-on-exec on every descriptor it
// returns (UF_EXCLOSE in posix_shm.c) and checks the flags itself.
func (darwinShm) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := darwinCheckName(name); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	r, _, e := unix.Syscall(unix.SYS_SHM_OPEN, uintptr(unsafe.Pointer(p)), uintptr(flag), uintptr(perm.Perm()))
	if e != 0 {
		return nil, pathError(opOpen, name, "", "", e)
	}
	return os.NewFile(r, name), nil
}

func (darwinShm) Unlink(name string) error {
	if err := darwinCheckName(name); err != nil {
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

//go:build linux && !openbsdsim

package posixshm

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// memfdName is the name memfd_create gives the object; it shows in
// /proc/<pid>/fd as "/memfd:posixshm (deleted)" and means nothing else.
const memfdName = "posixshm"

// anonFileName is the Name() of the file: what /proc shows, with a slash
// after it, so that Unlink(f.Name()) of an anonymous object is refused
// (EINVAL: glibc allows no slash after the leading ones) instead of
// removing /dev/shm/memfd:posixshm, another program's object.
const anonFileName = "/memfd:" + memfdName + "/anonymous"

// openAnonymous is memfd_create(2). MFD_NOEXEC_SEAL (Linux 6.3) says the
// memory is never executed: with it, kernels set to vm.memfd_noexec=2 do
// not refuse us and others do not log a warning. Older kernels refuse the
// unknown flag with EINVAL, so we retry without it.
func openAnonymous() (*os.File, error) {
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(memfdName, flags|unix.MFD_NOEXEC_SEAL)
	if err == syscall.EINVAL {
		fd, err = unix.MemfdCreate(memfdName, flags)
	}
	if err != nil {
		return nil, pathError("memfd_create", anonName, "", "", err)
	}
	return newFile(fd, anonFileName), nil
}

package posixshm

import (
	"os"

	"golang.org/x/sys/unix"
)

// kernelObjects is the convention of systems that keep shared memory
// objects in the kernel rather than in files (FreeBSD, macOS): Path returns
// the checked name itself, the kernel's key for the object, and Open and
// Unlink are system calls on it. The per-OS glue supplies the name rules
// and the two calls; this file, compiled everywhere, is tested on Linux.
type kernelObjects struct {
	check  func(name string) error
	open   func(name *byte, flag int, perm uint32) (fd int, err error)
	unlink func(name *byte) error
}

var _ Layout = kernelObjects{}

// cname checks name and returns it as a NUL-terminated C string.
func (k kernelObjects) cname(op, name string) (*byte, error) {
	if err := k.check(name); err != nil {
		return nil, pathError(op, name, "", "", err)
	}
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, pathError(op, name, "", "", err)
	}
	return p, nil
}

func (k kernelObjects) Path(name string) (string, error) {
	if err := k.check(name); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	return name, nil
}

func (k kernelObjects) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	p, err := k.cname(opOpen, name)
	if err != nil {
		return nil, err
	}
	fd, err := k.open(p, flag, uint32(perm.Perm()))
	if err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	return newFile(fd, name), nil
}

func (k kernelObjects) Unlink(name string) error {
	p, err := k.cname(opUnlink, name)
	if err != nil {
		return err
	}
	if err := k.unlink(p); err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	return nil
}

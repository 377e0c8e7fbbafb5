package posixshm

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// nameMax is NAME_MAX, the longest file name glibc lets a name become.
const nameMax = 255

// glibcName applies glibc's shm_open name rules and returns the file name
// the object gets: the name without its leading slashes. An empty result
// or a name with another slash is EINVAL; a result longer than NAME_MAX is
// ENAMETOOLONG. "." and ".." are EINVAL too, as in musl: glibc 2.36 passes
// them on, so that shm_open(".", O_RDONLY) opens /dev/shm itself and ".."
// its parent; a directory is no shared memory object, and ".." leaves
// /dev/shm.
func glibcName(name string) (string, error) {
	return trimmedName(name, syscall.EINVAL)
}

// trimmedName is the rule glibc and DragonFly share: the object's file name
// is the name without its leading slashes, and must be a single path
// element no longer than NAME_MAX. An empty rest gives emptyErrno, which is
// where the two differ.
func trimmedName(name string, emptyErrno syscall.Errno) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	n := strings.TrimLeft(name, "/")
	switch {
	case n == "":
		return "", &NameError{Reason: "empty name", Errno: emptyErrno}
	case n == "." || n == "..":
		return "", &NameError{Reason: "name is \".\" or \"..\"", Errno: syscall.EINVAL}
	case strings.IndexByte(n, '/') >= 0:
		return "", &NameError{Reason: "name contains \"/\" after its leading slashes", Errno: syscall.EINVAL}
	case len(n) > nameMax:
		return "", &NameError{Reason: "name longer than NAME_MAX (255 bytes)", Errno: syscall.ENAMETOOLONG}
	}
	return n, nil
}

// glibcDir is the convention of glibc and musl rooted at a directory
// (/dev/shm on Linux): the object "/name" is the file dir/name.
type glibcDir string

func (d glibcDir) Path(name string) (string, error) {
	n, err := glibcName(name)
	if err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	return string(d) + "/" + n, nil
}

// Open opens the object as glibc does (flags are passed to open(2) as they
// are, O_NOFOLLOW and O_CLOEXEC added), hardened as openFile describes.
// Unlike OpenBSD, the permission is not masked and other users' objects
// may be opened: on Linux sharing across users is a feature of /dev/shm.
// As in glibc (2.36, rt/shm_open.c), a directory's EISDIR becomes EINVAL.
func (d glibcDir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	path, err := d.Path(name)
	if err != nil {
		return nil, err
	}
	f, err := openFile(name, path, flag, perm, policy{tempDir: string(d)})
	return f, glibcError(err)
}

// glibcError is an open's error as glibc reports it: a directory's EISDIR
// becomes EINVAL.
func glibcError(err error) error {
	var fe *FileError
	if err != nil && errors.As(err, &fe) && fe.Errno == syscall.EISDIR {
		fe.Errno = syscall.EINVAL
		fe.Reason = "is a directory"
	}
	return err
}

func (d glibcDir) target(name string, perm os.FileMode) (target, error) {
	path, err := d.Path(name)
	if err != nil {
		return target{}, err
	}
	return target{name: name, dir: string(d), path: path, mode: uint32(perm.Perm()), link: atPath(path)}, nil
}

func (d glibcDir) Unlink(name string) error {
	n, err := glibcName(name)
	if err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	return unlinkFile(name, string(d)+"/"+n)
}

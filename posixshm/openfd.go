package posixshm

import (
	"os"

	"golang.org/x/sys/unix"
)

// OpenFd is Open returning the descriptor, which the caller owns and
// closes (syscall.Close, unix.Close): for a hot path that opens, maps and
// closes an object many times a second and has no use for an *os.File.
// The checks and the errors are Open's. Where the system's layout opens
// files (OpenBSD, Linux, NetBSD, DragonFly, illumos and Solaris' file
// layouts use Dir and glibc's rules; see Open) it makes exactly the calls
// Open makes less os.NewFile's fcntl(F_GETFL), and allocates no *os.File;
// elsewhere it is Open and a duplicate of the descriptor.
func OpenFd(name string, flag int, perm os.FileMode) (int, error) {
	return openFdOf(native, name, flag, perm)
}

// OpenFd is Dir.Open returning the descriptor, which the caller owns and
// closes (see the package-level OpenFd).
func (d Dir) OpenFd(name string, flag int, perm os.FileMode) (int, error) {
	path, err := d.openPath(name, flag)
	if err != nil {
		return -1, err
	}
	return openFd(name, path, flag, perm, policy{openbsd: true, tempDir: string(d)})
}

// OpenFd is glibcDir.Open returning the descriptor.
func (d glibcDir) OpenFd(name string, flag int, perm os.FileMode) (int, error) {
	path, err := d.Path(name)
	if err != nil {
		return -1, err
	}
	fd, err := openFd(name, path, flag, perm, policy{tempDir: string(d)})
	return fd, glibcError(err)
}

// openFdOf opens with l's OpenFd where it has one, else with its Open and
// a duplicate of the descriptor (close-on-exec, as Open's), closing the
// *os.File.
func openFdOf(l Layout, name string, flag int, perm os.FileMode) (int, error) {
	if o, ok := l.(interface {
		OpenFd(string, int, os.FileMode) (int, error)
	}); ok {
		return o.OpenFd(name, flag, perm)
	}
	f, err := l.Open(name, flag, perm)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, pathError(opOpen, name, "", "", err)
	}
	return fd, nil
}

package posixshm

import "os"

// layout is a shm_open convention: where the object called name lives and
// how it is opened. Each system's glue file sets native to its own.
type layout interface {
	Path(name string) (string, error)
	Open(name string, flag int, perm os.FileMode) (*os.File, error)
	Unlink(name string) error
}

var (
	_ layout = Dir("")
	_ layout = glibcDir("")
)

// Path returns the file that this system's shm_open(name) opens. On
// OpenBSD it is OpenBSD.Path(name); on Linux /dev/shm/ and the name without
// its leading slashes. Where objects live in the kernel rather than in
// files (FreeBSD, macOS) it returns the checked name itself. If there is an
// error, it will be of type *fs.PathError.
func Path(name string) (string, error) { return native.Path(name) }

// Open opens the shared memory object called name as this system's C
// shm_open(name, flag, perm) would, so Go and C programs share objects. On
// OpenBSD that is Dir.Open rooted at /tmp. On Linux it is glibc's rules: the
// file /dev/shm/<name without leading slashes>; an empty name, a name with
// another slash, "." and ".." give EINVAL, a name longer than NAME_MAX
// gives ENAMETOOLONG; flags are passed on to open(2) with O_NOFOLLOW and
// O_CLOEXEC added. Where objects are files (OpenBSD, Linux, NetBSD,
// DragonFly, illumos and Solaris) a FIFO cannot block the open, only a
// regular file with one link is accepted, and O_TRUNC is applied after
// those checks; FreeBSD and macOS open kernel objects with a system call.
// The README's platform table lists each system's path and name rules.
//
// If there is an error, it will be of type *fs.PathError with Op
// "shm_open".
func Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return native.Open(name, flag, perm)
}

// Unlink removes the object called name as this system's shm_unlink(name)
// would. If there is an error, it will be of type *fs.PathError with Op
// "shm_unlink".
func Unlink(name string) error { return native.Unlink(name) }

// CreateTemp creates a new object with a unique name made from template,
// whose trailing X's (at least six) are replaced with random letters and
// digits, as OpenBSD's shm_mkstemp(3) does. It returns the file and the name.
func CreateTemp(template string) (*os.File, string, error) {
	return createTemp(template, native.Open)
}

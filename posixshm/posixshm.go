package posixshm

import "os"

// A Layout is a shm_open convention: where the object called name lives and
// how it is opened and removed. [Dir] is OpenBSD's layout rooted at a
// directory; [System] returns this system's own convention. Package segment
// takes a Layout to say where its segments live.
type Layout interface {
	// Path returns the file that holds the object called name (for
	// kernel objects, as on FreeBSD and macOS, the checked name itself).
	Path(name string) (string, error)
	// Open opens the object as shm_open(name, flag, perm) does. The
	// file's Name() is name, so Unlink(f.Name()) removes the object.
	Open(name string, flag int, perm os.FileMode) (*os.File, error)
	// Unlink removes the object's name as shm_unlink(name) does.
	Unlink(name string) error
}

var (
	_ Layout = Dir("")
	_ Layout = glibcDir("")
)

// System returns this system's own shm_open convention, the one the
// package-level functions use: on OpenBSD it is [OpenBSD] (Dir("/tmp")), on
// Linux glibc's /dev/shm rules. See the README's platform table.
func System() Layout { return native }

// Path returns the file that this system's shm_open(name) opens. On
// OpenBSD it is OpenBSD.Path(name); on Linux /dev/shm/ and the name without
// its leading slashes. Where objects live in the kernel rather than in
// files (FreeBSD, macOS) it returns the checked name itself. If there is an
// error, it will be of type *fs.PathError.
func Path(name string) (string, error) { return native.Path(name) }

// Open opens the shared memory object called name as this system's C
// shm_open(name, flag, perm) would, so Go and C programs share objects. On
// OpenBSD that is Dir.Open rooted at /tmp. On Linux it is glibc's rules: the
// file /dev/shm/<name without leading slashes>; an empty name or a name
// with another slash gives EINVAL, a name longer than NAME_MAX gives
// ENAMETOOLONG; flags are passed on to open(2) with O_NOFOLLOW and
// O_CLOEXEC added, and a directory gives EINVAL (glibc turns open's EISDIR
// into EINVAL). "." and ".." give EINVAL too, as in musl: glibc 2.36 lets
// them name /dev/shm and its parent, which it then opens with O_RDONLY.
// Where objects are files (OpenBSD, Linux, NetBSD, DragonFly, illumos and
// Solaris) a FIFO cannot block the open, only a regular file with one link
// is accepted (an object being published by CreateUnnamed is waited for),
// and O_TRUNC is applied after those checks, as open(2) would apply it; FreeBSD and macOS open kernel objects with a system call. The
// README's platform table lists each system's path and name rules.
//
// The file's Name() is name as given, as os.Open's file is named by the
// path it was given: Unlink(f.Name()) removes exactly this object, and
// Path(f.Name()) is its file. (Errors of the file's methods, such as
// "write /myobject: no space left on device", name the object so too.)
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
// digits, as OpenBSD's shm_mkstemp(3) does (see Dir.CreateTemp for the one
// difference). It returns the file and the name, which is also the
// file's Name().
func CreateTemp(template string) (*os.File, string, error) {
	return createTemp(template, native.Open)
}

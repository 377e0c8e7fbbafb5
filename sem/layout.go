package sem

import (
	"io/fs"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
)

// A Layout is a sem_open convention: where the semaphore called name
// lives, in which format, and how it is opened and removed. [Dir] is
// OpenBSD's, rooted at any directory; [System] returns this system's own.
type Layout interface {
	// Path returns the file that holds the semaphore called name.
	Path(name string) (string, error)
	// Open opens the semaphore as sem_open(name, flag, perm, value) does.
	Open(name string, flag int, perm os.FileMode, value uint32) (*Semaphore, error)
	// Unlink removes the semaphore's name as sem_unlink(name) does.
	Unlink(name string) error
}

var (
	_ Layout = Dir("")
	_ Layout = glibcDir{}
	_ Layout = unsupported("")
)

// Dir is OpenBSD's sem_open layout rooted at a directory: the semaphore
// called name is the file Dir/<sha256-hex(name)>.sem, one page long,
// holding OpenBSD's struct __sem. On OpenBSD, Dir("/tmp") ([OpenBSDDir])
// is what libc's sem_open uses and the package-level functions are its
// methods; on every other system a Dir gives the same format in any
// directory, shared with Go programs and with C code that follows
// rthread_sem.c (see the package documentation for how waiters sleep).
// The empty Dir names no directory: every method refuses it with EINVAL.
type Dir string

// OpenBSDDir is the directory OpenBSD's libc keeps named semaphores in.
const OpenBSDDir Dir = "/tmp"

// Path returns d/<64 lowercase hex digits of SHA-256(name)>.sem. The whole
// name is hashed, so "/s" and "s" are different semaphores. A name with a
// NUL byte, or an empty d, is refused with EINVAL.
func (d Dir) Path(name string) (string, error) {
	return d.path(opOpen, name)
}

func (d Dir) path(op, name string) (string, error) {
	p, err := posixshm.Dir(d).SemPath(name)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			pe.Op = op
		}
		return "", err
	}
	return p, nil
}

// Open opens or creates the semaphore called name as OpenBSD's sem_open
// does (lib/libc/thread/rthread_sem.c):
//
//   - flag may hold O_CREAT and O_EXCL, nothing else (EINVAL).
//   - The file is opened O_RDWR|O_NOFOLLOW; a new one gets mode 0600 less
//     the umask, whatever perm says (OpenBSD ignores it).
//   - It must be a regular file (EINVAL) owned by the effective user
//     (EPERM), and one page long; an empty file is sized and initialised
//     when flag has O_CREAT, and any other size is EINVAL.
//
// Beyond OpenBSD, a file with more than one link is refused (EPERM), and
// a semaphore this call creates is built in a temporary file and linked
// to its name complete, so no opener ever sees it half made.
//
// value, the initial value of a semaphore created, is used only with
// O_CREAT. If there is an error, it will be of type *fs.PathError with Op
// "sem_open".
func (d Dir) Open(name string, flag int, perm os.FileMode, value uint32) (*Semaphore, error) {
	path, err := d.path(opOpen, name)
	if err != nil {
		return nil, err
	}
	return openOpenBSD(name, path, flag, value)
}

// Unlink removes the semaphore's name, as OpenBSD's sem_unlink does:
// unlink(2) of Path(name). Processes that have it open keep using it. If
// there is an error, it will be of type *fs.PathError with Op
// "sem_unlink".
func (d Dir) Unlink(name string) error {
	path, err := d.path(opUnlink, name)
	if err != nil {
		return err
	}
	return unlinkFile(name, path)
}

// glibcDir is glibc's layout rooted at a directory (/dev/shm on Linux):
// the semaphore "/name" is the file dir/sem.name. create is the format of
// the semaphores it creates.
type glibcDir struct {
	dir    string
	create Format
}

// GlibcLayout returns glibc's layout rooted at dir (Linux's own is
// "/dev/shm", which System returns there) whose Open creates semaphores in
// format create, Glibc64 or Glibc32 (anything else is taken as this
// architecture's own): the format of glibc on the architecture of the C
// programs that will share them, say a 32-bit program on a 64-bit machine.
// Opening an existing semaphore picks its format from the file's size,
// whatever create says.
func GlibcLayout(dir string, create Format) Layout {
	if create != Glibc64 && create != Glibc32 {
		create = nativeGlibc()
	}
	return glibcDir{dir: dir, create: create}
}

// glibcSemName applies glibc's sem_open name rules (__shm_get_name with
// the "sem." prefix, glibc 2.34 and later) and returns the file name:
// "sem." and the name without its leading slashes. An empty rest, a slash
// in it or a rest longer than NAME_MAX is EINVAL, as in glibc, which also
// accepts "." and ".." ("sem." and "sem.." are ordinary names). A rest
// longer than 251 bytes fits glibc's buffer but not NAME_MAX with the
// prefix: open(2) then fails with ENAMETOOLONG, and so does this.
func glibcSemName(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	n := strings.TrimLeft(name, "/")
	switch {
	case n == "":
		return "", &posixshm.NameError{Reason: "empty name", Errno: syscall.EINVAL}
	case strings.IndexByte(n, '/') >= 0:
		return "", &posixshm.NameError{Reason: "name contains \"/\" after its leading slashes", Errno: syscall.EINVAL}
	case len(n) > nameMax:
		return "", &posixshm.NameError{Reason: "name longer than NAME_MAX (255 bytes)", Errno: syscall.EINVAL}
	case len(n)+len(glibcPrefix) > nameMax:
		return "", &posixshm.NameError{Reason: "\"sem.\" and the name are longer than NAME_MAX (255 bytes)", Errno: syscall.ENAMETOOLONG}
	}
	return glibcPrefix + n, nil
}

const (
	glibcPrefix = "sem."
	nameMax     = 255
)

// checkName refuses a name a C string cannot hold.
func checkName(name string) error {
	if strings.IndexByte(name, 0) >= 0 {
		return &posixshm.NameError{Reason: "name contains a NUL byte", Errno: syscall.EINVAL}
	}
	return nil
}

func (d glibcDir) Path(name string) (string, error) { return d.path(opOpen, name) }

func (d glibcDir) path(op, name string) (string, error) {
	n, err := glibcSemName(name)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	return d.dir + "/" + n, nil
}

// Open opens the semaphore as glibc's sem_open does (nptl/sem_open.c):
// without O_CREAT|O_EXCL it opens an existing file O_RDWR|O_NOFOLLOW;
// creating, it writes the semaphore into a temporary file, sem.XXXXXX in
// the same directory, with mode perm less the umask, and link(2)s that to
// the name, so a semaphore is never seen half made; EEXIST without O_EXCL
// opens the one that won. The hardening beyond glibc is in openGlibc.
func (d glibcDir) Open(name string, flag int, perm os.FileMode, value uint32) (*Semaphore, error) {
	path, err := d.path(opOpen, name)
	if err != nil {
		return nil, err
	}
	return openGlibc(name, d.dir, path, flag, perm, value, d.create)
}

func (d glibcDir) Unlink(name string) error {
	path, err := d.path(opUnlink, name)
	if err != nil {
		return err
	}
	return unlinkFile(name, path)
}

// unsupported is the layout of a system whose sem_open this package does
// not reproduce; every method fails with ENOTSUP, naming the system.
type unsupported string

func (u unsupported) err(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: &posixshm.NameError{
		Reason: "named semaphores of " + string(u) + " are not reproduced without cgo (its sem_open keeps them in the kernel or in libc's own format); sem.Dir gives OpenBSD's format on any system",
		Errno:  syscall.ENOTSUP,
	}}
}

func (u unsupported) Path(name string) (string, error) { return "", u.err(opOpen, name) }
func (u unsupported) Open(name string, flag int, perm os.FileMode, value uint32) (*Semaphore, error) {
	return nil, u.err(opOpen, name)
}
func (u unsupported) Unlink(name string) error { return u.err(opUnlink, name) }

// native is this system's convention: OpenBSD's where posixshm's is (on
// OpenBSD, and in the openbsdsim build), glibc's in /dev/shm on Linux
// (musl's programs keep theirs there too, in a format glibc's cannot
// share: see the package documentation), and none elsewhere.
var native = func() Layout {
	if d, ok := posixshm.System().(posixshm.Dir); ok {
		return Dir(d)
	}
	if runtime.GOOS == "linux" {
		return glibcDir{dir: "/dev/shm", create: nativeGlibc()}
	}
	return unsupported(runtime.GOOS)
}()

// System returns this system's own sem_open convention, the one the
// package-level functions use: OpenBSD's format in /tmp on OpenBSD,
// glibc's in /dev/shm on Linux. On other systems its methods fail with
// ENOTSUP (use a Dir there).
func System() Layout { return native }

// Open opens the semaphore called name as this system's C sem_open(name,
// flag, perm, value) would, so Go and C programs share it: Dir.Open in
// /tmp on OpenBSD, glibc's sem_open in /dev/shm on Linux (see Layout's
// implementations for the rules). flag may hold os.O_CREATE and os.O_EXCL,
// nothing else; perm and value are used only when the semaphore is
// created. If there is an error, it will be of type *fs.PathError with Op
// "sem_open".
func Open(name string, flag int, perm os.FileMode, value uint32) (*Semaphore, error) {
	return native.Open(name, flag, perm, value)
}

// Unlink removes the semaphore called name as this system's sem_unlink
// would. If there is an error, it will be of type *fs.PathError with Op
// "sem_unlink".
func Unlink(name string) error { return native.Unlink(name) }

// Path returns the file this system's sem_open(name) opens. If there is
// an error, it will be of type *fs.PathError.
func Path(name string) (string, error) { return native.Path(name) }

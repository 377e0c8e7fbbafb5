package posixshm

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dir is OpenBSD's shm_open layout rooted at a directory: the object called
// name is the file Dir/<sha256-hex(name)>.shm, opened with OpenBSD's rules.
//
// On OpenBSD, OpenBSD (that is, Dir("/tmp")) is exactly what libc's shm_open
// uses, and the package-level functions are its methods. On every other
// system a Dir gives the same layout in any directory, so programs can share
// objects this way everywhere, and the code OpenBSD runs is tested elsewhere.
//
// The empty Dir names no directory (not the file system's root): every
// method refuses it with EINVAL, so that an unset variable cannot put
// objects in "/".
type Dir string

// OpenBSD is the directory OpenBSD's libc keeps shared memory objects in.
const OpenBSD Dir = "/tmp"

// Path returns the file that holds the object called name:
// d/<64 lowercase hex digits of SHA-256(name)>.shm. The whole name is
// hashed, so "/foo" and "foo" are different objects, and "" is a valid name.
// A name containing a NUL byte, or an empty d, is refused with EINVAL; the
// error is a *fs.PathError.
func (d Dir) Path(name string) (string, error) {
	return d.pathFor(opOpen, name, ShmSuffix)
}

// SemPath returns the file OpenBSD's sem_open(3) uses for a named semaphore
// called name: d/<sha256-hex(name)>.sem.
func (d Dir) SemPath(name string) (string, error) {
	return d.pathFor("sem_open", name, SemSuffix)
}

func (d Dir) pathFor(op, name, suffix string) (string, error) {
	if err := d.check(name); err != nil {
		return "", pathError(op, name, "", "", err)
	}
	return hashedPath(string(d), name, suffix), nil
}

// errEmptyDir refuses every use of Dir(""): an unset variable must not
// make the file system's root the object directory.
var errEmptyDir = &NameError{Reason: `empty directory: Dir("") names no directory`, Errno: syscall.EINVAL}

// check refuses an empty d, then a name a C string cannot hold.
func (d Dir) check(name string) error {
	if d == "" {
		return errEmptyDir
	}
	return checkName(name)
}

// AppendPath appends Path(name) to dst and returns the extended slice. It
// does not allocate when dst has room for len(d)+1+64+4 more bytes. On error
// dst is returned unchanged.
func (d Dir) AppendPath(dst []byte, name string) ([]byte, error) {
	if err := d.check(name); err != nil {
		return dst, pathError(opOpen, name, "", "", err)
	}
	return appendHashed(dst, string(d), name, ShmSuffix), nil
}

// Open opens the object called name as OpenBSD's shm_open(3) does:
//
//   - The access mode must be O_RDONLY or O_RDWR; any flag outside
//     O_CREAT, O_EXCL, O_TRUNC, O_CLOEXEC and O_NOFOLLOW is refused. Both
//     give EINVAL.
//   - O_CLOEXEC and O_NOFOLLOW are always set; a symbolic link is never
//     followed (ELOOP, and the error says it is a link).
//   - O_TRUNC with O_RDONLY (with or without O_CREAT) is EINVAL, whatever
//     is at the path, and nothing is created or truncated: OpenBSD's
//     open(2) refuses to truncate without write access.
//   - A new file gets perm & 0600, less the umask.
//   - A file that is not regular gives EINVAL; one not owned by the
//     effective user ID gives EPERM. Errors of open(2) are returned as is.
//
// Beyond OpenBSD, a FIFO at the path cannot block the open; a file with
// more than one hard link is refused with EPERM, and so is one linked at
// the path by someone else and unlinked again while it is opened (but an
// object that CreateUnnamed is publishing, whose second link is for a
// moment its temporary name, is waited for, up to a second, and one
// whose creator died there is opened once that name is removed); and
// O_TRUNC takes effect only once the file has passed these checks (an
// existing file is then truncated even if empty, as open(2) does, which
// sets its modification time).
//
// The file's Name() is name, not the hashed path: d.Unlink(f.Name())
// removes this object, and d.Path(f.Name()) is its file.
//
// If there is an error, it will be of type *fs.PathError with Op
// "shm_open", Path name and, for errors about the file, a *FileError
// that names it.
func (d Dir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	path, err := d.openPath(name, flag)
	if err != nil {
		return nil, err
	}
	return openFile(name, path, flag, perm, policy{openbsd: true, tempDir: string(d)})
}

// openPath checks Open's name and flags and returns the object's path.
func (d Dir) openPath(name string, flag int) (string, error) {
	if err := d.check(name); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	if err := checkOpenBSDFlags(flag); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	path := hashedPath(string(d), name, ShmSuffix)
	if flag&unix.O_TRUNC != 0 && flag&unix.O_ACCMODE == unix.O_RDONLY {
		// OpenBSD's vn_open begins with this refusal, before it looks
		// the path up: nothing is created or truncated, and a
		// directory gives EINVAL too.
		return "", pathError(opOpen, name, path, "O_TRUNC without write access (O_RDONLY): OpenBSD's open(2) refuses it", syscall.EINVAL)
	}
	return path, nil
}

// target is where CreateUnnamed builds the object called name.
func (d Dir) target(name string, perm os.FileMode) (target, error) {
	path, err := d.Path(name)
	if err != nil {
		return target{}, err
	}
	// As Open: OpenBSD gives shared memory to its creator only.
	return target{name: name, dir: string(d), path: path, mode: uint32(perm.Perm()) & 0o600, link: atPath(path)}, nil
}

// Unlink removes the object called name, as OpenBSD's shm_unlink(3) does:
// unlink(2) of Path(name), nothing else. Processes that have it open or
// mapped keep using it. If there is an error, it will be of type
// *fs.PathError with Op "shm_unlink".
func (d Dir) Unlink(name string) error {
	if err := d.check(name); err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	return unlinkFile(name, hashedPath(string(d), name, ShmSuffix))
}

// CreateTemp creates a new object, as OpenBSD's shm_mkstemp(3) does: the
// trailing X's of template (at least six, else EINVAL) are replaced with
// random letters and digits until Open(name, O_RDWR|O_CREAT|O_EXCL, 0600)
// succeeds. It returns the file and the name chosen.
//
// Unlike shm_mkstemp, which tries a new name after any error (up to
// INT_MAX times, so a missing or unwritable directory spins there for
// billions of calls), CreateTemp tries a new name only after EEXIST, the
// one error a new name can cure, up to 65,536 times; any other error is
// returned at once. If there is an error, it will be of type
// *fs.PathError with Op "shm_mkstemp" and Path template.
func (d Dir) CreateTemp(template string) (*os.File, string, error) {
	if d == "" {
		return nil, "", pathError(opMkstemp, template, "", "", errEmptyDir)
	}
	return createTemp(template, d.Open)
}

package posixshm

import (
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
)

// The conventions below keep objects in the file system. Each is a value
// rooted at a directory, so the code a system runs is tested on Linux in a
// temporary directory; open_<os>.go roots it at the system's own place.
// Like glibcDir they open through openFile, with its hardenings: O_NOFOLLOW
// and O_CLOEXEC, no blocking on a FIFO, a regular file with one link only,
// O_TRUNC after the checks.

var (
	_ Layout = netbsdDir{}
	_ Layout = dragonflyDir{}
	_ Layout = (*illumosDir)(nil)
)

// netbsdDir is NetBSD's convention (lib/librt/shm.c): the object "/name"
// is the file dir/.shmobj_name, opened with O_CLOEXEC|O_NOFOLLOW added.
type netbsdDir struct {
	dir string
	// checkFS stands for libc's _shm_check_fs: unless dir is a tmpfs
	// directory with mode 01777, every call fails with ENOTSUP. It
	// returns why dir is refused, or "". Nil skips the check (tests).
	checkFS func(dir string) (reason string, errno syscall.Errno)
}

// file checks, in libc's order, the file system and then the name.
func (d netbsdDir) file(op, name string) (string, error) {
	if d.checkFS != nil {
		if reason, errno := d.checkFS(d.dir); errno != 0 {
			return "", pathError(op, name, d.dir, reason, errno)
		}
	}
	f, err := netbsdName(d.dir, name)
	if err != nil {
		return "", pathError(op, name, "", "", err)
	}
	return d.dir + "/" + f, nil
}

func (d netbsdDir) Path(name string) (string, error) { return d.file(opOpen, name) }

func (d netbsdDir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	path, err := d.file(opOpen, name)
	if err != nil {
		return nil, err
	}
	return openFile(name, path, flag, perm, policy{tempDir: d.dir})
}

func (d netbsdDir) target(name string, perm os.FileMode) (target, error) {
	path, err := d.file(opOpen, name)
	if err != nil {
		return target{}, err
	}
	return target{name: name, dir: d.dir, path: path, mode: uint32(perm.Perm()), link: atPath(path)}, nil
}

func (d netbsdDir) Unlink(name string) error {
	path, err := d.file(opUnlink, name)
	if err != nil {
		return err
	}
	return unlinkFile(name, path)
}

// dragonflyDir is DragonFly's convention (lib/libc/gen/posixshm.c): the
// object "/name" is the file dir/name; O_WRONLY is EINVAL; anything but a
// regular file is EINVAL.
//
// Where DragonFly's libc cannot open /var/run/shm it falls back to
// open(2) of the name as given (relative to / or the working directory);
// we do not: the open fails (ENOENT) instead of creating a stray file.
type dragonflyDir struct {
	dir string
	// fposixshm is the F_SETFL argument libc applies after the open:
	// FPOSIXSHM (= O_NOFOLLOW in sys/fcntl.h), which makes mappings of the
	// file MAP_NOSYNC-like so the pager does not write them to disk. As in
	// libc it replaces the status flags (O_NONBLOCK, O_APPEND). Zero
	// leaves them alone (tests on other systems).
	fposixshm int
}

func (d dragonflyDir) path(op, name string) (string, error) {
	n, err := dragonflyName(name)
	if err != nil {
		return "", pathError(op, name, "", "", err)
	}
	return d.dir + "/" + n, nil
}

func (d dragonflyDir) Path(name string) (string, error) { return d.path(opOpen, name) }

func (d dragonflyDir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := dragonflyCheckFlags(flag); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	path, err := d.path(opOpen, name)
	if err != nil {
		return nil, err
	}
	f, err := openFile(name, path, flag, perm, policy{tempDir: d.dir})
	if err != nil || d.fposixshm == 0 {
		return f, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, d.fposixshm); err != nil {
		inode.Close(f, path)
		return nil, pathError(opOpen, name, path, "fcntl F_SETFL FPOSIXSHM", err)
	}
	return f, nil
}

func (d dragonflyDir) target(name string, perm os.FileMode) (target, error) {
	path, err := d.path(opOpen, name)
	if err != nil {
		return target{}, err
	}
	return target{name: name, dir: d.dir, path: path, mode: uint32(perm.Perm()), setfl: d.fposixshm, link: atPath(path)}, nil
}

func (d dragonflyDir) Unlink(name string) error {
	path, err := d.path(opUnlink, name)
	if err != nil {
		return err
	}
	return unlinkFile(name, path)
}

// illumosDir is the convention of illumos and Solaris libc
// (usr/src/lib/libc/port/rt/shm.c and pos4obj.c): the object "/name" is
// the file dir/.SHMDname, and every shm_open and shm_unlink holds the lock
// file dir/.SHMLname, taken by creating it with O_EXCL (retried once a
// second, 64 times, then EEXIST) and released by unlinking it. Names too
// long for the prefix live in hashed directories (see illumosPath), made
// with mode 0777 and removed again when empty, as libc does.
//
// Differences from libc: libc refuses a symbolic link by lstat(2) before
// open(2) (EINVAL) and otherwise follows it; we open with O_NOFOLLOW
// (ELOOP), and refuse files that are not regular (EINVAL). libc's open
// with O_CREAT is a loop of O_EXCL and plain opens to learn whether it
// created the file; the lock makes that equivalent to one open(2).
//
// libc reaches the hashed directories by path, and they are world-writable
// without the sticky bit, so another user could swap one for a symbolic
// link and make libc create, truncate or chmod a file elsewhere. We walk
// them with openat(2), never following a link (see openDirAt), refuse one
// that belongs to another user (EPERM; libc shares them), and work on the
// files relative to the directory checked.
type illumosDir struct {
	dir       string
	nameMax   int           // pathconf(dir, _PC_NAME_MAX)
	lockTries int           // 64 in libc
	lockWait  time.Duration // sleep(1) in libc
}

func newIllumosDir(dir string) *illumosDir {
	return &illumosDir{dir: dir, nameMax: illumosNameMax, lockTries: 64, lockWait: time.Second}
}

func (d *illumosDir) Path(name string) (string, error) {
	if err := illumosCheck(name, d.nameMax); err != nil {
		return "", pathError(opOpen, name, "", "", err)
	}
	path, _ := illumosPath(d.dir, name, illumosDataType, d.nameMax)
	return path, nil
}

func (d *illumosDir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := illumosCheck(name, d.nameMax); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	unlock, err := d.lock(opOpen, name)
	if err != nil {
		return nil, err
	}
	var f *os.File
	w, err := d.walk(opOpen, name, illumosDataType)
	if err == nil {
		f, err = openFileAt(w.dirfd(), w.base, name, w.path, flag, perm, policy{tempDir: d.dir})
		if err != nil && flag&os.O_CREATE == 0 {
			w.clean()
		} else {
			w.close()
		}
	}
	if uerr := unlock(); uerr != nil && err == nil {
		inode.Close(f, w.path)
		return nil, uerr
	}
	return f, err
}

// target builds a new object in d.dir, the one directory every temporary
// file goes in (a long name's hashed directories are made, under the
// .SHML lock, only when the object is linked there), and links it as
// shm_open creates one: holding the .SHML lock file, as libc does.
func (d *illumosDir) target(name string, perm os.FileMode) (target, error) {
	path, err := d.Path(name)
	if err != nil {
		return target{}, err
	}
	link := func(do func(int, string, string) error) error {
		unlock, err := d.lock(opOpen, name)
		if err != nil {
			return err
		}
		w, err := d.walk(opOpen, name, illumosDataType)
		if err == nil {
			if err = do(w.dirfd(), w.base, w.path); err != nil {
				w.clean()
			} else {
				w.close()
			}
		}
		if uerr := unlock(); uerr != nil && err == nil {
			err = uerr
		}
		return err
	}
	return target{name: name, dir: d.dir, path: path, mode: uint32(perm.Perm()), link: link}, nil
}

func (d *illumosDir) Unlink(name string) error {
	if err := illumosCheck(name, d.nameMax); err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	unlock, err := d.lock(opUnlink, name)
	if err != nil {
		return err
	}
	w, err := d.walk(opUnlink, name, illumosDataType)
	if err == nil {
		if uerr := unixutil.IgnoringEINTR(func() error { return unix.Unlinkat(w.dirfd(), w.base, 0) }); uerr != nil {
			err = pathError(opUnlink, name, w.path, "", uerr)
		}
		w.clean()
	}
	// As in libc, a failure to release the lock is not reported here.
	unlock()
	return err
}

// lock takes the .SHML lock file of name (__pos4obj_lock) and returns the
// function that releases it (__pos4obj_unlock).
func (d *illumosDir) lock(op, name string) (func() error, error) {
	w, err := d.walk(op, name, illumosLockType)
	if err != nil {
		return nil, err
	}
	unlock := func() error {
		err := unixutil.IgnoringEINTR(func() error { return unix.Unlinkat(w.dirfd(), w.base, 0) })
		w.clean()
		if err != nil {
			return pathError(op, name, w.path, "removing the .SHML lock file", err)
		}
		return nil
	}
	reason := "taking the .SHML lock file"
	for try := 0; try < d.lockTries; try++ {
		if try > 0 {
			time.Sleep(d.lockWait)
		}
		// libc's __open_nc refuses a symbolic link with EINVAL.
		if isSymlinkAt(w.dirfd(), w.base) {
			reason, err = "the .SHML lock file is a symbolic link, and symbolic links are never followed", syscall.EINVAL
			break
		}
		var fd int
		fd, err = unixutil.IgnoringEINTR2(func() (int, error) {
			return unix.Openat(w.dirfd(), w.base, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o666)
		})
		if err == nil {
			unix.Close(fd)
			return unlock, nil
		}
		if err != syscall.EEXIST {
			break
		}
	}
	w.clean()
	return nil, pathError(op, name, w.path, reason, err)
}

// illumosWalk is where one file of illumos's convention lives, ready for
// the *at system calls: the file base in the directory dirfd().
type illumosWalk struct {
	path string // the file's path, for errors
	base string // its name in dirfd(): the whole path for a short name
	// For a long name: d.dir, the hash directory and the type directory,
	// opened in turn, and the names of the last two in their parents.
	fds   []int
	names []string
}

// dirfd is the directory base is relative to.
func (w *illumosWalk) dirfd() int {
	if len(w.fds) == 0 {
		return unix.AT_FDCWD
	}
	return w.fds[len(w.fds)-1]
}

// clean removes the hashed directories of a long name if they are empty,
// as __pos4obj_clean does, ignoring errors, and closes them.
func (w *illumosWalk) clean() {
	for i := len(w.names) - 1; i >= 0; i-- {
		unix.Unlinkat(w.fds[i], w.names[i], unix.AT_REMOVEDIR)
	}
	w.close()
}

func (w *illumosWalk) close() {
	for _, fd := range w.fds {
		unix.Close(fd)
	}
	w.fds, w.names = nil, nil
}

// walk finds the file of type typ for name. For a long name it opens d.dir
// and then each hashed directory below it, creating the missing ones, as
// __pos4obj_name does, through openDirAt.
func (d *illumosDir) walk(op, name, typ string) (*illumosWalk, error) {
	path, dirs := illumosPath(d.dir, name, typ, d.nameMax)
	w := &illumosWalk{path: path, base: path}
	if len(dirs) == 0 {
		return w, nil
	}
	w.base = name[1:]
	fd, err := unixutil.IgnoringEINTR2(func() (int, error) {
		return unix.Open(d.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, pathError(op, name, d.dir, "", err)
	}
	w.fds = append(w.fds, fd)
	for _, dir := range dirs {
		base := dir[strings.LastIndexByte(dir, '/')+1:]
		fd, reason, err := openDirAt(w.dirfd(), base)
		if err != nil {
			w.close()
			return nil, pathError(op, name, dir, reason, err)
		}
		w.fds, w.names = append(w.fds, fd), append(w.names, base)
	}
	return w, nil
}

// openDirAt opens the directory base in the directory parent for a long
// name, first creating it with mode 0777 despite the umask, as
// __pos4obj_name does (mkdir, then chmod). A symbolic link is never
// followed (ELOOP), and the directory must belong to the caller, or to
// root with the sticky bit set (as /tmp does): its owner could swap its
// entries for links, so one of another user's is refused (EPERM). The
// mode is set through the descriptor, never by path. It returns the
// descriptor, or why it failed and the error.
func openDirAt(parent int, base string) (int, string, error) {
	err := unixutil.IgnoringEINTR(func() error { return unix.Mkdirat(parent, base, 0o777) })
	made := err == nil
	if err != nil && err != syscall.EEXIST {
		return -1, "creating the directory of a long name", err
	}
	fd, err := unixutil.IgnoringEINTR2(func() (int, error) {
		return unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if isSymlinkAt(parent, base) {
			// Linux says ENOTDIR for O_DIRECTORY|O_NOFOLLOW; a refused
			// link is ELOOP everywhere else in this package.
			return -1, "is a symbolic link, and symbolic links are never followed", syscall.ELOOP
		}
		return -1, "opening the directory of a long name", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, "fstat", err
	}
	if reason := illumosDirOwner(st.Uid, uint32(st.Mode), os.Geteuid()); reason != "" {
		unix.Close(fd)
		return -1, reason, syscall.EPERM
	}
	if made {
		if err := unix.Fchmod(fd, 0o777); err != nil {
			unix.Close(fd)
			return -1, "fchmod", err
		}
	}
	return fd, "", nil
}

package posixshm

import (
	"errors"
	"github.com/posixshm/posixshm/internal/unixutil"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	return openFile(name, path, flag, perm, policy{})
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
	f, err := openFile(name, path, flag, perm, policy{})
	if err != nil || d.fposixshm == 0 {
		return f, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, d.fposixshm); err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "fcntl F_SETFL FPOSIXSHM", err)
	}
	return f, nil
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
	path, dirs := illumosPath(d.dir, name, illumosDataType, d.nameMax)
	var f *os.File
	if err = d.mkdirs(opOpen, name, dirs); err == nil {
		f, err = openFile(name, path, flag, perm, policy{})
		if err != nil && flag&os.O_CREATE == 0 {
			rmdirs(dirs)
		}
	}
	if uerr := unlock(); uerr != nil && err == nil {
		f.Close()
		return nil, uerr
	}
	return f, err
}

func (d *illumosDir) Unlink(name string) error {
	if err := illumosCheck(name, d.nameMax); err != nil {
		return pathError(opUnlink, name, "", "", err)
	}
	unlock, err := d.lock(opUnlink, name)
	if err != nil {
		return err
	}
	path, dirs := illumosPath(d.dir, name, illumosDataType, d.nameMax)
	if err = d.mkdirs(opUnlink, name, dirs); err == nil {
		err = unlinkFile(name, path)
		rmdirs(dirs)
	}
	// As in libc, a failure to release the lock is not reported here.
	unlock()
	return err
}

// lock takes the .SHML lock file of name (__pos4obj_lock) and returns the
// function that releases it (__pos4obj_unlock).
func (d *illumosDir) lock(op, name string) (func() error, error) {
	path, dirs := illumosPath(d.dir, name, illumosLockType, d.nameMax)
	if err := d.mkdirs(op, name, dirs); err != nil {
		return nil, err
	}
	unlock := func() error {
		err := unixutil.IgnoringEINTR(func() error { return unix.Unlink(path) })
		rmdirs(dirs)
		if err != nil {
			return pathError(op, name, path, "removing the .SHML lock file", err)
		}
		return nil
	}
	var err error
	for try := 0; try < d.lockTries; try++ {
		if try > 0 {
			time.Sleep(d.lockWait)
		}
		// libc's __open_nc refuses a symbolic link with EINVAL.
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = syscall.EINVAL
			break
		}
		var fd int
		fd, err = unixutil.IgnoringEINTR2(func() (int, error) {
			return unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o666)
		})
		if err == nil {
			unix.Close(fd)
			return unlock, nil
		}
		if err != syscall.EEXIST {
			break
		}
	}
	rmdirs(dirs)
	return nil, pathError(op, name, path, "taking the .SHML lock file", err)
}

// mkdirs creates the hashed directories of a long name, mode 0777 despite
// the umask, as __pos4obj_name does; existing ones are fine.
func (d *illumosDir) mkdirs(op, name string, dirs []string) error {
	for _, dir := range dirs {
		err := unix.Mkdir(dir, 0o777)
		if err == nil {
			err = unix.Chmod(dir, 0o777)
		} else if errors.Is(err, syscall.EEXIST) {
			err = nil
		}
		if err != nil {
			return pathError(op, name, dir, "creating the directory of a long name", err)
		}
	}
	return nil
}

// rmdirs removes the hashed directories of a long name if they are empty,
// as __pos4obj_clean does, ignoring errors.
func rmdirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		unix.Rmdir(dirs[i])
	}
}

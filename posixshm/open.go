package posixshm

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
)

// policy says how strictly openFile treats the file it finds.
type policy struct {
	// openbsd selects OpenBSD's rules: only the flags its shm_open accepts,
	// the permission masked to 0600, and the file owned by the caller.
	openbsd bool
	// tempDir is the directory in which CreateUnnamed gives the layout's
	// new objects temporary names: a file whose second link is its
	// temporary name is being published (see publishing).
	tempDir string
}

// oCLOFORK stands for O_CLOFORK, which OpenBSD's shm_open also accepts.
// golang.org/x/sys defines it for no system yet, so no caller can pass it
// and it is treated as not set.
const oCLOFORK = 0

// openbsdFlags are the flags OpenBSD's shm_open accepts besides the access
// mode; anything else is EINVAL. oCLOFORK is 0 where Go does not define it.
const openbsdFlags = unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_CLOEXEC | unix.O_NOFOLLOW | oCLOFORK

// checkOpenBSDFlags applies OpenBSD's flag rules: the access mode must be
// O_RDONLY or O_RDWR (shared memory opened write-only cannot be mapped), and
// no flag outside openbsdFlags may be set.
func checkOpenBSDFlags(flag int) error {
	switch flag & unix.O_ACCMODE {
	case unix.O_RDONLY, unix.O_RDWR:
	default:
		return syscall.EINVAL
	}
	if flag&^(unix.O_ACCMODE|openbsdFlags) != 0 {
		return syscall.EINVAL
	}
	return nil
}

// nonblockWhile reports whether openFile must add O_NONBLOCK to flag
// for the open and clear it afterwards: for any access mode but O_RDWR,
// unless the caller asked for O_NONBLOCK itself.
func nonblockWhile(flag int) bool {
	return flag&unix.O_ACCMODE != unix.O_RDWR && flag&unix.O_NONBLOCK == 0
}

// openFile opens path for the object called name, the way shm_open does, and
// with these hardenings, each of which would otherwise let a file planted in a
// shared directory hurt the caller:
//
//   - O_NOFOLLOW and O_CLOEXEC are always set: a symlink is never followed.
//   - A FIFO at the path cannot hang the caller. Opened for reading and
//     writing, a FIFO never blocks (the opener is its own writer, on
//     Linux, the BSDs and illumos alike), so O_RDWR is opened as is; any
//     other access mode is opened with O_NONBLOCK, which is cleared again
//     once the file is known to be regular. That spares the common O_RDWR
//     open a system call.
//   - Anything but a regular file is refused with EINVAL, as OpenBSD does.
//   - A file with more than one hard link is refused with EPERM: a link to
//     some other file of the caller's must not become a shared object.
//     One exception: an object that CreateUnnamed has just linked onto
//     its name keeps its temporary name for a moment (publishing); the
//     open waits for it to go, or removes it if its creator died.
//     The descriptor's link count alone can be raced (a link made at the
//     path and removed again between open(2) and fstat(2) leaves one), so
//     where others may remove names, the path must also have named the
//     very same file (see checkOnlyName).
//   - O_TRUNC is applied only after these checks, so a refused file is never
//     truncated; otherwise as open(2) applies it: to an existing file even
//     when it is empty (checking write permission, setting its times), never
//     to a file the call has just created.
func openFile(name, path string, flag int, perm os.FileMode, p policy) (*os.File, error) {
	return openFileAt(unix.AT_FDCWD, path, name, path, flag, perm, p)
}

// openFd is openFile returning the descriptor, which the caller closes
// (the OpenFd functions): no *os.File, and so none of its costs (an
// allocation, a cleanup registration, os.NewFile's fcntl(F_GETFL), Close
// through the poller's descriptor lock).
func openFd(name, path string, flag int, perm os.FileMode, p policy) (int, error) {
	return openFdAt(unix.AT_FDCWD, path, name, path, flag, perm, p)
}

// openFileAt is openFdAt with the descriptor made an *os.File.
func openFileAt(dirfd int, base, name, path string, flag int, perm os.FileMode, p policy) (*os.File, error) {
	fd, err := openFdAt(dirfd, base, name, path, flag, perm, p)
	if err != nil {
		return nil, err
	}
	return newFile(fd, name), nil
}

// maxOpenTries bounds how often openFdAt opens a path again whose file
// was removed or replaced while it was being opened.
const maxOpenTries = 8

// errReplaced says that the file opened is no longer the one at the path:
// openFdAt opens the path again. It never leaves the package.
var errReplaced = errors.New("file removed or replaced while being opened")

// openFdAt is openFd for the file called base in the directory dirfd
// (unix.AT_FDCWD: base is a path); path names the file in errors.
//
// A file removed or replaced between open(2) and the checks (by a
// concurrent Unlink, say) is not an error: the open starts again, as if
// it had come after the change, and creates a new object if flag has
// O_CREAT. After maxOpenTries such changes it fails with EAGAIN.
func openFdAt(dirfd int, base, name, path string, flag int, perm os.FileMode, p policy) (int, error) {
	mode := uint32(perm.Perm())
	if p.openbsd {
		// OpenBSD gives shared memory to its creator only; the umask
		// still applies on top of this, inside open(2).
		mode &= 0o600
	}
	if inode.Full(path) {
		return -1, pathError(opOpen, name, path, "this process keeps "+strconv.Itoa(inode.MaxParked)+
			" descriptors opened by this name open, because they lead to a file it holds record locks on (a hard link made to it); refusing to open another until those locks end", syscall.EAGAIN)
	}
	var published publishWait
	for try := 1; ; try++ {
		fd, reason, err := openOnce(dirfd, base, path, flag, mode, p)
		if err == nil {
			return fd, nil
		}
		switch err {
		case errReplaced:
			if try < maxOpenTries {
				continue
			}
			reason, err = "removed or replaced "+strconv.Itoa(try)+" times while being opened", syscall.EAGAIN
		case errPublishing:
			try--
			if reason, err = published.wait(p.tempDir, path); err == nil {
				continue
			}
		}
		return -1, pathError(opOpen, name, path, reason, err)
	}
}

// openOnce is one attempt of openFdAt. It returns the descriptor, or why
// it failed and the error (errReplaced: try again).
func openOnce(dirfd int, base, path string, flag int, mode uint32, p policy) (int, string, error) {
	sysflag := flag&^unix.O_TRUNC | unix.O_CLOEXEC | unix.O_NOFOLLOW
	nonblock := nonblockWhile(flag)
	if nonblock {
		sysflag |= unix.O_NONBLOCK
	}
	fd, created, err := openat(dirfd, base, flag, sysflag, mode)
	if err != nil {
		return -1, linkReason(dirfd, base, err), err
	}
	// A refused file may be one this process is attached to as a
	// segment, reached by a hard link someone made to it: closing the
	// descriptor would drop the attachment's POSIX record locks, so the
	// closes below go through package inode, which keeps it open until
	// the attachment ends.
	var st unix.Stat_t
	if reason, err := checkFile(fd, dirfd, base, &st, flag, p); err != nil {
		inode.CloseFd(fd, path, nil)
		return -1, reason, err
	}
	if nonblock {
		// F_SETFL changes only the status flags (O_APPEND, O_NONBLOCK...)
		// and ignores the rest, so the caller's flags without O_NONBLOCK
		// are exactly the flags the descriptor should end up with; no
		// F_GETFL needed.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flag&^unix.O_NONBLOCK); err != nil {
			inode.CloseFd(fd, path, &st)
			return -1, "clearing O_NONBLOCK", err
		}
	}
	if flag&unix.O_TRUNC != 0 && !created {
		// As open(2): an existing file is truncated even when it is
		// empty (which checks write permission and sets its times).
		if reason, err := truncate(fd, dirfd, base, path, &st, flag); err != nil {
			inode.CloseFd(fd, path, &st)
			return -1, reason, err
		}
	}
	return fd, "", nil
}

// newFile is the *os.File for the object called name, open as fd. Its
// Name() is name, the name as given to shm_open, as os.Open's file is
// named by the path it was given, and not the file the name resolved to:
// so Unlink(f.Name()) removes exactly the object f was opened as, in
// every layout (github.com/fabiokung/shm's idiom), where a path would be
// refused or, hashed again by a Dir, name another object. Path(name)
// gives the file. Errors of the file's own methods (Write, Truncate,
// Stat) then name the object as the program calls it, as this package's
// errors do.
func newFile(fd int, name string) *os.File { return os.NewFile(uintptr(fd), name) }

// openat opens base in dirfd with sysflag (flag without O_TRUNC, with the
// flags openFile adds). created reports whether the call made the file,
// where that decides whether the deferred O_TRUNC applies: open(2) never
// truncates, nor checks write permission on, a file it has just created,
// so O_RDONLY|O_CREAT|O_TRUNC must not truncate a new file through a
// second, writable descriptor (which its mode may forbid: perm 0400).
// For that combination alone, the file is opened without O_CREAT first,
// and created with O_EXCL only if it is missing.
func openat(dirfd int, base string, flag, sysflag int, mode uint32) (fd int, created bool, err error) {
	open := func(sysflag int) (int, error) {
		return unixutil.IgnoringEINTR2(func() (int, error) { return unix.Openat(dirfd, base, sysflag, mode) })
	}
	const excl = unix.O_CREAT | unix.O_EXCL
	switch {
	case flag&excl == excl:
		fd, err = open(sysflag)
		return fd, err == nil, err
	case flag&(unix.O_CREAT|unix.O_TRUNC) != unix.O_CREAT|unix.O_TRUNC || flag&unix.O_ACCMODE != unix.O_RDONLY:
		fd, err = open(sysflag)
		return fd, false, err
	}
	for try := 1; ; try++ {
		fd, err = open(sysflag &^ unix.O_CREAT)
		if err != syscall.ENOENT || try == maxOpenTries {
			return fd, false, err
		}
		fd, err = open(sysflag | unix.O_EXCL)
		if err != syscall.EEXIST {
			return fd, err == nil, err
		}
	}
}

// linkReason explains an error of openat: when the file at base is a
// symbolic link, that it is one and is never followed (the errno alone,
// ELOOP on most systems, reads "too many levels of symbolic links").
func linkReason(dirfd int, base string, err error) string {
	if err == syscall.ENOENT || err == syscall.EEXIST || !isSymlinkAt(dirfd, base) {
		return ""
	}
	return "is a symbolic link, and symbolic links are never followed"
}

// isSymlinkAt reports whether base in dirfd is a symbolic link.
func isSymlinkAt(dirfd int, base string) bool {
	var st unix.Stat_t
	err := unixutil.IgnoringEINTR(func() error { return unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) })
	return err == nil && uint32(st.Mode)&unix.S_IFMT == unix.S_IFLNK
}

// checkFile checks the file behind a freshly opened descriptor, filling st.
// It returns the reason and error for a refusal (errReplaced: base in
// dirfd no longer names the file, see checkOnlyName).
func checkFile(fd, dirfd int, base string, st *unix.Stat_t, flag int, p policy) (string, error) {
	if err := unix.Fstat(fd, st); err != nil {
		// OpenBSD maps a failed fstat to EINVAL as well.
		return "fstat: " + err.Error(), syscall.EINVAL
	}
	if kind := uint32(st.Mode) & unix.S_IFMT; kind != unix.S_IFREG {
		if kind == unix.S_IFDIR && flag&unix.O_TRUNC != 0 {
			// open(2) itself refuses to truncate a directory, with
			// EISDIR; our deferred O_TRUNC must not change that errno.
			return "is a directory", syscall.EISDIR
		}
		return "not a regular file (" + fileKind(kind) + ")", syscall.EINVAL
	}
	euid := -1 // asked once per open: geteuid(2) is a system call
	if p.openbsd {
		if euid = os.Geteuid(); int64(st.Uid) != int64(euid) {
			return "owned by uid " + strconv.FormatUint(uint64(st.Uid), 10) +
				", not by the caller's uid " + strconv.Itoa(euid), syscall.EPERM
		}
	}
	if st.Nlink > 1 {
		if st.Nlink == 2 && publishing(p.tempDir, base, st) {
			return "", errPublishing
		}
		// A creator that finished publishing between our fstat and the
		// look at its temporary name (which the next creator of the name
		// may already have taken again) left one link: open again.
		if p.tempDir != "" && st.Nlink == 2 && linksNow(fd) == 1 {
			return "", errReplaced
		}
		return linksReason(uint64(st.Nlink)), syscall.EPERM
	}
	return checkOnlyName(fd, dirfd, base, st, euid)
}

// checkOnlyName makes sure that the one link fstat(2) showed for fd, the
// file st, was base in dirfd, and not another name of a file that someone
// linked at base and removed again between open(2) and fstat(2). Only
// those who may remove entries of the directory can play that trick: in a
// directory that no other user may write, or a sticky one (like /tmp)
// where only a file's owner may remove its names, the link count suffices
// (the caller's own processes could write the file anyway). Elsewhere
// onlyName (one per system) checks the name itself. The directory itself
// is trusted, as the caller names it (a Dir, /dev/shm); its entries are
// not.
//
// euid is the caller's effective uid if the caller already asked for it,
// else -1.
func checkOnlyName(fd, dirfd int, base string, st *unix.Stat_t, euid int) (string, error) {
	var dir unix.Stat_t
	var err error
	if dirfd == unix.AT_FDCWD {
		parent := parentDir(base)
		if _, ok := stickyRootDirs.Load(parent); ok {
			return "", nil
		}
		err = unixutil.IgnoringEINTR(func() error { return unix.Stat(parent, &dir) })
		if err == nil && dir.Uid == 0 && dir.Mode&unix.S_ISVTX != 0 {
			stickyRootDirs.Store(parent, struct{}{})
		}
	} else {
		err = unix.Fstat(dirfd, &dir)
	}
	if err != nil {
		return "stat of the directory", err
	}
	if euid < 0 {
		euid = os.Geteuid()
	}
	if !othersMayUnlink(dir.Uid, uint32(dir.Mode), euid) {
		return "", nil
	}
	return onlyName(fd, dirfd, base, st)
}

// stickyRootDirs holds the directories checkOnlyName found to be root's
// with the sticky bit set (/tmp, /dev/shm): only root can change that, and
// root is trusted anyway, so the finding holds for the life of the process
// and spares the common open a stat(2) (about a third of its cost).
var stickyRootDirs sync.Map // string (the directory's path) → struct{}

// parentDir is the directory that holds path.
func parentDir(path string) string {
	switch i := strings.LastIndexByte(path, '/'); i {
	case -1:
		return "."
	case 0:
		return "/"
	default:
		return path[:i]
	}
}

// othersMayUnlink reports whether users other than euid (and root) may
// remove or rename entries of a directory owned by uid with mode: it is
// another user's, or writable by group or others without the sticky bit
// (access control lists aside).
func othersMayUnlink(uid, mode uint32, euid int) bool {
	if int64(uid) != int64(euid) && uid != 0 {
		return true
	}
	return mode&0o022 != 0 && mode&unix.S_ISVTX == 0
}

// sameOnlyName reports whether base in dirfd names the file st with one
// link. It is onlyName where a lookup is trustworthy (see links_linux.go).
func sameOnlyName(dirfd int, base string, st *unix.Stat_t) (string, error) {
	var at unix.Stat_t
	switch err := unixutil.IgnoringEINTR(func() error { return unix.Fstatat(dirfd, base, &at, unix.AT_SYMLINK_NOFOLLOW) }); {
	case err == syscall.ENOENT || err == nil && (at.Dev != st.Dev || at.Ino != st.Ino):
		return "", errReplaced
	case err != nil:
		return "lstat", err
	case at.Nlink > 1:
		return linksReason(uint64(at.Nlink)), syscall.EPERM
	}
	return "", nil
}

// linksReason is the reason for refusing a file with n hard links.
func linksReason(n uint64) string {
	return "has " + strconv.FormatUint(n, 10) + " hard links; refusing a shared object that is also another file"
}

// fileKind names a file type for error messages.
func fileKind(kind uint32) string {
	switch kind {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "file type 0" + strconv.FormatUint(uint64(kind), 8)
}

// truncate applies a deferred O_TRUNC to fd, the file st of base in dirfd.
// open(2) truncates even with O_RDONLY (after checking write permission),
// so a read-only descriptor is truncated through a second, writable one,
// which must reach the very same file.
func truncate(fd, dirfd int, base, path string, st *unix.Stat_t, flag int) (string, error) {
	if flag&unix.O_ACCMODE != unix.O_RDONLY {
		return "ftruncate", unixutil.IgnoringEINTR(func() error { return unix.Ftruncate(fd, 0) })
	}
	wfd, err := unixutil.IgnoringEINTR2(func() (int, error) {
		return unix.Openat(dirfd, base, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	})
	if err == syscall.ENOENT {
		return "", errReplaced
	}
	if err != nil {
		return "opening for O_TRUNC", err
	}
	defer inode.CloseFd(wfd, path, nil) // see openOnce
	var w unix.Stat_t
	if err := unix.Fstat(wfd, &w); err != nil {
		return "fstat", err
	}
	if w.Dev != st.Dev || w.Ino != st.Ino {
		return "", errReplaced
	}
	return "ftruncate", unixutil.IgnoringEINTR(func() error { return unix.Ftruncate(wfd, 0) })
}

// unlinkFile removes path for the object called name.
func unlinkFile(name, path string) error {
	if err := unixutil.IgnoringEINTR(func() error { return unix.Unlink(path) }); err != nil {
		return pathError(opUnlink, name, path, "", err)
	}
	return nil
}

// linksNow is the link count of the file fd now, or 0 if fstat fails.
func linksNow(fd int) uint64 {
	var st unix.Stat_t
	if unixutil.Fstat(fd, &st) != nil {
		return 0
	}
	return uint64(st.Nlink)
}

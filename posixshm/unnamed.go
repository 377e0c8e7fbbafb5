package posixshm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
)

// Creating an object complete, then naming it: see CreateUnnamed.

// TempPrefix begins the name of the temporary file an object is built in
// where the system has no O_TMPFILE (see CreateUnnamed); 64 lowercase hex
// digits follow it.
const TempPrefix = ".posixshm-new-"

// tempName is the temporary file's name for the object whose file is
// called base (its last path element): TempPrefix and the SHA-256 of
// base. One per object, so that a creator killed while it built the
// object leaves at most one file behind for each name, which the next
// creator of that name removes.
func tempName(base string) string {
	sum := sha256.Sum256([]byte(base))
	return TempPrefix + hex.EncodeToString(sum[:])
}

// IsTempName reports whether base, a file name without directory, is the
// name of a temporary file that CreateUnnamed builds an object in:
// TempPrefix and 64 lowercase hex digits. Listing tools (posixshm gc) use
// it to find the ones their creators left.
func IsTempName(base string) bool {
	rest, ok := strings.CutPrefix(base, TempPrefix)
	return ok && len(rest) == hashedLen && strings.Trim(rest, "0123456789abcdef") == ""
}

// lastElem is the last element of path.
func lastElem(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

// A target is where a layout puts the object called name, for
// CreateUnnamed: the layouts whose objects are files in a directory have
// one (unnamedLayout).
type target struct {
	name  string
	dir   string // the directory the temporary file goes in
	path  string // the object's file
	mode  uint32 // the new file's permission, masked as the layout's Open masks it
	setfl int    // F_SETFL flags applied after creating (DragonFly's FPOSIXSHM), or 0
	// link calls do with the directory (a descriptor, or AT_FDCWD for a
	// path) and the name that the object gets, and its path, inside
	// whatever the layout's libc holds while it creates an object
	// (illumos's .SHML lock file).
	link func(do func(dirfd int, base, path string) error) error
}

// unnamedLayout is a Layout that can build an object before naming it.
type unnamedLayout interface {
	target(name string, perm os.FileMode) (target, error)
}

var (
	_ unnamedLayout = Dir("")
	_ unnamedLayout = glibcDir("")
	_ unnamedLayout = netbsdDir{}
	_ unnamedLayout = dragonflyDir{}
	_ unnamedLayout = (*illumosDir)(nil)
)

// atPath links at the path itself.
func atPath(path string) func(func(int, string, string) error) error {
	return func(do func(int, string, string) error) error { return do(unix.AT_FDCWD, path, path) }
}

// An Unnamed is a new object that its name does not lead to yet: see
// CreateUnnamed.
type Unnamed struct {
	f    *os.File
	t    target
	key  inode.Key
	temp string // the temporary file's path; "" if the file has no name (O_TMPFILE)
	done bool
}

// CreateUnnamed creates a new, empty object for the name name of layout
// l, with permission perm (masked as l's Open masks it, less the umask),
// that name does not lead to yet. Write it through File, then give it its
// name with Link: nobody who opens name ever sees it half made, and a
// creator killed on the way leaves no object, or a complete one. glibc's
// sem_open builds its semaphores this way.
//
// On Linux the file has no name at all until Link (O_TMPFILE), which
// links it with linkat(2): from /proc/self/fd, or by its descriptor
// (AT_EMPTY_PATH) where the process may (CAP_DAC_READ_SEARCH). Elsewhere, and where the file system
// refuses O_TMPFILE or there is no /proc, it is created under a temporary
// name in the object's directory: TempPrefix and the SHA-256 of the
// object's file name, one per object, created with O_EXCL and
// O_NOFOLLOW, which no layout's object names produce (in glibc's
// /dev/shm and DragonFly's /var/run/shm, where any file name can be an
// object's, C programs do not use such names: they are reserved). Its
// creator holds a write lock on the file's first byte (the creation lock,
// fcntl F_SETLK) until Link or Remove, so a temporary file whose lock
// nobody holds was left by a creator that died: CreateUnnamed of the same
// name removes it (and posixshm gc does; see RemoveTemp). While its
// creator lives, CreateUnnamed fails with EBUSY. Between Link and the
// removal of the temporary name the object has two links; the layouts'
// Open waits for the second to go (or removes it, if its creator died),
// instead of refusing the file for it.
//
// Layouts whose objects are not files in a directory (FreeBSD's and
// macOS's kernel objects), and layouts not from this package, give an
// error wrapping errors.ErrUnsupported. If there is an error, it will be
// of type *fs.PathError with Op "shm_open".
func CreateUnnamed(l Layout, name string, perm os.FileMode) (*Unnamed, error) {
	ul, ok := l.(unnamedLayout)
	if !ok {
		return nil, &fs.PathError{Op: opOpen, Path: name,
			Err: fmt.Errorf("layout %T cannot name an object it built: %w", l, errors.ErrUnsupported)}
	}
	t, err := ul.target(name, perm)
	if err != nil {
		return nil, err
	}
	fd, err := unixutil.OpenTmpfile(t.dir, t.mode)
	switch {
	case err == nil:
		return t.made(fd, nil, "")
	case err != syscall.ENOTSUP:
		// As open(2) of the object's path with O_CREAT would report a
		// missing or unwritable directory.
		return nil, pathError(opOpen, name, t.path, "", err)
	}
	return t.createTemp()
}

// made finishes an Unnamed for fd, the file st, created under the
// temporary name temp ("": unnamed, and st nil).
func (t *target) made(fd int, st *unix.Stat_t, temp string) (*Unnamed, error) {
	if st == nil {
		st = new(unix.Stat_t)
		if err := unixutil.Fstat(fd, st); err != nil {
			unix.Close(fd)
			return nil, pathError(opOpen, t.name, t.path, "fstat", err)
		}
	}
	u := &Unnamed{f: newFile(fd, t.name), t: *t, key: inode.KeyOf(st), temp: temp}
	if t.setfl != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, t.setfl); err != nil {
			u.Remove()
			u.f.Close()
			return nil, pathError(opOpen, t.name, t.path, "fcntl F_SETFL FPOSIXSHM", err)
		}
	}
	return u, nil
}

// tempMu serializes this process's creators and removers of temporary
// files. Between processes the creation lock decides; within one it
// cannot (POSIX record locks never conflict with their own process's),
// and inode.Creating covers only a creator past its lock.
var tempMu sync.Mutex

// createTemp creates the file under its temporary name, removing one that
// a dead creator left, and takes the creation lock.
func (t *target) createTemp() (*Unnamed, error) {
	temp := t.dir + "/" + tempName(lastElem(t.path))
	fd, st, err := t.openTemp(temp)
	if err != nil {
		return nil, err
	}
	return t.made(fd, &st, temp)
}

// openTemp is the part of createTemp that tempMu serializes.
func (t *target) openTemp(temp string) (int, unix.Stat_t, error) {
	tempMu.Lock()
	defer tempMu.Unlock()
	var st unix.Stat_t
	for try := 1; ; try++ {
		fd, err := unixutil.IgnoringEINTR2(func() (int, error) {
			return unix.Open(temp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, t.mode)
		})
		if err == syscall.EEXIST && try < maxOpenTries {
			reason, err := clearTemp(unix.AT_FDCWD, temp, temp, true)
			if err == nil {
				continue
			}
			return -1, st, pathError(opOpen, t.name, temp, reason, err)
		}
		if err != nil {
			// As open(2) of the object's path with O_CREAT would.
			return -1, st, pathError(opOpen, t.name, t.path, "", err)
		}
		if err := unixutil.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, st, pathError(opOpen, t.name, temp, "fstat", err)
		}
		k := inode.KeyOf(&st)
		inode.HoldCreating(k)
		ok, err := inode.TryLock(fd, 0)
		if err == nil && ok {
			var at unix.Stat_t
			if unixutil.IgnoringEINTR(func() error { return unix.Lstat(temp, &at) }) == nil && inode.KeyOf(&at) == k {
				return fd, st, nil
			}
			inode.Unlock(fd, 0)
		}
		// Another process took the file for abandoned between our
		// open(2) and our lock, and is removing it, or has: try again.
		inode.ReleaseCreating(k, os.NewFile(uintptr(fd), temp))
		if err != nil {
			return -1, st, pathError(opOpen, t.name, temp, "fcntl F_SETLK (the creation lock)", err)
		}
		if try >= maxOpenTries {
			return -1, st, pathError(opOpen, t.name, temp, "temporary file removed under its creator "+fmt.Sprint(try)+" times", syscall.EAGAIN)
		}
	}
}

// errBusy says that a temporary file's creator lives.
const errBusy = syscall.EBUSY

// clearTemp removes the temporary file base in the directory dirfd (path
// names it in errors) if its creator died: nobody holds its creation
// lock, and this process is not creating it. With remove false it only
// looks (F_GETLK). It returns nil if the file is gone (or, without
// remove, would be removed), else why not: EBUSY if its creator lives.
func clearTemp(dirfd int, base, path string, remove bool) (string, error) {
	open := func(flag int) (int, error) {
		return unixutil.IgnoringEINTR2(func() (int, error) {
			return unix.Openat(dirfd, base, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		})
	}
	flag := unix.O_RDWR // the lock is a write lock
	if !remove {
		flag = unix.O_RDONLY
	}
	fd, err := open(flag)
	var denied error
	if err == syscall.EACCES && remove {
		// Another user's: we may still tell whether its creator lives.
		denied, remove = err, false
		fd, err = open(unix.O_RDONLY)
	}
	if err == syscall.ENOENT {
		return "", nil
	}
	if err != nil {
		return "opening the temporary file of another creator" + linkNote(dirfd, base, err), err
	}
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return "fstat of the temporary file", err
	}
	defer inode.CloseFd(fd, path, &st)
	k := inode.KeyOf(&st)
	switch {
	case uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG:
		return "the temporary name is taken by something that is not a regular file (" + fileKind(uint32(st.Mode)&unix.S_IFMT) + ")", syscall.EEXIST
	case inode.Creating(k):
		return "this process is creating the object", errBusy
	case inode.Held(k):
		// A link someone made to a file this process is attached to:
		// its locks are not a creator's.
		return "the temporary name leads to a file this process uses", syscall.EEXIST
	}
	// A creator holds a write lock; read locks are anybody's who may read
	// the file, and say nothing.
	locked, err := inode.Locked(fd, 0)
	switch {
	case err != nil:
		return "fcntl F_GETLK (the creation lock)", err
	case locked:
		return "its creator is building the object (it holds the creation lock)", errBusy
	case !remove && denied != nil:
		return "its creator died, and only the file's owner (or root) may remove it", denied
	case !remove:
		return "", nil
	}
	// Hold the lock while removing the file, so that a creator between
	// its open(2) and its lock cannot take it meanwhile (it finds its file
	// gone and starts again). If read locks keep us from it, no creator
	// can take it either: remove the file all the same, unless a creator
	// got there first.
	ok, err := inode.TryLock(fd, 0)
	if err != nil {
		return "fcntl F_SETLK (the creation lock)", err
	}
	if ok {
		defer inode.Unlock(fd, 0)
	} else if locked, err := inode.Locked(fd, 0); err != nil || locked {
		return "its creator is building the object (it holds the creation lock)", errBusy
	}
	// Remove the name only if it still leads to the file we judged.
	var at unix.Stat_t
	if err := unixutil.IgnoringEINTR(func() error { return unix.Fstatat(dirfd, base, &at, unix.AT_SYMLINK_NOFOLLOW) }); err != nil || inode.KeyOf(&at) != k {
		return "", nil
	}
	if err := unixutil.IgnoringEINTR(func() error { return unix.Unlinkat(dirfd, base, 0) }); err != nil && err != syscall.ENOENT {
		return "removing the temporary file its dead creator left", err
	}
	return "", nil
}

// errPublishing says that the file opened has a second link, its
// temporary name (see CreateUnnamed): its creator is between link(2) and
// removing that name, or died there. It never leaves the package.
var errPublishing = errors.New("file being published")

// publishing reports whether the other link of the file st, which has two
// and was opened as base, is its temporary name in tempDir.
func publishing(tempDir, base string, st *unix.Stat_t) bool {
	if tempDir == "" {
		return false
	}
	var at unix.Stat_t
	temp := tempDir + "/" + tempName(lastElem(base))
	return unixutil.IgnoringEINTR(func() error { return unix.Lstat(temp, &at) }) == nil && at.Dev == st.Dev && at.Ino == st.Ino
}

// publishTimeout bounds how long an open waits for a live creator to
// remove the temporary name of the object it has just linked: a few
// system calls, unless the creator is descheduled or stopped in between.
var publishTimeout = time.Second

// publishWait is an open's wait for objects being published.
type publishWait struct {
	deadline time.Time
	sleep    time.Duration
}

// wait handles an object path whose second link is its temporary name:
// it removes that name if its creator died, else sleeps a little (while
// publishTimeout lasts). nil means to open again.
func (w *publishWait) wait(tempDir, path string) (string, error) {
	temp := tempDir + "/" + tempName(lastElem(path))
	tempMu.Lock()
	reason, err := clearTemp(unix.AT_FDCWD, temp, temp, true)
	tempMu.Unlock()
	if err == nil {
		return "", nil
	}
	now := time.Now()
	if w.deadline.IsZero() {
		w.deadline, w.sleep = now.Add(publishTimeout), 50*time.Microsecond
	}
	if err == errBusy && now.Before(w.deadline) {
		time.Sleep(w.sleep)
		w.sleep = min(2*w.sleep, 10*time.Millisecond)
		return "", nil
	}
	if err == errBusy {
		reason += ", for longer than " + publishTimeout.String()
	}
	return linksReason(2) + "; the other is the temporary name " + temp + " of its creator: " + reason, syscall.EPERM
}

// linkNote says that base is a symbolic link, if err is opening one with
// O_NOFOLLOW.
func linkNote(dirfd int, base string, err error) string {
	if r := linkReason(dirfd, base, err); r != "" {
		return ": it " + r
	}
	return ""
}

// File returns the new object's file, open for reading and writing. The
// caller closes it, but only after Link or Remove: where record locks are
// POSIX locks, closing it first would drop the creation lock.
// Its Name() is the name the object gets, as for Open's files, so
// Unlink(f.Name()) removes the object once it is linked.
func (u *Unnamed) File() *os.File { return u.f }

// Link gives the object its name: link(2), which fails with EEXIST if the
// name exists (somebody else created it first), as O_CREAT|O_EXCL would.
// Then it removes the temporary name, if there is one, and drops the
// creation lock. After a failure the object is still unnamed: Link again
// or Remove it. If there is an error, it will be of type *fs.PathError
// with Op "shm_open".
func (u *Unnamed) Link() error {
	if u.done {
		return &fs.PathError{Op: opOpen, Path: u.t.name, Err: fs.ErrClosed}
	}
	fd := int(u.f.Fd())
	err := u.t.link(func(dirfd int, base, path string) error {
		if u.temp == "" {
			return unixutil.LinkTmpfile(fd, dirfd, base)
		}
		return unixutil.IgnoringEINTR(func() error { return linkAt(u.temp, dirfd, base, path) })
	})
	if err != nil {
		reason := "linking the new object onto its name"
		switch {
		case err == syscall.EEXIST:
			reason = "" // as O_CREAT|O_EXCL would say it
		case err == syscall.ENOENT && u.temp != "":
			reason = "the temporary file was removed while the object was built"
		}
		return pathError(opOpen, u.t.name, u.t.path, reason, err)
	}
	u.finish()
	return nil
}

// Taken returns the error Link would return now because the name already
// leads to an object (EEXIST, as O_CREAT|O_EXCL reports it), or nil. A
// creator asks before it spends much on the new object (reserving its
// memory) and again when that work fails, so that a name that is taken
// is reported as taken, not as a shortage that the object under the name
// caused. It only looks: the name may be taken right after, and Link
// then fails as before.
func (u *Unnamed) Taken() error {
	var st unix.Stat_t
	if unixutil.IgnoringEINTR(func() error { return unix.Lstat(u.t.path, &st) }) != nil {
		return nil
	}
	return pathError(opOpen, u.t.name, u.t.path, "", syscall.EEXIST)
}

// Remove removes the unnamed object: its temporary name, if it has one,
// and the creation lock. Nothing is left but the open file, which the
// caller closes.
func (u *Unnamed) Remove() error {
	if u.done {
		return nil
	}
	u.finish()
	return nil
}

// finish removes the temporary name and drops the creation lock, in that
// order: while the lock is held, openers that find the object's second
// link wait for it to go.
func (u *Unnamed) finish() {
	u.done = true
	if u.temp == "" {
		return
	}
	tempMu.Lock()
	defer tempMu.Unlock()
	// The name leads to our file: while we hold the creation lock nobody
	// removes it but someone who may remove any name in the directory,
	// and then that is theirs to answer for.
	unixutil.IgnoringEINTR(func() error { return unix.Unlink(u.temp) })
	fd := int(u.f.Fd())
	inode.Unlock(fd, 0)
	inode.ReleaseCreating(u.key, nil)
}

// RemoveTemp removes the temporary file called base in the directory dir
// (an open directory; see CreateUnnamed and IsTempName) if its creator
// has died: nobody holds its creation lock. With dryRun it removes
// nothing and only tells whether it would. It returns an error wrapping
// syscall.EBUSY while the creator lives, and one wrapping fs.ErrNotExist
// if there is no such file. A temporary file whose creator died after
// linking the object onto its name is the object's second link: removing
// it leaves the object with its name. If there is an error, it will be of
// type *fs.PathError.
func RemoveTemp(dir *os.File, base string, dryRun bool) error {
	path := dir.Name() + "/" + base
	if !IsTempName(base) {
		return &fs.PathError{Op: "unlink", Path: path, Err: fmt.Errorf("not a temporary file's name: %w", syscall.EINVAL)}
	}
	var st unix.Stat_t
	dirfd := int(dir.Fd())
	if err := unixutil.IgnoringEINTR(func() error { return unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	tempMu.Lock()
	defer tempMu.Unlock()
	reason, err := clearTemp(dirfd, base, path, !dryRun)
	if err != nil {
		if reason != "" {
			err = fmt.Errorf("%s: %w", reason, err)
		}
		return &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

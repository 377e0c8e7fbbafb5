package sem

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
)

// What a creator killed mid-creation leaves. A creator (glibc's sem_open,
// or createGlibc and createOpenBSD here) builds the semaphore in a
// temporary file, links it to the name and then removes the temporary
// name. Killed between the two, it leaves a complete semaphore with two
// links: its name and the temporary name. A random kill of a process that
// creates semaphores in a loop lands there about one time in eight, for
// glibc's creators and for ours. glibc's sem_open opens such a file as it
// opens any other; the one-link rule (posixshm.OpenObjectFile), which
// waits out a live creator's two links, would refuse it for good.
//
// So a file with two links is opened when the other link is a temporary
// name of the creation protocol in the same directory: the semaphore is
// complete (it was linked only once built), and it is not also a file
// elsewhere, which is what the one-link rule is for. The temporary name is
// left where it is: in glibc's layout it cannot be told from the name of
// another semaphore (sem.XXXXXX is also "/XXXXXX"), and removing it could
// remove the name of a semaphore someone hard-linked there. (Only a user
// who may read and write a file can give it a second name, where Linux's
// fs.protected_hardlinks is on, as it is by default; such a user can post
// and wait on it anyway.) Each open of
// such a name pays for the wait of OpenObjectFile (about 40 ms) and a read
// of the directory, until the temporary name goes ("posixshm rm", or gc
// once nobody maps the file).

// isTempName reports whether base, a name in the directory of path, is a
// temporary name a creator of path's semaphore uses: glibc's sem.XXXXXX
// (any semaphore's), or OpenBSD's layout's <path>.XXXXXX (createOpenBSD's;
// OpenBSD's own sem_open creates in place).
func isTempName(path, base string, openbsd bool) bool {
	prefix := glibcPrefix
	if openbsd {
		prefix = filepath.Base(path) + "."
	}
	x, ok := strings.CutPrefix(base, prefix)
	if !ok || len(x) != 6 || prefix+x == filepath.Base(path) {
		return false
	}
	for i := range len(x) {
		if strings.IndexByte(tempChars, x[i]) < 0 {
			return false
		}
	}
	return true
}

// tempLink returns the temporary name in path's directory that is the
// other link of the file st, a semaphore file with two links, or "".
func tempLink(path string, st *unix.Stat_t, openbsd bool) string {
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return ""
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if !isTempName(path, n, openbsd) {
			continue
		}
		var at unix.Stat_t
		p := filepath.Join(dir, n)
		if unixutil.IgnoringEINTR(func() error { return unix.Lstat(p, &at) }) == nil && at.Dev == st.Dev && at.Ino == st.Ino {
			return p
		}
	}
	return ""
}

// openLeftover opens the semaphore file at path for reading and writing
// if it is a regular file (owned by the effective user, with openbsd)
// whose second link is a temporary name of its creator (see above); nil
// if it is not. It opens as posixshm.OpenObjectFile does otherwise:
// O_NOFOLLOW, O_NONBLOCK while opening so that a FIFO swapped in cannot
// block, and the file checked after the open, by its descriptor.
func openLeftover(path string, openbsd bool) *os.File {
	var st unix.Stat_t
	if unixutil.IgnoringEINTR(func() error { return unix.Lstat(path, &st) }) != nil ||
		st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 2 || tempLink(path, &st, openbsd) == "" {
		return nil
	}
	var fd int
	err := unixutil.IgnoringEINTR(func() (err error) {
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil
	}
	var fst unix.Stat_t
	if unixutil.Fstat(fd, &fst) != nil || fst.Dev != st.Dev || fst.Ino != st.Ino || fst.Mode&unix.S_IFMT != unix.S_IFREG ||
		fst.Nlink > 2 || openbsd && int64(fst.Uid) != int64(os.Geteuid()) {
		// Closed through package inode: the file may be one this
		// process holds record locks on (see posixshm's openOnce).
		inode.CloseFd(fd, path, nil)
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		inode.CloseFd(fd, path, &fst)
		return nil
	}
	return os.NewFile(uintptr(fd), path)
}

// isLinksError reports whether err, from posixshm.OpenObjectFile, is its
// refusal of a file with more than one link (EPERM): the case
// openLeftover may open all the same.
func isLinksError(err error) bool {
	return err != nil && errnoOf(err) == syscall.EPERM
}

package sem

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/memfault"
	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
)

// pageSize is the size of an OpenBSD semaphore's file: one page
// (SEM_MMAP_SIZE, _thread_pagesize).
var pageSize = os.Getpagesize()

// checkFlags allows O_CREAT and O_EXCL only, as OpenBSD's sem_open does.
// glibc ignores the access mode and passes other flags to open(2), where
// O_TRUNC would empty a semaphore others use; no layout takes them here.
func checkFlags(flag int) error {
	if flag&^(unix.O_CREAT|unix.O_EXCL) != 0 {
		return &posixshm.NameError{Reason: "flags other than O_CREAT and O_EXCL (sem_open takes no access mode)", Errno: syscall.EINVAL}
	}
	return nil
}

// maxCreateTries bounds the rounds of an open with O_CREAT and without
// O_EXCL that finds no file, then loses the race to create it to a
// creator whose file is then removed before it can be opened.
const maxCreateTries = 8

// errLinkExists says that link(2) found the name taken: another creator
// won. It never leaves the package.
var errLinkExists = errors.New("name taken while the semaphore was built")

// openGlibc opens or creates the semaphore called name, the file path in
// dir, as glibc's sem_open does. Hardening beyond glibc, which opens with
// O_NOFOLLOW and checks nothing else: only a regular file with a single
// link, whose size and private field are those of a glibc semaphore of
// either width (glibc maps whatever it finds); see glibcFormatOf. Like
// glibc, and unlike OpenBSD, it opens other users' semaphores where the
// file's mode lets it: sharing across users is how /dev/shm is used.
func openGlibc(name, dir, path string, flag int, perm os.FileMode, value uint32, create Format) (*Semaphore, error) {
	if err := checkFlags(flag); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	creat := flag&unix.O_CREAT != 0
	excl := creat && flag&unix.O_EXCL != 0
	for try := 1; ; try++ {
		if !excl {
			s, err := openGlibcFile(name, path)
			if err == nil || !creat || !errors.Is(err, fs.ErrNotExist) {
				return s, err
			}
		}
		if value > glibcValueMax {
			return nil, pathError(opOpen, name, path, "initial value above SEM_VALUE_MAX (2147483647)", syscall.EINVAL)
		}
		s, err := createGlibc(name, dir, path, perm, value, create)
		if err != errLinkExists {
			return s, err
		}
		if excl || try == maxCreateTries {
			return nil, pathError(opOpen, name, path, "", syscall.EEXIST)
		}
	}
}

// openGlibcFile opens the existing glibc semaphore at path.
func openGlibcFile(name, path string) (*Semaphore, error) {
	f, err := posixshm.OpenObjectFile(opOpen, name, path, unix.O_RDWR, 0, false)
	if isLinksError(err) {
		// Perhaps a creator killed between link(2) and unlink(2): see
		// leftover.go.
		if lf := openLeftover(path, false); lf != nil {
			f, err = lf, nil
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "fstat", syscall.EINVAL)
	}
	size := st.Size()
	if size != glibc64Size && size != glibc32Size {
		f.Close()
		_, ferr := glibcFormatOf(size, nil)
		return nil, pathError(opOpen, name, path, "", ferr)
	}
	mem, err := mmap(f, int(size))
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "mmap", err)
	}
	var format Format
	reason := ""
	if !memfault.Catch(func() { format, err = glibcFormatOf(size, mem) }) {
		// Truncated since the fstat, by a process that may write it.
		reason, err = errTruncated, syscall.EFAULT
	}
	if err != nil {
		unix.Munmap(mem)
		f.Close()
		return nil, pathError(opOpen, name, path, reason, err)
	}
	return newSemaphore(name, path, f, mem, format), nil
}

// createGlibc builds a semaphore of format with value in a temporary file
// in dir and links it to path, as glibc does; errLinkExists if path exists
// by then.
func createGlibc(name, dir, path string, perm os.FileMode, value uint32, format Format) (*Semaphore, error) {
	f, tmp, err := createTemp(name, path, dir+"/"+glibcPrefix, perm, false)
	if err != nil {
		return nil, err
	}
	// The temporary name goes whatever happens (as in glibc, a process
	// killed before this leaves it behind): on success at once after the
	// link, before anything else, so that a kill leaves two links as
	// rarely as it can (see leftover.go).
	defer removeTemp(tmp)
	init := glibcInit(format, value)
	if _, err := f.WriteAt(init, 0); err != nil {
		f.Close()
		return nil, pathError(opOpen, name, tmp, "writing the semaphore", errnoOf(err))
	}
	mem, err := mmap(f, len(init))
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, tmp, "mmap", err)
	}
	if err := link(tmp, path); err != nil {
		unix.Munmap(mem)
		f.Close()
		if err == syscall.EEXIST {
			return nil, errLinkExists
		}
		return nil, pathError(opOpen, name, path, "link", err)
	}
	removeTemp(tmp)
	return newSemaphore(name, path, f, mem, format), nil
}

// openOpenBSD opens or creates the semaphore called name, the file path,
// as OpenBSD's sem_open does (see Dir.Open).
func openOpenBSD(name, path string, flag int, value uint32) (*Semaphore, error) {
	if err := checkFlags(flag); err != nil {
		return nil, pathError(opOpen, name, "", "", err)
	}
	creat := flag&unix.O_CREAT != 0
	excl := creat && flag&unix.O_EXCL != 0
	for try := 1; ; try++ {
		if !excl {
			f, err := posixshm.OpenObjectFile(opOpen, name, path, unix.O_RDWR, 0o600, true)
			if isLinksError(err) {
				if lf := openLeftover(path, true); lf != nil {
					f, err = lf, nil
				}
			}
			if err == nil {
				return openOpenBSDFile(name, path, f, creat, value)
			}
			if !creat || !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		s, err := createOpenBSD(name, path, value)
		if err != errLinkExists {
			return s, err
		}
		if excl || try == maxCreateTries {
			return nil, pathError(opOpen, name, path, "", syscall.EEXIST)
		}
	}
}

// openOpenBSDFile maps the semaphore open in f. As in OpenBSD, with creat
// an empty file (a C creator's, between its open and its ftruncate, or
// left by one that died there) is sized and initialised with value, and
// otherwise the file must be one page long.
func openOpenBSDFile(name, path string, f *os.File, creat bool, value uint32) (*Semaphore, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "fstat", syscall.EINVAL)
	}
	if err := checkOpenBSDSize(st.Size(), creat); err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "", err)
	}
	created := st.Size() == 0
	if created {
		if err := f.Truncate(int64(pageSize)); err != nil {
			f.Close()
			return nil, pathError(opOpen, name, path, "ftruncate", errnoOf(err))
		}
	}
	mem, err := mmap(f, pageSize)
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, path, "mmap", err)
	}
	if created && !memfault.Catch(func() { initOpenBSD(mem, value) }) {
		unix.Munmap(mem)
		f.Close()
		return nil, pathError(opOpen, name, path, errTruncated, syscall.EFAULT)
	}
	return newSemaphore(name, path, f, mem, OpenBSD), nil
}

// createOpenBSD builds a one-page semaphore with value in a temporary
// file beside path and links it there; errLinkExists if path exists by
// then. OpenBSD's own sem_open creates the file in place and sizes and
// initialises it afterwards, so its openers may briefly see it empty (they
// get EINVAL without O_CREAT) or at value 0; a semaphore made here is
// complete before it has a name.
func createOpenBSD(name, path string, value uint32) (*Semaphore, error) {
	f, tmp, err := createTemp(name, path, path+".", 0o600, true)
	if err != nil {
		return nil, err
	}
	defer removeTemp(tmp)
	if err := f.Truncate(int64(pageSize)); err != nil {
		f.Close()
		return nil, pathError(opOpen, name, tmp, "ftruncate", errnoOf(err))
	}
	mem, err := mmap(f, pageSize)
	if err != nil {
		f.Close()
		return nil, pathError(opOpen, name, tmp, "mmap", err)
	}
	initOpenBSD(mem, value)
	if err := link(tmp, path); err != nil {
		unix.Munmap(mem)
		f.Close()
		if err == syscall.EEXIST {
			return nil, errLinkExists
		}
		return nil, pathError(opOpen, name, path, "link", err)
	}
	removeTemp(tmp)
	return newSemaphore(name, path, f, mem, OpenBSD), nil
}

// initOpenBSD writes what sem_open writes into a semaphore it created:
// value, then shared = 1.
func initOpenBSD(mem []byte, value uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&mem[obsdValueOff])), value)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&mem[obsdSharedOff])), 1)
}

// tempChars are the characters mktemp(3) puts in place of X's.
const tempChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// maxTempTries is glibc's NRETRIES: after this many names taken, EAGAIN.
const maxTempTries = 50

// createTemp creates a new file prefix+<6 random characters> with perm,
// as sem_open's mktemp and open(O_RDWR|O_CREAT|O_EXCL) do, and returns it
// and its path. Its errors name path, the semaphore's own file.
func createTemp(name, path, prefix string, perm os.FileMode, openbsd bool) (*os.File, string, error) {
	var err error
	for range maxTempTries {
		b := []byte(prefix + "XXXXXX")
		for i := len(prefix); i < len(b); i++ {
			b[i] = tempChars[rand.IntN(len(tempChars))]
		}
		tmp := string(b)
		var f *os.File
		f, err = posixshm.OpenObjectFile(opOpen, name, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, perm, openbsd)
		if err == nil {
			return f, tmp, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			var fe *posixshm.FileError
			if errors.As(err, &fe) {
				reason := "creating it as " + filepath.Base(tmp) + " first"
				if fe.Reason != "" {
					reason += ": " + fe.Reason
				}
				return nil, "", pathError(opOpen, name, path, reason, fe.Errno)
			}
			return nil, "", err
		}
	}
	return nil, "", pathError(opOpen, name, path, "no unused temporary name "+prefix+"XXXXXX after 50 tries", syscall.EAGAIN)
}

// removeTemp removes a creator's temporary name; a second call finds it
// gone, which is no error here (nor in glibc, which does not look).
func removeTemp(tmp string) {
	unixutil.IgnoringEINTR(func() error { return unix.Unlink(tmp) })
}

// link is link(2), retried on EINTR.
func link(oldpath, newpath string) error {
	return unixutil.IgnoringEINTR(func() error { return unix.Link(oldpath, newpath) })
}

// mmap maps the first n bytes of f shared, for reading and writing.
func mmap(f *os.File, n int) ([]byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var mem []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		mem, merr = unix.Mmap(int(fd), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	return mem, merr
}

// errnoOf returns the errno inside err, or err itself.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// unlinkFile removes path, the semaphore called name.
func unlinkFile(name, path string) error {
	if err := unixutil.IgnoringEINTR(func() error { return unix.Unlink(path) }); err != nil {
		return pathError(opUnlink, name, path, "", err)
	}
	return nil
}

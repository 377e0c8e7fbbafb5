package posixshm_test

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// fdOpener is what Dir and the package-level OpenFd offer.
type fdOpener func(name string, flag int, perm os.FileMode) (int, error)

// TestOpenFd: the descriptor-level open opens the same object as Open, with
// Open's descriptor flags (close-on-exec, O_NONBLOCK cleared), and fails
// as Open fails.
func TestOpenFd(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	g := posixshm.GlibcDir(t.TempDir())
	for _, c := range []struct {
		name string
		fd   fdOpener
		open func(string, int, os.FileMode) (*os.File, error)
	}{
		{"Dir", d.OpenFd, d.Open},
		{"glibc", g.(interface {
			OpenFd(string, int, os.FileMode) (int, error)
		}).OpenFd, g.Open},
	} {
		t.Run(c.name, func(t *testing.T) {
			fd, err := c.fd("/fd", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if _, err := unix.Write(fd, []byte(content)); err != nil {
				t.Fatal(err)
			}
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
				t.Errorf("FD_CLOEXEC not set (F_GETFD = %#x, %v)", fl, err)
			}
			for _, flag := range []int{os.O_RDONLY, os.O_RDWR} {
				fd2, err := c.fd("/fd", flag, 0)
				if err != nil {
					t.Fatal(err)
				}
				if fl, err := unix.FcntlInt(uintptr(fd2), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 || fl&unix.O_ACCMODE != flag {
					t.Errorf("OpenFd(%#x): F_GETFL = %#x, %v", flag, fl, err)
				}
				unix.Close(fd2)
			}
			f, err := c.open("/fd", os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, len(content))
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if string(b[:n]) != content {
				t.Errorf("Open reads %q of what OpenFd's descriptor wrote", b[:n])
			}

			_, err = c.fd("/missing", os.O_RDWR, 0)
			checkPathError(t, err, "shm_open", "/missing")
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("missing object: %v, want ErrNotExist", err)
			}
			_, err = c.fd("/fd", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("O_EXCL on an existing object: %v, want ErrExist", err)
			}
			path, _ := d.Path("/fifo")
			if c.name == "glibc" {
				path, _ = g.Path("/fifo")
			}
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			if fd, err := c.fd("/fifo", os.O_RDONLY, 0); !errors.Is(err, syscall.EINVAL) {
				unix.Close(fd)
				t.Errorf("a FIFO: %v, want EINVAL", err)
			}
		})
	}
}

// TestOpenFd_Native: the package-level OpenFd opens what Open opens.
func TestOpenFd_Native(t *testing.T) {
	name, _ := nativeName(t)
	fd, err := posixshm.OpenFd(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { posixshm.Unlink(name) })
	if _, err := unix.Write(fd, []byte(content)); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	f, err := posixshm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, len(content))
	if n, _ := f.ReadAt(b, 0); string(b[:n]) != content {
		t.Errorf("Open reads %q of what OpenFd's descriptor wrote", b[:n])
	}
}

package posixshm

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openOnly is a Layout without OpenFd (a caller's own, say).
type openOnly struct{ Layout }

// TestOpenFdOf_Fallback: for a Layout without OpenFd, the package-level
// OpenFd opens with Open and returns a close-on-exec duplicate of its
// descriptor, the *os.File closed.
func TestOpenFdOf_Fallback(t *testing.T) {
	d := Dir(t.TempDir())
	fd, err := openFdOf(openOnly{d}, "/dup", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("FD_CLOEXEC not set (F_GETFD = %#x, %v)", fl, err)
	}
	if _, err := unix.Write(fd, []byte("x")); err != nil {
		t.Fatalf("the duplicate is not usable: %v", err)
	}
	if _, err := openFdOf(openOnly{d}, "/missing", os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing object: %v, want ErrNotExist", err)
	}
}

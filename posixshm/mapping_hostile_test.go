package posixshm_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// TestMap_NotRegular: Map of a file that is no object (a named pipe
// opened by mistake, a directory, a device) says what the file is
// (ENODEV, mmap's own errno for such files), not "empty object: give it
// a size first", which sent a user to Truncate a FIFO; Map(nil) is an
// error, as the methods of a nil *os.File are, not a panic. Failed
// before: "empty object" for the pipe and the device, a bare "no such
// device" for the directory, and a nil-pointer panic.
func TestMap_NotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, kind string
		flag       int
	}{
		{fifo, "named pipe", os.O_RDWR},
		{dir, "directory", os.O_RDONLY},
		{os.DevNull, "character device", os.O_RDWR},
	} {
		f, err := os.OpenFile(c.path, c.flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = posixshm.Map(f)
		checkMapError(t, err, c.path, syscall.ENODEV, "not a regular file ("+c.kind+")")
		f.Close()
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Map(nil) panicked: %v", r)
			}
		}()
		var pe *fs.PathError
		if _, err := posixshm.Map(nil); !errors.As(err, &pe) || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("Map(nil) = %v, want a *fs.PathError wrapping os.ErrInvalid", err)
		}
	}()
}

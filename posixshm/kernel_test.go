package posixshm

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestKernelObjects runs the FreeBSD and macOS convention's shared code
// with system calls stood in for: names are checked before any call, the
// call gets the name NUL-terminated, and errors come back as shm_open and
// shm_unlink *fs.PathErrors of the caller's name.
func TestKernelObjects(t *testing.T) {
	var opened, unlinked []string
	var openErr error
	cstr := func(p *byte) string { return unix.BytePtrToString(p) }
	k := kernelObjects{
		check: darwinCheckName,
		open: func(name *byte, flag int, perm uint32) (int, error) {
			opened = append(opened, cstr(name))
			if openErr != nil {
				return -1, openErr
			}
			if flag != os.O_RDWR|os.O_CREATE || perm != 0o640 {
				t.Errorf("open got flag %#x perm %o", flag, perm)
			}
			return unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		},
		unlink: func(name *byte) error {
			unlinked = append(unlinked, cstr(name))
			if *(*byte)(unsafe.Add(unsafe.Pointer(name), len(cstr(name)))) != 0 {
				t.Error("name passed without its NUL")
			}
			return syscall.ENOENT
		},
	}
	if p, err := k.Path("/obj"); err != nil || p != "/obj" {
		t.Errorf("Path = %q, %v; want the name itself", p, err)
	}
	f, err := k.Open("/obj", os.O_RDWR|os.O_CREATE, 0o640|os.ModeSetuid)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "/obj" {
		t.Errorf("file name %q, want /obj", f.Name())
	}
	f.Close()
	openErr = syscall.EACCES
	_, err = k.Open("/obj", os.O_RDWR|os.O_CREATE, 0o640)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != "/obj" || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Open error = %#v, want shm_open /obj wrapping EACCES", err)
	}
	err = k.Unlink("/obj")
	if !errors.As(err, &pe) || pe.Op != "shm_unlink" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unlink error = %#v, want shm_unlink /obj wrapping ENOENT", err)
	}
	// Refused names never reach a system call.
	for _, name := range []string{"", "/a\x00b", "/" + string(make([]byte, 40))} {
		if _, err := k.Open(name, os.O_RDWR, 0); err == nil || !errors.As(err, &pe) || pe.Op != "shm_open" {
			t.Errorf("Open(%q) = %v, want a shm_open error", name, err)
		}
		if err := k.Unlink(name); err == nil {
			t.Errorf("Unlink(%q) succeeded", name)
		}
	}
	if len(opened) != 2 || len(unlinked) != 1 || opened[0] != "/obj" || unlinked[0] != "/obj" {
		t.Errorf("calls made: open %q, unlink %q", opened, unlinked)
	}
}

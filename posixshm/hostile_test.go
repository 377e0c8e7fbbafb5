package posixshm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// Files planted at an object's path by someone else (in /tmp, anybody can)
// must be refused without being changed: each test checks the errno, that
// the error names the resolved file, and that nothing on disk changed.

// hostileFlags are the flags each hostile file is tried with, the
// destructive ones included.
var hostileFlags = []int{
	unix.O_RDONLY,
	unix.O_RDWR,
	unix.O_RDWR | unix.O_CREAT,
	unix.O_RDWR | unix.O_TRUNC,
	unix.O_RDONLY | unix.O_TRUNC,
	unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC,
	unix.O_RDWR | unix.O_CREAT | unix.O_EXCL,
	unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC,
}

// openWatched runs Open in a goroutine and fails the test if it has not
// returned within 10 s, so a blocking open fails instead of hanging.
func openWatched(t *testing.T, d posixshm.Dir, name string, flag int) error {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := d.Open(name, flag, 0o600)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		if r.f != nil {
			r.f.Close()
			return nil
		}
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%q, %#x) still blocked after 10 s", name, flag)
		return nil
	}
}

// checkRefused checks a refusal: the errno, the error's shape, and that it
// names the file.
func checkRefused(t *testing.T, err error, want syscall.Errno, name, path string, flag int) {
	t.Helper()
	if got := errnoOf(t, err); got != want {
		t.Errorf("flags %#x: %v; want %s", flag, err, errnoName(want))
		return
	}
	checkPathError(t, err, "shm_open", name)
	checkNamesFile(t, err, path)
}

// exclOr is want unless the flags decide before the file is looked at:
// OpenBSD's open(2) refuses O_RDONLY|O_TRUNC with EINVAL before it looks
// the path up, and O_CREAT|O_EXCL is EEXIST for anything at the path.
func exclOr(flag int, want syscall.Errno) syscall.Errno {
	switch {
	case flag&unix.O_TRUNC != 0 && flag&unix.O_ACCMODE == unix.O_RDONLY:
		return syscall.EINVAL
	case flag&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL:
		return syscall.EEXIST
	}
	return want
}

func TestDir_Open_Symlink(t *testing.T) {
	for _, dangling := range []bool{false, true} {
		for _, flag := range hostileFlags {
			t.Run(fmt.Sprintf("dangling=%v,flags=%#x", dangling, flag), func(t *testing.T) {
				d := posixshm.Dir(t.TempDir())
				side := t.TempDir()
				const name = "/symlink"
				path, _ := d.Path(name)
				target := filepath.Join(side, "target")
				if !dangling {
					writeOld(t, target)
				}
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
				before, beforeSide := snapshot(t, string(d)), snapshot(t, side)

				err := openWatched(t, d, name, flag)
				want := exclOr(flag, syscall.ELOOP)
				checkRefused(t, err, want, name, path, flag)
				if want == syscall.ELOOP {
					checkSaysSymlink(t, err)
				}
				if after := snapshot(t, string(d)); after != before {
					t.Errorf("object directory changed:\n before %s\n after  %s", before, after)
				}
				if after := snapshot(t, side); after != beforeSide {
					t.Errorf("symlink target changed (created, written or truncated):\n before %s\n after  %s", beforeSide, after)
				}
			})
		}
	}
}

// checkSaysSymlink checks that the error for a refused symbolic link says
// what it is and what happens to links, not only ELOOP's "too many levels
// of symbolic links".
func checkSaysSymlink(t *testing.T, err error) {
	t.Helper()
	var fe *posixshm.FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "symbolic link") || !strings.Contains(fe.Reason, "never followed") {
		t.Errorf("error %q does not say that the file is a symbolic link and links are never followed", err)
	}
}

func TestDir_Open_FIFO(t *testing.T) {
	for _, flag := range hostileFlags {
		t.Run(fmt.Sprintf("flags=%#x", flag), func(t *testing.T) {
			d := posixshm.Dir(t.TempDir())
			const name = "/fifo"
			path, _ := d.Path(name)
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			// A reader of our own, so that anything written into the FIFO
			// by Open would show.
			rfd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(rfd)
			before := snapshot(t, string(d))

			// openWatched fails an Open that blocks (for 10 s: a
			// blocked open never returns by itself, however loaded the
			// machine); a duration here would only measure the load.
			err = openWatched(t, d, name, flag)
			checkRefused(t, err, exclOr(flag, syscall.EINVAL), name, path, flag)
			if after := snapshot(t, string(d)); after != before {
				t.Errorf("object directory changed:\n before %s\n after  %s", before, after)
			}
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
				t.Errorf("the FIFO is gone or replaced: %v, %v", fi, err)
			}
			var buf [16]byte
			if n, err := unix.Read(rfd, buf[:]); n > 0 {
				t.Errorf("Open wrote %q into the FIFO (err %v)", buf[:n], err)
			}
		})
	}
}

func TestDir_Open_Directory(t *testing.T) {
	tests := []struct {
		flag int
		want syscall.Errno
	}{
		{unix.O_RDONLY, syscall.EINVAL},                // open(2) succeeds; not a regular file
		{unix.O_RDWR, syscall.EISDIR},                  // open(2) refuses
		{unix.O_RDONLY | unix.O_TRUNC, syscall.EINVAL}, // OpenBSD's open(2), before the lookup
		{unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC, syscall.EINVAL},
		{unix.O_RDWR | unix.O_TRUNC, syscall.EISDIR},
		{unix.O_RDONLY | unix.O_CREAT, syscall.EISDIR},
		{unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC, syscall.EISDIR},
		{unix.O_RDWR | unix.O_CREAT | unix.O_EXCL, syscall.EEXIST},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("flags=%#x", tt.flag), func(t *testing.T) {
			d := posixshm.Dir(t.TempDir())
			const name = "/dir"
			path, _ := d.Path(name)
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			writeOld(t, filepath.Join(path, "inside"))
			before := snapshot(t, string(d))
			err := openWatched(t, d, name, tt.flag)
			checkRefused(t, err, tt.want, name, path, tt.flag)
			if after := snapshot(t, string(d)); after != before {
				t.Errorf("directory changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestDir_Open_HardLink(t *testing.T) {
	for _, flag := range hostileFlags {
		t.Run(fmt.Sprintf("flags=%#x", flag), func(t *testing.T) {
			d := posixshm.Dir(t.TempDir())
			side := t.TempDir()
			const name = "/hardlink"
			path, _ := d.Path(name)
			// Another file of ours, say ~/.ssh/id_ed25519, linked into /tmp.
			twin := filepath.Join(side, "precious")
			writeOld(t, twin)
			if err := os.Link(twin, path); err != nil {
				t.Fatal(err)
			}
			before, beforeSide := snapshot(t, string(d)), snapshot(t, side)
			err := openWatched(t, d, name, flag)
			checkRefused(t, err, exclOr(flag, syscall.EPERM), name, path, flag)
			if after := snapshot(t, string(d)); after != before {
				t.Errorf("object changed:\n before %s\n after  %s", before, after)
			}
			if after := snapshot(t, side); after != beforeSide {
				t.Errorf("linked file changed:\n before %s\n after  %s", beforeSide, after)
			}
		})
	}
}

func TestDir_Open_OtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to uid 65534")
	}
	for _, flag := range hostileFlags {
		t.Run(fmt.Sprintf("flags=%#x", flag), func(t *testing.T) {
			d := posixshm.Dir(t.TempDir())
			const name = "/other"
			path, _ := d.Path(name)
			writeOld(t, path)
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, string(d))
			err := openWatched(t, d, name, flag)
			checkRefused(t, err, exclOr(flag, syscall.EPERM), name, path, flag)
			if after := snapshot(t, string(d)); after != before {
				t.Errorf("other user's object changed:\n before %s\n after  %s", before, after)
			}
			if exclOr(flag, syscall.EPERM) == syscall.EPERM && !errors.Is(err, fs.ErrPermission) {
				t.Errorf("errors.Is(%v, fs.ErrPermission) is false", err)
			}
		})
	}
}

// TestDir_Open_TruncReadOnly: OpenBSD's open(2) begins with "if ((fmode &
// (O_TRUNC | FWRITE)) == O_TRUNC) return (EINVAL);", so shm_open with
// O_RDONLY|O_TRUNC, with or without O_CREAT or O_EXCL, is EINVAL there
// whatever is at the path, and creates and truncates nothing.
func TestDir_Open_TruncReadOnly(t *testing.T) {
	for _, state := range []openState{stMissing, stRegular, stDir} {
		for _, flag := range []int{
			unix.O_RDONLY | unix.O_TRUNC, unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC,
			unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC,
		} {
			d := posixshm.Dir(t.TempDir())
			const name = "/rdtrunc"
			path, _ := d.Path(name)
			plant(t, state, path, "")
			before := snapshot(t, string(d))
			f, err := d.Open(name, flag, 0o600)
			if f != nil {
				f.Close()
			}
			checkRefused(t, err, syscall.EINVAL, name, path, flag)
			if after := snapshot(t, string(d)); after != before {
				t.Errorf("%s, flags %#x: changed:\n before %s\n after  %s", state, flag, before, after)
			}
		}
	}
}

// TestDir_Open_TruncEmpty: O_TRUNC truncates an existing file even when it
// is empty, as open(2) does, which sets its modification time.
func TestDir_Open_TruncEmpty(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	const name = "/empty"
	path, _ := d.Path(name)
	for _, flag := range []int{unix.O_RDWR | unix.O_TRUNC, unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC} {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, oldTime, oldTime); err != nil {
			t.Fatal(err)
		}
		f, err := d.Open(name, flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if s := snapshot(t, path); !strings.Contains(s, "mtime=new") {
			t.Errorf("flags %#x on an empty file: %s; want a new mtime", flag, s)
		}
	}
}

package posixshm

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests run glibc's convention (the one Linux uses in /dev/shm) in a
// temporary directory, so they need in-package access to glibcDir.

func TestGlibcDir_Path(t *testing.T) {
	d := glibcDir("/dev/shm")
	tests := []struct {
		name, want string
		err        syscall.Errno
	}{
		{"/foo", "/dev/shm/foo", 0},
		{"foo", "/dev/shm/foo", 0},
		{"//a", "/dev/shm/a", 0},
		{"/" + strings.Repeat("x", 255), "/dev/shm/" + strings.Repeat("x", 255), 0},
		{"///" + strings.Repeat("x", 255), "/dev/shm/" + strings.Repeat("x", 255), 0},
		{strings.Repeat("x", 256), "", syscall.ENAMETOOLONG},
		{"/" + strings.Repeat("x", 256), "", syscall.ENAMETOOLONG},
		{"/...", "/dev/shm/...", 0},
		{"/.a", "/dev/shm/.a", 0},
		{"/日本", "/dev/shm/日本", 0},
		{"/a\nb", "/dev/shm/a\nb", 0},
		{"", "", syscall.EINVAL},
		{"/", "", syscall.EINVAL},
		{"///", "", syscall.EINVAL},
		{"a/b", "", syscall.EINVAL},
		{"/a/", "", syscall.EINVAL},
		{".", "", syscall.EINVAL},
		{"..", "", syscall.EINVAL},
		{"/.", "", syscall.EINVAL},
		{"//..", "", syscall.EINVAL},
		{"/../etc/passwd", "", syscall.EINVAL},
		{"/a\x00", "", syscall.EINVAL},
		{"\x00", "", syscall.EINVAL},
	}
	for _, tt := range tests {
		got, err := d.Path(tt.name)
		var errno syscall.Errno
		if err != nil && !errors.As(err, &errno) {
			t.Errorf("Path(%q): error %v holds no errno", tt.name, err)
		}
		if got != tt.want || errno != tt.err {
			t.Errorf("Path(%.20q) = %q, %v; want %q, errno %d", tt.name, got, err, tt.want, tt.err)
		}
		if err == nil {
			continue
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != tt.name {
			t.Errorf("Path(%q): error %#v, want *fs.PathError{Op: shm_open, Path: name}", tt.name, err)
		}
		// Open and Unlink refuse the same names before touching anything.
		tmp := glibcDir(t.TempDir())
		if _, err := tmp.Open(tt.name, os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, tt.err) {
			t.Errorf("Open(%q): %v, want %v", tt.name, err, tt.err)
		}
		err = tmp.Unlink(tt.name)
		if !errors.Is(err, tt.err) || !errors.As(err, &pe) || pe.Op != "shm_unlink" || pe.Path != tt.name {
			t.Errorf("Unlink(%q): %#v, want *fs.PathError{Op: shm_unlink, Path: name, Err: %v}", tt.name, err, tt.err)
		}
		if ents, _ := os.ReadDir(string(tmp)); len(ents) != 0 {
			t.Errorf("Open(%q) created %v", tt.name, ents[0].Name())
		}
	}
}

func TestGlibcDir_Open(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	d := glibcDir(t.TempDir())

	// The permission is not masked to 0600: sharing across users is a
	// feature of /dev/shm.
	f, err := d.Open("/obj", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Mode() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode())
	}
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	checkFD(t, f, false)
	f.Close()
	if f.Name() != "/obj" {
		t.Errorf("Name() = %q, want the name given, /obj", f.Name())
	}
	path := filepath.Join(string(d), "obj")

	// Flags are passed on: O_WRONLY and O_APPEND are glibc's business.
	f, err = d.Open("obj", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("O_WRONLY|O_APPEND: %v", err)
	}
	if _, err := f.WriteString("more"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(path); string(b) != "datamore" {
		t.Errorf("content %q, want %q", b, "datamore")
	}

	// A caller's O_NONBLOCK is kept; otherwise the descriptor blocks.
	f, err = d.Open("//obj", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkFD(t, f, true)
	f.Close()

	f, err = d.Open("/obj", os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("size %d after O_TRUNC", fi.Size())
	}

	if err := d.Unlink("/obj"); err != nil {
		t.Fatal(err)
	}
	_, err = d.Open("/obj", os.O_RDWR, 0)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open after Unlink: %v, want ErrNotExist naming %s", err, path)
	}
}

// checkFD checks close-on-exec and the O_NONBLOCK status of f.
func checkFD(t *testing.T, f *os.File, nonblock bool) {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || fd&unix.FD_CLOEXEC == 0 {
		t.Errorf("FD_CLOEXEC not set: %#x, %v", fd, err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || (fl&unix.O_NONBLOCK != 0) != nonblock {
		t.Errorf("F_GETFL = %#x, %v; want O_NONBLOCK %v", fl, err, nonblock)
	}
}

// TestGlibcDir_Open_OtherOwner: unlike OpenBSD, another user's object is
// accepted, as glibc's shm_open does.
func TestGlibcDir_Open_OtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to uid 65534")
	}
	d := glibcDir(t.TempDir())
	path := filepath.Join(string(d), "other")
	if err := os.WriteFile(path, []byte("theirs"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	f, err := d.Open("/other", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("Open of another user's object: %v", err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "theirs" {
		t.Errorf("read %q", b)
	}
}

func TestGlibcDir_Open_Hostile(t *testing.T) {
	side := t.TempDir()
	target := filepath.Join(side, "target")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		plant func(path string) error
		flag  int
		want  syscall.Errno
	}{
		{"symlink", func(p string) error { return os.Symlink(target, p) }, os.O_RDWR | os.O_CREATE | os.O_TRUNC, syscall.ELOOP},
		{"dangling", func(p string) error { return os.Symlink(filepath.Join(side, "nothing"), p) }, os.O_RDWR | os.O_CREATE, syscall.ELOOP},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o666) }, os.O_RDONLY, syscall.EINVAL},
		{"fifo rdwr", func(p string) error { return unix.Mkfifo(p, 0o666) }, os.O_RDWR | os.O_TRUNC, syscall.EINVAL},
		{"fifo wronly", func(p string) error { return unix.Mkfifo(p, 0o666) }, os.O_WRONLY, syscall.ENXIO}, // open(2): no reader, O_NONBLOCK
		{"dir", func(p string) error { return os.Mkdir(p, 0o700) }, os.O_RDONLY, syscall.EINVAL},
		// glibc turns open(2)'s EISDIR into EINVAL.
		{"dir rdwr", func(p string) error { return os.Mkdir(p, 0o700) }, os.O_RDWR, syscall.EINVAL},
		{"dir rdonly trunc", func(p string) error { return os.Mkdir(p, 0o700) }, os.O_RDONLY | os.O_TRUNC, syscall.EINVAL},
		{"dir creat", func(p string) error { return os.Mkdir(p, 0o700) }, os.O_RDWR | os.O_CREATE | os.O_TRUNC, syscall.EINVAL},
		{"hard link", func(p string) error { return os.Link(target, p) }, os.O_RDWR | os.O_TRUNC, syscall.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := glibcDir(t.TempDir())
			path := filepath.Join(string(d), "x")
			if err := tt.plant(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			done := make(chan error, 1)
			go func() {
				f, err := d.Open("/x", tt.flag, 0o600)
				if f != nil {
					f.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Open blocked for 10 s")
			}
			var errno syscall.Errno
			if !errors.As(err, &errno) || errno != tt.want {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if tt.want == syscall.ELOOP {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "is a symbolic link") || !strings.Contains(fe.Reason, "never followed") {
					t.Errorf("error %q does not say that the file is a symbolic link and links are never followed", err)
				}
			}
			after, err := os.Lstat(path)
			if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
				t.Errorf("the planted file changed: %v, %v", after, err)
			}
			if b, _ := os.ReadFile(target); string(b) != "precious" {
				t.Errorf("target now holds %q", b)
			}
			if _, err := os.Lstat(filepath.Join(side, "nothing")); err == nil {
				t.Error("the dangling symlink's target was created")
			}
		})
	}
}

package posixshm_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// content is what pre-existing objects hold in these tests.
const content = "hello, shared memory"

// oldTime is the modification time given to pre-existing files, so that
// any write, even within the file system's timestamp granularity, shows.
var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// errnoOf returns the errno inside err, 0 for nil, and fails for an error
// that holds none.
func errnoOf(t testing.TB, err error) syscall.Errno {
	t.Helper()
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		t.Fatalf("error %v (%T) holds no syscall.Errno", err, err)
	}
	return errno
}

// errnoName prints an errno for messages: "ok" for 0.
func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return fmt.Sprintf("%s (%d)", unix.ErrnoName(e), int(e))
}

// withUmask sets the process umask for the rest of the test. The umask is
// process-wide: tests that call it must not be parallel.
func withUmask(t testing.TB, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// writeOld creates path with content, owned by us, with an old mtime.
func writeOld(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes the file at path (not following a symlink) and,
// for a directory, everything in it: type, permissions, owner, link count,
// size, modification time, content or link target. Two equal snapshots
// mean nothing observable changed.
func snapshot(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := fmt.Sprintf("%v uid=%d nlink=%d size=%d", fi.Mode(), st.Uid, st.Nlink, fi.Size())
	switch {
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		mtime := "new"
		if fi.ModTime().Equal(oldTime) {
			mtime = "old"
		}
		s += fmt.Sprintf(" mtime=%s content=%q", mtime, b)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			t.Fatal(err)
		}
		s += " -> " + target
	case fi.IsDir():
		ents, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		s += " {" // the listing shows changes; the mtime is the creation's
		for _, e := range ents {
			s += " " + e.Name() + ": " + snapshot(t, filepath.Join(path, e.Name())) + ";"
		}
		s += " }"
	}
	return s
}

func TestDir_Open_Flags(t *testing.T) {
	withUmask(t, 0o022)
	const (
		missing = iota
		existing
	)
	tests := []struct {
		desc  string
		state int
		flag  int
		want  syscall.Errno
		size  int64 // size of the object afterwards; -1: it does not exist
	}{
		{"O_RDONLY", existing, unix.O_RDONLY, 0, int64(len(content))},
		{"O_RDWR", existing, unix.O_RDWR, 0, int64(len(content))},
		{"O_RDONLY missing", missing, unix.O_RDONLY, syscall.ENOENT, -1},
		{"O_RDWR missing", missing, unix.O_RDWR, syscall.ENOENT, -1},
		{"O_RDONLY|O_CREAT", missing, unix.O_RDONLY | unix.O_CREAT, 0, 0},
		{"O_RDWR|O_CREAT", missing, unix.O_RDWR | unix.O_CREAT, 0, 0},
		{"O_RDWR|O_CREAT existing", existing, unix.O_RDWR | unix.O_CREAT, 0, int64(len(content))},
		{"O_RDWR|O_CREAT|O_EXCL", missing, unix.O_RDWR | unix.O_CREAT | unix.O_EXCL, 0, 0},
		{"O_RDWR|O_CREAT|O_EXCL existing", existing, unix.O_RDWR | unix.O_CREAT | unix.O_EXCL, syscall.EEXIST, int64(len(content))},
		{"O_RDONLY|O_CREAT|O_EXCL existing", existing, unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL, syscall.EEXIST, int64(len(content))},
		{"O_RDWR|O_CREAT|O_EXCL|O_TRUNC existing", existing, unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC, syscall.EEXIST, int64(len(content))},
		{"O_RDWR|O_TRUNC", existing, unix.O_RDWR | unix.O_TRUNC, 0, 0},
		// OpenBSD's open(2) refuses O_TRUNC without write access.
		{"O_RDONLY|O_TRUNC", existing, unix.O_RDONLY | unix.O_TRUNC, syscall.EINVAL, int64(len(content))},
		{"O_RDONLY|O_TRUNC missing", missing, unix.O_RDONLY | unix.O_TRUNC, syscall.EINVAL, -1},
		{"O_RDONLY|O_CREAT|O_TRUNC", missing, unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC, syscall.EINVAL, -1},
		{"O_RDONLY|O_CREAT|O_TRUNC existing", existing, unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC, syscall.EINVAL, int64(len(content))},
		{"O_RDONLY|O_CREAT|O_EXCL|O_TRUNC existing", existing, unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC, syscall.EINVAL, int64(len(content))},
		{"O_RDWR|O_CREAT|O_TRUNC", existing, unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC, 0, 0},
		{"O_RDWR|O_TRUNC missing", missing, unix.O_RDWR | unix.O_TRUNC, syscall.ENOENT, -1},
		{"O_RDWR|O_CLOEXEC", existing, unix.O_RDWR | unix.O_CLOEXEC, 0, int64(len(content))},
		{"O_RDWR|O_NOFOLLOW", existing, unix.O_RDWR | unix.O_NOFOLLOW, 0, int64(len(content))},

		// The access mode must be O_RDONLY or O_RDWR.
		{"O_WRONLY", existing, unix.O_WRONLY, syscall.EINVAL, int64(len(content))},
		{"O_WRONLY|O_CREAT", missing, unix.O_WRONLY | unix.O_CREAT, syscall.EINVAL, -1},
		{"O_WRONLY|O_TRUNC", existing, unix.O_WRONLY | unix.O_TRUNC, syscall.EINVAL, int64(len(content))},
		{"O_ACCMODE", existing, unix.O_ACCMODE, syscall.EINVAL, int64(len(content))},
		{"O_ACCMODE|O_CREAT", missing, unix.O_ACCMODE | unix.O_CREAT, syscall.EINVAL, -1},

		// Every other flag is refused before the file is touched.
		{"O_APPEND", existing, unix.O_RDWR | unix.O_APPEND, syscall.EINVAL, int64(len(content))},
		{"O_NONBLOCK", existing, unix.O_RDWR | unix.O_NONBLOCK, syscall.EINVAL, int64(len(content))},
		{"O_SYNC", existing, unix.O_RDWR | unix.O_SYNC, syscall.EINVAL, int64(len(content))},
		{"O_DIRECTORY", existing, unix.O_RDONLY | unix.O_DIRECTORY, syscall.EINVAL, int64(len(content))},
		{"O_NOCTTY", existing, unix.O_RDWR | unix.O_NOCTTY, syscall.EINVAL, int64(len(content))},
		{"O_APPEND|O_TRUNC", existing, unix.O_RDWR | unix.O_APPEND | unix.O_TRUNC, syscall.EINVAL, int64(len(content))},
		{"O_NONBLOCK|O_CREAT", missing, unix.O_RDWR | unix.O_NONBLOCK | unix.O_CREAT, syscall.EINVAL, -1},
		{"bit 30", missing, unix.O_RDWR | unix.O_CREAT | 1<<30, syscall.EINVAL, -1},
		{"-1", missing, -1, syscall.EINVAL, -1},
		{"sign bit", missing, unix.O_RDWR | unix.O_CREAT | math.MinInt, syscall.EINVAL, -1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			d := posixshm.Dir(t.TempDir())
			const name = "/flags"
			path, _ := d.Path(name)
			if tt.state == existing {
				writeOld(t, path)
			}
			f, err := d.Open(name, tt.flag, 0o644)
			if f != nil {
				defer f.Close()
			}
			if got := errnoOf(t, err); got != tt.want {
				t.Fatalf("Open(%q, %#x): %v; want %s", name, tt.flag, err, errnoName(tt.want))
			}
			if (err == nil) != (f != nil) {
				t.Fatalf("Open returned file %v and error %v", f, err)
			}
			if err != nil {
				checkPathError(t, err, "shm_open", name)
			}
			fi, statErr := os.Lstat(path)
			switch {
			case tt.size < 0 && statErr == nil:
				t.Fatalf("%s exists after Open", path)
			case tt.size >= 0 && statErr != nil:
				t.Fatal(statErr)
			case tt.size >= 0 && fi.Size() != tt.size:
				t.Fatalf("size after Open = %d, want %d", fi.Size(), tt.size)
			}
			if tt.size > 0 && !fi.ModTime().Equal(oldTime) {
				t.Errorf("mtime changed from %v to %v", oldTime, fi.ModTime())
			}
			if f == nil {
				return
			}
			if f.Name() != name {
				t.Errorf("f.Name() = %q, want the name given, %q", f.Name(), name)
			}
			// The returned descriptor has the access mode asked for.
			fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fl&unix.O_ACCMODE, tt.flag&unix.O_ACCMODE; got != want {
				t.Errorf("access mode %d, want %d", got, want)
			}
		})
	}
}

// TestDir_Open_FlagBits tries every single flag bit with O_RDWR|O_CREAT:
// only the bits of OpenBSD's set are accepted.
func TestDir_Open_FlagBits(t *testing.T) {
	ok := unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_ACCMODE
	d := posixshm.Dir(t.TempDir())
	for bit := 0; bit < strconv.IntSize-1; bit++ {
		flag := unix.O_RDWR | unix.O_CREAT | 1<<bit
		if flag&unix.O_ACCMODE != unix.O_RDWR {
			continue // covered by TestDir_Open_Flags
		}
		name := "/bit" + strconv.Itoa(bit)
		f, err := d.Open(name, flag, 0o600)
		want := syscall.Errno(0)
		if 1<<bit&^ok != 0 {
			want = syscall.EINVAL
		}
		if got := errnoOf(t, err); got != want {
			t.Errorf("Open(%q, %#x): %v; want %s", name, flag, err, errnoName(want))
		}
		if f != nil {
			f.Close()
		}
		path, _ := d.Path(name)
		if _, err := os.Lstat(path); (err == nil) != (want == 0) {
			t.Errorf("flag %#x: Lstat(%s) after Open: %v", flag, path, err)
		}
	}
}

// TestDir_Open_Perm checks that a new object gets perm & 0600, less the umask.
func TestDir_Open_Perm(t *testing.T) {
	tests := []struct {
		umask int
		perm  os.FileMode
		want  os.FileMode
	}{
		{0, 0o777, 0o600},
		{0, 0o666, 0o600},
		{0, 0o644, 0o600},
		{0, 0o600, 0o600},
		{0, 0o400, 0o400},
		{0, 0o200, 0o200},
		{0, 0o077, 0},
		{0, 0, 0},
		{0, 0o7777 | os.ModeSetuid | os.ModeSticky, 0o600},
		{0o022, 0o777, 0o600},
		{0o077, 0o777, 0o600},
		{0o277, 0o777, 0o400},
		{0o177, 0o640, 0o600},
		{0o377, 0o666, 0o400},
		{0o777, 0o600, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("umask=%03o,perm=%v", tt.umask, tt.perm), func(t *testing.T) {
			withUmask(t, tt.umask)
			d := posixshm.Dir(t.TempDir())
			f, err := d.Open("/perm", os.O_RDWR|os.O_CREATE|os.O_EXCL, tt.perm)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tt.want {
				t.Errorf("mode %v, want %v", fi.Mode(), tt.want)
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Geteuid() {
				t.Errorf("owner %d, want %d", uid, os.Geteuid())
			}
		})
	}
}

// TestDir_Open_Descriptor checks the descriptor Open returns: close-on-exec
// always, and blocking (the internal O_NONBLOCK is cleared).
func TestDir_Open_Descriptor(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	for _, flag := range []int{os.O_RDWR | os.O_CREATE, os.O_RDONLY, os.O_RDWR, os.O_RDWR | unix.O_CLOEXEC, os.O_RDWR | os.O_TRUNC} {
		f, err := d.Open("/fd", flag, 0o600)
		if err != nil {
			t.Fatalf("Open(%#x): %v", flag, err)
		}
		fdfl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fdfl&unix.FD_CLOEXEC == 0 {
			t.Errorf("Open(%#x): FD_CLOEXEC not set (F_GETFD = %#x)", flag, fdfl)
		}
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fl&unix.O_NONBLOCK != 0 {
			t.Errorf("Open(%#x): O_NONBLOCK left set (F_GETFL = %#x)", flag, fl)
		}
		if fl&(unix.O_APPEND|unix.O_SYNC) != 0 {
			t.Errorf("Open(%#x): unexpected status flags %#x", flag, fl)
		}
		f.Close()
	}
}

// TestDir_Open_SameObject checks that two opens of one name share the data
// and that distinct names do not.
func TestDir_Open_SameObject(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	w, err := d.Open("/same", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(content); err != nil {
		t.Fatal(err)
	}
	r, err := d.Open("/same", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != content {
		t.Fatalf("read %q, %v; want %q", b, err, content)
	}
	if _, err := r.WriteString("x"); err == nil {
		t.Error("write through an O_RDONLY object succeeded")
	}
	if _, err := d.Open("same", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(`Open("same") after creating "/same": %v, want ErrNotExist`, err)
	}
}

func TestDir_Unlink(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	f, err := d.Open("/gone", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := d.Unlink("/gone"); err != nil {
		t.Fatal(err)
	}
	assertDirEmpty(t, string(d))
	// The open descriptor still works.
	if _, err := f.WriteString(content); err != nil {
		t.Errorf("write after Unlink: %v", err)
	}
	if _, err := d.Open("/gone", os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Unlink: %v, want ErrNotExist", err)
	}
	err = d.Unlink("/gone")
	checkPathError(t, err, "shm_unlink", "/gone")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Unlink: %v, want ErrNotExist", err)
	}
	// Unlink removes whatever is at the path, as unlink(2) does, but never
	// what a symlink points to.
	path, _ := d.Path("/link")
	target := filepath.Join(t.TempDir(), "target")
	writeOld(t, target)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlink("/link"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("Unlink of a symlink removed its target: %v", err)
	}
	assertDirEmpty(t, string(d))
}

// checkPathError checks the shape every error has: a *fs.PathError with
// the C function's name and the caller's object name.
func checkPathError(t testing.TB, err error, op, name string) *fs.PathError {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *fs.PathError", err, err)
	}
	if pe.Op != op || pe.Path != name {
		t.Errorf("PathError{Op: %q, Path: %q}, want {%q, %q}", pe.Op, pe.Path, op, name)
	}
	return pe
}

// checkNamesFile checks that an error about the file at path says so:
// its message names the file and a *posixshm.FileError carries it.
func checkNamesFile(t testing.TB, err error, path string) {
	t.Helper()
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	var fe *posixshm.FileError
	if !errors.As(err, &fe) {
		t.Errorf("error %v holds no *posixshm.FileError", err)
	} else if fe.File != path {
		t.Errorf("FileError.File = %q, want %q", fe.File, path)
	}
}

func TestDir_Open_Errors(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	path, _ := d.Path("/err")

	_, err := d.Open("/err", os.O_RDWR, 0)
	checkPathError(t, err, "shm_open", "/err")
	checkNamesFile(t, err, path)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing object: %v, want ErrNotExist", err)
	}
	if want := "shm_open /err: " + path + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}

	writeOld(t, path)
	_, err = d.Open("/err", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	checkPathError(t, err, "shm_open", "/err")
	checkNamesFile(t, err, path)
	if !errors.Is(err, fs.ErrExist) || !errors.Is(err, syscall.EEXIST) {
		t.Errorf("O_EXCL on an existing object: %v, want ErrExist", err)
	}

	if os.Geteuid() == 0 {
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err = d.Open("/err", os.O_RDWR, 0)
		checkPathError(t, err, "shm_open", "/err")
		checkNamesFile(t, err, path)
		if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, syscall.EPERM) {
			t.Errorf("object of another user: %v, want ErrPermission", err)
		}
		if !strings.Contains(err.Error(), "65534") {
			t.Errorf("message %q does not say who owns the file", err)
		}
	}

	// A bad flag is refused before any file is involved.
	_, err = d.Open("/err", os.O_WRONLY, 0)
	checkPathError(t, err, "shm_open", "/err")
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("O_WRONLY: %v, want EINVAL", err)
	}

	err = d.Unlink("/nothing")
	checkPathError(t, err, "shm_unlink", "/nothing")
	p2, _ := d.Path("/nothing")
	checkNamesFile(t, err, p2)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unlink of a missing object: %v, want ErrNotExist", err)
	}

	_, _, err = d.CreateTemp("/tooshortXXXXX")
	checkPathError(t, err, "shm_mkstemp", "/tooshortXXXXX")
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("CreateTemp with 5 X's: %v, want EINVAL", err)
	}
}

// TestOpen_Native opens, writes, reopens and unlinks an object through the
// package-level functions, which use this system's own convention.
func TestOpen_Native(t *testing.T) {
	name, path := nativeName(t)
	f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	defer f.Close()
	if f.Name() != name {
		t.Errorf("f.Name() = %q, want the name given, %q", f.Name(), name)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	g, err := posixshm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(g)
	g.Close()
	if string(b) != content {
		t.Errorf("reopened object holds %q, want %q", b, content)
	}
	if err := posixshm.Unlink(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after Unlink: %v", path, err)
	}
	err = posixshm.Unlink(name)
	checkPathError(t, err, "shm_unlink", name)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Unlink: %v, want ErrNotExist", err)
	}
	_, err = posixshm.Open(name, os.O_RDWR, 0)
	checkPathError(t, err, "shm_open", name)
	checkNamesFile(t, err, path)
}

// TestDir_Empty: Dir("") names no directory, so that an unset variable
// cannot make the file system's root the object directory. Every method
// refuses it with EINVAL and a message naming the cause, and touches
// nothing.
func TestDir_Empty(t *testing.T) {
	d := posixshm.Dir("")
	const name = "/empty-dir"
	// What the methods would reach if "" were the root.
	rootPath, _ := posixshm.Dir("/").Path(name)
	if _, err := os.Lstat(rootPath); err == nil {
		t.Fatalf("%s exists before the test", rootPath)
	}
	t.Cleanup(func() { os.Remove(rootPath) })
	check := func(method string, err error, op, path string) {
		t.Helper()
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), `Dir("")`) {
			t.Errorf("Dir(\"\").%s: %v; want EINVAL naming the empty directory", method, err)
			return
		}
		checkPathError(t, err, op, path)
	}
	p, err := d.Path(name)
	check("Path", err, "shm_open", name)
	if p != "" {
		t.Errorf("Dir(\"\").Path = %q alongside the error", p)
	}
	p, err = d.SemPath(name)
	check("SemPath", err, "sem_open", name)
	if p != "" {
		t.Errorf("Dir(\"\").SemPath = %q alongside the error", p)
	}
	buf, err := d.AppendPath([]byte("dst:"), name)
	check("AppendPath", err, "shm_open", name)
	if string(buf) != "dst:" {
		t.Errorf("Dir(\"\").AppendPath changed dst to %q", buf)
	}
	f, err := d.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
	if f != nil {
		f.Close()
	}
	check("Open", err, "shm_open", name)
	check("Unlink", d.Unlink(name), "shm_unlink", name)
	f, tmp, err := d.CreateTemp("/tmpXXXXXX")
	if f != nil {
		f.Close()
		t.Errorf("Dir(\"\").CreateTemp created %q", tmp)
	}
	check("CreateTemp", err, "shm_mkstemp", "/tmpXXXXXX")
	if _, err := os.Lstat(rootPath); err == nil {
		t.Errorf("Dir(\"\").Open created %s", rootPath)
	}
}

// nativeName returns a new object name in this system's own convention and
// the file it leads to, skipping the test where that convention's
// directory is not there.
func nativeName(t *testing.T) (name, path string) {
	t.Helper()
	name = fmt.Sprintf("/posixshm-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	path, err := posixshm.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Skipf("this system's shm directory is not available: %v", err)
	}
	return name, path
}

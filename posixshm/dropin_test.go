package posixshm_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
)

// shmTestName is a name no other test or run uses: fabiokung/shm's test uses
// "shm-test-" and a UUID.
func shmTestName(prefix string) string {
	return prefix + "shm-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// dropinLayouts are the layouts the drop-in idiom must hold in: this
// system's convention, OpenBSD's layout in a directory, and glibc's in a
// directory (the test names each directory, to check nothing is left).
func dropinLayouts(t *testing.T) []struct {
	what string
	l    posixshm.Layout
	dir  string
} {
	sysDir := ""
	if p, err := posixshm.Path("/probe"); err == nil && filepath.IsAbs(p) {
		sysDir = filepath.Dir(p)
	}
	return []struct {
		what string
		l    posixshm.Layout
		dir  string
	}{
		{"System", posixshm.System(), sysDir},
		{"Dir", posixshm.Dir(t.TempDir()), ""},
		{"GlibcDir", posixshm.GlibcDir(t.TempDir()), ""},
	}
}

// TestLayout_UnlinkName is github.com/fabiokung/shm's own test (its
// README's idiom too), run through each layout: Open with
// O_RDWR|O_CREATE|O_EXCL, Ftruncate, Write, Sync, ReadAt, and then
// Unlink(file.Name()), which must remove exactly that object and leave
// nothing behind. The file's Name() is the name as given to Open, as
// os.Open's is the name it was given; Path(name) is the file.
func TestLayout_UnlinkName(t *testing.T) {
	for _, c := range dropinLayouts(t) {
		names := []string{shmTestName(""), shmTestName("/")}
		if _, ok := c.l.(posixshm.Dir); ok {
			// OpenBSD's layout hashes any name: nested, empty, and
			// with several leading slashes too.
			names = append(names, shmTestName("/a/b/"), "", shmTestName("//"))
		} else if c.what == "GlibcDir" {
			names = append(names, shmTestName("///"))
		}
		for _, name := range names {
			t.Run(c.what+"/"+strconv.Quote(name), func(t *testing.T) {
				path, err := c.l.Path(name)
				if err != nil {
					if c.what == "System" {
						t.Skipf("this system's convention refuses %q: %v", name, err)
					}
					t.Fatal(err)
				}
				if c.what == "System" {
					if _, err := os.Stat(c.dir); err != nil {
						t.Skipf("this system's shm directory is not available: %v", err)
					}
				}
				// Another object beside it, which the Unlink must not touch.
				other := shmTestName("/other-")
				of, err := c.l.Open(other, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				of.Close()
				otherPath, _ := c.l.Path(other)
				t.Cleanup(func() { os.Remove(otherPath) })

				expected := []byte("a test")
				file, err := c.l.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(path) })
				unlinked := false
				defer func() {
					if err := file.Close(); err != nil {
						t.Error(err)
					}
					if err := c.l.Unlink(file.Name()); err != nil {
						t.Error(err)
					} else {
						unlinked = true
					}
				}()
				if file.Name() != name {
					t.Errorf("Name() = %q, want %q, the name given to Open", file.Name(), name)
				}
				if err := syscall.Ftruncate(int(file.Fd()), int64(len(expected))); err != nil {
					t.Fatal(err)
				}
				if _, err := file.Write(expected); err != nil {
					t.Fatal(err)
				}
				if err := file.Sync(); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, len(expected))
				if _, err := file.ReadAt(buf, 0); err != nil {
					t.Fatal(err)
				}
				if string(buf) != string(expected) {
					t.Fatalf("Expected %q. Got: %q", expected, buf)
				}
				// The file is the one Path names.
				if b, err := os.ReadFile(path); err != nil || string(b) != string(expected) {
					t.Errorf("%s holds %q, %v; want %q", path, b, err, expected)
				}
				t.Cleanup(func() {
					if !unlinked {
						return
					}
					if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("after Unlink(file.Name()), %s: %v, want it gone", path, err)
					}
					if of, err := c.l.Open(other, os.O_RDONLY, 0); err != nil {
						t.Errorf("Unlink(file.Name()) removed another object: %v", err)
					} else {
						of.Close()
					}
					if err := c.l.Unlink(other); err != nil {
						t.Error(err)
					}
					if c.dir == "" {
						// A directory of the test's own: empty again.
						if left := dirNames(t, filepath.Dir(path)); left != "" {
							t.Errorf("left behind in %s: %s", filepath.Dir(path), left)
						}
					} else if _, err := os.Lstat(otherPath); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %v, want it gone", otherPath, err)
					}
				})
			})
		}
	}
}

// dirNames lists the names in dir as one string.
func dirNames(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, e := range ents {
		s += strconv.Quote(e.Name()) + " "
	}
	return s
}

// TestOpenAnonymous_UnlinkName: an anonymous object has no name, and
// Unlink(f.Name()) must not remove an object that has one: this system's
// Unlink refuses the anonymous file's Name() with EINVAL.
func TestOpenAnonymous_UnlinkName(t *testing.T) {
	f, err := posixshm.OpenAnonymous()
	if errors.Is(err, syscall.ENOTSUP) {
		t.Skip("no anonymous objects on this system")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := posixshm.Unlink(f.Name()); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Unlink(%q) = %v, want EINVAL", f.Name(), err)
	}
}

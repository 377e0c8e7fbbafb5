package posixshm

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestLayouts_UnlinkName checks, in every file-based layout, that a file's
// Name() is the name given to Open and that Unlink(f.Name()) removes
// exactly the file Path(name) names and no other object, whatever the
// name (nested, empty, with several leading slashes, long).
func TestLayouts_UnlinkName(t *testing.T) {
	names := rapid.OneOf(
		rapid.StringMatching(`/[a-z0-9._-]{1,12}`), // valid in every layout
		rapid.StringMatching(`/[a-z]{240,260}`),    // illumos: hashed directories
		rapid.StringMatching(`/{0,3}[a-z0-9. _-]{0,10}(/[a-z]{1,3}){0,2}`),
		rapid.Map(rapid.SliceOfN(rapid.ByteRange(1, 255), 0, 300), func(b []byte) string { return string(b) }),
	)
	layouts := map[string]func(dir string) Layout{
		"Dir":       func(dir string) Layout { return Dir(dir) },
		"glibc":     func(dir string) Layout { return glibcDir(dir) },
		"netbsd":    func(dir string) Layout { return netbsdDir{dir: dir} },
		"dragonfly": func(dir string) Layout { return dragonflyDir{dir: dir} },
		"illumos": func(dir string) Layout {
			d := newIllumosDir(dir)
			d.lockWait = time.Millisecond
			return d
		},
	}
	for what, mk := range layouts {
		t.Run(what, func(t *testing.T) {
			dir := t.TempDir()
			l := mk(dir)
			opened := 0
			rapid.Check(t, func(rt *rapid.T) {
				a, b := names.Draw(rt, "a"), names.Draw(rt, "b")
				fa, err := l.Open(a, os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					return // a name this layout refuses: nothing to unlink
				}
				opened++
				defer fa.Close()
				if fa.Name() != a {
					rt.Fatalf("Name() = %q, want %q", fa.Name(), a)
				}
				pa, _ := l.Path(a)
				var pb string
				if fb, err := l.Open(b, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
					fb.Close()
					pb, _ = l.Path(b)
				}
				if err := l.Unlink(fa.Name()); err != nil {
					rt.Fatalf("Unlink(f.Name()) = %v", err)
				}
				if _, err := os.Lstat(pa); !errors.Is(err, fs.ErrNotExist) {
					rt.Fatalf("%s after Unlink(f.Name()): %v", pa, err)
				}
				if pb != "" && pb != pa {
					if _, err := os.Lstat(pb); err != nil {
						rt.Fatalf("Unlink(%q) removed %q's file %s: %v", a, b, pb, err)
					}
					if err := l.Unlink(b); err != nil {
						rt.Fatal(err)
					}
				}
				// Nothing else is left (illumos's hashed directories and
				// lock files included).
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					rt.Fatalf("left in %s: %v", dir, ents)
				}
			})
			if opened < 20 {
				t.Errorf("only %d names opened: the property was hardly tested", opened)
			}
		})
	}
}

// TestOpen_FileErrorsNameObject: errors of the file's own methods name the
// object by the name it was opened with, like the package's own errors,
// and still unwrap to the errno.
func TestOpen_FileErrorsNameObject(t *testing.T) {
	d := Dir(t.TempDir())
	f, err := d.Open("/obj", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer d.Unlink("/obj")
	f, err = d.Open("/obj", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Write([]byte("x"))
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/obj" || !errors.Is(err, syscall.EBADF) {
		t.Errorf("Write on a read-only object = %v, want a *fs.PathError for /obj wrapping EBADF", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "write /obj: ") {
		t.Errorf("error reads %q, want it to begin \"write /obj: \"", err)
	}
}

// TestCreateUnnamed_UnlinkName: an object built unnamed and then linked has
// the file Name() of Open's files, the name it gets, so Unlink(f.Name())
// removes it.
func TestCreateUnnamed_UnlinkName(t *testing.T) {
	for what, l := range map[string]Layout{"Dir": Dir(t.TempDir()), "glibc": glibcDir(t.TempDir())} {
		t.Run(what, func(t *testing.T) {
			u, err := CreateUnnamed(l, "/built", 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f := u.File()
			if err := u.Link(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Name() != "/built" {
				t.Errorf("Name() = %q, want /built", f.Name())
			}
			p, _ := l.Path("/built")
			if err := l.Unlink(f.Name()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s after Unlink(f.Name()): %v", p, err)
			}
		})
	}
}

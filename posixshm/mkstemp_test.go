package posixshm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

func TestDir_CreateTemp(t *testing.T) {
	withUmask(t, 0o022)
	d := posixshm.Dir(t.TempDir())
	tests := []struct {
		template string
		keep     string // the part that must be kept
		nx       int    // X's replaced
	}{
		{"/shm.XXXXXX", "/shm.", 6},
		{"XXXXXX", "", 6},
		{"/tmpXXXXXXXXXX", "/tmp", 10},
		{"/XXXXXXaXXXXXX", "/XXXXXXa", 6},
		{"/a/b/cXXXXXXX", "/a/b/c", 7}, // slashes mean nothing in Dir
	}
	for _, tt := range tests {
		f, name, err := d.CreateTemp(tt.template)
		if err != nil {
			t.Fatalf("CreateTemp(%q): %v", tt.template, err)
		}
		re := regexp.MustCompile("^" + regexp.QuoteMeta(tt.keep) + fmt.Sprintf("[A-Za-z0-9]{%d}$", tt.nx))
		if !re.MatchString(name) {
			t.Errorf("CreateTemp(%q) = %q, want %s", tt.template, name, re)
		}
		path, _ := d.Path(name)
		if f.Name() != name {
			t.Errorf("file named %q, want the name chosen, %q", f.Name(), name)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode())
		}
		// The descriptor is read-write.
		if _, err := f.WriteString("x"); err != nil {
			t.Errorf("write: %v", err)
		}
		f.Close()
		// The name works with Open.
		g, err := d.Open(name, os.O_RDONLY, 0)
		if err != nil {
			t.Errorf("Open(%q): %v", name, err)
		} else {
			g.Close()
		}
	}
}

func TestDir_CreateTemp_Unique(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		f, name, err := d.CreateTemp("/u.XXXXXX")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if seen[name] {
			t.Fatalf("CreateTemp returned %q twice", name)
		}
		seen[name] = true
	}
	ents, _ := os.ReadDir(string(d))
	if len(ents) != 200 {
		t.Errorf("%d objects, want 200", len(ents))
	}
}

func TestDir_CreateTemp_BadTemplate(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	for _, tmpl := range []string{"", "X", "XXXXX", "/fooXXXXX", "/XXXXXXa", "/XXXXXX.shm", "/xxxxxx", "/a\x00XXXXXX", "XXXXXX\x00"} {
		f, name, err := d.CreateTemp(tmpl)
		if f != nil {
			f.Close()
		}
		if name != "" || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("CreateTemp(%q) = %q, %v; want EINVAL", tmpl, name, err)
		}
		checkPathError(t, err, "shm_mkstemp", tmpl)
	}
	assertDirEmpty(t, string(d))
}

// TestDir_CreateTemp_OpenError checks that an error from the open ends
// CreateTemp with that error instead of retrying forever.
func TestDir_CreateTemp_OpenError(t *testing.T) {
	d := posixshm.Dir(filepath.Join(t.TempDir(), "missing"))
	_, name, err := d.CreateTemp("/e.XXXXXX")
	if name != "" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CreateTemp in a missing directory = %q, %v; want ErrNotExist", name, err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *fs.PathError", err)
	}
	// The error is the open's: it names the name tried and its file.
	if !strings.HasPrefix(pe.Path, "/e.") || !strings.Contains(err.Error(), string(d)) {
		t.Errorf("error %v: want the tried name and the file", err)
	}
}

// TestCreateTemp_Native creates a temporary object with this system's
// convention and removes it.
func TestCreateTemp_Native(t *testing.T) {
	p, _ := posixshm.Path("/x")
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		t.Skipf("this system's shm directory is not available: %v", err)
	}
	f, name, err := posixshm.CreateTemp("/posixshm-test.XXXXXXXX")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	path, _ := posixshm.Path(name)
	t.Cleanup(func() { os.Remove(path) })
	if f.Name() != name {
		t.Errorf("file named %q, want the name chosen, %q", f.Name(), name)
	}
	if err := posixshm.Unlink(name); err != nil {
		t.Fatal(err)
	}
}

package fuzz

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"pgregory.net/rapid"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/posixshm"
)

// openbsdPath is OpenBSD's path for name, computed here independently.
func openbsdPath(dir, name, suffix string) string {
	sum := sha256.Sum256([]byte(name))
	return dir + "/" + hex.EncodeToString(sum[:]) + suffix
}

// glibcPath applies glibc's (and musl's) shm_open name rules, written
// independently of the package: leading slashes go; an empty rest, another
// slash, "." and ".." are EINVAL; over NAME_MAX (255) is ENAMETOOLONG. A
// NUL byte is EINVAL, as in every convention of the package.
func glibcPath(name string) (string, syscall.Errno) {
	if strings.Contains(name, "\x00") {
		return "", syscall.EINVAL
	}
	i := 0
	for i < len(name) && name[i] == '/' {
		i++
	}
	rest := name[i:]
	switch {
	case rest == "", rest == ".", rest == "..", strings.Contains(rest, "/"):
		return "", syscall.EINVAL
	case len(rest) > 255:
		return "", syscall.ENAMETOOLONG
	}
	return "/dev/shm/" + rest, 0
}

// checkErr checks an error's shape: *fs.PathError{Op, Path: name} holding
// errno.
func checkErr(t *testing.T, err error, op, name string, errno syscall.Errno) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %v (%T) is not a *fs.PathError", name, err, err)
	}
	if pe.Op != op || pe.Path != name || !errors.Is(err, errno) {
		t.Fatalf("%q: error %#v, want *fs.PathError{Op: %q, Path: name} holding %v", name, err, op, errno)
	}
}

// FuzzName checks name → path for any name: no panic; Dir.Path,
// Dir.SemPath and Dir.AppendPath agree with SHA-256 computed here; a NUL
// byte is EINVAL; and the package-level Path follows this system's rules
// (glibc's on Linux, OpenBSD's on OpenBSD and in the openbsdsim build).
func FuzzName(f *testing.F) {
	for _, s := range []string{
		"", "/", "//", "/foo", "foo", "/foo/bar", ".", "..", "/.", "/..", "/...",
		"a\x00b", "\x00", "/日本語", "\xff\xfe", "a\nb",
		strings.Repeat("x", 255), "/" + strings.Repeat("x", 255), strings.Repeat("x", 256),
		strings.Repeat("/", 300) + "x", strings.Repeat("y", 4096),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		hasNUL := strings.Contains(name, "\x00")
		for _, dir := range []string{"/tmp", "/var/shm/x"} {
			d := posixshm.Dir(dir)
			p, err := d.Path(name)
			sem, semErr := d.SemPath(name)
			buf, appErr := d.AppendPath([]byte("prefix:"), name)
			if hasNUL {
				checkErr(t, err, "shm_open", name, syscall.EINVAL)
				checkErr(t, semErr, "sem_open", name, syscall.EINVAL)
				checkErr(t, appErr, "shm_open", name, syscall.EINVAL)
				if p != "" || sem != "" || string(buf) != "prefix:" {
					t.Fatalf("%q: results %q, %q, %q alongside the error", name, p, sem, buf)
				}
				continue
			}
			if err != nil || semErr != nil || appErr != nil {
				t.Fatalf("%q: %v, %v, %v", name, err, semErr, appErr)
			}
			if want := openbsdPath(dir, name, ".shm"); p != want {
				t.Fatalf("Dir(%q).Path(%q) = %q, want %q", dir, name, p, want)
			}
			if want := openbsdPath(dir, name, ".sem"); sem != want {
				t.Fatalf("Dir(%q).SemPath(%q) = %q, want %q", dir, name, sem, want)
			}
			if want := "prefix:" + p; string(buf) != want {
				t.Fatalf("AppendPath = %q, want %q", buf, want)
			}
		}

		got, err := posixshm.Path(name)
		switch {
		case runtime.GOOS == "openbsd" || openbsdsim.Enabled:
			want, wantErr := posixshm.OpenBSD.Path(name)
			if got != want || (err == nil) != (wantErr == nil) {
				t.Fatalf("Path(%q) = %q, %v; want OpenBSD.Path: %q, %v", name, got, err, want, wantErr)
			}
		case runtime.GOOS == "linux":
			want, errno := glibcPath(name)
			if errno != 0 {
				checkErr(t, err, "shm_open", name, errno)
				if got != "" {
					t.Fatalf("Path(%q) = %q alongside %v", name, got, err)
				}
			} else if err != nil || got != want {
				t.Fatalf("Path(%q) = %q, %v; want %q", name, got, err, want)
			}
		}
	})
}

// FuzzAppendPath is a rapid property run as a fuzz target: for any
// directory, destination buffer and name, AppendPath appends exactly Path
// and leaves the buffer's prefix alone, and distinct names get distinct
// paths.
func FuzzAppendPath(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		// Not rapid.StringMatching: fed a fuzzer's fixed bytes, its
		// rejection sampling can loop for good and stall the fuzz worker.
		var dir string
		for _, part := range rapid.SliceOfN(rapid.StringOfN(rapid.RuneFrom([]rune("abcxyz019.")), 1, 8, -1), 0, 3).Draw(t, "dir") {
			dir += "/" + part
		}
		d := posixshm.Dir(dir)
		prefix := rapid.SliceOf(rapid.Byte()).Draw(t, "prefix")
		spare := rapid.IntRange(0, 100).Draw(t, "spare")
		a := rapid.String().Draw(t, "a")
		b := rapid.String().Draw(t, "b")

		dst := append(make([]byte, 0, len(prefix)+spare), prefix...)
		got, err := d.AppendPath(dst, a)
		p, perr := d.Path(a)
		if (err == nil) != (perr == nil) || (err != nil) != (dir == "" || strings.Contains(a, "\x00")) {
			t.Fatalf("AppendPath error %v, Path error %v for %q", err, perr, a)
		}
		if !bytes.Equal(got[:len(prefix)], prefix) || string(got[len(prefix):]) != p {
			t.Fatalf("AppendPath(%q, %q) = %q, want the prefix then %q", prefix, a, got, p)
		}
		if a != b && err == nil {
			if q, err := d.Path(b); err == nil && q == p {
				t.Fatalf("%q and %q share the path %q", a, b, p)
			}
		}
	}))
}

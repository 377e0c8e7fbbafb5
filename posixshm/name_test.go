package posixshm_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/posixshm"
)

// refPath is OpenBSD's path for name, computed independently of the package:
// dir + "/" + lowercase hex SHA-256 of the whole name + suffix.
func refPath(dir, name, suffix string) string {
	sum := sha256.Sum256([]byte(name))
	return dir + "/" + hex.EncodeToString(sum[:]) + suffix
}

// genDir draws an absolute directory without a trailing slash.
func genDir() *rapid.Generator[string] {
	return rapid.StringMatching(`(/[A-Za-z0-9._-]{1,12}){1,3}`)
}

// genName draws names of every kind: arbitrary bytes (NUL included, with
// some probability), valid UTF-8, slash-heavy names, and long ones.
func genName() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		rapid.String(),
		rapid.StringMatching(`/*[a-z./]{0,8}`),
		rapid.Map(rapid.SliceOfN(rapid.ByteRange(1, 255), 250, 300), func(b []byte) string { return string(b) }),
	)
}

// genNameNoNUL draws names a C program could pass: any bytes but NUL.
func genNameNoNUL() *rapid.Generator[string] {
	return rapid.Map(genName(), func(s string) string { return strings.ReplaceAll(s, "\x00", "") })
}

var hashedRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fataler is what testing.TB and *rapid.T have in common for checks.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkNULError checks the error for a name that holds a NUL byte.
func checkNULError(t fataler, err error, op, name string) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %v (%T) is not a *fs.PathError", name, err, err)
	}
	if pe.Op != op || pe.Path != name {
		t.Fatalf("%q: got PathError{Op: %q, Path: %q, Err: %v}, want {%q, the name, EINVAL}", name, pe.Op, pe.Path, pe.Err, op)
	}
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("%q: errors.Is(%v, EINVAL) is false", name, err)
	}
}

func TestDir_Path_Vectors(t *testing.T) {
	tests := []struct {
		dir  posixshm.Dir
		name string
		want string
	}{
		{"/tmp", "", "/tmp/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.shm"},
		{"/tmp", "/foo", "/tmp/6f64c6e6261f492ac220b0a4cd9a14c6373181b92a4a8040c1fcde5db31ffc94.shm"},
		{"/tmp", "foo", "/tmp/2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae.shm"},
		{"/tmp", "abc", "/tmp/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.shm"},
		{posixshm.OpenBSD, "/foo", "/tmp/6f64c6e6261f492ac220b0a4cd9a14c6373181b92a4a8040c1fcde5db31ffc94.shm"},
		// A trailing slash on the directory does not double.
		{"/tmp/", "/foo", "/tmp/6f64c6e6261f492ac220b0a4cd9a14c6373181b92a4a8040c1fcde5db31ffc94.shm"},
		{"/var/x", "", "/var/x/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.shm"},
	}
	for _, tt := range tests {
		got, err := tt.dir.Path(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Dir(%q).Path(%q) = %q, %v; want %q", tt.dir, tt.name, got, err, tt.want)
		}
		sem, err := tt.dir.SemPath(tt.name)
		if want := strings.TrimSuffix(tt.want, ".shm") + ".sem"; err != nil || sem != want {
			t.Errorf("Dir(%q).SemPath(%q) = %q, %v; want %q", tt.dir, tt.name, sem, err, want)
		}
	}
}

func TestDir_Path_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dir := genDir().Draw(t, "dir")
		name := genName().Draw(t, "name")
		d := posixshm.Dir(dir)

		p, err := d.Path(name)
		sem, semErr := d.SemPath(name)
		if strings.IndexByte(name, 0) >= 0 {
			if p != "" || sem != "" {
				t.Fatalf("Path/SemPath of a NUL name returned %q, %q", p, sem)
			}
			checkNULError(t, err, "shm_open", name)
			checkNULError(t, semErr, "sem_open", name)
			return
		}
		if err != nil || semErr != nil {
			t.Fatalf("Path(%q): %v; SemPath: %v", name, err, semErr)
		}
		// Pure: the same name always gives the same path.
		if p2, _ := d.Path(name); p2 != p {
			t.Fatalf("Path(%q) is not deterministic: %q then %q", name, p, p2)
		}
		// Shape: dir + "/" + 64 lowercase hex + ".shm".
		rest, ok := strings.CutPrefix(p, dir+"/")
		if !ok || !strings.HasSuffix(rest, ".shm") || !hashedRE.MatchString(strings.TrimSuffix(rest, ".shm")) {
			t.Fatalf("Path(%q) = %q: not %s/<64 hex>.shm", name, p, dir)
		}
		if want := refPath(dir, name, ".shm"); p != want {
			t.Fatalf("Path(%q) = %q, want %q", name, p, want)
		}
		if want := refPath(dir, name, ".sem"); sem != want {
			t.Fatalf("SemPath(%q) = %q, want %q", name, sem, want)
		}
	})
}

func TestDir_Path_Distinct(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := posixshm.Dir(genDir().Draw(t, "dir"))
		a := genNameNoNUL().Draw(t, "a")
		b := genNameNoNUL().Filter(func(s string) bool { return s != a }).Draw(t, "b")
		pa, err1 := d.Path(a)
		pb, err2 := d.Path(b)
		if err1 != nil || err2 != nil {
			t.Fatalf("Path: %v, %v", err1, err2)
		}
		if pa == pb {
			t.Fatalf("names %q and %q share the path %q", a, b, pa)
		}
	})
}

func TestDir_AppendPath_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := posixshm.Dir(genDir().Draw(t, "dir"))
		name := genName().Draw(t, "name")
		prefix := rapid.SliceOf(rapid.Byte()).Draw(t, "prefix")
		extra := rapid.IntRange(0, 200).Draw(t, "extra capacity")
		dst := make([]byte, len(prefix), len(prefix)+extra)
		copy(dst, prefix)

		got, err := d.AppendPath(dst, name)
		if !bytes.Equal(got[:len(prefix)], prefix) {
			t.Fatalf("AppendPath changed the prefix: %q, want %q", got[:len(prefix)], prefix)
		}
		if strings.IndexByte(name, 0) >= 0 {
			checkNULError(t, err, "shm_open", name)
			if len(got) != len(prefix) {
				t.Fatalf("AppendPath of a NUL name returned %q, want dst unchanged %q", got, prefix)
			}
			return
		}
		p, _ := d.Path(name)
		if err != nil || string(got[len(prefix):]) != p {
			t.Fatalf("AppendPath(%q, %q) = %q, %v; want the prefix then %q", prefix, name, got, err, p)
		}
		// The empty and nil dst work too.
		if got, _ := d.AppendPath(nil, name); string(got) != p {
			t.Fatalf("AppendPath(nil, %q) = %q, want %q", name, got, p)
		}
	})
}

func TestDir_Path_NUL(t *testing.T) {
	for _, name := range []string{"\x00", "/foo\x00", "\x00/foo", "a\x00b", strings.Repeat("\x00", 300)} {
		d := posixshm.Dir(t.TempDir())
		_, err := d.Path(name)
		checkNULError(t, err, "shm_open", name)
		_, err = d.SemPath(name)
		checkNULError(t, err, "sem_open", name)
		dst := []byte("keep")
		got, err := d.AppendPath(dst, name)
		checkNULError(t, err, "shm_open", name)
		if string(got) != "keep" {
			t.Errorf("AppendPath(%q, %q) = %q, want dst unchanged", dst, name, got)
		}
		f, err := d.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if f != nil {
			f.Close()
		}
		checkNULError(t, err, "shm_open", name)
		checkNULError(t, d.Unlink(name), "shm_unlink", name)
		// Neither the truncated name nor the whole name may have been created.
		assertDirEmpty(t, string(d))
	}
}

// TestPath_Native checks the package-level Path: OpenBSD's layout in /tmp
// on OpenBSD and in the openbsdsim build, glibc's /dev/shm/<name without
// leading slashes> elsewhere.
func TestPath_Native(t *testing.T) {
	if runtime.GOOS == "openbsd" || openbsdsim.Enabled {
		for _, name := range []string{"", "/foo", "a/b"} {
			got, err := posixshm.Path(name)
			want, _ := posixshm.OpenBSD.Path(name)
			if err != nil || got != want {
				t.Errorf("Path(%q) = %q, %v; want %q", name, got, err, want)
			}
		}
		return
	}
	tests := []struct {
		name, want string
		err        error
	}{
		{"/foo", "/dev/shm/foo", nil},
		{"foo", "/dev/shm/foo", nil},
		{"///foo", "/dev/shm/foo", nil},
		{"/" + strings.Repeat("a", 255), "/dev/shm/" + strings.Repeat("a", 255), nil},
		{"/" + strings.Repeat("a", 256), "", syscall.ENAMETOOLONG},
		{"", "", syscall.EINVAL},
		{"/", "", syscall.EINVAL},
		{"/a/b", "", syscall.EINVAL},
		{"/.", "", syscall.EINVAL},
		{"/..", "", syscall.EINVAL},
		{"/...", "/dev/shm/...", nil},
		{"/a\x00", "", syscall.EINVAL},
	}
	for _, tt := range tests {
		got, err := posixshm.Path(tt.name)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Path(%q) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
		var pe *fs.PathError
		if err != nil && (!errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != tt.name) {
			t.Errorf("Path(%q): error %#v is not a *fs.PathError{Op: shm_open, Path: name}", tt.name, err)
		}
	}
}

// requireCRef names the environment variable that turns a skip for want
// of a C reference into a failure: CI sets it, so that the differential
// tests cannot quietly stop running there.
const requireCRef = "POSIXSHM_REQUIRE_CREF"

// needCRef skips the test for want of a C reference, saying why, or fails
// it if requireCRef is set to 1.
func needCRef(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(requireCRef) == "1" {
		tb.Fatalf("%s (and %s=1 requires the C reference tests)", why, requireCRef)
	}
	tb.Skip(why)
}

// buildCRef compiles testdata/cref/<src> with gcc and libmd into a
// temporary directory and returns the program's path. It skips the test
// (see needCRef) when gcc or libmd is missing.
func buildCRef(tb testing.TB, src string) string {
	tb.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		needCRef(tb, "gcc not found in PATH: cannot build the C reference testdata/cref/"+src+" (apt-get install gcc libmd-dev)")
	}
	srcPath, err := filepath.Abs(filepath.Join("testdata", "cref", src))
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(tb.TempDir(), strings.TrimSuffix(src, ".c"))
	args := []string{"-O2", "-o", bin, srcPath}
	if runtime.GOOS != "openbsd" { // OpenBSD has SHA256Data in libc
		args = append(args, "-lmd")
	}
	out, err := exec.Command(gcc, args...).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("sha2.h")) || bytes.Contains(out, []byte("-lmd")) {
			needCRef(tb, "gcc cannot find libmd (sha2.h, -lmd) to build the C reference testdata/cref/"+src+": apt-get install libmd-dev\n"+string(out))
		}
		tb.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestBuildCRef_Missing runs TestDir_Path_CReference in a child process
// whose PATH has a gcc that cannot find libmd, and one with no gcc at all:
// the test must skip, naming the package to install, unless
// POSIXSHM_REQUIRE_CREF=1 makes that a failure.
func TestBuildCRef_Missing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	noLibmd := t.TempDir()
	fakeGCC := "#!/bin/sh\necho 'shmpath.c:1:10: fatal error: sha2.h: No such file or directory' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(noLibmd, "gcc"), []byte(fakeGCC), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, requireCRef+"=") {
			env = append(env, kv)
		}
	}
	for _, c := range []struct {
		desc, path, want string
	}{
		{"gcc without libmd", noLibmd, "apt-get install libmd-dev"},
		{"no gcc", t.TempDir(), "gcc not found"},
	} {
		for _, require := range []bool{false, true} {
			cmd := exec.Command(exe, "-test.run=^TestDir_Path_CReference$", "-test.v")
			cmd.Env = append(env, "PATH="+c.path)
			if require {
				cmd.Env = append(cmd.Env, requireCRef+"=1")
			}
			out, err := cmd.CombinedOutput()
			skipped := strings.Contains(string(out), "--- SKIP: TestDir_Path_CReference")
			switch {
			case !strings.Contains(string(out), c.want):
				t.Errorf("%s, %s=%v: output does not say %q:\n%s", c.desc, requireCRef, require, c.want, out)
			case !require && (err != nil || !skipped):
				t.Errorf("%s: %v, want a skip:\n%s", c.desc, err, out)
			case require && (err == nil || skipped || !strings.Contains(string(out), requireCRef+"=1")):
				t.Errorf("%s, %s=1: %v, want a failure naming %s:\n%s", c.desc, requireCRef, err, requireCRef, out)
			}
		}
	}
}

// diffNames are the names TestDir_Path_CReference compares: edge cases, then
// random ones from a fixed seed.
func diffNames() []string {
	all := make([]byte, 255)
	for i := range all {
		all[i] = byte(i + 1)
	}
	names := []string{
		"", "/", "//", "/foo", "foo", "/foo/", ".", "..", "/.", "a\nb", "\n", "\r\n", "\t ",
		"/日本語", "/\u00e9t\u00e9", "\xff", "\xfe\xff\x80", "\x80\x81", "%s%n%x",
		string(all),
		strings.Repeat("a", 255), "/" + strings.Repeat("b", 255), strings.Repeat("c", 256),
		strings.Repeat("d", 4096), strings.Repeat("\xff", 4096), strings.Repeat("/", 1000),
		strings.Repeat("e", 65536),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for len(names) < 2000 {
		var b []byte
		switch n := r.IntN(10); {
		case n < 4: // short, any byte but NUL
			b = make([]byte, r.IntN(33))
			for i := range b {
				b[i] = byte(1 + r.IntN(255))
			}
		case n < 7: // UTF-8 text with slashes
			var sb strings.Builder
			sb.WriteByte('/')
			for k := r.IntN(40); k > 0; k-- {
				c := rune(1 + r.IntN(0x3000))
				if !utf8.ValidRune(c) {
					c = '/'
				}
				sb.WriteRune(c)
			}
			b = []byte(sb.String())
		case n < 9: // around the 55/56/64-byte SHA-256 block boundaries and NAME_MAX
			l := []int{55, 56, 63, 64, 65, 119, 120, 127, 128, 254, 255, 256}[r.IntN(12)]
			b = make([]byte, l)
			for i := range b {
				b[i] = byte(1 + r.IntN(255))
			}
		default: // long
			b = make([]byte, 256+r.IntN(8000))
			for i := range b {
				b[i] = byte(1 + r.IntN(255))
			}
		}
		names = append(names, string(b))
	}
	return names
}

// TestDir_Path_CReference compares Dir.Path with testdata/cref/shmpath.c,
// which hashes as OpenBSD's shm_open.c does, with libmd's SHA256Data.
func TestDir_Path_CReference(t *testing.T) {
	bin := buildCRef(t, "shmpath.c")
	dir := t.TempDir()
	names := diffNames()
	var in bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&in, "%d:%s\n", len(name), name)
	}
	cmd := exec.Command(bin, dir)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	var buf []byte
	for ; sc.Scan(); i++ {
		if i >= len(names) {
			t.Fatalf("C reference printed more than %d paths", len(names))
		}
		got, err := posixshm.Dir(dir).Path(names[i])
		if err != nil || got != sc.Text() {
			t.Errorf("name %d %.40q (%d bytes): Path = %q, %v; C reference says %q", i, names[i], len(names[i]), got, err, sc.Text())
		}
		buf, err = posixshm.Dir(dir).AppendPath(buf[:0], names[i])
		if err != nil || string(buf) != sc.Text() {
			t.Errorf("name %d %.40q: AppendPath = %q, %v; C reference says %q", i, names[i], buf, err, sc.Text())
		}
	}
	if i != len(names) {
		t.Fatalf("C reference printed %d paths for %d names", i, len(names))
	}
}

// assertDirEmpty fails the test if dir holds any entry.
func assertDirEmpty(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s: unexpected entry %q", dir, e.Name())
	}
}

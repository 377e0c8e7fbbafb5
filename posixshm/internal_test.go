package posixshm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"
)

// In-package tests of unexported helpers: the randomness and retry loop of
// shm_mkstemp, and IsHashedName.

func TestTempChars(t *testing.T) {
	const want = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if tempChars != want {
		t.Errorf("tempChars = %q, want [A-Za-z0-9] %q", tempChars, want)
	}
}

// TestRandomFill_Uniform draws 62·2000 characters and checks that each of
// the 62 is about equally likely, with a chi-squared test whose threshold a
// correct implementation exceeds with probability far below 1e-9.
func TestRandomFill_Uniform(t *testing.T) {
	const perChar = 2000
	b := make([]byte, len(tempChars)*perChar)
	if err := randomFill(b); err != nil {
		t.Fatal(err)
	}
	counts := make(map[byte]int)
	for _, c := range b {
		if strings.IndexByte(tempChars, c) < 0 {
			t.Fatalf("randomFill produced %q, not in [A-Za-z0-9]", c)
		}
		counts[c]++
	}
	if len(counts) != len(tempChars) {
		t.Errorf("only %d of %d characters appeared", len(counts), len(tempChars))
	}
	chi2 := 0.0
	for i := 0; i < len(tempChars); i++ {
		d := float64(counts[tempChars[i]] - perChar)
		chi2 += d * d / perChar
	}
	// 61 degrees of freedom: mean 61, sd 11; P(chi2 > 150) < 1e-9.
	if chi2 > 150 {
		t.Errorf("chi-squared %.1f over 61 degrees of freedom: not uniform; counts %v", chi2, counts)
	}
	// Short fills, including across the 64-byte pool, fill every byte.
	for n := 0; n < 200; n++ {
		b := make([]byte, n)
		if err := randomFill(b); err != nil {
			t.Fatal(err)
		}
		if strings.IndexByte(string(b), 0) >= 0 {
			t.Fatalf("randomFill left a byte of %d unfilled: %q", n, b)
		}
	}
}

// TestCreateTemp_RetriesOnExist checks that EEXIST makes createTemp try
// again with fresh random characters, and that the template's prefix and
// the first success are kept.
func TestCreateTemp_RetriesOnExist(t *testing.T) {
	dir := t.TempDir()
	var tried []string
	open := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		tried = append(tried, name)
		if flag != os.O_RDWR|os.O_CREATE|os.O_EXCL || perm != 0o600 {
			t.Errorf("open(%q, %#x, %v), want O_RDWR|O_CREAT|O_EXCL, 0600", name, flag, perm)
		}
		if len(tried) <= 5 {
			return nil, &fs.PathError{Op: opOpen, Path: name, Err: syscall.EEXIST}
		}
		return os.Create(filepath.Join(dir, "f"))
	}
	f, name, err := createTemp("/pfx.XXXXXXXX", open)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if len(tried) != 6 || name != tried[5] {
		t.Fatalf("tried %q, returned %q; want 6 tries and the last", tried, name)
	}
	seen := map[string]bool{}
	for _, n := range tried {
		if !strings.HasPrefix(n, "/pfx.") || len(n) != len("/pfx.XXXXXXXX") {
			t.Errorf("tried %q: prefix or length lost", n)
		}
		if seen[n] {
			t.Errorf("tried %q twice", n)
		}
		seen[n] = true
	}
}

// TestCreateTemp_GivesUp checks that a directory where every name exists
// ends in EEXIST after maxTempTries, not in an endless loop.
func TestCreateTemp_GivesUp(t *testing.T) {
	calls := 0
	open := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		calls++
		return nil, &fs.PathError{Op: opOpen, Path: name, Err: syscall.EEXIST}
	}
	_, _, err := createTemp("XXXXXX", open)
	if calls != maxTempTries {
		t.Errorf("%d tries, want %d", calls, maxTempTries)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != opMkstemp || pe.Path != "XXXXXX" || !errors.Is(err, fs.ErrExist) {
		t.Errorf("err = %#v, want *fs.PathError{shm_mkstemp, template, EEXIST}", err)
	}
	if err == nil || !strings.Contains(err.Error(), "65536 tries") {
		t.Errorf("error %q does not say how many names were tried", err)
	}
}

// TestCreateTemp_OtherError checks that an error other than EEXIST stops
// createTemp at once: unlike OpenBSD's shm_mkstemp, which tries again
// after any error, since no new name cures ENOSPC and the like.
func TestCreateTemp_OtherError(t *testing.T) {
	calls := 0
	open := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		calls++
		return nil, &fs.PathError{Op: opOpen, Path: name, Err: syscall.ENOSPC}
	}
	_, _, err := createTemp("/tXXXXXX", open)
	if calls != 1 || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%d tries, err %v; want 1 try and ENOSPC", calls, err)
	}
}

func TestIsHashedName(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.String().Filter(func(s string) bool { return strings.IndexByte(s, 0) < 0 }).Draw(t, "name")
		p, err := Dir("/tmp").Path(name)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(p)
		if !IsHashedName(base, ShmSuffix) {
			t.Fatalf("IsHashedName(%q, .shm) = false", base)
		}
		if IsHashedName(base, SemSuffix) {
			t.Fatalf("IsHashedName(%q, .sem) = true", base)
		}
	})
	for _, bad := range []string{
		"", ".shm", strings.Repeat("a", 64), strings.Repeat("a", 63) + ".shm",
		strings.Repeat("A", 64) + ".shm", strings.Repeat("g", 64) + ".shm",
		strings.Repeat("a", 65) + ".shm", strings.Repeat("a", 64) + ".shmx",
	} {
		if IsHashedName(bad, ShmSuffix) {
			t.Errorf("IsHashedName(%q) = true", bad)
		}
	}
}

func TestOthersMayUnlink(t *testing.T) {
	const me = 1000
	for _, tc := range []struct {
		uid, mode uint32
		want      bool
	}{
		{me, 0o700, false},
		{me, 0o755, false},
		{me, 0o777, true}, // others may remove names
		{me, 0o770, true}, // and so may the group
		{me, 0o1777, false},
		{0, 0o1777, false}, // /tmp, /dev/shm
		{0, 0o755, false},
		{0, 0o777, true},
		{65534, 0o700, true}, // its owner may
		{65534, 0o1777, true},
	} {
		if got := othersMayUnlink(tc.uid, unix.S_IFDIR|tc.mode, me); got != tc.want {
			t.Errorf("othersMayUnlink(uid %d, %o) = %v, want %v", tc.uid, tc.mode, got, tc.want)
		}
	}
}

func TestParentDir(t *testing.T) {
	for in, want := range map[string]string{"/tmp/x": "/tmp", "/x": "/", "x": ".", "a/b/c": "a/b", "//x": "/"} {
		if got := parentDir(in); got != want {
			t.Errorf("parentDir(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStickyRootDirs: a directory of root's with the sticky bit (like /tmp)
// is remembered, and spares later opens a stat(2); others are not.
func TestStickyRootDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to have directories of root's")
	}
	sticky, open := t.TempDir(), t.TempDir()
	if err := os.Chmod(sticky, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{sticky, open} {
		f, err := Dir(dir).Open("/x", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, ok := stickyRootDirs.Load(sticky); !ok {
		t.Errorf("%s (root's, sticky) not remembered", sticky)
	}
	if _, ok := stickyRootDirs.Load(open); ok {
		t.Errorf("%s (root's, not sticky) remembered", open)
	}
}

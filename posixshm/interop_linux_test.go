//go:build linux

package posixshm_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/posixshm"
	"golang.org/x/sys/unix"
)

// These tests run glibc's own shm_open(3) (testdata/interop/shmtool.c,
// built with gcc) against Linux's convention (posixshm.Open, in the Linux
// build), so both sides must reach the same object. They go through
// linuxShm, so that the openbsdsim build, whose own convention is
// OpenBSD's, still checks the glibc rules against glibc.
var linuxShm = posixshm.GlibcDir("/dev/shm")

func TestSystemIsLinuxShm(t *testing.T) {
	want := "/dev/shm/x"
	if openbsdsim.Enabled {
		want, _ = posixshm.OpenBSD.Path("/x")
	}
	if p, err := posixshm.Path("/x"); err != nil || p != want {
		t.Errorf("Path(\"/x\") = %q, %v; want %q", p, err, want)
	}
}

const interopSize = 3*4096 + 123

// interopPattern is pattern() in shmtool.c.
func interopPattern(i int, seed uint32) byte {
	return byte((uint32(i)*31 + seed) ^ uint32(i>>8))
}

// shmtoolBin builds shmtool.c into a temporary directory and returns the
// program, or skips the test when gcc is absent (see needCRef).
func shmtoolBin(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		needCRef(t, "gcc not found in PATH: the C interop tests need it to build testdata/interop/shmtool.c (apt-get install gcc libc6-dev)")
	}
	bin := filepath.Join(t.TempDir(), "shmtool")
	// -lrt: glibc before 2.34 keeps shm_open in librt.
	out, err := exec.Command(gcc, "-O2", "-Wall", "-o", bin, filepath.Join("testdata", "interop", "shmtool.c"), "-lrt").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// shmtool builds shmtool.c and returns a function that runs it.
func shmtool(t *testing.T) func(args ...string) (int, string) {
	t.Helper()
	bin := shmtoolBin(t)
	return func(args ...string) (int, string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("running shmtool: %v", err)
		}
		return 0, string(out)
	}
}

// uniqueName returns a name no other run uses, and removes the object at
// the end of the test whoever created it.
func uniqueName(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	name := "/posixshm-interop-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { linuxShm.Unlink(name) })
	return name
}

func TestInterop_CWritesGoReads(t *testing.T) {
	run := shmtool(t)
	name := uniqueName(t)
	const seed = 7
	if code, out := run("write", name, strconv.Itoa(interopSize), strconv.Itoa(seed)); code != 0 {
		t.Fatalf("shmtool write: exit %d\n%s", code, out)
	}
	// The C object is where Path says.
	path, err := linuxShm.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("C's object is not at Path(%q) = %s: %v", name, path, err)
	}
	f, err := linuxShm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, interopSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	for i, b := range mem {
		if want := interopPattern(i, seed); b != want {
			t.Fatalf("byte %d is %d, want %d", i, b, want)
		}
	}
	// Go's Unlink removes C's object: C's shm_open now fails with ENOENT.
	if err := linuxShm.Unlink(name); err != nil {
		t.Fatal(err)
	}
	if code, out := run("read", name, strconv.Itoa(interopSize), strconv.Itoa(seed)); code != 2 {
		t.Errorf("shmtool read after Unlink: exit %d, want 2 (ENOENT)\n%s", code, out)
	}
}

func TestInterop_GoWritesCReads(t *testing.T) {
	run := shmtool(t)
	name := uniqueName(t)
	const seed = 201
	f, err := linuxShm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(interopSize); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, interopSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	for i := range mem {
		mem[i] = interopPattern(i, seed)
	}
	unix.Munmap(mem)
	f.Close()
	if code, out := run("read", name, strconv.Itoa(interopSize), strconv.Itoa(seed)); code != 0 {
		t.Fatalf("shmtool read: exit %d\n%s", code, out)
	}
	// C's shm_unlink removes Go's object.
	if code, out := run("unlink", name); code != 0 {
		t.Fatalf("shmtool unlink: exit %d\n%s", code, out)
	}
	if _, err := linuxShm.Open(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after C's shm_unlink: %v, want ENOENT", err)
	}
}

// TestInterop_SlashlessName: glibc strips leading slashes, so "x" and
// "/x" are the same object for C and for Go.
func TestInterop_SlashlessName(t *testing.T) {
	run := shmtool(t)
	name := uniqueName(t)
	if code, out := run("write", name[1:], "10", "3"); code != 0 {
		t.Fatalf("shmtool write: exit %d\n%s", code, out)
	}
	f, err := linuxShm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestOpenAnonymous(t *testing.T) {
	f, err := posixshm.OpenAnonymous()
	if openbsdsim.Enabled {
		// As on OpenBSD, which has no anonymous shm_open.
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "shm_open" || !errors.Is(err, syscall.ENOTSUP) {
			t.Fatalf("OpenAnonymous() = %v, want *fs.PathError shm_open ENOTSUP", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(8192); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	mem[4000] = 42
	unix.Munmap(mem)
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 4000); err != nil || b[0] != 42 {
		t.Errorf("read back %v, %v; want 42", b, err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD = %#x, %v; want FD_CLOEXEC", fl, err)
	}
	// Sealing is allowed: the object can be frozen before sharing it.
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_GROW|unix.F_SEAL_SHRINK); err != nil {
		t.Errorf("F_ADD_SEALS: %v", err)
	}
	if err := f.Truncate(1); err == nil {
		t.Errorf("Truncate after F_SEAL_SHRINK succeeded")
	}
	link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if len(link) < 7 || link[:7] != "/memfd:" {
		t.Errorf("/proc/self/fd link is %q, want /memfd:…", link)
	}
}

// TestInterop_Directory: glibc's shm_open turns open(2)'s EISDIR into
// EINVAL (rt/shm_open.c), and so must posixshm.Open. Where glibc opens a
// directory (O_RDONLY: the object's own, or "." and "..", which it lets
// name /dev/shm and its parent) we refuse: a directory is no object, and
// "." and ".." are refused as names before any file is looked at (EINVAL),
// as musl does.
func TestInterop_Directory(t *testing.T) {
	run := shmtool(t)
	name := uniqueName(t)
	path, err := linuxShm.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	for _, n := range []string{name, ".", "..", "/.", "//.."} {
		for _, flag := range []int{
			os.O_RDONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC, os.O_RDWR | os.O_TRUNC,
			os.O_RDONLY | os.O_CREATE, os.O_RDWR | os.O_CREATE, os.O_RDONLY | os.O_CREATE | os.O_TRUNC,
			os.O_RDWR | os.O_CREATE | os.O_TRUNC, os.O_RDWR | os.O_CREATE | os.O_EXCL,
		} {
			code, out := run("open", n, strconv.Itoa(flag), "0600")
			cErrno, ok := parseResult(out)
			if code != 0 || !ok {
				t.Fatalf("shmtool open %q %#x: exit %d, %q", n, flag, code, out)
			}
			f, err := linuxShm.Open(n, flag, 0o600)
			if f != nil {
				f.Close()
			}
			goErrno := errnoOf(t, err)
			want := cErrno
			switch dot := n != name; {
			case dot && flag == os.O_RDONLY && cErrno != 0:
				t.Errorf("glibc's shm_open(%q, O_RDONLY) = %s; the README says it opens the directory", n, errnoName(cErrno))
			case dot, cErrno == 0:
				want = syscall.EINVAL
			}
			if goErrno != want {
				t.Errorf("Open(%q, %#x) on a directory: Go %s, glibc %s; want %s", n, flag, errnoName(goErrno), errnoName(cErrno), errnoName(want))
			}
		}
	}
	if fi, err := os.Lstat(path); err != nil || !fi.IsDir() {
		t.Errorf("the directory changed: %v, %v", fi, err)
	}
}

// parseResult reads an "ok" or "errno <n>" line.
func parseResult(s string) (syscall.Errno, bool) {
	s = strings.TrimSpace(s)
	if s == "ok" {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "errno "))
	return syscall.Errno(n), err == nil && strings.HasPrefix(s, "errno ")
}

// TestInterop_OpenTrunc compares posixshm.Open with glibc's shm_open on
// what O_TRUNC does: on an existing file, open(2) checks write permission
// and sets the modification time even when the file is empty; on a file
// it has just created, neither. Both sides run as uid 65534 when the tests
// run as root (permission checks do not bind root), each on its own
// object in /dev/shm, and the objects must end up alike.
func TestInterop_OpenTrunc(t *testing.T) {
	bin := shmtoolBin(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	asNobody := os.Geteuid() == 0
	if asNobody {
		base := reachableDir(t, "posixshm-trunc-")
		exe = copyExecutable(t, exe, filepath.Join(base, "posixshm.test"))
		bin = copyExecutable(t, bin, filepath.Join(base, "shmtool"))
	}
	type file struct {
		mode  os.FileMode
		empty bool
	}
	tests := []struct {
		desc   string
		umask  int
		exists *file // planted first, owned by the runner, with an old mtime
		flag   int
		perm   os.FileMode
	}{
		{"empty read-only file, O_RDONLY|O_TRUNC", 0o022, &file{0o400, true}, os.O_RDONLY | os.O_TRUNC, 0},
		{"empty read-only file, O_RDONLY|O_CREAT|O_TRUNC", 0o022, &file{0o400, true}, os.O_RDONLY | os.O_CREATE | os.O_TRUNC, 0o600},
		{"read-only file, O_RDONLY|O_TRUNC", 0o022, &file{0o400, false}, os.O_RDONLY | os.O_TRUNC, 0},
		{"empty file, O_RDWR|O_TRUNC", 0o022, &file{0o600, true}, os.O_RDWR | os.O_TRUNC, 0},
		{"empty file, O_RDONLY|O_TRUNC", 0o022, &file{0o600, true}, os.O_RDONLY | os.O_TRUNC, 0},
		{"empty file, O_RDWR|O_CREAT|O_TRUNC", 0o022, &file{0o600, true}, os.O_RDWR | os.O_CREATE | os.O_TRUNC, 0o600},
		{"file, O_RDONLY|O_TRUNC", 0o022, &file{0o600, false}, os.O_RDONLY | os.O_TRUNC, 0},
		{"create read-only file with O_RDONLY|O_CREAT|O_TRUNC", 0o022, nil, os.O_RDONLY | os.O_CREATE | os.O_TRUNC, 0o400},
		{"create with O_RDONLY|O_CREAT|O_TRUNC, umask removes write", 0o277, nil, os.O_RDONLY | os.O_CREATE | os.O_TRUNC, 0o600},
		{"create read-only file with O_RDWR|O_CREAT|O_TRUNC", 0o022, nil, os.O_RDWR | os.O_CREATE | os.O_TRUNC, 0o400},
		{"create with O_RDONLY|O_CREAT|O_EXCL|O_TRUNC", 0o022, nil, os.O_RDONLY | os.O_CREATE | os.O_EXCL | os.O_TRUNC, 0o400},
	}
	names := make([][2]string, len(tests)) // Go's and C's object for each case
	var goCases []string
	for i, tt := range tests {
		for j := range names[i] {
			names[i][j] = uniqueName(t)
			path, err := linuxShm.Path(names[i][j])
			if err != nil {
				t.Fatal(err)
			}
			if tt.exists == nil {
				continue
			}
			if tt.exists.empty {
				err = os.WriteFile(path, nil, 0o600)
			} else {
				err = os.WriteFile(path, []byte(content), 0o600)
			}
			if err == nil {
				err = os.Chmod(path, tt.exists.mode)
			}
			if err == nil && asNobody {
				err = os.Chown(path, 65534, 65534)
			}
			if err == nil {
				err = os.Chtimes(path, oldTime, oldTime)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		goCases = append(goCases, helperCase(tt.umask, "glibc:/dev/shm", names[i][0], tt.flag, tt.perm))
	}
	goResults := helperOpens(t, exe, goCases, asNobody)
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			old := syscall.Umask(tt.umask) // inherited by shmtool
			res := results(t, exec.Command(bin, "open", names[i][1], strconv.Itoa(tt.flag), strconv.Itoa(int(tt.perm))), asNobody)
			syscall.Umask(old)
			if len(res) != 1 {
				t.Fatalf("shmtool printed %q", res)
			}
			var snaps [2]string
			for j, n := range names[i] {
				path, _ := linuxShm.Path(n)
				snaps[j] = snapshot(t, path)
			}
			if goResults[i] != res[0] {
				t.Errorf("flags %#x perm %v umask %03o: Go %s, glibc %s", tt.flag, tt.perm, tt.umask, goResults[i], res[0])
			}
			if snaps[0] != snaps[1] {
				t.Errorf("objects differ after the call\n    Go: %s\n glibc: %s", snaps[0], snaps[1])
			}
		})
	}
}

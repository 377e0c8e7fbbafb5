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
	"testing"

	"github.com/posixshm/posixshm/posixshm"
	"golang.org/x/sys/unix"
)

// These tests run glibc's own shm_open(3) (testdata/interop/shmtool.c,
// built with gcc) against posixshm.Open, so both sides must reach the
// same object.

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
	t.Cleanup(func() { posixshm.Unlink(name) })
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
	path, err := posixshm.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("C's object is not at Path(%q) = %s: %v", name, path, err)
	}
	f, err := posixshm.Open(name, os.O_RDONLY, 0)
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
	if err := posixshm.Unlink(name); err != nil {
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
	f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
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
	if _, err := posixshm.Open(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
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
	f, err := posixshm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestOpenAnonymous(t *testing.T) {
	f, err := posixshm.OpenAnonymous()
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

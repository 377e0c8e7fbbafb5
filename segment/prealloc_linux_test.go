//go:build linux

package segment_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// The Prealloc tests need a file system that is nearly full, and no other
// program's: a 1 MiB tmpfs, mounted in a mount namespace of this test's
// own (unshare(1), as root), over a directory for OpenBSD's layout and
// over this system's own directory (/dev/shm; /tmp in the openbsdsim
// build), which no other process then sees.

const preallocEnv = "POSIXSHM_PREALLOC_CHILD"

// TestCreate_Prealloc: a segment larger than the file system can hold is
// ENOSPC from Create with Prealloc, leaving nothing behind (no file under
// its name, no temporary file, no space taken); one that fits is reserved
// at once, and every byte of its data can then be stored into, even after
// another file took all the space left. Without Prealloc (the control) the
// same stores fault: the file is sparse. In the Linux build the
// reservation is fallocate(2), and the segment is built in an O_TMPFILE
// file; in the openbsdsim build it is written zeros and a temporary name.
func TestCreate_Prealloc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, for unshare(1) and a tmpfs of its own")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private",
		os.Args[0], "-test.run=^TestCreate_PreallocChild$", "-test.v", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), preallocEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("PREALLOC-SKIP")):
		t.Skipf("no private tmpfs: %s", out)
	case err != nil:
		t.Fatalf("%v\n%s", err, out)
	case !bytes.Contains(out, []byte("--- PASS: TestCreate_PreallocChild")):
		t.Fatalf("the child did not run:\n%s", out)
	}
	t.Logf("%s", out)
}

// TestCreate_PreallocChild is not a test: it runs in TestCreate_Prealloc's
// mount namespace.
func TestCreate_PreallocChild(t *testing.T) {
	dir := os.Getenv(preallocEnv)
	if dir == "" {
		t.Skip("TestCreate_Prealloc's child only")
	}
	sysPath, err := posixshm.Path("/probe")
	if err != nil {
		t.Fatal(err)
	}
	layouts := []struct {
		what string
		dir  string
		l    posixshm.Layout
	}{
		{"posixshm.Dir", dir, posixshm.Dir(dir)},
		{"posixshm.System()", filepath.Dir(sysPath), posixshm.System()},
	}
	for _, lc := range layouts {
		t.Run(lc.what, func(t *testing.T) {
			if err := unix.Mount("posixshm-prealloc-test", lc.dir, "tmpfs", 0, "size=1m,mode=1777"); err != nil {
				t.Logf("PREALLOC-SKIP: mount tmpfs on %s: %v", lc.dir, err)
				t.SkipNow()
			}
			defer unix.Unmount(lc.dir, unix.MNT_DETACH)
			preallocScenarios(t, lc.dir, lc.l)
		})
	}
}

func preallocScenarios(t *testing.T, dir string, l posixshm.Layout) {
	opts := &segment.Options{Layout: l, Prealloc: true}
	empty := freeBytes(t, dir)

	// Too large: ENOSPC at once, and nothing left.
	_, err := segment.Create("/big", 2<<20, opts)
	var pe *fs.PathError
	if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Op != "fallocate" || pe.Path != "/big" {
		t.Fatalf("Create of 2 MiB on a 1 MiB tmpfs with Prealloc: %v, want fallocate /big: ...ENOSPC", err)
	}
	t.Logf("too large: %v", err)
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("a failed Create left %q", names)
	}
	if free := freeBytes(t, dir); free != empty {
		t.Fatalf("a failed Create left %d bytes taken", empty-free)
	}

	// The same when the reservation itself runs out (not the comparison
	// with the free space that comes first): nothing left, the space
	// given back.
	unixutil.NoSpaceCheck = true
	_, err = segment.Create("/big", 2<<20, opts)
	unixutil.NoSpaceCheck = false
	if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Op != "fallocate" {
		t.Fatalf("Create of 2 MiB on a 1 MiB tmpfs with Prealloc, the free space not compared: %v, want fallocate /big: ...ENOSPC", err)
	}
	t.Logf("too large, found by reserving: %v", err)
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("a failed Create left %q", names)
	}
	if free := freeBytes(t, dir); free != empty {
		t.Fatalf("a failed Create left %d bytes taken", empty-free)
	}

	// Fits: reserved when created, before a byte of the data is touched.
	s, err := segment.Create("/fits", 512<<10, opts)
	if err != nil {
		t.Fatal(err)
	}
	if taken := empty - freeBytes(t, dir); taken < 512<<10 {
		t.Fatalf("Create with Prealloc took %d bytes of the file system, want at least the 512 KiB of data", taken)
	}
	// The name is taken, and the space with it: a second Create is
	// EEXIST, not ENOSPC, and OpenOrCreate opens the segment (on main
	// both built and reserved a whole new file before they looked at the
	// name, and failed with ENOSPC).
	if _, err := segment.Create("/fits", 512<<10, opts); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create with Prealloc of a name taken on a file system without room for another: %v, want EEXIST", err)
	}
	if o, err := segment.OpenOrCreate("/fits", 512<<10, opts); err != nil {
		t.Errorf("OpenOrCreate with Prealloc of a segment that exists, on a file system without room for another: %v", err)
	} else {
		o.Close()
	}
	fill(t, dir)
	if addr, faulted := storeAll(s.Bytes()); faulted {
		t.Fatalf("a preallocated segment faulted at %#x once the file system was full", addr)
	}
	s.Close()
	s.Unlink()
	os.Remove(filepath.Join(dir, "filler"))

	// Racing OpenOrCreate calls on a file system with room for one: one
	// creates, the others open what it created. On main a racer whose
	// reservation ran out while the winner's took the space failed with
	// ENOSPC (4 calls in 60, and in one round of 30 both failed).
	opts.Prealloc = true
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				s, err := segment.OpenOrCreate("/race", 600<<10, opts)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("round %d: racing OpenOrCreate with Prealloc: %v", round, err)
			}
		}
		os.Remove(mustPathIn(t, l, "/race"))
	}

	// The control: the same without Prealloc is sparse, and faults.
	opts.Prealloc = false
	s, err = segment.Create("/sparse", 512<<10, opts)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, dir)
	if _, faulted := storeAll(s.Bytes()); !faulted {
		t.Fatalf("control: a sparse segment on a full tmpfs did not fault; the test shows nothing here")
	}
	s.Close()
	s.Unlink()
	os.Remove(filepath.Join(dir, "filler"))
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("left behind: %q", names)
	}
}

func mustPathIn(t *testing.T, l posixshm.Layout, name string) string {
	t.Helper()
	p, err := l.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// freeBytes is the free space of the file system dir is on.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bfree) * int64(st.Bsize)
}

// fill takes every byte left on dir's file system with a file "filler".
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// storeAll stores into every page of b, and reports the first address
// that faulted, if one did.
func storeAll(b []byte) (addr uintptr, faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if ae, ok := r.(interface{ Addr() uintptr }); ok {
				addr = ae.Addr()
			}
			faulted = true
		}
	}()
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	b[len(b)-1] = 1
	return 0, false
}

// entries names what dir holds, the tmpfs's own lost+found aside.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), "lost+found") {
			names = append(names, de.Name())
		}
	}
	return names
}

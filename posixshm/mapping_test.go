package posixshm_test

import (
	"errors"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

// newObject creates the object name in d with size bytes.
func newObject(t *testing.T, l posixshm.Layout, name string, size int64) *os.File {
	t.Helper()
	f, err := l.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); l.Unlink(name) })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkMapError checks that err is Map's *fs.PathError for name, wrapping
// want, with a message that contains why.
func checkMapError(t *testing.T, err error, name string, want error, why string) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "mmap" || pe.Path != name || !errors.Is(err, want) || !strings.Contains(err.Error(), why) {
		t.Errorf("Map error = %v, want *fs.PathError{mmap %s} wrapping %v, saying %q", err, name, want, why)
	}
}

// TestMap: a writable mapping's stores are the object's contents, seen
// through the file and through a second, read-only mapping; the mapping
// outlives the file it was made from; Close unmaps once.
func TestMap(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	f := newObject(t, d, "/obj", 100)
	m, err := posixshm.Map(f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // the mapping stays
	if m.Size() != 100 || len(m.Bytes()) != 100 || !m.Writable() {
		t.Fatalf("Size %d, len(Bytes) %d, Writable %v; want 100, 100, true", m.Size(), len(m.Bytes()), m.Writable())
	}
	copy(m.Bytes()[90:], "hello")

	r, err := d.Open("/obj", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, 5)
	if _, err := r.ReadAt(b, 90); err != nil || string(b) != "hello" {
		t.Errorf("the file holds %q, %v; want the store made through the mapping", b, err)
	}
	ro, err := posixshm.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Writable() || string(ro.Bytes()[90:95]) != "hello" {
		t.Errorf("read-only mapping: Writable %v, holds %q", ro.Writable(), ro.Bytes()[90:95])
	}
	m.Bytes()[0] = 7
	if ro.Bytes()[0] != 7 {
		t.Errorf("a store through one mapping is not seen through the other")
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Bytes() != nil || m.Size() != 0 {
		t.Errorf("after Close: %d bytes", m.Size())
	}
	err = m.Close()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "munmap" || pe.Path != "/obj" || !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v, want munmap /obj: ErrClosed", err)
	}
	ro.Close()
}

// TestMap_ReadOnly: a mapping of an object opened O_RDONLY cannot be
// written: a store faults (here turned into a panic) and the object is
// unchanged.
func TestMap_ReadOnly(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	newObject(t, d, "/obj", 10)
	r, err := d.Open("/obj", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := posixshm.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	faulted := func() (faulted bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { faulted = recover() != nil }()
		m.Bytes()[3] = 1
		return false
	}()
	if !faulted || m.Bytes()[3] != 0 {
		t.Errorf("store into a read-only mapping: faulted %v, byte now %d", faulted, m.Bytes()[3])
	}
}

// TestMap_Refused: an empty object, one opened write-only and one too big
// to map are refused with errors that say so.
func TestMap_Refused(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	empty := newObject(t, d, "/empty", 0)
	_, err := posixshm.Map(empty)
	checkMapError(t, err, "/empty", syscall.EINVAL, "empty object")

	g := posixshm.GlibcDir(t.TempDir()) // OpenBSD's rules refuse O_WRONLY
	newObject(t, g, "/w", 10)
	w, err := g.Open("/w", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = posixshm.Map(w)
	checkMapError(t, err, "/w", syscall.EACCES, "write-only")

	// A sparse object larger than any address space: 1 PiB, on a tmpfs,
	// which allows such sizes (the test's directory may not).
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skipf("no /dev/shm for the oversized object: %v", err)
	}
	tmpfs, name := posixshm.GlibcDir("/dev/shm"), shmTestName("/huge-")
	huge := newObject(t, tmpfs, name, 0)
	if err := huge.Truncate(1 << 50); err != nil {
		t.Skipf("the oversized case cannot be made here: %v", err)
	}
	_, err = posixshm.Map(huge)
	if !errors.Is(err, syscall.ENOMEM) && !errors.Is(err, syscall.EFBIG) {
		t.Errorf("Map of 1 PiB = %v, want ENOMEM or EFBIG", err)
	}
	checkMapError(t, err, name, err, "1125899906842624 bytes")
}

// TestMap_AnyObject: objects from CreateTemp and OpenAnonymous map too.
func TestMap_AnyObject(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	f, name, err := d.CreateTemp("/tmp.XXXXXX")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Unlink(name)
	defer f.Close()
	files := []*os.File{f}
	if a, err := posixshm.OpenAnonymous(); err == nil {
		defer a.Close()
		files = append(files, a)
	} else if !errors.Is(err, syscall.ENOTSUP) {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := f.Truncate(4096); err != nil {
			t.Fatal(err)
		}
		m, err := posixshm.Map(f)
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		m.Bytes()[4095] = 'x'
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, 4095); err != nil || b[0] != 'x' {
			t.Errorf("%s: read back %q, %v", f.Name(), b, err)
		}
		m.Close()
	}
}

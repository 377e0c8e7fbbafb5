package segment

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/memfault"
)

// TestNoFault maps a page of a file, truncates the file, and reads the
// page: a real SIGBUS, which memfault.Catch must turn into false, not a crash.
func TestNoFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	var buf [HeaderSize]byte
	if !memfault.Catch(func() { snapshot(buf[:], mem) }) {
		t.Fatal("reading a mapped page within the file faulted")
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if memfault.Catch(func() { snapshot(buf[:], mem) }) {
		t.Fatal("reading a mapped page past the end of the file did not fault")
	}
	// A panic that is not a memory fault is not swallowed.
	defer func() {
		if r := recover(); r != "not a fault" {
			t.Errorf("recovered %v, want the panic passed on", r)
		}
	}()
	memfault.Catch(func() { panic("not a fault") })
}

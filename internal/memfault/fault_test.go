package memfault_test

import (
	"errors"
	"os"
	"runtime/debug"
	"testing"

	"github.com/posixshm/posixshm/internal/memfault"
	"golang.org/x/sys/unix"
)

// TestCatch: an access to a page of a mapped file that was truncated away
// is reported, not a crash; the goroutine's setting is put back; other
// panics pass through.
func TestCatch(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fault")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := os.Getpagesize()
	if err := f.Truncate(int64(2 * page)); err != nil {
		t.Fatal(err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if !memfault.Catch(func() { b[page] = 1 }) {
		t.Fatal("Catch reported a fault for an access within the file")
	}
	if err := f.Truncate(int64(page)); err != nil {
		t.Fatal(err)
	}
	if memfault.Catch(func() { b[page] = 2 }) {
		t.Fatal("Catch reported no fault for an access past the file's end")
	}
	if !memfault.Catch(func() { b[0] = 3 }) {
		t.Fatal("Catch reported a fault for the page that is still there")
	}

	if debug.SetPanicOnFault(false) {
		t.Error("Catch left the goroutine's SetPanicOnFault on")
	}

	sentinel := errors.New("not a fault")
	func() {
		defer func() {
			if r := recover(); r != sentinel {
				t.Errorf("Catch turned a panic(%v) into %v", sentinel, r)
			}
		}()
		memfault.Catch(func() { panic(sentinel) })
	}()
	if memfault.Is(sentinel) {
		t.Error("Is(an error without Addr) = true")
	}
}

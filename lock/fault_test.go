package lock_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/lock"
)

// truncatedPage maps a page of a file, runs start (which may begin waits
// on the page's words), then truncates the file to 0 bytes: every access to
// the page faults from then on (SIGBUS), and futex(2) on it fails with
// EFAULT.
func truncatedPage(t *testing.T, start func(mem []byte)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	start(mem)
	time.Sleep(20 * time.Millisecond) // let the waiters fall asleep
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
}

// faulting runs fn in a goroutine that turns memory faults into panics
// (as package segment does) and sends what ended fn: "fault", or the
// error it returned ("ok" for nil), or "EFAULT".
func faulting(fn func() error) <-chan string {
	c := make(chan string, 1)
	go func() {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(interface{ Addr() uintptr }); !ok {
					panic(r)
				}
				c <- "fault"
			}
		}()
		switch err := fn(); {
		case err == nil:
			c <- "ok"
		case errors.Is(err, syscall.EFAULT):
			c <- "EFAULT"
		default:
			c <- err.Error()
		}
	}()
	return c
}

// TestCond_TruncatedUnderWaiter: a Cond waiter whose word's memory goes
// (a file truncated under its mapping) ends with a fault that its caller
// recovers, or with an error wrapping EFAULT; either way Close does not
// wait for it for ever. Before, a fault left the waiter counted, and
// Close waited for it for ever.
func TestCond_TruncatedUnderWaiter(t *testing.T) {
	for mode, opts := range condModes {
		t.Run(mode, func(t *testing.T) {
			var c *lock.Cond
			var ended <-chan string
			truncatedPage(t, func(mem []byte) {
				c = lock.NewCond((*uint32)(unsafe.Pointer(&mem[0])), append(opts, lock.WithStaleAfter(5*time.Millisecond))...)
				ended = faulting(func() error { return c.Wait(nil) })
			})
			select {
			case how := <-ended:
				if how != "fault" && how != "EFAULT" {
					t.Fatalf("waiter on a truncated page: %s, want a fault or EFAULT", how)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("waiter on a truncated page still waiting after 10s")
			}
			within(t, 10*time.Second, "Close after the waiter faulted", c.Close)
		})
	}
}

// TestMutex_TruncatedUnderWaiter: the same for a Mutex waiter.
func TestMutex_TruncatedUnderWaiter(t *testing.T) {
	var m *lock.Mutex
	var ended <-chan string
	truncatedPage(t, func(mem []byte) {
		m = lock.New64((*uint64)(unsafe.Pointer(&mem[64])), lock.WithStaleAfter(5*time.Millisecond))
		if err := m.Lock(); err != nil {
			t.Fatal(err)
		}
		ended = faulting(m.Lock)
	})
	select {
	case how := <-ended:
		if how != "fault" && how != "EFAULT" {
			t.Fatalf("waiter on a truncated page: %s, want a fault or EFAULT", how)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter on a truncated page still waiting after 10s")
	}
	within(t, 10*time.Second, "Close after the waiter faulted", m.Close)
}

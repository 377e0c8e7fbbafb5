package lock_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/internal/pledge"
	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// TestPledge pins the promises that package lock's documentation names for
// OpenBSD's pledge(2), in the Linux simulation (internal/pledge, which also
// hides /proc, as on OpenBSD): taking, waiting for and releasing the lock,
// and Close, need only "stdio"; the default identity's check of a holder
// calls kill(2) on it, which needs "proc" and kills the process without.
// In the Linux build every child also has "rpath": it reads /proc (start
// times). The openbsdsim build, which like OpenBSD has no /proc glue, gets
// exactly the promises the documentation names.
func TestPledge(t *testing.T) {
	base := "stdio rpath"
	if openbsdsim.Enabled {
		base = "stdio"
	}
	t.Run("lock", func(t *testing.T) {
		r := pledge.RunConfined(t, base, func(t *testing.T) {
			w, unmap := anonWord(t)
			defer unmap()
			// No holder check here (the stale interval is long): that is
			// the next subtests'.
			mu := lock.New64(w, lock.WithStaleAfter(time.Hour))
			if err := mu.Lock(); err != nil {
				t.Fatal(err)
			}
			// A waiter that sleeps (futex), woken by an Unlock.
			other := lock.New64(w, lock.WithIdentity(&fakeID{self: lock.Holder{Tag: 77, Stamp: 1}}))
			done := make(chan error, 1)
			go func() { done <- other.Lock() }()
			time.Sleep(20 * time.Millisecond)
			if err := mu.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// A waiter that Close sends away.
			go func() { done <- mu.Lock() }()
			time.Sleep(20 * time.Millisecond)
			mu.Close()
			if err := <-done; !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("Lock after Close = %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			if err := lock.New64(w, lock.WithStaleAfter(time.Hour)).LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("LockContext = %v", err)
			}
			if err := other.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
		if !r.Succeeded() {
			t.Fatal(r)
		}
	})
	for _, promises := range []string{base, base + " proc"} {
		t.Run("check/"+promises, func(t *testing.T) {
			r := pledge.RunConfined(t, promises, func(t *testing.T) {
				w, unmap := anonWord(t)
				defer unmap()
				dead := newWord(true)
				dead.p = w
				dead.store(lock.Holder{Tag: neverPID}, 0)
				ok, err := lock.New64(w).TryLock() // asks kill(2) about neverPID
				if !ok || !errors.Is(err, lock.ErrOwnerDead) {
					t.Fatalf("TryLock on a dead holder = %v, %v", ok, err)
				}
			})
			if promises == base {
				if !r.Violated() {
					t.Fatalf("the holder check without \"proc\": want the process killed; %v", r)
				}
			} else if !r.Succeeded() {
				t.Fatal(r)
			}
		})
	}
}

// anonWord maps a shared anonymous page (a pledged process may do that
// under "stdio") and returns its first 8 bytes as a lock word.
func anonWord(t *testing.T) (*uint64, func()) {
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	return u64(b, 0), func() { unix.Munmap(b) }
}

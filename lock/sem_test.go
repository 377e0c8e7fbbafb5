package lock_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// semMem returns zeroed, 8-byte aligned memory for a semaphore of n units.
func semMem(n int) []byte {
	words := make([]uint64, (lock.SemaphoreSize(n)+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), lock.SemaphoreSize(n))
}

func newSem(t testing.TB, mem []byte, n int, opts ...lock.Option) *lock.Semaphore {
	t.Helper()
	s, err := lock.NewSemaphore(mem, n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setUnit makes unit i show holder h, as if another process held it.
func setUnit(mem []byte, i int, h lock.Holder) {
	var b [8]byte
	*(*uint32)(unsafe.Pointer(&b[0])) = h.Tag
	*(*uint32)(unsafe.Pointer(&b[4])) = h.Stamp
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&mem[64+8*i])), *(*uint64)(unsafe.Pointer(&b[0])))
}

// semSelf is this process's Holder as a Semaphore records it.
func semSelf(t testing.TB) lock.Holder {
	s := newSem(t, semMem(1), 1)
	s.Acquire()
	return s.Holders()[0]
}

func TestSemaphore_Basic(t *testing.T) {
	const n = 3
	mem := semMem(n)
	s := newSem(t, mem, n)
	if s.Units() != n || lock.SemaphoreSize(n) != 64+8*n {
		t.Fatalf("Units %d, size %d", s.Units(), lock.SemaphoreSize(n))
	}
	if err := s.Release(); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of nothing = %v, want ErrNotHeld", err)
	}
	for i := range n {
		if ok, err := s.TryAcquire(); !ok || err != nil {
			t.Fatalf("TryAcquire %d = %v, %v", i, ok, err)
		}
	}
	if ok, err := s.TryAcquire(); ok || err != nil {
		t.Fatalf("TryAcquire on a full semaphore = %v, %v; want false, nil", ok, err)
	}
	me := semSelf(t)
	for i, h := range s.Holders() {
		if h != me {
			t.Errorf("unit %d held by %+v, want us %+v", i, h, me)
		}
	}
	if me.Tag != uint32(os.Getpid()) {
		t.Errorf("holder tag %d, want our pid %d", me.Tag, os.Getpid())
	}
	for range n {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range mem {
		if b != 0 && (i < 4 || i >= 8) {
			t.Fatalf("byte %d = %#x after all released; want only the count word set", i, b)
		}
	}
	if got := *(*uint32)(unsafe.Pointer(&mem[4])); got != n {
		t.Fatalf("count word %d, want %d", got, n)
	}
}

func TestNewSemaphore_Errors(t *testing.T) {
	mem := semMem(4)
	for _, c := range []struct {
		mem  []byte
		n    int
		want string
	}{
		{mem, 0, "0 units"},
		{mem, lock.MaxUnits + 1, "units, want 1.."},
		{mem[:lock.SemaphoreSize(4)-1], 4, "need 96"},
		{mem[4:], 1, "aligned"},
	} {
		if _, err := lock.NewSemaphore(c.mem, c.n); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSemaphore(%d bytes, %d) = %v, want an error saying %q", len(c.mem), c.n, err, c.want)
		}
	}
	newSem(t, mem, 2)
	if _, err := lock.NewSemaphore(mem, 3); err == nil || !strings.Contains(err.Error(), "has 2 units, not 3") {
		t.Errorf("NewSemaphore with another count = %v", err)
	}
	newSem(t, mem, 2) // the same count again is fine
}

// TestSemaphore_DeadHolder: a unit held by a process that is gone is
// recovered once, with ErrOwnerDead naming it: by TryAcquire at once, by
// Acquire after the stale interval.
func TestSemaphore_DeadHolder(t *testing.T) {
	for _, try := range []bool{true, false} {
		mem := semMem(2)
		s := newSem(t, mem, 2, lock.WithStaleAfter(time.Millisecond))
		pid := deadPID(t)
		setUnit(mem, 0, lock.Holder{Tag: uint32(pid), Stamp: 5})
		if ok, err := s.TryAcquire(); !ok || err != nil {
			t.Fatalf("TryAcquire with a free unit = %v, %v", ok, err)
		}
		var err error
		if try {
			var ok bool
			if ok, err = s.TryAcquire(); !ok {
				t.Fatalf("TryAcquire = false, %v; want the dead holder's unit", err)
			}
		} else {
			within(t, 10*time.Second, "Acquire", func() { err = s.Acquire() })
		}
		var od *lock.OwnerDeadError
		if !errors.Is(err, lock.ErrOwnerDead) || !errors.As(err, &od) || od.PID != pid || od.Holder.Tag != uint32(pid) {
			t.Fatalf("try=%v: %v, want ErrOwnerDead naming pid %d", try, err, pid)
		}
		if !strings.Contains(err.Error(), "semaphore unit 0 was held by pid") {
			t.Errorf("message %q", err)
		}
		if ok, err := s.TryAcquire(); ok || err != nil {
			t.Fatalf("third TryAcquire = %v, %v; want false, nil (recovered once)", ok, err)
		}
	}
}

// TestSemaphore_LiveHolder: a unit whose holder's identity says alive (or
// does not know) is never taken.
func TestSemaphore_LiveHolder(t *testing.T) {
	mem := semMem(1)
	id := &fakeID{self: lock.Holder{Tag: 3, Stamp: 1}}
	s := newSem(t, mem, 1, lock.WithIdentity(id), lock.WithStaleAfter(time.Millisecond))
	setUnit(mem, 0, lock.Holder{Tag: 9, Stamp: 9})
	// The waiter asks the identity, hears "alive", and waits on, asking
	// again: twice is enough to see it, however slow the machine (a hang
	// bound, not a timing claim).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.AcquireContext(ctx) }()
	for hang := time.Now().Add(10 * time.Second); id.asks.Load() < 2; time.Sleep(time.Millisecond) {
		select {
		case err := <-errc:
			t.Fatalf("AcquireContext = %v while the holder lives", err)
		default:
		}
		if time.Now().After(hang) {
			t.Fatalf("the identity was asked %d times in 10 s", id.asks.Load())
		}
	}
	cancel()
	var err error
	within(t, 10*time.Second, "AcquireContext, cancelled", func() { err = <-errc })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AcquireContext = %v, want context.Canceled", err)
	}
	id.dead = func(h lock.Holder) bool { return h.Tag == 9 }
	err = s.Acquire()
	var od *lock.OwnerDeadError
	if !errors.As(err, &od) || od.PID != 0 || od.Holder != (lock.Holder{Tag: 9, Stamp: 9}) {
		t.Fatalf("Acquire = %v, want ErrOwnerDead naming tag 9", err)
	}
	if !strings.Contains(err.Error(), "held by tag 9") {
		t.Errorf("message %q", err)
	}
	if h := s.Holders()[0]; h != id.self {
		t.Fatalf("unit held by %+v, want %+v", h, id.self)
	}
}

// TestSemaphore_Waiters: goroutines of several identities share n units;
// never more than n inside, everyone gets through, the sleepers are woken
// by Release.
func TestSemaphore_Waiters(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			const n, G, M = 2, 6, 300
			mem := semMem(n)
			var inside, maxInside, total atomic.Int64
			var wg sync.WaitGroup
			for g := range G {
				s := newSem(t, mem, n, append(opts, lock.WithIdentity(&fakeID{self: lock.Holder{Tag: uint32(100 + g), Stamp: 1}}), lock.WithStaleAfter(time.Hour))...)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range M {
						if err := s.Acquire(); err != nil {
							t.Error(err)
							return
						}
						k := inside.Add(1)
						for m := maxInside.Load(); k > m && !maxInside.CompareAndSwap(m, k); m = maxInside.Load() {
						}
						total.Add(1)
						if g%2 == 0 {
							time.Sleep(10 * time.Microsecond)
						}
						inside.Add(-1)
						if err := s.Release(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			within(t, 60*time.Second, "semaphore users", wg.Wait)
			if total.Load() != G*M || maxInside.Load() > n {
				t.Fatalf("total %d (want %d), at most %d inside (want ≤ %d)", total.Load(), G*M, maxInside.Load(), n)
			}
		})
	}
}

// TestSemaphore_Inherited: where the identity's Stamp is 0, units that
// show our identity when the process makes its first Semaphore over the
// memory were left by a predecessor: Release says ErrNotHeld, waiters
// recover them once each with ErrOwnerDead.
func TestSemaphore_Inherited(t *testing.T) {
	mem := semMem(3)
	me := lock.Holder{Tag: 4242}
	setUnit(mem, 0, me)
	setUnit(mem, 2, me)
	id := &fakeID{self: me}
	s := newSem(t, mem, 3, lock.WithIdentity(id), lock.WithStaleAfter(time.Millisecond))
	if err := s.Release(); !errors.Is(err, lock.ErrNotHeld) || !strings.Contains(err.Error(), "dead process with the same identity") {
		t.Fatalf("Release of a predecessor's unit = %v", err)
	}
	if ok, err := s.TryAcquire(); !ok || err != nil { // the free unit 1
		t.Fatalf("TryAcquire = %v, %v", ok, err)
	}
	s2 := newSem(t, mem, 3, lock.WithIdentity(id)) // a second handle: same counts
	for range 2 {
		ok, err := s2.TryAcquire()
		var od *lock.OwnerDeadError
		if !ok || !errors.As(err, &od) || od.Holder != me {
			t.Fatalf("TryAcquire = %v, %v; want a predecessor's unit with ErrOwnerDead", ok, err)
		}
	}
	if ok, err := s.TryAcquire(); ok || err != nil {
		t.Fatalf("TryAcquire after both recovered = %v, %v; want false, nil", ok, err)
	}
	for range 3 {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Release(); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("fourth Release = %v, want ErrNotHeld", err)
	}
	for i, h := range s.Holders() {
		if h.Tag != 0 {
			t.Fatalf("unit %d still held by %+v", i, h)
		}
	}
	s.Close()
	s2.Close()
}

func TestSemaphore_Close(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			b, err := unix.Mmap(-1, 0, mapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
			if err != nil {
				t.Fatal(err)
			}
			s := newSem(t, b, 1, opts...)
			s.Acquire()
			const W = 4
			errs := make(chan error, W)
			for i := range W {
				go func() {
					if i%2 == 0 {
						errs <- s.Acquire()
						return
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					errs <- s.AcquireContext(ctx)
				}()
			}
			time.Sleep(5 * time.Millisecond)
			s.Close()
			if err := unix.Munmap(b); err != nil {
				t.Fatal(err)
			}
			for range W {
				if err := <-errs; !errors.Is(err, fs.ErrClosed) {
					t.Fatalf("waiter after Close: %v", err)
				}
			}
			if err := s.Acquire(); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("Acquire after Close = %v", err)
			}
			if ok, err := s.TryAcquire(); ok || !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("TryAcquire after Close = %v, %v", ok, err)
			}
			if err := s.Release(); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("Release after Close = %v", err)
			}
			if s.Holders() != nil {
				t.Fatal("Holders after Close")
			}
		})
	}
}

func TestSemaphore_AllocsUncontended(t *testing.T) {
	s := newSem(t, semMem(4), 4)
	if n := testing.AllocsPerRun(1000, func() { s.Acquire(); s.Release() }); n != 0 {
		t.Fatalf("Acquire+Release allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.TryAcquire(); s.Release() }); n != 0 {
		t.Fatalf("TryAcquire+Release allocates %v times", n)
	}
}

// TestSemaphore_HandOff: one unit passes back and forth between two
// identities, each release at a random moment of the other's Acquire
// (spinning, announcing itself, asleep). With no stale checks (an hour), a
// wake-up lost between a waiter's last look at the units and its sleep
// would leave it asleep: the test fails after 10 s.
func TestSemaphore_HandOff(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			mem := semMem(1)
			var s [2]*lock.Semaphore
			for i := range s {
				s[i] = newSem(t, mem, 1, append(opts, lock.WithIdentity(&fakeID{self: lock.Holder{Tag: uint32(10 + i), Stamp: 1}}), lock.WithStaleAfter(time.Hour))...)
			}
			if err := s[0].Acquire(); err != nil {
				t.Fatal(err)
			}
			rounds := killRounds(2000, 100000)
			for r := range rounds {
				holder, waiter := s[r%2], s[(r+1)%2]
				got := make(chan error, 1)
				go func() { got <- waiter.Acquire() }()
				// Busy, not asleep: the release lands anywhere in the
				// waiter's path, from its first look to its sleep.
				for d, t0 := time.Duration(r*7919%150)*time.Microsecond, time.Now(); time.Since(t0) < d; {
				}
				if err := holder.Release(); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-got:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: the released unit never reached the waiter (holders %+v)", r, waiter.Holders())
				}
			}
		})
	}
}

package lock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
)

// deadPID returns the PID of a child that has exited and been reaped.
func deadPID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"=none")
	cmd.Run() // exits 2 (unknown role); we only want its PID
	return cmd.Process.Pid
}

func TestMutex_LockUnlock(t *testing.T) {
	var w uint32
	mu := lock.New(&w)
	if err := mu.Lock(); err != nil {
		t.Fatal(err)
	}
	if w != uint32(os.Getpid()) || mu.Holder() != os.Getpid() || lock.HolderPID(w) != os.Getpid() {
		t.Fatalf("word %#x, Holder %d; want our pid %d", w, mu.Holder(), os.Getpid())
	}
	if err := mu.Unlock(); err != nil || w != 0 || mu.Holder() != 0 {
		t.Fatalf("Unlock = %v, word %#x", err, w)
	}
}

func TestMutex_UnlockNotHeld(t *testing.T) {
	dead := deadPID(t)
	for _, w0 := range []uint32{0, uint32(dead), uint32(dead) | 1<<30} {
		w := w0
		if err := lock.New(&w).Unlock(); !errors.Is(err, lock.ErrNotHeld) {
			t.Errorf("word %#x: Unlock = %v, want ErrNotHeld", w0, err)
		}
		if w != w0 {
			t.Errorf("Unlock changed word %#x to %#x", w0, w)
		}
	}
}

func TestMutex_TryLock(t *testing.T) {
	var w uint32
	a, b := lock.New(&w), lock.New(&w)
	if ok, err := a.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock on free = %v, %v", ok, err)
	}
	if ok, err := b.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on held = %v, %v; want false, nil", ok, err)
	}
	a.Unlock()
	w = uint32(deadPID(t))
	if ok, err := b.TryLock(); !ok || !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("TryLock on dead holder = %v, %v; want true, ErrOwnerDead", ok, err)
	}
}

func TestMutex_LockContext(t *testing.T) {
	var w uint32
	holder := lock.New(&w)
	holder.Lock() // never released during the test
	for _, mode := range []lock.Option{lock.WithStaleAfter(time.Millisecond), lock.WithBackoff()} {
		mu := lock.New(&w, mode, lock.WithStaleAfter(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if err := mu.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("LockContext past deadline = %v", err)
		}
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		if err := mu.LockContext(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("LockContext after cancel = %v", err)
		}
		if err := mu.LockContext(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("LockContext with done ctx = %v", err)
		}
		if w != uint32(os.Getpid())|1<<30 && w != uint32(os.Getpid()) {
			t.Errorf("word = %#x, want still held by us", w)
		}
	}
	holder.Unlock()
	if w != 0 {
		t.Errorf("word = %#x after Unlock", w)
	}
}

// TestMutex_Goroutines: goroutines of one process exclude each other.
func TestMutex_Goroutines(t *testing.T) {
	for _, opts := range [][]lock.Option{nil, {lock.WithBackoff()}} {
		var w uint32
		var n, inside int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu := lock.New(&w, opts...)
				for range 2000 {
					mu.Lock()
					if atomic.AddInt64(&inside, 1) != 1 {
						t.Error("two goroutines inside")
					}
					n++
					atomic.AddInt64(&inside, -1)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if n != 8*2000 || w != 0 {
			t.Fatalf("n = %d, word %#x", n, w)
		}
	}
}

// TestMutex_Fingerprint: a live holder whose fingerprint matches is left
// alone; one whose fingerprint names the same PID with another start time
// is a recycled PID, so the lock is recovered.
func TestMutex_Fingerprint(t *testing.T) {
	path, b := newMapping(t)
	w, fp := u32(b, offWord), u64(b, offFP)
	mu := lock.New(w, lock.WithFingerprint(fp), lock.WithStaleAfter(time.Millisecond))
	mu.Lock()
	mine := *fp
	mu.Unlock()
	if *fp != 0 {
		t.Fatalf("fingerprint %#x not cleared by Unlock", *fp)
	}
	if mine == 0 {
		t.Skip("no process start times on this system: fingerprint unused")
	}
	if mine>>40 != uint64(os.Getpid()) {
		t.Fatalf("fingerprint %#x does not carry our pid %d", mine, os.Getpid())
	}
	p := start(t, "holder", path, "LOCKTEST_FP=1")
	p.line(t)
	if *fp>>40 != uint64(p.cmd.Process.Pid) {
		t.Fatalf("child fingerprint %#x, want pid %d", *fp, p.cmd.Process.Pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := mu.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext with live holder = %v", err)
	}
	*fp ^= 1 // as if a dead holder with this PID had written it
	if err := mu.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock with recycled holder PID = %v, want ErrOwnerDead", err)
	}
	if *fp != mine {
		t.Fatalf("fingerprint %#x after recovery, want ours %#x", *fp, mine)
	}
	mu.Unlock()
}

func TestMutex_AllocsUncontended(t *testing.T) {
	_, b := newMapping(t)
	mu := lock.New(u32(b, offWord))
	if n := testing.AllocsPerRun(1000, func() { mu.Lock(); mu.Unlock() }); n != 0 {
		t.Fatalf("Lock+Unlock allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { mu.TryLock(); mu.Unlock() }); n != 0 {
		t.Fatalf("TryLock+Unlock allocates %v times", n)
	}
}

func TestAlive(t *testing.T) {
	if !lock.Alive(os.Getpid()) {
		t.Error("Alive(self) = false")
	}
	if lock.Alive(deadPID(t)) || lock.Alive(1<<30-1) || lock.Alive(0) {
		t.Error("Alive of a dead pid = true")
	}
}

// TestMutex_RecoveryWakesSleepers: a waiter that takes the lock over from
// a dead holder must leave the waiters bit set, even if the dead holder's
// word had none (it locked after the last wake-up was handed out), so that
// its Unlock wakes the waiters still asleep. Otherwise they sleep until
// their next stale check: here an hour.
func TestMutex_RecoveryWakesSleepers(t *testing.T) {
	_, b := newMapping(t)
	w := u32(b, offWord)
	dead := uint32(deadPID(t))
	atomic.StoreUint32(w, dead)
	sleeper := lock.New(w, lock.WithStaleAfter(time.Hour))
	done := make(chan error, 1)
	go func() { done <- sleeper.Lock() }()
	for atomic.LoadUint32(w) != dead|1<<30 { // the sleeper announced itself
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // and is in futex(2), if there is one
	// As if the wake-up had gone to another waiter, and a process that
	// then locked without the bit had died.
	atomic.StoreUint32(w, dead)
	rescuer := lock.New(w)
	if ok, err := rescuer.TryLock(); !ok || !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("TryLock on a dead holder = %v, %v; want true, ErrOwnerDead", ok, err)
	}
	if err := rescuer.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sleeper's Lock = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleeper not woken by the Unlock that followed a recovery")
	}
	if err := sleeper.Unlock(); err != nil {
		t.Fatal(err)
	}
}

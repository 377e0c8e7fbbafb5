package lock_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// haveFutex reports whether this build's waiters sleep in futex(2):
// Linux, not the openbsdsim build, which runs OpenBSD's glue (they poll).
func haveFutex() bool { return runtime.GOOS == "linux" && !openbsdsim.Enabled }

// hasProcStat reports whether this build reads /proc/PID/stat: Linux, not
// the openbsdsim build.
func hasProcStat() bool {
	if !haveFutex() {
		return false
	}
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// deadPID returns the PID of a child that has exited and been reaped.
func deadPID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"=none")
	cmd.Run() // exits 2 (unknown role); we only want its PID
	return cmd.Process.Pid
}

// neverPID is above any pid_max (Linux ≤ 2^22, OpenBSD < 100000): no
// process ever has it, unlike a reaped child's PID, which a busy machine
// may soon reuse.
const neverPID = lock.MaxTag

// word is a lock word of either width, for tests that run on both.
type word struct {
	wide bool
	p    *uint64 // New64 uses all of it, New the state half at its start
}

func newWord(wide bool) word { return word{wide: wide, p: new(uint64)} }

func (w word) mutex(opts ...lock.Option) *lock.Mutex {
	if w.wide {
		return lock.New64(w.p, opts...)
	}
	return lock.New(w.state(), opts...)
}

func (w word) state() *uint32 { return (*uint32)(unsafe.Pointer(w.p)) }

// stamps reports whether the Mutexes over w record stamps: a 64-bit word
// where 64-bit atomics are atomic between processes (elsewhere New64 works
// on the state half alone).
func (w word) stamps() bool { return w.wide && lock.Atomic64 }

// load returns the state half and the stamp.
func (w word) load() (state, stamp uint32) {
	if w.wide {
		return lock.Split64(atomic.LoadUint64(w.p))
	}
	return atomic.LoadUint32(w.state()), 0
}

// store makes the word show holder h with the given flag bits (bit 30
// waiters, bit 31 starving), as if another process had written it: in a
// 32-bit word with the narrow bit (29), as New writes.
func (w word) store(h lock.Holder, flags uint32) {
	state := w.ours(h.Tag) | flags
	if h.Tag == 0 {
		state = flags
	}
	if !w.wide {
		atomic.StoreUint32(w.state(), state)
		return
	}
	// Through memory, so the test does not depend on the byte order.
	var b [8]byte
	*(*uint32)(unsafe.Pointer(&b[0])) = state
	*(*uint32)(unsafe.Pointer(&b[4])) = h.Stamp
	atomic.StoreUint64(w.p, *(*uint64)(unsafe.Pointer(&b[0])))
}

// ours is the state half a Mutex of this width writes for tag: in a
// 32-bit word with the narrow bit (29), which says that no stamp half was
// written with it.
func (w word) ours(tag uint32) uint32 {
	if !w.wide {
		return tag | 1<<29
	}
	return tag
}

func (w word) name() string {
	if w.wide {
		return "64"
	}
	return "32"
}

// bothWidths runs f on a fresh 32-bit and a fresh 64-bit word.
func bothWidths(t *testing.T, f func(t *testing.T, w word)) {
	for _, wide := range []bool{false, true} {
		w := newWord(wide)
		t.Run(w.name(), func(t *testing.T) { f(t, w) })
	}
}

// self is this process's Holder in a word of w's width.
func self(w word) lock.Holder {
	var mu *lock.Mutex
	if w.wide {
		mu = lock.New64(new(uint64))
	} else {
		mu = lock.New(new(uint32))
	}
	mu.Lock()
	return mu.Holder()
}

// fakeID is an Identity whose dead holders the test names.
type fakeID struct {
	self lock.Holder
	dead func(h lock.Holder) bool
	asks atomic.Int32
}

func (f *fakeID) Self() lock.Holder { return f.self }

func (f *fakeID) Dead(h lock.Holder) (bool, int) {
	f.asks.Add(1)
	if f.dead == nil {
		return false, 0
	}
	return f.dead(h), 0
}

func TestMutex_LockUnlock(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		mu := w.mutex()
		if err := mu.Lock(); err != nil {
			t.Fatal(err)
		}
		state, stamp := w.load()
		h := mu.Holder()
		if lock.HolderPID(state) != os.Getpid() || h.Tag != uint32(os.Getpid()) || h.Stamp != stamp || state != w.ours(h.Tag) {
			t.Fatalf("word %#x/%#x, Holder %+v; want our pid %d and nothing else", state, stamp, h, os.Getpid())
		}
		if !w.stamps() && stamp != 0 {
			t.Fatalf("word without stamps has stamp %d", stamp)
		}
		if err := mu.Unlock(); err != nil {
			t.Fatal(err)
		}
		if state, stamp := w.load(); state != 0 || stamp != 0 || mu.Holder() != (lock.Holder{}) {
			t.Fatalf("after Unlock: word %#x/%#x, Holder %+v", state, stamp, mu.Holder())
		}
	})
}

// TestMutex64_Stamp: New64 records the start time in the stamp half where
// the system has one (Linux), with the PID in the state half.
func TestMutex64_Stamp(t *testing.T) {
	w := newWord(true)
	mu := w.mutex()
	mu.Lock()
	defer mu.Unlock()
	state, stamp := w.load()
	if lock.HolderPID(state) != os.Getpid() {
		t.Fatalf("state half %#x, want our pid", state)
	}
	if stamp == 0 && lock.Atomic64 && hasProcStat() {
		t.Fatal("no stamp recorded although /proc gives start times here")
	}
}

func TestMutex_UnlockNotHeld(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		me := self(w)
		other := lock.Holder{Tag: uint32(deadPID(t)), Stamp: 7}
		if !w.stamps() {
			other.Stamp = 0
		}
		for _, c := range []struct {
			h     lock.Holder
			flags uint32
		}{{lock.Holder{}, 0}, {other, 0}, {other, 1 << 30}, {other, 1<<31 | 1<<30}, {lock.Holder{}, 1 << 31}} {
			w.store(c.h, c.flags)
			s0, st0 := w.load()
			if err := w.mutex().Unlock(); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("word %+v|%#x: Unlock = %v, want ErrNotHeld", c.h, c.flags, err)
			}
			if s, st := w.load(); s != s0 || st != st0 {
				t.Errorf("Unlock changed word %#x/%#x to %#x/%#x", s0, st0, s, st)
			}
		}
		if w.stamps() {
			// Our PID with another stamp: a predecessor's lock (the
			// stamp is later than any real one's, so it is taken for
			// another PID namespace's, still not ours).
			w.store(lock.Holder{Tag: me.Tag, Stamp: me.Stamp + 1}, 0)
			if err := w.mutex().Unlock(); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("our pid, other stamp: Unlock = %v, want ErrNotHeld", err)
			}
		}
	})
}

func TestMutex_TryLock(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		a, b := w.mutex(), w.mutex()
		if ok, err := a.TryLock(); !ok || err != nil {
			t.Fatalf("TryLock on free = %v, %v", ok, err)
		}
		if ok, err := b.TryLock(); ok || err != nil {
			t.Fatalf("TryLock on held = %v, %v; want false, nil", ok, err)
		}
		a.Unlock()
		pid := deadPID(t)
		w.store(lock.Holder{Tag: uint32(pid)}, 1<<30)
		ok, err := b.TryLock()
		var od *lock.OwnerDeadError
		if !ok || !errors.As(err, &od) || od.PID != pid || od.Holder.Tag != uint32(pid) {
			t.Fatalf("TryLock on dead holder = %v, %v; want true, ErrOwnerDead naming %d", ok, err, pid)
		}
		if h := b.Holder(); h != self(w) {
			t.Fatalf("Holder = %+v after recovery, want us %+v", h, self(w))
		}
		if err := b.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMutex_LockContext(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		holder := w.mutex()
		holder.Lock() // never released during the test
		for _, mode := range []lock.Option{lock.WithStaleAfter(time.Millisecond), lock.WithBackoff()} {
			mu := w.mutex(mode, lock.WithStaleAfter(time.Millisecond))
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
			if h := mu.Holder(); h != self(w) {
				t.Errorf("Holder = %+v, want still us", h)
			}
		}
		holder.Unlock()
		if s, st := w.load(); s != 0 || st != 0 {
			t.Errorf("word = %#x/%#x after Unlock", s, st)
		}
	})
}

// TestMutex_Goroutines: goroutines of one process exclude each other.
func TestMutex_Goroutines(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		for _, opts := range [][]lock.Option{nil, {lock.WithBackoff()}} {
			var n, inside int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					mu := w.mutex(opts...)
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
			if s, _ := w.load(); n != 8*2000 || s != 0 {
				t.Fatalf("n = %d, word %#x", n, s)
			}
		}
	})
}

// TestMutex_Identity: a supplied identity's Tag and Stamp are what the one
// compare-and-swap writes, and its Dead decides takeovers.
func TestMutex_Identity(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		id := &fakeID{self: lock.Holder{Tag: 42, Stamp: 0xdeadbeef}}
		mu := w.mutex(lock.WithIdentity(id), lock.WithStaleAfter(time.Millisecond))
		mu.Lock()
		want := id.self
		if !w.stamps() {
			want.Stamp = 0
		}
		if h := mu.Holder(); h != want {
			t.Fatalf("Holder = %+v, want %+v", h, want)
		}
		mu.Unlock()
		other := lock.Holder{Tag: 7, Stamp: 9}
		if !w.stamps() {
			other.Stamp = 0
		}
		w.store(other, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := mu.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) || id.asks.Load() == 0 {
			t.Fatalf("LockContext with a holder Dead calls alive = %v (asked %d times)", err, id.asks.Load())
		}
		id.dead = func(h lock.Holder) bool { return h == other }
		err := mu.Lock()
		var od *lock.OwnerDeadError
		if !errors.As(err, &od) || od.Holder != other || od.PID != 0 {
			t.Fatalf("Lock with a dead holder = %v, want ErrOwnerDead naming %+v", err, other)
		}
		mu.Unlock()
	})
}

// TestMutex_TakeOverIsExact: the takeover is one compare-and-swap from the
// exact word the identity judged, stamp included. Here the holder's death
// is reported while a new holder with the same Tag (a reused PID) has
// meanwhile taken the lock: the takeover must fail, and the new holder
// keep the lock. With a 64-bit word the stamp tells them apart.
func TestMutex_TakeOverIsExact(t *testing.T) {
	if !lock.Atomic64 {
		t.Skip("no stamps on this GOARCH (lock.Atomic64 is false): the 32-bit word's limit, documented")
	}
	w := newWord(true)
	old, next := lock.Holder{Tag: 5, Stamp: 100}, lock.Holder{Tag: 5, Stamp: 200}
	id := &fakeID{self: lock.Holder{Tag: 9, Stamp: 1}}
	id.dead = func(h lock.Holder) bool {
		if h == old {
			// While we judge the old holder, it unlocks and exits and a
			// new process with its PID takes the lock.
			w.store(next, 0)
			return true
		}
		return false
	}
	w.store(old, 0)
	mu := w.mutex(lock.WithIdentity(id))
	if ok, err := mu.TryLock(); ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want false, nil (the new holder is alive)", ok, err)
	}
	if s, st := w.load(); lock.HolderPID(s) != int(next.Tag) || st != next.Stamp {
		t.Fatalf("word %#x/%d, want still held by %+v", s, st, next)
	}
}

func TestMutex_AllocsUncontended(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		mu := w.mutex()
		if n := testing.AllocsPerRun(1000, func() { mu.Lock(); mu.Unlock() }); n != 0 {
			t.Fatalf("Lock+Unlock allocates %v times", n)
		}
		if n := testing.AllocsPerRun(1000, func() { mu.TryLock(); mu.Unlock() }); n != 0 {
			t.Fatalf("TryLock+Unlock allocates %v times", n)
		}
	})
}

// TestMutex_AllocsContended: a Lock that waits, in futex(2) or backing
// off, with or without a cancellable context, allocates nothing. Another
// identity in this process holds the lock for a while each time.
func TestMutex_AllocsContended(t *testing.T) {
	for _, backoff := range []bool{false, true} {
		w := newWord(true)
		opts := []lock.Option{}
		if backoff {
			opts = append(opts, lock.WithBackoff())
		}
		other := w.mutex(append(opts, lock.WithIdentity(&fakeID{self: lock.Holder{Tag: 77, Stamp: 1}}))...)
		mu := w.mutex(append(opts, lock.WithStaleAfter(time.Hour))...)
		ctx, cancel := context.WithCancel(context.Background())
		held, release := make(chan struct{}), make(chan struct{})
		go func() {
			for range release {
				other.Lock()
				held <- struct{}{}
				// Not busy: AllocsPerRun runs with GOMAXPROCS 1.
				time.Sleep(200 * time.Microsecond)
				other.Unlock()
			}
		}()
		waits := 0
		n := testing.AllocsPerRun(50, func() {
			release <- struct{}{}
			<-held
			if mu.Holder().Tag == 77 {
				waits++
			}
			mu.LockContext(ctx)
			mu.Unlock()
		})
		close(release)
		cancel()
		if n != 0 {
			t.Errorf("backoff=%v: contended Lock+Unlock allocates %v times", backoff, n)
		}
		if waits == 0 {
			t.Errorf("backoff=%v: Lock never waited", backoff)
		}
	}
}

func TestAlive(t *testing.T) {
	if !lock.Alive(os.Getpid()) {
		t.Error("Alive(self) = false")
	}
	if lock.Alive(deadPID(t)) || lock.Alive(neverPID) || lock.Alive(0) {
		t.Error("Alive of a dead pid = true")
	}
}

// TestMutex_RecoveryWakesSleepers: a waiter that takes the lock over from
// a dead holder must leave the waiters bit set, even if the dead holder's
// word had none (it locked after the last wake-up was handed out), so that
// its Unlock wakes the waiters still asleep, which would otherwise sleep
// until they next look by themselves.
func TestMutex_RecoveryWakesSleepers(t *testing.T) {
	if !haveFutex() {
		t.Skip("waiters sleep in futex(2) only in the Linux build (not OpenBSD's, nor openbsdsim)")
	}
	bothWidths(t, func(t *testing.T, w word) {
		dead := lock.Holder{Tag: neverPID}
		w.store(dead, 0)
		sleeper := w.mutex(lock.WithStaleAfter(time.Hour))
		done := make(chan error, 1)
		go func() { done <- sleeper.Lock() }()
		for s, _ := w.load(); s&(1<<30) == 0; s, _ = w.load() { // the sleeper announced itself
			time.Sleep(time.Millisecond)
		}
		// As if the wake-up had gone to another waiter, and a process that
		// then locked without the bit had died.
		w.store(dead, 0)
		rescuer := w.mutex()
		if ok, err := rescuer.TryLock(); !ok || !errors.Is(err, lock.ErrOwnerDead) {
			t.Fatalf("TryLock on a dead holder = %v, %v; want true, ErrOwnerDead", ok, err)
		}
		if s, _ := w.load(); s&(1<<30) == 0 {
			t.Fatalf("word %#x after the takeover: no waiters bit", s)
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
	})
}

// TestMutex_StarvingBit: a free word whose starving bit is set (a waiter
// that waited too long, here one that then died) lets a new Lock in after
// a bounded wait, which takes the bit away; TryLock takes it at once and
// leaves the bit for the next Unlock; Unlock keeps it.
func TestMutex_StarvingBit(t *testing.T) {
	bothWidths(t, func(t *testing.T, w word) {
		for _, opts := range [][]lock.Option{nil, {lock.WithBackoff()}} {
			mu := w.mutex(opts...)
			w.store(lock.Holder{}, 1<<31|1<<30)
			done := make(chan error, 1)
			go func() { done <- mu.Lock() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Lock stuck on a free word whose starving waiter is gone")
			}
			if s, _ := w.load(); s&(1<<31) != 0 || lock.HolderPID(s) != os.Getpid() {
				t.Fatalf("word %#x after a starving Lock, want ours without the starving bit", s)
			}
			mu.Unlock()
			w.store(lock.Holder{}, 1<<31)
			if ok, err := mu.TryLock(); !ok || err != nil {
				t.Fatalf("TryLock on a free starving word = %v, %v", ok, err)
			}
			if s, _ := w.load(); s != 1<<31|w.ours(uint32(os.Getpid())) {
				t.Fatalf("word %#x after TryLock, want ours with the starving bit", s)
			}
			if err := mu.Unlock(); err != nil {
				t.Fatal(err)
			}
			if s, st := w.load(); s != 1<<31 || st != 0 {
				t.Fatalf("word %#x/%#x after Unlock, want only the starving bit", s, st)
			}
			w.store(lock.Holder{}, 0)
		}
	})
}

// TestMutex_Close: waiters in Lock and LockContext give up with
// fs.ErrClosed, and Close returns only when none of them can touch the
// word any more: the test unmaps the word right after Close, so a late
// access would crash it. Later calls fail without touching the word.
func TestMutex_Close(t *testing.T) {
	for _, wide := range []bool{false, true} {
		for _, backoff := range []bool{false, true} {
			for range 20 {
				closeRound(t, wide, backoff)
			}
		}
	}
}

func closeRound(t *testing.T, wide, backoff bool) {
	// Not newMapping: this mapping is unmapped here, not at cleanup.
	b, err := unix.Mmap(-1, 0, mapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	var opts []lock.Option
	if backoff {
		opts = append(opts, lock.WithBackoff())
	}
	newMu := func(opts ...lock.Option) *lock.Mutex {
		if wide {
			return lock.New64(u64(b, offWord), opts...)
		}
		return lock.New(u32(b, offWord), opts...)
	}
	holder := newMu(append(opts, lock.WithIdentity(&fakeID{self: lock.Holder{Tag: 77, Stamp: 1}}))...)
	holder.Lock()
	// Waiters never check the fake holder (it would be taken for dead:
	// no process 77 here, most likely).
	mu := newMu(append(opts, lock.WithStaleAfter(time.Hour))...)
	const W = 4
	errs := make(chan error, W)
	var started sync.WaitGroup
	for i := range W {
		started.Add(1)
		go func() {
			started.Done()
			if i%2 == 0 {
				errs <- mu.Lock()
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errs <- mu.LockContext(ctx)
		}()
	}
	started.Wait()
	// Close waits only for goroutines inside Lock's wait; one still on its
	// way to the word when the memory is unmapped would fault (the
	// documented contract). So wait until all W are in, some asleep, some
	// maybe not yet.
	for lock.Waiting(mu) < W {
		time.Sleep(50 * time.Microsecond)
	}
	mu.Close()
	holder.Close()
	if err := unix.Munmap(b); err != nil {
		t.Fatal(err)
	}
	for range W {
		if err := <-errs; !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("waiter's Lock after Close = %v, want fs.ErrClosed", err)
		}
	}
	// The word is gone: any access would fault.
	if err := mu.Lock(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Lock after Close = %v", err)
	}
	if err := mu.LockContext(context.Background()); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("LockContext after Close = %v", err)
	}
	if ok, err := mu.TryLock(); ok || !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("TryLock after Close = %v, %v", ok, err)
	}
	if err := mu.Unlock(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Unlock after Close = %v", err)
	}
	if h := mu.Holder(); h != (lock.Holder{}) {
		t.Fatalf("Holder after Close = %+v", h)
	}
	mu.Close() // again: nothing to do
}

// TestMutex_Heir32: a 32-bit word records only the PID, so a word that
// shows this process's PID when the process makes its first Mutex over it
// was left by a dead process that had the same PID; a Mutex made while
// another Mutex of this process holds the word is not an heir.
func TestMutex_Heir32(t *testing.T) {
	pid := uint32(os.Getpid())
	me := pid | 1<<29 // our identity as New writes it: the PID and the narrow bit
	w := new(uint32)

	// A predecessor's lock: the first Mutex inherits it, and so does a
	// second one made before the takeover.
	atomic.StoreUint32(w, me|1<<30)
	a := lock.New(w)
	if err := a.Unlock(); !errors.Is(err, lock.ErrNotHeld) || atomic.LoadUint32(w) != me|1<<30 {
		t.Fatalf("Unlock of an inherited word = %v (word %#x), want ErrNotHeld and the word unchanged", err, atomic.LoadUint32(w))
	}
	b := lock.New(w)
	ok, err := b.TryLock()
	var od *lock.OwnerDeadError
	if !ok || !errors.As(err, &od) || od.PID != int(pid) {
		t.Fatalf("TryLock on an inherited word = %v, %v; want true, ErrOwnerDead naming our own pid", ok, err)
	}
	if ok, err := a.TryLock(); ok || err != nil {
		t.Fatalf("TryLock after the takeover = %v, %v; want false, nil (this process holds it)", ok, err)
	}
	if err := a.Unlock(); err != nil { // the process holds it: any Mutex of it may unlock
		t.Fatalf("Unlock after the takeover = %v", err)
	}
	a.Close()
	b.Close()

	// Our own lock, taken through one Mutex: a Mutex made now is no heir.
	c := lock.New(w)
	c.Lock()
	d := lock.New(w)
	if ok, err := d.TryLock(); ok || err != nil {
		t.Fatalf("TryLock through a second Mutex while the first holds = %v, %v; want false, nil", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := lock.New(w, lock.WithStaleAfter(time.Millisecond)).LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext through a third Mutex while the first holds = %v, want to wait", err)
	}
	c.Unlock()
	c.Close()
	d.Close()

	// A predecessor's lock that another process recovered first: the
	// inheritance is void, the word is judged as any other.
	atomic.StoreUint32(w, me)
	e := lock.New(w)
	atomic.StoreUint32(w, neverPID)
	if ok, err := e.TryLock(); !ok || !errors.As(err, &od) || od.PID != neverPID {
		t.Fatalf("TryLock = %v, %v; want the lock from the dead pid %d", ok, err, neverPID)
	}
	if err := e.Unlock(); err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(w, me)
	if ok, err := e.TryLock(); ok || err != nil {
		t.Fatalf("TryLock after the inheritance ended = %v, %v; want false, nil", ok, err)
	}
	e.Close()
}

// TestMutex_MixedWidths: New and New64 over one word. A 32-bit Mutex that
// takes the lock over from a dead 64-bit holder replaces the state half
// alone, and the dead holder's stamp stays in the other half. A 64-bit
// waiter must not read that stamp as the new holder's: with the identity
// here (as the default one does with start times), a holder whose PID is
// alive with another start time than its stamp is a reused PID, dead, so
// reading the old stamp would rob the live 32-bit holder.
func TestMutex_MixedWidths(t *testing.T) {
	const deadTag, liveTag, liveStart, oldStamp = 1000, 2000, 50, 40
	p := new(uint64)
	w := word{wide: true, p: p}
	w.store(lock.Holder{Tag: deadTag, Stamp: oldStamp}, 0)
	narrow := lock.New((*uint32)(unsafe.Pointer(p)), lock.WithIdentity(&fakeID{
		self: lock.Holder{Tag: liveTag},
		dead: func(h lock.Holder) bool { return h.Tag == deadTag },
	}))
	ok, err := narrow.TryLock()
	if !ok || !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("32-bit TryLock over a dead 64-bit holder = %v, %v; want the lock with ErrOwnerDead", ok, err)
	}
	state, stamp := lock.Split64(atomic.LoadUint64(p))
	if lock.HolderPID(state) != liveTag || !lock.Narrow(state) || stamp != 0 {
		t.Fatalf("word after the 32-bit takeover: state %#x, stamp %d; want tag %d, the narrow bit, no stamp", state, stamp, liveTag)
	}
	judged := &fakeID{
		self: lock.Holder{Tag: 3000, Stamp: 60},
		dead: func(h lock.Holder) bool {
			// liveTag is alive and started at liveStart: a holder with
			// its Tag and another stamp had the PID before it.
			return h.Tag == deadTag || h.Tag == liveTag && h.Stamp != 0 && h.Stamp != liveStart
		},
	}
	wide := lock.New64(p, lock.WithIdentity(judged))
	if h := wide.Holder(); h != (lock.Holder{Tag: liveTag}) {
		t.Errorf("64-bit Holder = %+v, want %+v: the stamp left by the dead holder is not the live one's", h, lock.Holder{Tag: liveTag})
	}
	if ok, err := wide.TryLock(); ok || err != nil {
		t.Fatalf("64-bit TryLock while the 32-bit holder lives = %v, %v; want false, nil", ok, err)
	}
	if judged.asks.Load() == 0 {
		t.Fatal("the 64-bit TryLock did not ask the identity")
	}
	// The 32-bit holder unlocks: the 64-bit Mutex takes the free word,
	// stale stamp half and all, and writes its own stamp.
	if err := narrow.Unlock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := wide.TryLock(); !ok || err != nil {
		t.Fatalf("64-bit TryLock of the free word = %v, %v", ok, err)
	}
	if h := wide.Holder(); h != judged.self {
		t.Fatalf("64-bit holder %+v, want %+v", h, judged.self)
	}
	// And a 32-bit waiter judges the 64-bit holder by its Tag.
	if ok, err := narrow.TryLock(); ok || err != nil {
		t.Fatalf("32-bit TryLock while the 64-bit holder lives = %v, %v; want false, nil", ok, err)
	}
	if err := wide.Unlock(); err != nil {
		t.Fatal(err)
	}
	if v := atomic.LoadUint64(p); v != 0 {
		t.Fatalf("word %#x after the 64-bit Unlock, want 0", v)
	}
}

// TestMutex_HeirFreed: a word that showed our identity when the process
// made its first Mutex over it (a predecessor's lock) and that another
// process then recovered and released is free: the inheritance is over.
// A goroutine that takes the free word holds it, and a second goroutine
// must wait for it, not take it over as the predecessor's.
func TestMutex_HeirFreed(t *testing.T) {
	w := new(uint32)
	atomic.StoreUint32(w, uint32(os.Getpid())|1<<29) // a predecessor's lock
	a := lock.New(w, lock.WithStaleAfter(time.Millisecond))
	defer a.Close()
	atomic.StoreUint32(w, 0) // another process recovered it and unlocked
	if err := a.Lock(); err != nil {
		t.Fatalf("Lock of the free word = %v", err)
	}
	if ok, err := a.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while another goroutine holds = %v, %v; want false, nil", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := a.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext while another goroutine holds = %v, want to wait", err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
}

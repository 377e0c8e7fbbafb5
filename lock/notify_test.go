package lock_test

import (
	"context"
	"errors"
	"io/fs"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

const notifyWaitersBit = 1 << 31

// condModes are the waiting modes of the Cond tests: futex(2) (polling
// where there is none) and polling.
var condModes = map[string][]lock.Option{"futex": nil, "backoff": {lock.WithBackoff()}}

// within fails the test if f does not return within d (a hang, not a
// timing claim: d is far above what f needs).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v", what, d)
	}
}

// returned waits for a waiter's result, which must be nil, for at most
// 10 s (a hang, not a timing claim).
func returned(t *testing.T, errc <-chan error, what string) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s", what)
	}
}

// waitAsleep waits until the notify word shows a waiter (its bit) and
// gives it time to fall asleep.
func waitAsleep(t *testing.T, word *uint32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); atomic.LoadUint32(word)&notifyWaitersBit == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no waiter announced itself on the notify word")
		}
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(20 * time.Millisecond)
}

// TestCond_Predicate: the predicate loop across goroutines, with Signal
// and Broadcast; every waiter returns holding the Mutex.
func TestCond_Predicate(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			var lw uint64
			var nw uint32
			mu := lock.New64(&lw)
			c := lock.NewCond(&nw, append(opts, lock.WithStaleAfter(time.Hour))...)
			const W, rounds = 4, 200
			var ready, taken int // under mu
			var wg sync.WaitGroup
			for range W {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						if err := mu.Lock(); err != nil {
							t.Error(err)
							return
						}
						for ready == 0 {
							if err := c.Wait(mu); err != nil {
								t.Error(err)
								return
							}
							if mu.Holder().Tag == 0 {
								t.Error("Wait returned without the mutex")
							}
						}
						ready--
						taken++
						mu.Unlock()
					}
				}()
			}
			for i := range W * rounds {
				mu.Lock()
				ready++
				mu.Unlock()
				if i%10 == 0 {
					c.Broadcast()
				} else {
					c.Signal()
				}
			}
			within(t, 30*time.Second, "waiters", wg.Wait)
			if taken != W*rounds || ready != 0 {
				t.Fatalf("taken %d, ready %d; want %d, 0", taken, ready, W*rounds)
			}
		})
	}
}

// TestCond_NotifyWithoutWaiters: with nobody waiting, Signal and
// Broadcast write nothing (whatever the sequence), and allocate nothing.
func TestCond_NotifyWithoutWaiters(t *testing.T) {
	for _, v := range []uint32{0, 1, 12345, 1<<31 - 1} {
		w := v
		c := lock.NewCond(&w)
		c.Signal()
		c.Broadcast()
		if w != v {
			t.Errorf("word %#x became %#x with nobody waiting", v, w)
		}
	}
	var w uint32
	c := lock.NewCond(&w)
	if n := testing.AllocsPerRun(1000, func() { c.Signal(); c.Broadcast() }); n != 0 {
		t.Errorf("Signal+Broadcast allocate %v times", n)
	}
}

// TestCond_StaleWaitersBit: a waiter killed in its wait leaves the waiters
// bit; the next notification moves the sequence, finds nobody asleep,
// clears the bit and returns; the one after writes nothing. The sequence
// wraps around from 2^31-1 to 0.
func TestCond_StaleWaitersBit(t *testing.T) {
	for _, all := range []bool{false, true} {
		for _, seq := range []uint32{7, 1<<31 - 1} {
			w := notifyWaitersBit | seq
			c := lock.NewCond(&w)
			notify := c.Signal
			if all {
				notify = c.Broadcast
			}
			within(t, 10*time.Second, "notify with a stale waiters bit", notify)
			want := (seq + 1) & (1<<31 - 1)
			if s, waiters := lock.SplitNotify(w); s != want || waiters {
				t.Errorf("all=%v: word %#x after notify: seq %d, waiters %v; want %d, false", all, w, s, waiters, want)
			}
			before := w
			notify()
			if w != before {
				t.Errorf("all=%v: second notify changed %#x to %#x", all, before, w)
			}
		}
	}
}

// TestCond_SignalWakesOne: with several sleepers, each Signal lets at
// least one more waiter return, and the others sleep on (no recheck here).
// Where waiters poll (no futex: OpenBSD, the openbsdsim build), Signal
// wakes them all, as documented.
func TestCond_SignalWakesOne(t *testing.T) {
	var w uint32
	c := lock.NewCond(&w, lock.WithStaleAfter(time.Hour))
	const W = 3
	returned := make(chan error, W)
	for range W {
		go func() { returned <- c.Wait(nil) }()
	}
	if !haveFutex() {
		waitAsleep(t, &w)
		time.Sleep(30 * time.Millisecond)
		c.Signal()
		for k := range W {
			select {
			case err := <-returned:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("polling waiters: Signal woke %d of %d", k, W)
			}
		}
		return
	}
	for k := range W {
		waitAsleep(t, &w)
		// Wait until every waiter that has not returned is asleep.
		time.Sleep(30 * time.Millisecond)
		c.Signal()
		select {
		case err := <-returned:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Signal %d woke nobody", k)
		}
		// Those left must still sleep (a Signal wakes one); a spurious
		// return is allowed by the contract but does not happen here.
		select {
		case <-returned:
			if k < W-1 {
				t.Fatalf("Signal %d woke two waiters", k)
			}
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// TestCond_WaitContext: a deadline or a cancellation ends the wait with
// the Mutex locked again; a done ctx returns at once without touching
// anything.
func TestCond_WaitContext(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			var lw uint64
			var w uint32
			mu := lock.New64(&lw)
			c := lock.NewCond(&w, append(opts, lock.WithStaleAfter(time.Hour))...)
			mu.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			if err := c.WaitContext(ctx, mu); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("past deadline: %v", err)
			}
			cancel()
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			var err error
			within(t, 10*time.Second, "cancelled wait", func() { err = c.WaitContext(ctx, mu) })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("after cancel: %v", err)
			}
			if mu.Holder().Tag == 0 {
				t.Fatal("mutex not held after a cancelled wait")
			}
			before := w
			if err := c.WaitContext(ctx, mu); !errors.Is(err, context.Canceled) || w != before || mu.Holder().Tag == 0 {
				t.Errorf("done ctx: %v, word %#x→%#x, holder %+v", err, before, w, mu.Holder())
			}
			if err := mu.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := c.Wait(mu); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("Wait without the mutex = %v, want ErrNotHeld", err)
			}
		})
	}
}

// TestCond_OwnerDead: the Mutex's holder died while we waited: Wait
// passes ErrOwnerDead on, with the Mutex held.
func TestCond_OwnerDead(t *testing.T) {
	var lw uint64
	var w uint32
	mu := lock.New64(&lw)
	c := lock.NewCond(&w, lock.WithStaleAfter(time.Hour))
	mu.Lock()
	errc := make(chan error, 1)
	go func() { errc <- c.Wait(mu) }()
	waitAsleep(t, &w)
	// A process took the lock and died, then someone notified.
	dead := newWord(true)
	dead.p = &lw
	dead.store(lock.Holder{Tag: neverPID}, 0)
	c.Signal()
	var err error
	within(t, 10*time.Second, "wait", func() { err = <-errc })
	var od *lock.OwnerDeadError
	if !errors.As(err, &od) || od.Holder.Tag != neverPID {
		t.Fatalf("Wait = %v, want ErrOwnerDead naming %d", err, neverPID)
	}
	if err := mu.Unlock(); err != nil {
		t.Fatalf("Unlock after ErrOwnerDead: %v", err)
	}
}

// TestCond_Recheck: a notifier killed between moving the sequence and its
// wake-up (simulated: the sequence moves, nobody wakes) delays a sleeper by
// at most its recheck interval.
func TestCond_Recheck(t *testing.T) {
	var w uint32
	c := lock.NewCond(&w, lock.WithStaleAfter(5*time.Millisecond))
	errc := make(chan error, 1)
	go func() { errc <- c.Wait(nil) }()
	waitAsleep(t, &w)
	atomic.AddUint32(&w, 1)
	returned(t, errc, "sleeper after the sequence moved without a wake-up")
}

// TestCond_Close: waiters give up with fs.ErrClosed and without their
// Mutex; Close returns only when none can touch the word (it is unmapped
// right after); later calls fail or do nothing without touching it.
func TestCond_Close(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			for range 10 {
				closeCond(t, opts)
			}
		})
	}
}

func closeCond(t *testing.T, opts []lock.Option) {
	b, err := unix.Mmap(-1, 0, mapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	var lw uint64 // not in the mapping: the Mutex outlives the Cond
	mu := lock.New64(&lw)
	c := lock.NewCond(u32(b, 64), opts...)
	const W = 4
	errs := make(chan error, W)
	var started sync.WaitGroup
	for i := range W {
		started.Add(1)
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%2 == 0 {
				ctx = context.Background()
			}
			mu.Lock()
			started.Done()
			errs <- c.WaitContext(ctx, mu)
		}()
	}
	started.Wait()
	time.Sleep(time.Duration(len(errs)) * 100 * time.Microsecond)
	c.Close()
	if err := unix.Munmap(b); err != nil {
		t.Fatal(err)
	}
	for range W {
		if err := <-errs; !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("waiter after Close: %v, want fs.ErrClosed", err)
		}
	}
	if h := mu.Holder(); h.Tag != 0 {
		t.Fatalf("mutex held by %+v after the waiters gave up", h)
	}
	mu.Lock()
	if err := c.Wait(mu); !errors.Is(err, fs.ErrClosed) || mu.Holder().Tag != 0 {
		t.Fatalf("Wait after Close = %v (holder %+v), want fs.ErrClosed and the mutex released", err, mu.Holder())
	}
	c.Signal() // the word is gone: these must not touch it
	c.Broadcast()
	c.Close()
}

// TestCond_NilMutex: Wait(nil) waits for the next notification.
func TestCond_NilMutex(t *testing.T) {
	var w uint32
	c := lock.NewCond(&w, lock.WithStaleAfter(time.Hour))
	errc := make(chan error, 1)
	go func() { errc <- c.Wait(nil) }()
	waitAsleep(t, &w)
	c.Broadcast()
	returned(t, errc, "Wait(nil)")
}

func TestNewCond_Misaligned(t *testing.T) {
	var b [8]uint32
	defer func() {
		if recover() == nil {
			t.Fatal("NewCond on a misaligned word did not panic")
		}
	}()
	lock.NewCond((*uint32)(unsafe.Add(unsafe.Pointer(&b[0]), 1)))
}

// goroutinesCreated is the number of goroutines this process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestCond_WaitContextOnCallersGoroutine: a wait with a cancellable
// context, ended by a notification or by its cancellation, sleeps on the
// caller's goroutine and starts no other (on main, the cancellation ran a
// context.AfterFunc, a goroutine, to wake the sleeper).
func TestCond_WaitContextOnCallersGoroutine(t *testing.T) {
	var lw uint64
	var w uint32
	mu := lock.New64(&lw)
	c := lock.NewCond(&w, lock.WithStaleAfter(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	act := make(chan func())
	go func() { // started before the counts are taken
		for f := range act {
			for atomic.LoadUint32(&w)&notifyWaitersBit == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(20 * time.Millisecond) // asleep by now
			f()
		}
	}()
	defer close(act)
	for _, end := range []struct {
		name string
		f    func()
		want error
	}{
		{"notified", func() { mu.Lock(); mu.Unlock(); c.Signal() }, nil},
		{"cancelled", cancel, context.Canceled},
	} {
		if err := mu.Lock(); err != nil {
			t.Fatal(err)
		}
		before := goroutinesCreated()
		act <- end.f
		err := c.WaitContext(ctx, mu)
		started := goroutinesCreated() - before
		mu.Unlock()
		if !errors.Is(err, end.want) && err != end.want {
			t.Fatalf("%s: WaitContext = %v, want %v", end.name, err, end.want)
		}
		if started != 0 {
			t.Errorf("%s: WaitContext started %d goroutines, want 0", end.name, started)
		}
	}
}

// TestCond_WaitCount: the event count returns at once for a counter that
// has moved, when a notifier moves it and wakes the waiter, when it moves
// without a wake-up (its notifier killed in between) although the recheck
// interval is an hour, on cancellation and on Close; and it starts no
// goroutine.
func TestCond_WaitCount(t *testing.T) {
	for name, opts := range condModes {
		t.Run(name, func(t *testing.T) {
			var w, count uint32
			c := lock.NewCond(&w, append(opts, lock.WithStaleAfter(time.Hour))...)
			if n, err := c.WaitCount(context.Background(), &count, 7); n != 0 || err != nil {
				t.Fatalf("a counter that has moved: %d, %v; want 0 at once", n, err)
			}
			for _, how := range []string{"signal", "broadcast", "lost wake-up"} {
				mark := atomic.LoadUint32(&count)
				go func() {
					for atomic.LoadUint32(&w)&notifyWaitersBit == 0 {
						time.Sleep(100 * time.Microsecond)
					}
					time.Sleep(20 * time.Millisecond)
					atomic.AddUint32(&count, 1)
					switch how {
					case "signal":
						c.Signal()
					case "broadcast":
						c.Broadcast()
					}
				}()
				before := goroutinesCreated()
				var n uint32
				var err error
				within(t, 10*time.Second, how, func() { n, err = c.WaitCount(context.Background(), &count, mark) })
				if n != mark+1 || err != nil {
					t.Fatalf("%s: %d, %v; want %d", how, n, err, mark+1)
				}
				if started := goroutinesCreated() - before; started > 1 { // within's own
					t.Errorf("%s: WaitCount started %d goroutines besides within's", how, started-1)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			var err error
			within(t, 10*time.Second, "cancelled", func() { _, err = c.WaitCount(ctx, &count, count) })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: %v", err)
			}
			time.AfterFunc(20*time.Millisecond, c.Close)
			within(t, 10*time.Second, "closed", func() { _, err = c.WaitCount(context.Background(), &count, count) })
			if !errors.Is(err, fs.ErrClosed) {
				t.Errorf("closed: %v, want fs.ErrClosed", err)
			}
		})
	}
}

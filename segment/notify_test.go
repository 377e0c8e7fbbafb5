package segment_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
)

// Offsets of the notify line in the header (see segment.HeaderSize).
const (
	offNotify      = 128
	offNotifyCount = 132
)

// mapHeader maps the first page of the segment file at path, as another
// process would, for tests that look at or write the header's words
// behind the Segment's back. The file stays open until the test ends (see
// readHeader).
func mapHeader(t *testing.T, path string) (notify, count *uint32) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	mem, err := unix.Mmap(int(f.Fd()), 0, segment.HeaderSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return (*uint32)(unsafe.Pointer(&mem[offNotify])), (*uint32)(unsafe.Pointer(&mem[offNotifyCount]))
}

// returnsWithin runs f in a goroutine and returns a function that waits
// up to d for it to return and fails the test if it does not.
func returnsWithin(t *testing.T, f func()) (wait func(d time.Duration, what string)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	return func(d time.Duration, what string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(d):
			t.Fatalf("%s: still waiting after %v", what, d)
		}
	}
}

// TestSegment_WaitNotify: a waiter under the lock sleeps until another
// Segment of the file changes the data under the lock and notifies; it
// returns with the lock held.
func TestSegment_WaitNotify(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/wait", 64, nil)
	o, err := segment.Open("/wait", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	flag := (*uint32)(unsafe.Pointer(&s.Bytes()[0]))
	for _, all := range []bool{false, true} {
		atomic.StoreUint32(flag, 0)
		if err := s.Lock(); err != nil {
			t.Fatal(err)
		}
		var waits int
		wait := returnsWithin(t, func() {
			for atomic.LoadUint32(flag) == 0 {
				waits++
				if err := s.Wait(); err != nil {
					t.Error(err)
					return
				}
			}
			if err := s.Unlock(); err != nil {
				t.Errorf("Unlock after Wait: %v (the lock was not held again)", err)
			}
		})
		// Whoever gets the lock now finds the waiter asleep.
		if err := o.Lock(); err != nil {
			t.Fatal(err)
		}
		atomic.StoreUint32(flag, 1)
		o.Unlock()
		if all {
			o.NotifyAll()
		} else {
			o.Notify()
		}
		wait(10*time.Second, "Wait after a notification")
		if waits == 0 {
			t.Fatal("the waiter never waited")
		}
	}
}

// TestSegment_WaitContext: a done context ends the wait with the lock held
// again; a Wait without the lock fails at once.
func TestSegment_WaitContext(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/ctx", 64, nil)
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitContext: %v, want DeadlineExceeded", err)
	}
	if info, _ := s.Stat(); info.LockHolder != os.Getpid() {
		t.Fatalf("after a timed-out wait the lock is held by %d, not us", info.LockHolder)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Wait without the lock: %v, want ErrNotHeld", err)
	}
}

// TestSegment_NotifyWithoutWaiters: a notification with nobody waiting
// leaves the notify word alone (no write, so no system call either) and
// counts; Stat and ReadHeader show the count and the word.
func TestSegment_NotifyWithoutWaiters(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/idle", 64, nil)
	word, count := mapHeader(t, s.Path())
	for i := range 1000 {
		s.Notify()
		s.NotifyAll()
		if w := atomic.LoadUint32(word); w != 0 {
			t.Fatalf("after %d notifications with nobody waiting the notify word is %#x", 2*(i+1), w)
		}
	}
	if got := s.Notifications(); got != 2000 || atomic.LoadUint32(count) != 2000 {
		t.Fatalf("Notifications() = %d, count word %d; want 2000", got, atomic.LoadUint32(count))
	}
	info, err := s.Stat()
	if err != nil || info.Notifications != 2000 || info.NotifySeq != 0 || info.NotifyWaiters {
		t.Fatalf("Stat: %+v, %v", info, err)
	}

	// A waiter asleep: the word shows it, and a notification moves the
	// sequence.
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	wait := returnsWithin(t, func() {
		s.Wait()
		s.Unlock()
	})
	for _, waiters := lock.SplitNotify(atomic.LoadUint32(word)); !waiters; _, waiters = lock.SplitNotify(atomic.LoadUint32(word)) {
		time.Sleep(time.Millisecond)
	}
	if h := readHeader(t, s.Path()); !h.NotifyWaiters || h.NotifySeq != 0 || h.Notifications != 2000 {
		t.Fatalf("ReadHeader with a waiter: %+v", h)
	}
	s.NotifyAll()
	wait(10*time.Second, "Wait after NotifyAll")
	if info, _ := s.Stat(); info.NotifySeq != 1 || info.NotifyWaiters || info.Notifications != 2001 {
		t.Fatalf("Stat after a NotifyAll that woke a waiter: %+v", info)
	}
}

// TestSegment_WaitNotification: the count decides, not the notify word. A
// mark the count has left returns at once; word changes without a
// notification (another waiter's announcements, a notification of
// lock.Cond's that found the waiters bit set) do not end the wait, even
// though they wake the Cond underneath; a notification does.
func TestSegment_WaitNotification(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/count", 64, &segment.Options{StaleAfter: 2 * time.Millisecond})
	word, _ := mapHeader(t, s.Path())
	ctx := context.Background()
	mark := s.Notifications()
	s.Notify()
	if n, err := s.WaitNotification(ctx, mark); err != nil || n != mark+1 {
		t.Fatalf("WaitNotification(%d) after a notification: %d, %v; want %d at once", mark, n, err, mark+1)
	}

	mark = s.Notifications()
	var got atomic.Uint32
	wait := returnsWithin(t, func() {
		n, err := s.WaitNotification(ctx, mark)
		if err != nil {
			t.Error(err)
		}
		got.Store(n)
	})
	// A bare lock.Cond over the same word stands for the package lock
	// notifications a count does not see: they move the word, and every
	// sleeper looks at it within the 2 ms recheck interval.
	other := lock.NewCond(word)
	defer other.Close()
	for range 50 {
		atomic.OrUint32(word, 1<<31) // a waiter announces itself
		other.Broadcast()            // moves the sequence, wakes the sleepers
		time.Sleep(2 * time.Millisecond)
	}
	if seq, _ := lock.SplitNotify(atomic.LoadUint32(word)); seq < 50 {
		t.Fatalf("the notify word's sequence is %d: the test did not move it", seq)
	}
	if n := got.Load(); n != 0 {
		t.Fatalf("WaitNotification returned %d without a notification", n)
	}
	s.Notify()
	wait(10*time.Second, "WaitNotification after Notify")
	if n := got.Load(); n != mark+1 {
		t.Fatalf("WaitNotification returned %d, want %d", n, mark+1)
	}
}

// TestSegment_WaitNotification_LostWake: a notifier killed after it
// counted its notification and before it woke anyone (here: a count
// written behind the Segment's back) still ends the wait, though the
// recheck interval is an hour and the notify word never moves.
func TestSegment_WaitNotification_LostWake(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/lost", 64, &segment.Options{StaleAfter: time.Hour})
	_, count := mapHeader(t, s.Path())
	mark := s.Notifications()
	var got atomic.Uint32
	wait := returnsWithin(t, func() {
		n, err := s.WaitNotification(context.Background(), mark)
		if err != nil {
			t.Error(err)
		}
		got.Store(n)
	})
	time.Sleep(50 * time.Millisecond) // long asleep
	atomic.AddUint32(count, 1)
	wait(10*time.Second, "WaitNotification after a count without a wake-up")
	if got.Load() != mark+1 {
		t.Fatalf("WaitNotification returned %d, want %d", got.Load(), mark+1)
	}
}

// TestSegment_WaitNotification_Loop: goroutines publish values with
// atomics and notify; a waiter that looks at the value between waits, with
// the count WaitNotification returned as its next mark, always ends up
// seeing the last value (a lost notification would leave it asleep).
func TestSegment_WaitNotification_Loop(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/loop", 64, &segment.Options{StaleAfter: time.Hour})
	o, err := segment.Open("/loop", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	v := (*uint64)(unsafe.Pointer(&s.Bytes()[0]))
	const writers, each = 3, 300
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				time.Sleep(20 * time.Microsecond) // let the waiter fall asleep, often
				atomic.AddUint64(v, 1)
				if o.Notifications()%2 == 0 {
					o.Notify()
				} else {
					o.NotifyAll()
				}
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mark, rounds := s.Notifications(), 0
	for atomic.LoadUint64(v) < writers*each {
		rounds++
		if mark, err = s.WaitNotification(ctx, mark); err != nil {
			t.Fatalf("after %d rounds, value %d of %d: %v", rounds, atomic.LoadUint64(v), writers*each, err)
		}
	}
	wg.Wait()
	if rounds < 10 {
		t.Fatalf("%d rounds for %d notifications: the waiter hardly waited, the test did not test", rounds, writers*each)
	}
	t.Logf("%d rounds for %d notifications", rounds, writers*each)
}

// TestSegment_CloseWakesWaiters: Close ends every wait of this Segment
// with fs.ErrClosed (Wait without the lock) and returns once they have
// left; later waits fail the same way and notifications do nothing.
// Another Segment of the file keeps working.
func TestSegment_CloseWakesWaiters(t *testing.T) {
	d := segDir(t)
	keep := mustCreate(t, d, "/close", 64, nil)
	s, err := segment.Open("/close", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	go func() { errs <- s.Wait() }()
	go func() {
		_, err := s.WaitNotification(context.Background(), s.Notifications())
		errs <- err
	}()
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := s.WaitNotification(ctx, s.Notifications()+7) // returns at once
		errs <- err
	}()
	if err := <-errs; err != nil {
		t.Fatalf("WaitNotification of a mark the count has left: %v", err)
	}
	time.Sleep(20 * time.Millisecond) // both asleep
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var pe *fs.PathError
		if err := <-errs; !errors.Is(err, fs.ErrClosed) || !errors.As(err, &pe) || pe.Op != "wait" {
			t.Fatalf("a wait during Close: %v, want a wait *fs.PathError wrapping fs.ErrClosed", err)
		}
	}
	if err := s.Wait(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
	if _, err := s.WaitNotification(context.Background(), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("WaitNotification after Close: %v", err)
	}
	s.Notify()
	s.NotifyAll()
	if n := s.Notifications(); n != 0 {
		t.Fatalf("Notifications after Close: %d", n)
	}
	// The Wait that Close ended had released the lock.
	if ok, err := keep.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock after Close ended a Wait: %v, %v; want the lock free", ok, err)
	}
	keep.Unlock()
	mark := keep.Notifications()
	keep.Notify()
	if n, err := keep.WaitNotification(context.Background(), mark); err != nil || n != mark+1 {
		t.Fatalf("the other Segment: %d, %v", n, err)
	}
}

// TestSegment_WaitNotification_OnCallersGoroutine: WaitNotification sleeps
// on the caller's goroutine, whether a notification or a cancellation ends
// it (on main, each of its sleeps started a goroutine to watch the count).
func TestSegment_WaitNotification_OnCallersGoroutine(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/mine", 64, nil)
	created := func() uint64 {
		m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(m)
		return m[0].Value.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	act := make(chan func())
	go func() { // started before the counts are taken
		for f := range act {
			time.Sleep(30 * time.Millisecond) // a few sleeps of the waiter
			f()
		}
	}()
	defer close(act)
	for _, end := range []struct {
		name string
		f    func()
		want error
	}{
		{"notified", s.Notify, nil},
		{"cancelled", cancel, context.Canceled},
	} {
		mark := s.Notifications()
		before := created()
		act <- end.f
		_, err := s.WaitNotification(ctx, mark)
		started := created() - before
		if !errors.Is(err, end.want) && err != end.want {
			t.Fatalf("%s: WaitNotification = %v, want %v", end.name, err, end.want)
		}
		if started != 0 {
			t.Errorf("%s: WaitNotification started %d goroutines, want 0", end.name, started)
		}
	}
}

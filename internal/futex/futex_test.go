package futex

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestShard_Due: a goroutine about to sleep yields when yieldEvery has
// passed since the last yield on its P, not before, and not right after a
// sleep longer than longSleep; a short sleep turns the yield back on.
func TestShard_Due(t *testing.T) {
	var s shard
	t0 := time.Now()
	steps := []struct {
		at    time.Duration // now, from t0
		slept time.Duration // then a sleep of this long, from now (0: none)
		want  bool
	}{
		{at: 0, want: true}, // a fresh shard: due at once
		{at: time.Millisecond, want: false},
		{at: yieldEvery - time.Microsecond, want: false},
		{at: yieldEvery, want: true},
		{at: yieldEvery + time.Millisecond, slept: longSleep + time.Millisecond, want: false},
		{at: 3 * yieldEvery, want: false}, // after a long sleep: due, but off
		{at: 3*yieldEvery + time.Millisecond, slept: time.Millisecond, want: false},
		{at: 4 * yieldEvery, want: true}, // a short sleep turned it back on
		{at: 4*yieldEvery + time.Millisecond, want: false},
	}
	for i, st := range steps {
		now := t0.Add(st.at)
		if got := s.due(now); got != st.want {
			t.Fatalf("step %d (at %v): due = %v, want %v", i, st.at, got, st.want)
		}
		if st.slept > 0 {
			s.long.Store(st.slept > longSleep) // what slept records
		}
	}
}

// TestShard_Slept: a sleep whose deadline was at most longSleep away is
// never long (no clock is read for it); one that lasted longer is.
func TestShard_Slept(t *testing.T) {
	var s shard
	now := time.Now().Add(-2 * longSleep) // began 20 ms ago
	s.slept(now, now.Add(longSleep))      // deadline 10 ms after the start
	if s.long.Load() {
		t.Error("a sleep with a deadline longSleep away counted as long")
	}
	s.slept(now, now.Add(time.Hour))
	if !s.long.Load() {
		t.Error("a sleep of 20 ms did not count as long")
	}
	s.slept(time.Now(), time.Now().Add(time.Hour))
	if s.long.Load() {
		t.Error("a sleep of no time counted as long")
	}
	s.long.Store(true)
	s.slept(now, time.Time{}) // no deadline
	if !s.long.Load() {
		t.Error("a sleep of 20 ms without a deadline did not count as long")
	}
}

// TestSleep_YieldsBeforeSleep: Sleep yields before its futex(2) call when
// its P is due, once per yieldEvery, and not after a long sleep. One P, so
// that every call sees the same shard (the race detector's sync.Pool drops
// shards at random: there, only the first half is checked).
func TestSleep_YieldsBeforeSleep(t *testing.T) {
	if !Supported {
		t.Skip("no futex(2) here: Sleep polls, in time.Sleep, with no P to keep")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var w uint32
	sleep := func(now time.Time, d time.Duration, val uint32) uint64 {
		t.Helper()
		before := yields.Load()
		if _, err := Sleep(&w, val, now, now.Add(d), Any); err != nil {
			t.Fatal(err)
		}
		return yields.Load() - before
	}
	// A word that differs: futex(2) returns at once, after the yield.
	future := time.Now().Add(time.Hour)
	if n := sleep(future, time.Millisecond, 1); n != 1 {
		t.Fatalf("first sleep an hour after the last yield: %d yields, want 1", n)
	}
	if n := sleep(future.Add(time.Millisecond), time.Millisecond, 1); n != 0 {
		t.Fatalf("sleep 1 ms after a yield: %d yields, want 0", n)
	}
	if n := sleep(future.Add(yieldEvery+time.Millisecond), time.Millisecond, 1); n != 1 {
		t.Fatalf("sleep %v after a yield: %d yields, want 1", yieldEvery+time.Millisecond, n)
	}
	if raceEnabled {
		return
	}
	// A real sleep longer than longSleep (the word holds the value).
	sleep(time.Now(), longSleep+5*time.Millisecond, 0)
	if n := sleep(future.Add(time.Hour), time.Millisecond, 1); n != 0 {
		t.Fatalf("sleep due right after a long sleep: %d yields, want 0", n)
	}
	if n := sleep(future.Add(2*time.Hour), time.Millisecond, 1); n != 1 {
		t.Fatalf("sleep due after a short sleep: %d yields, want 1", n)
	}
}

// TestSleep_WokenAndTimedOut: Sleep returns when the word's value differs,
// when woken, and when its deadline passes (timedOut).
func TestSleep_WokenAndTimedOut(t *testing.T) {
	var w uint32
	now := time.Now()
	timedOut, err := Sleep(&w, 0, now, now.Add(2*time.Millisecond), Any)
	if err != nil || !timedOut {
		t.Fatalf("Sleep until a deadline: timedOut %v, err %v", timedOut, err)
	}
	if time.Since(now) < 2*time.Millisecond {
		t.Fatalf("Sleep returned before its deadline")
	}
	if !Supported {
		return
	}
	if timedOut, err := Sleep(&w, 1, time.Now(), time.Now().Add(time.Hour), Any); err != nil || timedOut {
		t.Fatalf("Sleep on a value the word does not hold: timedOut %v, err %v", timedOut, err)
	}
	done := make(chan error)
	go func() {
		_, err := Sleep(&w, 0, time.Now(), time.Time{}, 2)
		done <- err
	}()
	// Wake only the kind of sleeper it is, until it returns: it may not be
	// asleep yet. A wake of another kind must not reach it.
	for {
		Wake(&w, 1, 1) // another kind
		select {
		case err := <-done:
			t.Fatalf("a Wake of another kind woke the sleeper (err %v)", err)
		case <-time.After(time.Millisecond):
		}
		if Wake(&w, 1, 2) == 1 {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(&w, 0)
}

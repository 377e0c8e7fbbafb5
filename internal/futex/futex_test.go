package futex

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// TestShard_Due: a goroutine about to sleep yields when this P's last yield
// is yieldBy less twice the time since the last sleep began (at least
// yieldEvery) ago; not after a sleep longer than longSleep.
func TestShard_Due(t *testing.T) {
	var s shard
	steps := []struct {
		at   float64 // a sleep begins (ms)
		want bool
	}{
		{1000, false},   // a fresh shard: its last sleep "began" long ago
		{1001, true},    // 1 ms since: due after 9-2 = 7 ms, and the last yield was at 0
		{1002, false},   // 1 ms after the yield
		{1005, false},   // 3 ms apart: due after max(9-6, 5) = 5 ms; 4 ms since the yield
		{1006, false},   // 1 ms apart: due after 7 ms; 5 since the yield
		{1008, true},    // 2 ms apart: due after 5 ms; 7 since the yield
		{1008.5, false}, // just yielded
		{1016, true},    // 7.5 ms apart: due after 5 ms; 8 since the yield
		{1028, false},   // 12 ms apart: the last sleep was long, no yield
		{1029, true},    // a short one: back on
		{1029.5, false},
	}
	for i, st := range steps {
		if got := s.due(int64(st.at * float64(ms))); got != st.want {
			t.Fatalf("step %d (a sleep at %v ms): due = %v, want %v", i, st.at, got, st.want)
		}
	}
}

// TestShard_DueNeverLate: sleeps of any steady length ℓ < longSleep, each
// beginning right after the last ended: the yields are never 10 ms apart
// (sysmon's forcePreemptNS: it would retake the P), and for short sleeps
// no more often than every yieldBy less two sleeps.
func TestShard_DueNeverLate(t *testing.T) {
	for _, l := range []float64{0.05, 0.1, 0.3, 1, 2, 3, 4.5, 5, 6, 8, 9.9} {
		var s shard
		step := int64(l * float64(ms))
		lastYield, yields := int64(-1), 0
		for at := 100 * ms; at < 1100*ms; at += step {
			if !s.due(at) {
				continue
			}
			if lastYield >= 0 && at-lastYield >= 10*ms {
				t.Fatalf("sleeps %v ms long: yields at %v and %v ms, 10 ms or more apart", l, float64(lastYield)/1e6, float64(at)/1e6)
			}
			lastYield = at
			yields++
		}
		if yields == 0 {
			t.Fatalf("sleeps %v ms long: never yielded", l)
		}
		if most := 1000 / max(9-2*l, 5); float64(yields) > most+1 {
			t.Errorf("sleeps %v ms long: %d yields a second, want at most %.0f", l, yields, most)
		}
	}
}

// TestSleep_YieldsBeforeSleep: Sleep yields before its futex(2) call when
// its P is due, and not right after a long sleep. One P, so that every
// call sees the same shard; the times are made up, a day ahead of any
// real sleep. (The race detector's sync.Pool drops shards at random:
// there, only the first check, and that in one attempt of several.)
// fakeDays counts the runs of TestSleep_YieldsBeforeSleep in this process.
var fakeDays atomic.Int64

func TestSleep_YieldsBeforeSleep(t *testing.T) {
	if !Supported {
		t.Skip("no futex(2) here: Sleep polls, in time.Sleep, with no P to keep")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var w uint32
	// A day after any earlier run's made-up times (go test -count=N).
	base := time.Now().Add(time.Duration(fakeDays.Add(1)) * 24 * time.Hour)
	sleep := func(atMS float64) uint64 {
		t.Helper()
		now := base.Add(time.Duration(atMS * float64(ms)))
		before := yields.Load()
		// A value the word does not hold: futex(2) returns at once,
		// after the yield if there is one.
		if _, err := Sleep(&w, 1, now, now.Add(time.Millisecond), Any); err != nil {
			t.Fatal(err)
		}
		return yields.Load() - before
	}
	if raceEnabled {
		// The race detector's pool drops a Put now and then, and a sleep
		// that gets a fresh shard does not yield (its last sleep "began"
		// long ago): look for one attempt of the three, each an hour
		// after the last, that kept its shard. Sleep without the yield
		// makes 0 in every attempt; one that always yields, 3.
		var got []uint64
		for range 20 {
			n := sleep(0) + sleep(1) + sleep(2)
			if n == 1 {
				return
			}
			got = append(got, n)
			base = base.Add(time.Hour)
		}
		t.Fatalf("three sleeps 1 ms apart, long after the last, 20 times: yields %v, want 1 at least once", got)
	}
	if n := sleep(0) + sleep(1) + sleep(2); n != 1 {
		t.Fatalf("three sleeps 1 ms apart, long after the last: %d yields, want 1", n)
	}
	for _, c := range []struct {
		at   float64
		want uint64
	}{{3, 0}, {12, 1}, {30, 0}, {31, 1}} {
		if n := sleep(c.at); n != c.want {
			t.Fatalf("a sleep at %v ms: %d yields, want %d", c.at, n, c.want)
		}
	}
}

// TestSleep_WokenAndTimedOut: Sleep returns when the word's value differs,
// when woken (by a Wake of its kind, not of another), and when its
// deadline passes (timedOut).
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

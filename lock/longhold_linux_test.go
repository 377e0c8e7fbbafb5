package lock_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

func init() {
	// Wait behind a lock held for long, then report how often this
	// process was switched out while it waited (voluntary context
	// switches: each futex(2) sleep that ends is one).
	roles["patient"] = func(b []byte, mu *lock.Mutex) error {
		var before, after unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &before); err != nil {
			return err
		}
		fmt.Println("waiting")
		start := time.Now()
		if err := mu.Lock(); err != nil {
			return err
		}
		waited := time.Since(start)
		if err := unix.Getrusage(unix.RUSAGE_SELF, &after); err != nil {
			return err
		}
		fmt.Printf("%d %d\n", after.Nvcsw-before.Nvcsw, waited.Milliseconds())
		return mu.Unlock()
	}
}

// TestMutex_LongHoldQuietWaiter: a waiter behind a lock that one holder
// keeps for a second sleeps in long stretches, not every millisecond (on
// main it woke about 1000 to 2700 times a second: each sleep was capped at
// the 1 ms starvation interval, needed only while the lock changes hands).
// Each sleep is still bounded by the stale interval (20 ms by default), so
// about 50 sleeps a second remain, and each costs the process several
// switches (the runtime hands the sleeping thread's P to another thread,
// which parks again): about 400 a second in all here, with or without the
// race detector. 1000 a second leaves room for that and fails the old
// behaviour by a factor of about three.
func TestMutex_LongHoldQuietWaiter(t *testing.T) {
	path, b := newMapping(t)
	mu := lock.New64(u64(b, offWord))
	if err := mu.Lock(); err != nil {
		t.Fatal(err)
	}
	p := start(t, "patient", path, "LOCKTEST_WIDE=1")
	if got := p.line(t); got != "waiting\n" {
		t.Fatalf("child said %q", got)
	}
	const hold = time.Second
	time.Sleep(hold)
	if err := mu.Unlock(); err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(p.finish(t))
	if len(f) != 2 {
		t.Fatalf("child reported %q", f)
	}
	switches, _ := strconv.Atoi(f[0])
	waitedMS, _ := strconv.Atoi(f[1])
	if waitedMS < 500 {
		t.Fatalf("child waited only %d ms of the %v hold: the test did not test a long wait", waitedMS, hold)
	}
	perSecond := float64(switches) / (float64(waitedMS) / 1000)
	t.Logf("waiter: %d voluntary context switches in %d ms (%.0f/s)", switches, waitedMS, perSecond)
	if perSecond > 1000 {
		t.Errorf("waiter behind a long hold was switched out %.0f times a second, want ≤ 1000: its sleeps are not growing", perSecond)
	}
}

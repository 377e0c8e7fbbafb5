package segment_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

func init() { helperModes["pingpong"] = pingPong }

// pingPongRounds is how many turns each side of TestSegment_PingPong takes.
const pingPongRounds = 3000

// pingPong is one side of TestSegment_PingPong (args: dir, name, side 0
// or 1, how: "wait" or "notification"): it takes its turns on the counter
// in the data region, and after each one wakes the other side.
func pingPong(args []string) error {
	d, name, how := posixshm.Dir(args[0]), args[1], args[3]
	side, _ := strconv.Atoi(args[2])
	s, err := segment.Open(name, &segment.Options{Layout: d, StaleAfter: time.Hour})
	if err != nil {
		return err
	}
	defer s.Close()
	return takeTurns(s, uint64(side), how)
}

// takeTurns takes side's pingPongRounds turns on the counter at the start
// of s's data region: the counter is side's turn when it is even (side 0)
// or odd (side 1). Between turns it sleeps in Wait (under the lock) or in
// WaitNotification, with a context that is never done, so that nothing
// but a wake-up ends a sleep: with the recheck interval (StaleAfter) of
// an hour, a lost wake-up in Wait is a hang, not a delay.
func takeTurns(s *segment.Segment, side uint64, how string) error {
	v := (*uint64)(unsafe.Pointer(&s.Bytes()[0]))
	ctx := context.Background()
	mark := s.Notifications()
	for i := range uint64(pingPongRounds) {
		want := 2*i + side
		switch how {
		case "wait":
			if err := s.Lock(); err != nil {
				return err
			}
			for atomic.LoadUint64(v) != want {
				if err := s.Wait(); err != nil {
					return err
				}
			}
			atomic.StoreUint64(v, want+1)
			s.Unlock()
			s.Notify()
		case "notification":
			for atomic.LoadUint64(v) != want {
				var err error
				if mark, err = s.WaitNotification(ctx, mark); err != nil {
					return err
				}
			}
			atomic.StoreUint64(v, want+1)
			s.Notify()
		}
	}
	return nil
}

// TestSegment_PingPong: two processes take turns on a counter, each
// waking the other after its turn, pingPongRounds times each, sleeping in
// Wait under the lock or in WaitNotification between turns. No turn is
// lost and nobody hangs: every wake-up reaches the other process, however
// soon after its last sleep began (the recheck interval is an hour, and
// the contexts are never done, so nothing else ends a Wait).
func TestSegment_PingPong(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, how := range []string{"wait", "notification"} {
		t.Run(how, func(t *testing.T) {
			d := segDir(t)
			s := mustCreate(t, d, "/pp", 64, &segment.Options{StaleAfter: time.Hour})
			cmd := segHelper(t, d, "pingpong", string(d), "/pp", "1", how)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			mine := make(chan error, 1)
			go func() { mine <- takeTurns(s, 0, how) }()
			theirs := make(chan error, 1)
			go func() { theirs <- cmd.Wait() }()
			v := (*uint64)(unsafe.Pointer(&s.Bytes()[0]))
			// Not a time limit on the work (a few thousand wake-ups): a
			// hang detector, far beyond any load.
			hang := time.After(3 * time.Minute)
			for mine != nil || theirs != nil {
				select {
				case err := <-mine:
					if err != nil {
						t.Fatalf("this process: %v", err)
					}
					mine = nil
				case err := <-theirs:
					if err != nil {
						t.Fatalf("the other process: %v", err)
					}
					theirs = nil
				case <-hang:
					cmd.Process.Kill()
					t.Fatalf("%s: hung at counter %d of %d: a wake-up was lost", how, atomic.LoadUint64(v), 2*pingPongRounds)
				}
			}
			if got := atomic.LoadUint64(v); got != 2*pingPongRounds {
				t.Fatalf("counter %d, want %d", got, 2*pingPongRounds)
			}
		})
	}
}

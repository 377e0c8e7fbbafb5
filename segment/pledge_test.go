//go:build linux

package segment_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/pledge"
	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// segmentPromises are what a process using segments in a posixshm.Dir
// needs under OpenBSD's pledge(2): open and create files, refresh their
// times, record locks. Not "proc": nothing may signal another process.
const segmentPromises = "stdio rpath wpath cpath fattr flock"

// TestSegment_Pledged runs a segment's whole life in a process confined
// as pledge(2) would confine it on OpenBSD without the "proc" promise
// (simulated with seccomp, /proc hidden): opening, Attached, waiting for a
// lock whose holder lives in another process, recovering it once that
// holder is killed, waiting for notifications, and removal when unused.
// The stale check asks the kernel about record locks; a kill(2) on the
// holder would kill the child with SIGSYS, as the control shows.
func TestSegment_Pledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, control := range []bool{false, true} {
		t.Run("control="+strconv.FormatBool(control), func(t *testing.T) {
			d := posixshm.Dir(pledge.SharedDir(t))
			if !pledge.IsChild(t) {
				s, err := segment.Create("pledged", 8, in(d, &segment.Options{RemoveWhenUnused: true}))
				if err != nil {
					t.Fatal(err)
				}
				holder := segHold(t, d, "pledged")
				s.Close() // the holder keeps it
				// Kill the holder while the child waits for the lock:
				// once the lock word shows a waiter, not after a fixed
				// time, which a loaded machine can spend before the
				// child has even opened the segment (then the holder
				// was dead, the segment gone with it, and the child's
				// Open failed with ENOENT). The control never locks.
				stop := make(chan struct{})
				if !control {
					go killOnceWaited(segPath(t, d, "pledged"), holder, stop)
				}
				t.Cleanup(func() {
					close(stop)
					holder.Process.Signal(syscall.SIGKILL)
					holder.Wait()
				})
			}
			r := pledge.RunConfined(t, segmentPromises, func(t *testing.T) {
				s, err := segment.Open("pledged", in(d, &segment.Options{StaleAfter: 2 * time.Millisecond}))
				if err != nil {
					t.Fatal(err)
				}
				u, err := s.Attached()
				if err != nil || len(u.PIDs) != 2 {
					t.Fatalf("Attached: %+v, %v", u, err)
				}
				if control {
					// What a PID-probing stale check would do.
					syscall.Kill(u.PIDs[0]+u.PIDs[1]-syscall.Getpid(), 0)
					t.Fatal("kill(2) of another process was allowed")
				}
				if err := s.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
					t.Fatalf("Lock: %v, want ErrOwnerDead", err)
				}
				// Waiting for notifications needs nothing more.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				if err := s.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("WaitContext: %v, want DeadlineExceeded", err)
				}
				mark := s.Notifications()
				notified := make(chan struct{})
				go func() {
					defer close(notified)
					s.NotifyAll()
				}()
				if n, err := s.WaitNotification(context.Background(), mark); err != nil || n != mark+1 {
					t.Fatalf("WaitNotification: %d, %v", n, err)
				}
				<-notified // before Close unmaps the word
				if err := s.Unlock(); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil { // the last user: removes it
					t.Fatal(err)
				}
			})
			if control {
				if !r.Violated() {
					t.Fatalf("the control's kill(2) was not caught: %v", r)
				}
				return
			}
			if !r.Succeeded() {
				t.Fatal(r)
			}
			if exists(t, segPath(t, d, "pledged")) {
				t.Fatal("the last user's Close did not remove the segment")
			}
		})
	}
}

// killOnceWaited kills holder once the lock word of the segment file path
// shows a waiter (the waiters bit of a futex sleeper, or the starving bit
// a waiter sets after a millisecond, also where there is no futex), or
// returns when stop is closed.
func killOnceWaited(path string, holder *exec.Cmd, stop <-chan struct{}) {
	for {
		if f, err := os.Open(path); err == nil {
			h, err := segment.ReadHeader(f)
			f.Close() // not attached: closing drops no attachment's lock
			if err == nil && (lock.Waiters(h.LockWord) || lock.Starving(h.LockWord)) {
				holder.Process.Signal(syscall.SIGKILL)
				return
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

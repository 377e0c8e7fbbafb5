//go:build linux

package sem_test

// kill -9 of the processes that share a semaphore, Go's and C's: a waiter
// that dies creates no unit and loses none, a poster that dies loses none,
// and a process that dies holding a unit loses it for good, as in C.

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/sem"
)

// crew is a set of processes of one job, half Go and half C, that the
// test kills at random and starts again.
type crew struct {
	t      *testing.T
	f      format
	args   []string // the C command line
	goArgs []string // the Go child's environment
	role   string
	procs  []*proc
	kills  int
}

func (c *crew) spawn(i int) {
	if i%2 == 0 {
		c.procs[i] = c.f.cStart(c.t, c.args...)
	} else {
		c.procs[i] = c.f.goStart(c.t, c.role, c.goArgs...)
	}
}

func newCrew(t *testing.T, f format, n int, role string, args, goArgs []string) *crew {
	c := &crew{t: t, f: f, args: args, goArgs: goArgs, role: role, procs: make([]*proc, n)}
	for i := range n {
		c.spawn(i)
	}
	return c
}

// killOne kills a random member with SIGKILL, reaps it and starts another
// in its place (unless it had exited on its own).
func (c *crew) killOne() {
	i := rand.IntN(len(c.procs))
	p := c.procs[i]
	if p.exited() {
		return
	}
	p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
	c.kills++
	c.spawn(i)
}

// killFor kills members at random intervals (up to every) for d.
func (c *crew) killFor(d, every time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(time.Duration(rand.Int64N(int64(every))))
		c.killOne()
	}
}

// settle waits until s holds value and to holds want.
func settle(t *testing.T, s, to *sem.Semaphore, sWant, toWant int) {
	t.Helper()
	waitFor(t, time.Minute, "the units to reach their place", func() bool {
		a, b := info(t, s), info(t, to)
		return a.Value == sWant && b.Value == toWant
	})
}

// TestKill_Waiters: waiters (2 Go, 2 C) move units from S to T with timed
// waits of 1-8 ms, and are killed at random.
//
// First with nothing posted, so every kill hits a waiter registering,
// asleep, timing out or unregistering, never one holding a unit: S must
// stay at 0 (no unit created), and the 200 units posted afterwards must
// all reach T (none lost, and the dead waiters' traces in the waiter count
// block nobody). Then with posts going on: S+T never exceeds the units
// posted, and falls short by at most one per kill (a waiter killed between
// its take and its post to T died holding that unit).
func TestKill_Waiters(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for seconds")
	}
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			name, toName := uniqueName(t, f.layout), uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 0)
			to := mustOpen(t, f.layout, toName, os.O_CREATE|os.O_EXCL, 0)
			c := f.ctool(t)
			w := newCrew(t, f, 4, "transfer", []string{"transfer", name, toName}, []string{"SEMTEST_NAME=" + name, "SEMTEST_TO=" + toName})

			w.killFor(2*time.Second, 30*time.Millisecond)
			if got := info(t, s); got.Value != 0 {
				t.Fatalf("after %d kills of waiters with nothing posted: value %d, want 0", w.kills, got.Value)
			}
			exact := w.kills
			const n = 200
			for i := 0; i < n; i += 20 {
				if i%40 == 0 {
					c("post", name, "20")
				} else {
					for range 20 {
						if err := s.Post(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			settle(t, s, to, 0, n)
			t.Logf("%d waiters killed with nothing posted; then all %d units posted reached T (waiters counted on S now: %d)", exact, n, info(t, s).Waiters)

			// Kills while units flow.
			before := w.kills
			done := make(chan struct{})
			var posted atomic.Int64
			go func() {
				defer close(done)
				for range 100 {
					if rand.IntN(2) == 0 {
						s.Post()
					} else {
						c("post", name, "1")
					}
					posted.Add(1)
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				}
			}()
			for {
				select {
				case <-done:
				default:
					time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
					w.killOne()
					continue
				}
				break
			}
			kills := w.kills - before
			total := n + int(posted.Load())
			// The survivors move what is left; then S and T stand still.
			var sum int
			waitFor(t, time.Minute, "S to empty", func() bool { return info(t, s).Value == 0 })
			time.Sleep(50 * time.Millisecond)
			sum = info(t, s).Value + info(t, to).Value
			if sum > total || sum < total-kills {
				t.Fatalf("%d units posted, %d waiters killed meanwhile: S+T = %d, want %d at most and no fewer than %d", total, kills, sum, total, total-kills)
			}
			t.Logf("%d waiters killed while %d units flowed: %d units lost with waiters that died holding them", kills, total-n, total-sum)
		})
	}
}

// TestKill_Posters: posters (1 Go, 1 C, each logging every post it
// finished) are killed at random while waiters move the units to T: the
// units that exist are the logged posts, plus at most one per kill (a
// poster killed between its post and its log entry), never fewer.
func TestKill_Posters(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for seconds")
	}
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			name, toName := uniqueName(t, f.layout), uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 0)
			to := mustOpen(t, f.layout, toName, os.O_CREATE|os.O_EXCL, 0)
			newCrew(t, f, 2, "transfer", []string{"transfer", name, toName}, []string{"SEMTEST_NAME=" + name, "SEMTEST_TO=" + toName})
			var logs []string
			var logged func() uint64
			{
				dir := t.TempDir()
				for i := range 2 {
					p := filepath.Join(dir, "log"+strconv.Itoa(i))
					if err := os.WriteFile(p, make([]byte, 8), 0o600); err != nil {
						t.Fatal(err)
					}
					logs = append(logs, p)
				}
				a, err := mapCounter(logs[0])
				if err != nil {
					t.Fatal(err)
				}
				b, err := mapCounter(logs[1])
				if err != nil {
					t.Fatal(err)
				}
				logged = func() uint64 { return atomic.LoadUint64(a) + atomic.LoadUint64(b) }
			}
			// Each kind of poster writes its own log.
			pc := &crew{t: t, f: f, role: "postlog", procs: make([]*proc, 2),
				args:   []string{"postlog", name, logs[0], "1000000"},
				goArgs: []string{"SEMTEST_NAME=" + name, "SEMTEST_LOG=" + logs[1], "SEMTEST_N=1000000"}}
			pc.spawn(0)
			pc.spawn(1)
			pc.killFor(2*time.Second, 40*time.Millisecond)
			for _, p := range pc.procs {
				p.cmd.Process.Kill()
				err := <-p.done
				p.done <- err
			}
			kills := pc.kills + 2
			waitFor(t, time.Minute, "S to empty", func() bool { return info(t, s).Value == 0 })
			time.Sleep(50 * time.Millisecond)
			units, log := uint64(info(t, s).Value+info(t, to).Value), logged()
			if units < log || units > log+uint64(kills) {
				t.Fatalf("%d posts logged, %d posters killed: %d units, want between %d and %d", log, kills, units, log, log+uint64(kills))
			}
			t.Logf("%d posters killed during %d logged posts: %d units, %d of them posted by a poster killed before it logged", kills, log, units, units-log)
		})
	}
}

// TestKill_Holder: a process that dies holding a unit loses it, as in C:
// nothing in the format says who holds what (lock.Semaphore is the robust
// one).
func TestKill_Holder(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			name := uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 2)
			for _, p := range []*proc{f.cStart(t, "hold", name), f.goStart(t, "hold", "SEMTEST_NAME="+name)} {
				waitFor(t, 30*time.Second, "the holder to take its unit", func() bool { return p.output() == "held\n" })
				p.cmd.Process.Kill()
				<-p.done
				p.done <- nil
			}
			time.Sleep(100 * time.Millisecond)
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after both holders died: %+v, want value 0: their units are lost", got)
			}
			if ok, err := s.TryWait(); ok || err != nil {
				t.Errorf("TryWait: %v, %v; want no unit", ok, err)
			}
		})
	}
}

//go:build linux && !openbsdsim

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// sampleEvery: the ping-pongs time one round trip in this many (two clock
// reads per sample; bench/c/futex.c does the same).
const sampleEvery = 8

// pingpong runs a two-process ping-pong (role child-pong: lock.Mutex;
// child-futex: raw futex calls) and prints, per round trip, the wall
// time, the CPU time and the context switches of both processes, and the
// distribution of single round trips.
func pingpong(out io.Writer, dir string, o *options, role, key string) error {
	if o.n < 1 {
		return errors.New("pingpong: bad -n")
	}
	path, pg, mem, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(mem)
	if role == "child-futex" {
		atomic.StoreUint32(&pg.words[0][0], 1) // child 1 has the first turn
	}
	d, err := runChildren(pg, path, role, 2, "-n", strconv.Itoa(o.n))
	if err != nil {
		return err
	}
	n := float64(o.n)
	fmt.Fprintf(out, "%s %.1f ns/roundtrip\n", key, float64(d.Nanoseconds())/n)
	fmt.Fprintf(out, "%s_cpu %.1f ns/roundtrip\n", key, float64(pg.procs[0].cpu+pg.procs[1].cpu)/n)
	fmt.Fprintf(out, "%s_switches %.3f switches/roundtrip\n", key, float64(pg.procs[0].switches+pg.procs[1].switches)/n)
	printQuantiles(out, key, "ns/roundtrip", pg.quant[:])
	return nil
}

// pongMu are a ping-pong child's handles on the three words.
var pongMu [3]*lock.Mutex

// pongStart takes the lock words each side starts with, before the start
// line: A (idx 0) holds 0 and 1, B holds 2.
func pongStart(pg *page, idx int) error {
	for i := range pongMu {
		pongMu[i] = pg.mutex(i)
	}
	hold := []int{2}
	if idx == 0 {
		hold = []int{0, 1}
	}
	for _, i := range hold {
		if err := pongMu[i].Lock(); err != nil {
			return err
		}
	}
	return nil
}

// childPong: the two processes hand the turn back and forth through three
// lock words, each waiting in Lock (spinning, then asleep) until the
// other's Unlock; with three words a process never re-locks a word it just
// released before the other side has taken it, so the two strictly
// alternate: A holds {k, k+1} and B {k+2}; A unlocks k and locks k+2, B
// locks k and unlocks k+2 (indices mod 3). Each k is one round trip; A
// times one in sampleEvery, from before its Unlock to its Lock's return.
func childPong(pg *page, idx int, o *options) error {
	mu := &pongMu
	var samples []uint64
	if idx == 0 {
		samples = make([]uint64, 0, o.n/sampleEvery+1)
	}
	for k := range o.n {
		var err error
		if idx == 0 {
			timed := k%sampleEvery == 0
			var t0 uint64
			if timed {
				t0 = monotonic()
			}
			if err = mu[k%3].Unlock(); err == nil {
				err = mu[(k+2)%3].Lock()
			}
			if timed {
				samples = append(samples, monotonic()-t0)
			}
		} else {
			if err = mu[k%3].Lock(); err == nil {
				err = mu[(k+2)%3].Unlock()
			}
		}
		if err != nil {
			return err
		}
	}
	if idx == 0 {
		storeQuantiles(pg.quant[:], samples)
	}
	return nil
}

// childFutex is bench/c/futex.c's sleeping ping-pong in Go: one turn word,
// raw FUTEX_WAIT/FUTEX_WAKE system calls, no lock, no spinning. It is the
// floor for a Go lock that sleeps: what Go's system call path costs by
// itself. Child 0 times one round trip in sampleEvery, from before it
// hands the turn over to the moment it has it back.
func childFutex(pg *page, idx int, o *options) error {
	turn, me := &pg.words[0][0], uint32(idx)
	var samples []uint64
	var t0 uint64
	wait := func() error {
		for {
			v := atomic.LoadUint32(turn)
			if v == me {
				return nil
			}
			_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(turn)), 0 /* FUTEX_WAIT */, uintptr(v), 0, 0, 0)
			if e != 0 && e != unix.EAGAIN && e != unix.EINTR {
				return e
			}
		}
	}
	for k := range o.n {
		if err := wait(); err != nil {
			return err
		}
		if idx == 0 && t0 != 0 {
			samples = append(samples, monotonic()-t0)
			t0 = 0
		}
		if idx == 0 && k%sampleEvery == 0 {
			t0 = monotonic()
		}
		atomic.StoreUint32(turn, 1-me)
		if _, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(turn)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0); e != 0 {
			return e
		}
	}
	if idx == 0 {
		storeQuantiles(pg.quant[:], samples)
		return nil
	}
	return wait() // child 0's last handoff returns the turn to us
}

// wakeGap is how long the notifier of a sleeping-waiter figure sleeps
// before it acts (benchproc wakeup's default -gap): long enough for the
// waiter to finish spinning and fall asleep in futex(2).
const wakeGap = 300 * time.Microsecond

// waitFor polls *p until it reaches v, without timing anything.
func waitFor(p *uint64, v uint64) {
	for atomic.LoadUint64(p) < v {
		time.Sleep(20 * time.Microsecond)
	}
}

// spinBudget: how long a waiter spins in Lock before it goes to sleep: from
// just before its Lock to the moment the waiters bit appears in the word
// (lock sets it right before FUTEX_WAIT), while another process holds the
// lock; the median of n. The spin's limit adapts (lock.Mutex.spin): behind
// a lock that is never released in time it settles near its minimum, as
// bench/c/lockword.h's does (futex spinbudget measures that one).
func spinBudget(out io.Writer, dir string, o *options) error {
	if o.n < 1 {
		return errors.New("spinbudget: bad -n")
	}
	path, pg, mem, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(mem)
	if _, err := runChildren(pg, path, "child-spin", 2, "-n", strconv.Itoa(o.n)); err != nil {
		return err
	}
	fmt.Fprintf(out, "go_spin_ns %d ns\n", pg.median)
	return nil
}

func childSpin(pg *page, idx int, o *options) error {
	word := &pg.words[0][0] // its state half
	mu := pg.mutex(0)
	n := uint64(o.n)
	if idx == 1 { // the waiter
		for r := uint64(1); r <= n; r++ {
			waitFor(&pg.round, r)
			atomic.StoreUint64(&pg.tLock, monotonic())
			atomic.StoreUint64(&pg.started, r)
			if err := mu.Lock(); err != nil {
				return err
			}
			if err := mu.Unlock(); err != nil {
				return err
			}
			atomic.StoreUint64(&pg.ack, r)
		}
		return nil
	}
	spins := make([]uint64, 0, n)
	for r := uint64(1); r <= n; r++ {
		if err := mu.Lock(); err != nil {
			return err
		}
		atomic.StoreUint64(&pg.round, r)
		for atomic.LoadUint64(&pg.started) < r {
		}
		for !lock.Waiters(atomic.LoadUint32(word)) {
		}
		spins = append(spins, monotonic()-atomic.LoadUint64(&pg.tLock))
		if err := mu.Unlock(); err != nil {
			return err
		}
		waitFor(&pg.ack, r)
	}
	slices.Sort(spins)
	pg.median = spins[len(spins)/2]
	return nil
}

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

// pingpong: two processes hand the turn back and forth through three lock
// words, each sleeping in Lock until the other's Unlock wakes it; prints
// the round trip. With three words a process never re-locks a word it
// just released before the other side has taken it, so the two strictly
// alternate: A holds {k, k+1} and B {k+2}; A unlocks k and locks k+2, B
// locks k and unlocks k+2 (indices mod 3). Each k is one round trip.
func pingpong(out io.Writer, dir string, n int) error {
	if n < 1 {
		return errors.New("pingpong: bad -n")
	}
	path, b, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(b)
	d, err := runChildren(b, path, "child-pong", 2, "-n", strconv.Itoa(n))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "go_pingpong %.1f ns/roundtrip\n", float64(d.Nanoseconds())/float64(n))
	return nil
}

func childPong(path string, idx, n int) error {
	b, err := mapPage(path)
	if err != nil {
		return err
	}
	var mu [3]*lock.Mutex
	for i := range mu {
		mu[i] = lock.New(word(b, i))
	}
	// Take the starting words before the start line, so neither side can
	// run ahead: A (idx 0) holds 0 and 1, B holds 2.
	hold := []int{2}
	if idx == 0 {
		hold = []int{0, 1}
	}
	for _, i := range hold {
		if err := mu[i].Lock(); err != nil {
			return err
		}
	}
	startLine(b)
	atomic.StoreUint64(u64(b, offTimes+16*idx), monotonic())
	for k := range n {
		var err error
		if idx == 0 {
			if err = mu[k%3].Unlock(); err == nil {
				err = mu[(k+2)%3].Lock()
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
	atomic.StoreUint64(u64(b, offTimes+16*idx+8), monotonic())
	return nil
}

// wakeGap is how long the holder keeps the lock before each Unlock: long
// enough for the waiter to finish spinning and fall asleep in futex(2).
const wakeGap = 300 * time.Microsecond

// wake: the latency of one wake-up of a sleeping waiter, from just before
// the holder's Unlock to the return of the waiter's Lock, median of n. The
// holder keeps the lock for wakeGap each round, so the waiter is asleep.
func wake(out io.Writer, dir string, n int) error {
	if n < 1 {
		return errors.New("wake: bad -n")
	}
	path, b, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(b)
	if _, err := runChildren(b, path, "child-wake", 2, "-n", strconv.Itoa(n)); err != nil {
		return err
	}
	fmt.Fprintf(out, "go_wake %.1f ns/wake\n", float64(atomic.LoadUint64(u64(b, offResult))))
	return nil
}

// waitFor polls *p until it reaches v, without timing anything.
func waitFor(p *uint64, v uint64) {
	for atomic.LoadUint64(p) < v {
		time.Sleep(20 * time.Microsecond)
	}
}

func childWake(path string, idx, n int) error {
	b, err := mapPage(path)
	if err != nil {
		return err
	}
	mu := lock.New(word(b, 0))
	round, ack, tUnlock := u64(b, offRound), u64(b, offAck), u64(b, offUnlock)
	if idx == 0 { // the holder
		if err := mu.Lock(); err != nil {
			return err
		}
		startLine(b)
		for r := uint64(1); r <= uint64(n); r++ {
			atomic.StoreUint64(round, r) // the waiter may go to Lock
			time.Sleep(wakeGap)
			atomic.StoreUint64(tUnlock, monotonic())
			if err := mu.Unlock(); err != nil {
				return err
			}
			// Busy until the waiter took the lock and released it, as a
			// holder that goes on working would be (bench/c/futex.c does
			// the same): the waiter must run on another CPU.
			for atomic.LoadUint64(ack) < r {
			}
			if err := mu.Lock(); err != nil {
				return err
			}
		}
		return mu.Unlock()
	}
	lat := make([]uint64, 0, n)
	startLine(b)
	for r := uint64(1); r <= uint64(n); r++ {
		waitFor(round, r)
		if err := mu.Lock(); err != nil {
			return err
		}
		lat = append(lat, monotonic()-atomic.LoadUint64(tUnlock))
		if err := mu.Unlock(); err != nil {
			return err
		}
		atomic.StoreUint64(ack, r)
	}
	slices.Sort(lat)
	atomic.StoreUint64(u64(b, offResult), lat[len(lat)/2])
	return nil
}

// pingpongFutex is bench/c/futex.c in Go: the same ping-pong through one
// turn word with raw FUTEX_WAIT/FUTEX_WAKE system calls, no lock. It is the
// floor for pingpong: what Go's system call path costs by itself.
func pingpongFutex(out io.Writer, dir string, n int) error {
	if n < 1 {
		return errors.New("pingpong-futex: bad -n")
	}
	path, b, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(b)
	atomic.StoreUint32(word(b, 0), 1) // child 1 has the first turn
	d, err := runChildren(b, path, "child-futex", 2, "-n", strconv.Itoa(n))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "go_futex_pingpong %.1f ns/roundtrip\n", float64(d.Nanoseconds())/float64(n))
	return nil
}

func childFutex(path string, idx, n int) error {
	b, err := mapPage(path)
	if err != nil {
		return err
	}
	turn, me := word(b, 0), uint32(idx)
	startLine(b)
	atomic.StoreUint64(u64(b, offTimes+16*idx), monotonic())
	for range n {
		for {
			v := atomic.LoadUint32(turn)
			if v == me {
				break
			}
			_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(turn)), 0 /* FUTEX_WAIT */, uintptr(v), 0, 0, 0)
			if e != 0 && e != unix.EAGAIN && e != unix.EINTR {
				return e
			}
		}
		atomic.StoreUint32(turn, 1-me)
		if _, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(turn)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0); e != 0 {
			return e
		}
	}
	atomic.StoreUint64(u64(b, offTimes+16*idx+8), monotonic())
	return nil
}

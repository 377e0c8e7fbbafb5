//go:build linux && !openbsdsim

package main

import (
	"encoding/binary"
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

// condwake: the latency of one wake-up of a waiter asleep in lock.Cond's
// Wait, from just before the notifier's Signal to the return of the
// waiter's Wait (its Mutex locked again): the median and the distribution
// of n, as bench/c/notify.c's condwake measures pthread_cond_signal →
// pthread_cond_wait. The notifier waits until the waiter is about to wait,
// sleeps wakeGap so that it is asleep, changes the condition under the
// Mutex, unlocks, stamps the time and signals, then stays busy until the
// waiter is done. The notifier sleeps in nanosleep(2), as C's usleep does,
// not in time.Sleep: after a timer the Go scheduler wakes a spinning
// thread, which competes with the woken waiter for the other CPU and adds
// 3–5 µs to its wake-up here (bench/NOTES.md); how the notifier passes the
// time before it notifies is not what this figure is about.
func condWake(out io.Writer, dir string, o *options, role, key string) error {
	if o.n < 1 {
		return errors.New("condwake: bad -n")
	}
	path, pg, mem, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(mem)
	if _, err := runChildren(pg, path, role, 2, "-n", strconv.Itoa(o.n)); err != nil {
		return err
	}
	printQuantiles(out, key, "ns/wake", pg.quant[:])
	fmt.Fprintf(out, "%s %d ns/wake\n", key, pg.median)
	return nil
}

// condOf is the Mutex (a 64-bit word, as a segment's) and the Cond of the
// page: words 0 and 1.
func condOf(pg *page) (*lock.Mutex, *lock.Cond) {
	return lock.New64((*uint64)(unsafe.Pointer(&pg.words[0][0]))), lock.NewCond(&pg.words[1][0])
}

func childCondWake(pg *page, idx int, o *options) error {
	mu, c := condOf(pg)
	n := uint64(o.n)
	if idx == 0 { // the notifier
		for r := uint64(1); r <= n; r++ {
			for atomic.LoadUint64(&pg.started) < r {
				osSleep(20 * time.Microsecond)
			}
			osSleep(wakeGap)
			if err := mu.Lock(); err != nil {
				return err
			}
			atomic.StoreUint64(&pg.round, r)
			if err := mu.Unlock(); err != nil {
				return err
			}
			atomic.StoreUint64(&pg.tUnlock, monotonic())
			c.Signal()
			for atomic.LoadUint64(&pg.ack) < r {
			}
		}
		return nil
	}
	lat := make([]uint64, 0, n)
	for r := uint64(1); r <= n; r++ {
		if err := mu.Lock(); err != nil {
			return err
		}
		atomic.StoreUint64(&pg.started, r)
		for atomic.LoadUint64(&pg.round) < r {
			if err := c.Wait(mu); err != nil {
				return err
			}
		}
		lat = append(lat, monotonic()-atomic.LoadUint64(&pg.tUnlock))
		if err := mu.Unlock(); err != nil {
			return err
		}
		atomic.StoreUint64(&pg.ack, r)
	}
	storeLatencies(pg, lat)
	return nil
}

// childFutexCondWake is condwake's protocol with raw futex calls instead
// of lock.Mutex and lock.Cond (condwake-futex): the floor of a Go waiter
// that sleeps in futex(2) through the scheduler's system call path
// (Syscall6), the same path lock takes.
func childFutexCondWake(pg *page, idx int, o *options) error {
	word := &pg.words[1][0]
	n := uint64(o.n)
	if idx == 0 {
		for r := uint64(1); r <= n; r++ {
			for atomic.LoadUint64(&pg.started) < r {
				osSleep(20 * time.Microsecond)
			}
			osSleep(wakeGap)
			atomic.StoreUint64(&pg.round, r)
			atomic.StoreUint64(&pg.tUnlock, monotonic())
			atomic.AddUint32(word, 1)
			if _, _, e := unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0); e != 0 {
				return e
			}
			for atomic.LoadUint64(&pg.ack) < r {
			}
		}
		return nil
	}
	lat := make([]uint64, 0, n)
	for r := uint64(1); r <= n; r++ {
		v := atomic.LoadUint32(word)
		atomic.StoreUint64(&pg.started, r)
		for atomic.LoadUint64(&pg.round) < r {
			_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 0 /* FUTEX_WAIT */, uintptr(v), 0, 0, 0)
			if e != 0 && e != unix.EAGAIN && e != unix.EINTR {
				return e
			}
			v = atomic.LoadUint32(word)
		}
		lat = append(lat, monotonic()-atomic.LoadUint64(&pg.tUnlock))
		atomic.StoreUint64(&pg.ack, r)
	}
	storeLatencies(pg, lat)
	return nil
}

// storeLatencies leaves the distribution and the median of the samples
// in the page.
func storeLatencies(pg *page, lat []uint64) {
	storeQuantiles(pg.quant[:], lat)
	slices.Sort(lat)
	pg.median = lat[len(lat)/2]
}

// osSleep sleeps in nanosleep(2), leaving the scheduler alone.
func osSleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}

// The producer/consumer queue of prodcons: in its own file, named to the
// children by $BENCHPROC_QUEUE.
const (
	queueCap  = 256
	itemSize  = 64
	envQueue  = "BENCHPROC_QUEUE"
	queueSize = int(unsafe.Sizeof(pcQueue{}))
)

type pcQueue struct {
	lock       uint64 // lock.New64 word
	_          [56]byte
	notEmpty   uint32 // notify word: the consumer waits here
	_          [60]byte
	notFull    uint32 // notify word: the producer waits here
	_          [60]byte
	head, tail uint64 // tail-head items are in the queue
	_          [48]byte
	items      [queueCap][itemSize]byte
}

// prodcons: one producer process passes n 64-byte items to one consumer
// process through a bounded queue (256 items) in shared memory, one item
// per critical section, a lock.Mutex and two lock.Conds (not empty, not
// full), each side notifying after its Unlock; the consumer checks every
// item's number. The figure is n over the wall time from the first start
// to the last end, the same as bench/c/notify.c's seqpacket.
func prodcons(out io.Writer, dir string, o *options) error {
	if o.n < 1 {
		return errors.New("prodcons: bad -n")
	}
	path, pg, mem, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(mem)
	f, err := os.CreateTemp(dir, "benchproc-queue-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = f.Truncate(int64(queueSize))
	f.Close()
	if err != nil {
		return err
	}
	os.Setenv(envQueue, f.Name())
	d, err := runChildren(pg, path, "child-prodcons", 2, "-n", strconv.Itoa(o.n))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "go_prodcons %.0f items/s\n", float64(o.n)/d.Seconds())
	return nil
}

func childProdcons(_ *page, idx int, o *options) error {
	f, err := os.OpenFile(os.Getenv(envQueue), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, queueSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		return err
	}
	q := (*pcQueue)(unsafe.Pointer(&mem[0]))
	mu := lock.New64(&q.lock)
	notEmpty, notFull := lock.NewCond(&q.notEmpty), lock.NewCond(&q.notFull)
	var item [itemSize]byte
	for i := range item {
		item[i] = 0xab
	}
	for i := range uint64(o.n) {
		if err := mu.Lock(); err != nil {
			return err
		}
		if idx == 0 {
			for q.tail-q.head == queueCap {
				if err := notFull.Wait(mu); err != nil {
					return err
				}
			}
			binary.NativeEndian.PutUint64(item[:], i)
			q.items[q.tail%queueCap] = item
			q.tail++
		} else {
			for q.tail == q.head {
				if err := notEmpty.Wait(mu); err != nil {
					return err
				}
			}
			item = q.items[q.head%queueCap]
			q.head++
		}
		if err := mu.Unlock(); err != nil {
			return err
		}
		if idx == 0 {
			notEmpty.Signal()
		} else {
			notFull.Signal()
			if got := binary.NativeEndian.Uint64(item[:]); got != i {
				return fmt.Errorf("prodcons: item %d arrived as %d", i, got)
			}
		}
	}
	return nil
}

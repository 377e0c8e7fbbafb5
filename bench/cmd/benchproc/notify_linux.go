//go:build linux && !openbsdsim

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/futex"
	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// osSleep sleeps d in the kernel, the way C's nanosleep(2) does (an
// hrtimer: a FUTEX_WAIT_BITSET timeout on a word nobody wakes), and keeps
// the P through internal/futex as lock's sleeps do, so that the Go side of
// a figure pays for its runtime only where lock does. Not time.Sleep: when
// its timer fires the scheduler wakes a spinning thread, which warms the
// other CPU for whoever is woken next and flatters the Go side (3–5 µs in
// the sleeping-waiter figures here).
func osSleep(d time.Duration) {
	var word uint32
	now := time.Now()
	for end := now.Add(d); now.Before(end); now = time.Now() {
		futex.Sleep(&word, 0, now, end, futex.Any)
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

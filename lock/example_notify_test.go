package lock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

func ExampleCond() {
	// Any MAP_SHARED memory will do: a real program maps a shared memory
	// segment or a file, and the producer is another process.
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		panic(err)
	}
	defer unix.Munmap(mem)
	mu := lock.New64((*uint64)(unsafe.Pointer(&mem[0])))       // protects produced
	ready := lock.NewCond((*uint32)(unsafe.Pointer(&mem[64]))) // "produced moved"
	produced := (*uint64)(unsafe.Pointer(&mem[128]))

	go func() { // the producer
		for range 3 {
			if err := mu.Lock(); err != nil && !errors.Is(err, lock.ErrOwnerDead) {
				panic(err)
			}
			*produced++ // change the condition under the lock
			mu.Unlock()
			ready.Signal() // after Unlock is fine
		}
	}()

	// The consumer: check the condition under the lock, wait, check again.
	// Wait may return without a notification, and another consumer may
	// have been first: only the condition says what to do.
	err = mu.Lock()
	for err == nil && *produced < 3 {
		err = ready.Wait(mu)
	}
	if errors.Is(err, lock.ErrOwnerDead) {
		// The previous holder of mu died in its critical section: we
		// hold mu, and repair what it protects before going on.
	} else if err != nil {
		panic(err)
	}
	fmt.Println("produced:", *produced)
	mu.Unlock()
	// Output:
	// produced: 3
}

func ExampleSemaphore() {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		panic(err)
	}
	defer unix.Munmap(mem)
	// Two units in the first SemaphoreSize(2) bytes.
	sem, err := lock.NewSemaphore(mem[:lock.SemaphoreSize(2)], 2)
	if err != nil {
		panic(err)
	}
	defer sem.Close()

	err = sem.Acquire()
	if errors.Is(err, lock.ErrOwnerDead) {
		// The unit's holder died holding it: it is ours now; repair what
		// it protects.
	} else if err != nil {
		panic(err)
	}
	ok, _ := sem.TryAcquire()
	fmt.Println("second unit:", ok)
	ok, _ = sem.TryAcquire()
	fmt.Println("third unit:", ok)
	mine := 0
	for _, h := range sem.Holders() {
		if h.Tag == uint32(os.Getpid()) {
			mine++
		}
	}
	fmt.Println("units we hold:", mine)
	fmt.Println(sem.Release(), sem.Release())
	fmt.Println(errors.Is(sem.Release(), lock.ErrNotHeld))
	// Output:
	// second unit: true
	// third unit: false
	// units we hold: 2
	// <nil> <nil>
	// true
}

// An event count: a notifier adds to a counter before it notifies, and a
// waiter that took its mark from the counter misses nothing made after.
func ExampleCond_WaitCount() {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		panic(err)
	}
	defer unix.Munmap(mem)
	c := lock.NewCond((*uint32)(unsafe.Pointer(&mem[0])))
	events := (*uint32)(unsafe.Pointer(&mem[64]))

	mark := atomic.LoadUint32(events)
	go func() { // the notifier: another process, usually
		time.Sleep(5 * time.Millisecond)
		atomic.AddUint32(events, 1) // first the count,
		c.Broadcast()               // then the wake-up
	}()
	n, err := c.WaitCount(context.Background(), events, mark)
	if err != nil {
		panic(err)
	}
	fmt.Println("events since the mark:", n-mark)
	// Output:
	// events since the mark: 1
}

package segment_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A bounded queue in a segment, between a producer and a consumer. Each
// checks its condition under the lock ("is there room", "is there an
// item") and waits while it does not hold; Wait releases the lock while it
// sleeps and takes it again before it returns, and a return is only a
// hint: the loop checks again. Producer and consumer are goroutines here,
// each with its own Segment; in real use they are processes, and
// ErrOwnerDead tells the one that takes the lock after a process died
// holding it to repair the queue.
func ExampleSegment_Wait() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := &segment.Options{Layout: posixshm.Dir(dir)}

	// The queue: head and count, then room for 4 items of 8 bytes.
	const capacity = 4
	type queue struct {
		head, count uint64
		items       [capacity]uint64
	}
	open := func() (*segment.Segment, *queue) {
		s, err := segment.OpenOrCreate("/queue", 64, opts)
		if err != nil {
			log.Fatal(err)
		}
		return s, (*queue)(unsafe.Pointer(&s.Bytes()[0]))
	}
	lockOrRepair := func(err error) {
		if errors.Is(err, lock.ErrOwnerDead) {
			// A process died holding the lock: we hold it; a real
			// program repairs the queue here (a journal, a checksum).
		} else if err != nil {
			log.Fatal(err)
		}
	}

	go func() { // the producer
		s, q := open()
		defer s.Close()
		for i := uint64(1); i <= 10; i++ {
			lockOrRepair(s.Lock())
			for q.count == capacity {
				lockOrRepair(s.Wait())
			}
			q.items[(q.head+q.count)%capacity] = i
			q.count++
			s.Unlock()
			// Producer and consumer share the segment's one notify word:
			// NotifyAll wakes whoever waits, for whatever condition.
			s.NotifyAll()
		}
	}()

	s, q := open()
	defer s.Close()
	var sum uint64
	for range 10 {
		lockOrRepair(s.Lock())
		for q.count == 0 {
			lockOrRepair(s.Wait())
		}
		sum += q.items[q.head]
		q.head = (q.head + 1) % capacity
		q.count--
		s.Unlock()
		s.NotifyAll()
	}
	fmt.Println("consumed 10 items, sum", sum)
	// Output: consumed 10 items, sum 55
}

// A process with nothing to check under the lock waits for the next
// notification after a mark: no notification made after Notifications
// returned is missed, however soon it comes. This is what
// "posixshm wait --since" does for shell scripts.
func ExampleSegment_WaitNotification() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := &segment.Options{Layout: posixshm.Dir(dir)}
	s, err := segment.Create("/config", 64, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	version := (*uint64)(unsafe.Pointer(&s.Bytes()[0]))

	mark := s.Notifications()
	go func() { // another process publishes version 2 and says so
		o, err := segment.Open("/config", opts)
		if err != nil {
			log.Fatal(err)
		}
		defer o.Close()
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&o.Bytes()[0])), 2)
		o.NotifyAll()
	}()
	for atomic.LoadUint64(version) != 2 {
		if mark, err = s.WaitNotification(context.Background(), mark); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("version", atomic.LoadUint64(version))
	// Output: version 2
}

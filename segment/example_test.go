package segment_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

func ExampleCreate() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// OpenBSD's layout rooted at dir; nil Options would mean this
	// system's own shm_open convention (/dev/shm on Linux).
	opts := &segment.Options{Layout: posixshm.Dir(dir)}

	// One process creates the segment and writes to it...
	s, err := segment.Create("/greeting", 4096, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	copy(s.Bytes(), "hello, segment")

	// ...another opens it by name and reads.
	o, err := segment.Open("/greeting", opts)
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	fmt.Printf("%s (%d bytes)\n", o.Bytes()[:14], len(o.Bytes()))

	// Updates that span several bytes go under the lock.
	if err := o.Lock(); err != nil {
		log.Fatal(err)
	}
	n := o.Bytes()[64:72]
	binary.NativeEndian.PutUint64(n, binary.NativeEndian.Uint64(n)+1)
	if err := o.Unlock(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("counter:", binary.NativeEndian.Uint64(s.Bytes()[64:]))

	// Unlinking removes the name; the mappings stay valid.
	if err := s.Unlink(); err != nil {
		log.Fatal(err)
	}
	info, _ := o.Stat()
	_, err = segment.Open("/greeting", opts)
	fmt.Println("unlinked:", info.Unlinked, "reopen fails:", errors.Is(err, fs.ErrNotExist))
	// Output:
	// hello, segment (4096 bytes)
	// counter: 1
	// unlinked: true reopen fails: true
}

// The previous holder of a lock may have died in the middle of an update.
// Lock then returns lock.ErrOwnerDead with the lock held: repair, then
// carry on.
func ExampleSegment_Lock() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := segment.OpenOrCreate("/state", 64, &segment.Options{Layout: posixshm.Dir(dir)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	switch err := s.Lock(); {
	case errors.Is(err, lock.ErrOwnerDead):
		// Held by us now; the data may be half-written.
		clear(s.Bytes())
	case err != nil:
		log.Fatal(err)
	}
	copy(s.Bytes(), "consistent")
	s.Unlock()
	fmt.Printf("%s\n", s.Bytes()[:10])
	// Output: consistent
}

// Every process that opens a segment is attached to it until it closes it
// or dies; the kernel keeps the count. A segment created with
// RemoveWhenUnused goes away with its last user.
func ExampleSegment_Attached() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := &segment.Options{Layout: posixshm.Dir(dir), RemoveWhenUnused: true}
	s, err := segment.Create("/jobs", 4096, opts)
	if err != nil {
		log.Fatal(err)
	}
	u, err := s.Attached()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attached:", u.Count(), "this process:", u.PIDs[0] == os.Getpid())

	// Another handle in this process shares the attachment.
	o, err := segment.Open("/jobs", opts)
	if err != nil {
		log.Fatal(err)
	}
	u, _ = o.Attached()
	fmt.Println("attached:", u.Count())

	path := s.Path()
	o.Close()
	s.Close() // the last user: the file goes
	_, err = os.Stat(path)
	fmt.Println("removed:", errors.Is(err, fs.ErrNotExist))
	// Output:
	// attached: 1 this process: true
	// attached: 1
	// removed: true
}

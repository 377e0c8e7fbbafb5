package segment_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A segment whose memory is reserved when it is created: on a file system
// too full to hold it, Create fails with ENOSPC and leaves nothing behind,
// where a sparse segment would be created and its users would die of
// SIGBUS at the first page that could not be had.
func ExampleOptions_prealloc() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := &segment.Options{Layout: posixshm.Dir(dir), Prealloc: true}

	s, err := segment.Create("/reserved", 1<<20, opts)
	switch {
	case errors.Is(err, syscall.ENOSPC):
		log.Fatal("no room for 1 MiB: nothing was created")
	case err != nil:
		log.Fatal(err)
	}
	defer s.Unlink()
	defer s.Close()
	s.Bytes()[len(s.Bytes())-1] = 1 // cannot fault for want of space
	fmt.Println(len(s.Bytes()), "bytes reserved")
	// Output: 1048576 bytes reserved
}

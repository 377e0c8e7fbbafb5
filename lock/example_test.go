package lock_test

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

func ExampleMutex() {
	// Any MAP_SHARED memory will do; a real program maps a shared memory
	// segment or a file that other processes map too.
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		panic(err)
	}
	defer unix.Munmap(mem)
	word := (*uint32)(unsafe.Pointer(&mem[0]))
	counter := (*uint64)(unsafe.Pointer(&mem[64]))

	mu := lock.New(word)
	err = mu.Lock()
	if errors.Is(err, lock.ErrOwnerDead) {
		// The previous holder died inside its critical section: we hold
		// the lock, but must make the data consistent before using it.
		*counter = 0
	} else if err != nil {
		panic(err)
	}
	*counter++
	fmt.Println("held by us:", mu.Holder().Tag == uint32(os.Getpid()))
	fmt.Println("unlock:", mu.Unlock())
	fmt.Println("unlock again:", errors.Is(mu.Unlock(), lock.ErrNotHeld))
	fmt.Println("counter:", *counter)
	// Output:
	// held by us: true
	// unlock: <nil>
	// unlock again: true
	// counter: 1
}

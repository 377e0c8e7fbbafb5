package sem_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/posixshm/posixshm/sem"
)

// A producer posts, a consumer waits: here in one process, but the
// consumer could as well be a C program calling sem_wait on the same name
// (with this system's layout, sem.Open; here OpenBSD's layout in a
// directory of our own).
func Example() {
	dir, err := os.MkdirTemp("", "sem-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l := sem.Dir(dir)

	s, err := l.Open("/jobs", os.O_CREATE|os.O_EXCL, 0o600, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	defer l.Unlink("/jobs")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			if err := s.Wait(); err != nil {
				log.Fatal(err)
			}
		}
		fmt.Println("consumer: took 3 units")
	}()
	for range 3 {
		s.Post()
	}
	<-done
	v, _ := s.Value()
	fmt.Println("value:", v)
	// Output:
	// consumer: took 3 units
	// value: 0
}

// WaitContext gives up when its context is done, without a unit.
func ExampleSemaphore_WaitContext() {
	dir, _ := os.MkdirTemp("", "sem-example-")
	defer os.RemoveAll(dir)
	s, err := sem.Dir(dir).Open("/ready", os.O_CREATE, 0o600, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = s.WaitContext(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}

// TryWait reports false, without an error, when there is no unit.
func ExampleSemaphore_TryWait() {
	dir, _ := os.MkdirTemp("", "sem-example-")
	defer os.RemoveAll(dir)
	s, err := sem.Dir(dir).Open("/slots", os.O_CREATE, 0o600, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		ok, err := s.TryWait()
		fmt.Println(ok, err)
	}
	// Output:
	// true <nil>
	// false <nil>
}

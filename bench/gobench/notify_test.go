//go:build linux

package gobench

import (
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
)

// BenchmarkNotify: a notification with nobody waiting, on a notify word in
// a MAP_SHARED page of a tmpfs file (as a segment's): Signal and
// Broadcast. bench/run also counts their futex(2) calls with strace.
func BenchmarkNotify(b *testing.B) {
	for _, name := range []string{"nowaiter", "broadcast"} {
		b.Run(name, func(b *testing.B) {
			mem := mapPage(b, benchDir(b))
			c := lock.NewCond((*uint32)(unsafe.Pointer(&mem[128])))
			b.ReportAllocs()
			if name == "broadcast" {
				for b.Loop() {
					c.Broadcast()
				}
				return
			}
			for b.Loop() {
				c.Signal()
			}
		})
	}
}

// BenchmarkSemaphore: uncontended Acquire+Release of a 4-unit
// lock.Semaphore in a MAP_SHARED page of a tmpfs file, vs bench/c/notify.c's
// sem_wait+sem_post of a process-shared unnamed POSIX semaphore, in C's
// loop shape (see BenchmarkLock).
func BenchmarkSemaphore(b *testing.B) {
	mem := mapPage(b, benchDir(b))
	s, err := lock.NewSemaphore(mem[:lock.SemaphoreSize(4)], 4)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Acquire(); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

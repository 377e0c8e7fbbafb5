package segment_test

import (
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
)

// BenchmarkSegment_Notify: a notification with nobody waiting, through a
// Segment (Notify, NotifyAll: the count, then lock.Cond's Signal or
// Broadcast) and through a bare lock.Cond over a notify word in shared
// memory, in the same run. None makes a system call: under
// strace -f -e trace=futex, -test.benchtime 100001x makes no more shared
// (not PRIVATE) futex calls than 1x, that is none.
func BenchmarkSegment_Notify(b *testing.B) {
	s := mustCreate(b, segDir(b), "bench", 64, nil)
	c := bareCond(b)
	b.Run("segment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Notify()
		}
	})
	b.Run("segment-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.NotifyAll()
		}
	})
	b.Run("cond", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Signal()
		}
	})
}

// BenchmarkSegment_NotifyRatio reports Segment.Notify over a bare
// lock.Cond's Signal, both with nobody waiting: the median of the ratios
// of paired runs of 10^6 calls each, taken in turn (see
// BenchmarkSegment_LockUnlockRatio).
func BenchmarkSegment_NotifyRatio(b *testing.B) {
	s := mustCreate(b, segDir(b), "ratio", 64, nil)
	c := bareCond(b)
	pairedRatio(b, 1000000, "cond", func(n int) {
		for range n {
			c.Signal()
		}
	}, "segment", func(n int) {
		for range n {
			s.Notify()
		}
	})
}

// bareCond returns a lock.Cond over a notify word in shared memory.
func bareCond(b *testing.B) *lock.Cond {
	c := lock.NewCond((*uint32)(unsafe.Pointer(&sharedPage(b)[128])))
	b.Cleanup(c.Close)
	return c
}

package segment_test

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/lock"
)

// BenchmarkSegment_Notify: a notification with nobody waiting, through a
// Segment (Notify, NotifyAll: the count, then lock.Cond's Signal or
// Broadcast) and through a bare lock.Cond over a notify word in shared
// memory, in the same run. None makes a system call (bench/run counts the
// bare Cond's futex calls with strace; the same command line with
// -test.bench 'Segment_Notify/segment' counts the Segment's).
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
	const n = 1000000
	perOp := func(start time.Time) float64 { return float64(time.Since(start).Nanoseconds()) / n }
	var ratios, segs, bares []float64
	for b.Loop() {
		start := time.Now()
		for range n {
			c.Signal()
		}
		bare := perOp(start)
		start = time.Now()
		for range n {
			s.Notify()
		}
		seg := perOp(start)
		ratios, segs, bares = append(ratios, seg/bare), append(segs, seg), append(bares, bare)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(ratios), "segment/cond")
	b.ReportMetric(median(segs), "ns/segment")
	b.ReportMetric(median(bares), "ns/cond")
}

// bareCond returns a lock.Cond over a notify word in shared memory.
func bareCond(b *testing.B) *lock.Cond {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	c := lock.NewCond((*uint32)(unsafe.Pointer(&mem[128])))
	b.Cleanup(func() {
		c.Close()
		unix.Munmap(mem)
	})
	return c
}

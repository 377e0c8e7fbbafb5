package lock_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
)

func BenchmarkUncontended(b *testing.B) {
	_, mem := newMapping(b)
	mu := lock.New(u32(mem, offWord))
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		mu.Unlock()
	}
}

func BenchmarkUncontended64(b *testing.B) {
	_, mem := newMapping(b)
	mu := lock.New64(u64(mem, offWord))
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		mu.Unlock()
	}
}

func BenchmarkSyncMutex(b *testing.B) {
	var mu sync.Mutex
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		mu.Unlock()
	}
}

// Contended, in one process: every goroutine increments a shared counter.
func BenchmarkContended(b *testing.B) {
	for _, mode := range []string{"futex", "backoff"} {
		b.Run(mode, func(b *testing.B) {
			_, mem := newMapping(b)
			var opts []lock.Option
			if mode == "backoff" {
				opts = append(opts, lock.WithBackoff())
			}
			mu := lock.New(u32(mem, offWord), opts...)
			c := u64(mem, offCounter)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					*c++
					mu.Unlock()
				}
			})
		})
	}
}

func BenchmarkSyncMutexContended(b *testing.B) {
	var mu sync.Mutex
	var c uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			c++
			mu.Unlock()
		}
	})
}

// BenchmarkProcess_Increments: 2 processes × 1M increments of a shared
// counter, under this lock or under flock(2); the metric is wall time per
// increment, from the first child's start to the last child's end.
func BenchmarkProcess_Increments(b *testing.B) {
	const P, M = 2, 1_000_000
	for name, role := range map[string]string{"lock": "bench", "flock": "flock"} {
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				path, mem := newMapping(b)
				var ps []*proc
				for j := range P {
					ps = append(ps, start(b, role, path, "LOCKTEST_M="+strconv.Itoa(M), "LOCKTEST_IDX="+strconv.Itoa(j)))
				}
				release(b, mem, P)
				for _, p := range ps {
					p.finish(b)
				}
				if got := *u64(mem, offCounter); got != P*M {
					b.Fatalf("counter = %d, want %d", got, P*M)
				}
				var first, last int64
				for j := range P {
					s := int64(atomic.LoadUint64(u64(mem, offTimes+16*j)))
					e := int64(atomic.LoadUint64(u64(mem, offTimes+16*j+8)))
					if j == 0 || s < first {
						first = s
					}
					last = max(last, e)
				}
				total += time.Duration(last - first)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*P*M), "ns/increment")
		})
	}
}

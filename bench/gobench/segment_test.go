//go:build linux

package gobench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
)

// BenchmarkSegmentLock: Lock+Unlock of a segment's lock word with the
// default refresh interval (refresh-on-use active), with refresh-on-use
// turned off (a negative interval), and with an interval of a millisecond,
// so that refreshes (futimes) really happen during the benchmark;
// bench/run reports the ratios.
func BenchmarkSegmentLock(b *testing.B) {
	for _, c := range []struct {
		name string
		opts *posixshm.SegmentOptions
	}{
		{"default", nil},
		{"norefresh", &posixshm.SegmentOptions{RefreshInterval: -1}},
		{"1ms", &posixshm.SegmentOptions{RefreshInterval: time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := posixshm.Dir(benchDir(b))
			name := fmt.Sprintf("/bench-seglock-%s-%d", c.name, os.Getpid())
			s, err := d.CreateSegment(name, 4096, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Unlink(name)
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Lock(); err != nil {
					b.Fatal(err)
				}
				if err := s.Unlock(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fill writes every byte of b: a pattern copied along, as memset would.
func fill(b []byte) {
	const chunk = 1 << 20
	n := min(len(b), chunk)
	for i := range n {
		b[i] = 0xa5
	}
	for off := n; off < len(b); off += n {
		copy(b[off:], b[:n])
	}
}

// BenchmarkSegmentBig: a segment of $BENCH_BIG_SIZE bytes in this system's
// convention (/dev/shm on Linux), created, mapped, written end to end,
// closed and removed. Run it with -benchtime=1x. bench/run sets 1 GiB; the
// default is 64 MiB, so that a plain "go test -bench ." stays light.
func BenchmarkSegmentBig(b *testing.B) {
	size := 64 << 20
	if s := os.Getenv("BENCH_BIG_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("bad BENCH_BIG_SIZE %q", s)
		}
		size = n
	}
	name := "/posixshm-bench-" + tag() + "-big-seg"
	for b.Loop() {
		s, err := posixshm.CreateSegment(name, size, nil)
		if err != nil {
			b.Fatal(err)
		}
		fill(s.Bytes())
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := posixshm.Unlink(name); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}

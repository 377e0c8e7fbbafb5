//go:build linux

package gobench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"golang.org/x/sys/unix"
)

// BenchmarkSegmentLock: Lock+Unlock of a segment's lock word with the
// default refresh interval (refresh-on-use active), with refresh-on-use
// turned off (a negative interval), and with an interval of a millisecond,
// so that refreshes (futimes) really happen during the benchmark;
// bench/run reports the ratios.
func BenchmarkSegmentLock(b *testing.B) {
	for _, c := range []struct {
		name string
		opts *segment.Options
	}{
		{"default", &segment.Options{}},
		{"norefresh", &segment.Options{RefreshInterval: -1}},
		{"1ms", &segment.Options{RefreshInterval: time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := posixshm.Dir(benchDir(b))
			name := fmt.Sprintf("/bench-seglock-%s-%d", c.name, os.Getpid())
			c.opts.Layout = d
			s, err := segment.Create(name, 4096, c.opts)
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

// bigSize is the size of the big-object benchmarks: $BENCH_BIG_SIZE bytes
// (bench/run sets 1 GiB), else 64 MiB, so that a plain "go test -bench ."
// stays light. Run them with -benchtime=1x.
func bigSize(b *testing.B) int {
	s := os.Getenv("BENCH_BIG_SIZE")
	if s == "" {
		return 64 << 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("bad BENCH_BIG_SIZE %q", s)
	}
	return n
}

// BenchmarkSegmentBig: a big segment in this system's convention (/dev/shm
// on Linux), created, mapped, written end to end, closed and removed.
func BenchmarkSegmentBig(b *testing.B) {
	size := bigSize(b)
	name := "/posixshm-bench-" + tag() + "-big-seg"
	b.Cleanup(func() { _ = posixshm.Unlink(name) }) // after a failure; ENOENT otherwise
	for b.Loop() {
		s, err := segment.Create(name, size, nil)
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

// BenchmarkDropinBig: the same through the drop-in API, as a C program
// would: Open with O_CREATE|O_EXCL, Truncate, mmap, write every byte,
// munmap, Close, Unlink.
func BenchmarkDropinBig(b *testing.B) {
	size := bigSize(b)
	name := "/posixshm-bench-" + tag() + "-big-dropin"
	b.Cleanup(func() { _ = posixshm.Unlink(name) }) // after a failure; ENOENT otherwise
	for b.Loop() {
		f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Truncate(int64(size)); err != nil {
			b.Fatal(err)
		}
		m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		fill(m)
		if err := unix.Munmap(m); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if err := posixshm.Unlink(name); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}

// BenchmarkSegmentOpen: Open+Close of an existing segment (OpenBSD's
// layout in a tmpfs directory) that this process is not attached to
// otherwise: a whole attach and detach, as a short-lived user makes them.
func BenchmarkSegmentOpen(b *testing.B) {
	d := posixshm.Dir(benchDir(b))
	name := "/bench-segopen-" + tag()
	opts := &segment.Options{Layout: d}
	s, err := segment.Create(name, 4096, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Unlink(name)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := segment.Open(name, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

package posixshm_test

import (
	"strconv"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

// benchLens are the name lengths the Path benchmark runs with.
var benchLens = []int{8, 32, 255}

// benchName is a name of n bytes: "/" then letters, the bytes that
// bench/c/path.c hashes for its C baseline.
func benchName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	if n > 0 {
		b[0] = '/'
	}
	return string(b)
}

var (
	sinkString string
	sinkBytes  []byte
)

// BenchmarkPath: OpenBSD's name → path in /tmp, as its libc builds it
// (nothing is opened), as a string (one allocation) and appended to a
// reused buffer (none). bench/run runs it next to bench/c/path.c.
func BenchmarkPath(b *testing.B) {
	d := posixshm.OpenBSD
	for _, n := range benchLens {
		name := benchName(n)
		b.Run("string/"+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := d.Path(name)
				if err != nil {
					b.Fatal(err)
				}
				sinkString = p
			}
		})
		b.Run("append/"+strconv.Itoa(n), func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = d.AppendPath(buf[:0], name); err != nil {
					b.Fatal(err)
				}
			}
			sinkBytes = buf
		})
	}
}

// TestDir_AppendPath_NoAlloc checks AppendPath's promise: no allocation
// when dst has room. Path allocates the result string only.
func TestDir_AppendPath_NoAlloc(t *testing.T) {
	d := posixshm.Dir("/tmp")
	buf := make([]byte, 0, 128)
	for _, n := range append(benchLens, 0, 4096) {
		name := benchName(n)
		allocs := testing.AllocsPerRun(100, func() {
			buf, _ = d.AppendPath(buf[:0], name)
		})
		if allocs != 0 {
			t.Errorf("AppendPath with a %d-byte name: %v allocs, want 0", n, allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			_, _ = d.Path(name)
		})
		if allocs > 1 {
			t.Errorf("Path with a %d-byte name: %v allocs, want at most 1", n, allocs)
		}
	}
}

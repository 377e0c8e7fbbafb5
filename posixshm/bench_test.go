package posixshm_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

// benchLens are the name lengths every benchmark runs with.
var benchLens = []int{8, 32, 255}

// benchName is a name of n bytes, the same the C reference benchmarks use.
func benchName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return string(b)
}

func BenchmarkPath(b *testing.B) {
	d := posixshm.Dir("/tmp")
	for _, n := range benchLens {
		name := benchName(n)
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := d.Path(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPath(b *testing.B) {
	d := posixshm.Dir("/tmp")
	buf := make([]byte, 0, 128)
	for _, n := range benchLens {
		name := benchName(n)
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				var err error
				if buf, err = d.AppendPath(buf[:0], name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// shmBenchDir returns a fresh directory on a tmpfs (/dev/shm) when there is
// one, as /tmp is on many OpenBSD installs, else a temporary directory.
func shmBenchDir(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "posixshm-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkOpenClose times Dir.Open(name, O_RDWR) + Close of an existing
// object, name hashing included, as BenchmarkCRef_OpenClose does in C.
func BenchmarkOpenClose(b *testing.B) {
	d := posixshm.Dir(shmBenchDir(b))
	for _, n := range benchLens {
		name := benchName(n)
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			f, err := d.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
			b.ReportAllocs()
			for b.Loop() {
				f, err := d.Open(name, os.O_RDWR, 0)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// runCRef runs the C reference's benchmark mode with b.N iterations and
// reports its own timing as ns/op, replacing the process's wall time.
func runCRef(b *testing.B, bin string, args ...string) {
	b.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		b.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "ns/op ")
	ns, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil {
		b.Fatalf("%s printed %q", bin, out)
	}
	b.ReportMetric(ns, "ns/op")
}

// BenchmarkCRef_Path times testdata/cref/shmpath.c: libmd's SHA256Data and
// snprintf, OpenBSD's makeshmpath.
func BenchmarkCRef_Path(b *testing.B) {
	bin := buildCRef(b, "shmpath.c")
	for _, n := range benchLens {
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			runCRef(b, bin, "-b", strconv.Itoa(b.N), strconv.Itoa(n), "/tmp")
		})
	}
}

// BenchmarkCRef_OpenClose times OpenBSD's shm_open algorithm in C
// (testdata/cref/shmopen.c) + close(2) in the same kind of directory as
// BenchmarkOpenClose.
func BenchmarkCRef_OpenClose(b *testing.B) {
	bin := buildCRef(b, "shmopen.c")
	dir := shmBenchDir(b)
	for _, n := range benchLens {
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			runCRef(b, bin, "-b", strconv.Itoa(b.N), dir, benchName(n))
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

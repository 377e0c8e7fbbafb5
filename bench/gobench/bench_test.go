//go:build linux

package gobench

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"golang.org/x/sys/unix"
)

// benchDir is a tmpfs directory for the objects: $BENCH_DIR, or a
// temporary directory under /dev/shm removed by the test framework.
func benchDir(b *testing.B) string {
	if d := os.Getenv("BENCH_DIR"); d != "" {
		return d
	}
	d, err := os.MkdirTemp("/dev/shm", "posixshm-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// BenchmarkOpen: open+close of an existing object, OpenBSD's layout in a
// tmpfs directory (Dir.Open, hashing included) and this system's own
// convention (posixshm.Open: glibc's /dev/shm/<name>).
func BenchmarkOpen(b *testing.B) {
	b.Run("openbsd", func(b *testing.B) {
		d := posixshm.Dir(benchDir(b))
		const name = "/bench-open"
		f, err := d.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		defer d.Unlink(name)
		b.ReportAllocs()
		for b.Loop() {
			f, err := d.Open(name, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("linux", func(b *testing.B) {
		name := "/posixshm-bench-" + tag() + "-open-go"
		f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		defer posixshm.Unlink(name)
		b.ReportAllocs()
		for b.Loop() {
			f, err := posixshm.Open(name, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}

// BenchmarkOpenFd: open+close through the descriptor-level open
// (Dir.OpenFd, posixshm.OpenFd): Open's checks and system calls, less
// os.NewFile's fcntl(F_GETFL), and no *os.File.
func BenchmarkOpenFd(b *testing.B) {
	b.Run("openbsd", func(b *testing.B) {
		d := posixshm.Dir(benchDir(b))
		const name = "/bench-open-fd"
		fd, err := d.OpenFd(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
		defer d.Unlink(name)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			fd, err := d.OpenFd(name, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
	b.Run("linux", func(b *testing.B) {
		name := "/posixshm-bench-" + tag() + "-open-fd"
		fd, err := posixshm.OpenFd(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
		defer posixshm.Unlink(name)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			fd, err := posixshm.OpenFd(name, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

// BenchmarkOpenFloor: the system calls C makes for the same open+close,
// straight through x/sys/unix, with no checks beyond C's: the least a Go
// implementation can cost. The gap to BenchmarkOpen is the library's own
// overhead (extra system calls, *os.File, error plumbing).
func BenchmarkOpenFloor(b *testing.B) {
	b.Run("openbsd", func(b *testing.B) {
		d := posixshm.Dir(benchDir(b))
		const name = "/bench-open-floor"
		f, err := d.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		defer d.Unlink(name)
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			// OpenBSD: hash, open, fstat, S_ISREG, uid check, close.
			buf, _ = d.AppendPath(buf[:0], name)
			fd, err := unix.Open(unsafe.String(unsafe.SliceData(buf), len(buf)), unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			if err != nil {
				b.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != unix.Geteuid() {
				b.Fatal("bad file", err)
			}
			unix.Close(fd)
		}
	})
	b.Run("linux", func(b *testing.B) {
		name := "/posixshm-bench-" + tag() + "-open-floor"
		f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		defer posixshm.Unlink(name)
		path, err := posixshm.Path(name)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			// glibc: open(O_NOFOLLOW|O_CLOEXEC), nothing else; then close.
			fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

// mapPage maps a fresh page of a file in dir, MAP_SHARED like a segment's
// header.
func mapPage(b *testing.B, dir string) []byte {
	path := filepath.Join(dir, "lockword-"+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	os.Remove(path)
	if err := f.Truncate(4096); err != nil {
		b.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

// BenchmarkLock: uncontended Lock+Unlock of a 64-bit lock word (lock.New64,
// as segment.Segment uses it: "ours") and of a 32-bit one (lock.New:
// "ours32"), vs sync.Mutex. The loop is C's (bench/c/lock.c): a counter
// and a compare, not b.Loop, which adds 1–2 ns an iteration here.
func BenchmarkLock(b *testing.B) {
	for _, wide := range []bool{true, false} {
		name := "ours"
		if !wide {
			name = "ours32"
		}
		b.Run(name, func(b *testing.B) {
			mem := mapPage(b, benchDir(b))
			var mu *lock.Mutex
			if wide {
				mu = lock.New64((*uint64)(unsafe.Pointer(&mem[0])))
			} else {
				mu = lock.New((*uint32)(unsafe.Pointer(&mem[0])))
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := mu.Lock(); err != nil {
					b.Fatal(err)
				}
				if err := mu.Unlock(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("sync", func(b *testing.B) {
		var mu sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
}

// tag tells this run's objects in /dev/shm apart: $BENCH_TAG (bench/run
// removes /dev/shm/posixshm-bench-TAG-* when it ends), or the PID.
func tag() string {
	if t := os.Getenv("BENCH_TAG"); t != "" {
		return t
	}
	return strconv.Itoa(os.Getpid())
}

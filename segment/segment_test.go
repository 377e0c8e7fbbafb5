package segment_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// segDir returns an empty directory for OpenBSD's layout, on a tmpfs when
// there is one (/dev/shm), as /tmp often is on OpenBSD.
func segDir(t testing.TB) posixshm.Dir {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "posixshm-segment-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return posixshm.Dir(dir)
		}
	}
	return posixshm.Dir(t.TempDir())
}

// in returns opts (nil: the defaults) with the layout d.
func in(d posixshm.Dir, opts *segment.Options) *segment.Options {
	var v segment.Options
	if opts != nil {
		v = *opts
	}
	v.Layout = d
	return &v
}

func segPath(t testing.TB, d posixshm.Dir, name string) string {
	t.Helper()
	p, err := d.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCreate(t testing.TB, d posixshm.Dir, name string, size int, opts *segment.Options) *segment.Segment {
	t.Helper()
	s, err := segment.Create(name, size, in(d, opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCreate(t *testing.T) {
	d := segDir(t)
	before := time.Now()
	s := mustCreate(t, d, "/seg", 1000, nil)
	if !s.Creator() || s.Name() != "/seg" || s.Path() != segPath(t, d, "/seg") {
		t.Fatalf("Creator %v, Name %q, Path %q", s.Creator(), s.Name(), s.Path())
	}
	b := s.Bytes()
	if len(b) != 1000 {
		t.Fatalf("len(Bytes()) = %d, want 1000", len(b))
	}
	for i, c := range b {
		if c != 0 {
			t.Fatalf("Bytes()[%d] = %d, want a zeroed segment", i, c)
		}
	}
	info, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 || info.HeaderSize != 256 || info.DataOffset != 768 || info.DataSize != 1000 ||
		info.Slots != 64 || info.RemoveWhenUnused || !slices.Equal(info.Users.PIDs, []int{os.Getpid()}) || info.Users.Overflow != 0 ||
		info.FileSize != 1768 || info.Unlinked || info.LockHolder != 0 || info.Mode != 0o600 ||
		info.Uid != os.Geteuid() || info.Created.Before(before.Add(-time.Second)) || !info.Refreshed.Equal(info.Created) {
		t.Fatalf("Stat() = %+v", info)
	}
	fi, err := os.Stat(s.Path())
	if err != nil || fi.Size() != 1768 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", fi, err)
	}
	raw, _ := os.ReadFile(s.Path())
	if string(raw[:8]) != "\x89SHM\r\n\x1a\n" {
		t.Fatalf("file starts with %q", raw[:8])
	}

	_, err = segment.Create("/seg", 1000, in(d, nil))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != "/seg" {
		t.Fatalf("error %#v is not a *fs.PathError for shm_open /seg", err)
	}
}

func TestCreate_BadSize(t *testing.T) {
	d := segDir(t)
	for _, n := range []int{-1, math.MinInt, math.MaxInt, math.MaxInt - 127} {
		_, err := segment.Create("x", n, in(d, nil))
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("size %d: %v, want EINVAL", n, err)
		}
	}
	if _, err := os.Stat(segPath(t, d, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused size left a file: %v", err)
	}
	// A segment with no data is a lock on its own.
	s := mustCreate(t, d, "empty", 0, nil)
	if len(s.Bytes()) != 0 {
		t.Fatal("Bytes of an empty segment not empty")
	}
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_Shares(t *testing.T) {
	d := segDir(t)
	a := mustCreate(t, d, "shared", 4096, nil)
	b, err := segment.Open("shared", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Creator() {
		t.Error("an opener says it is the creator")
	}
	copy(a.Bytes(), "written by a")
	if got := string(b.Bytes()[:12]); got != "written by a" {
		t.Fatalf("b sees %q", got)
	}
	ia, _ := a.Stat()
	ib, _ := b.Stat()
	if !ia.Created.Equal(ib.Created) || ia.DataSize != ib.DataSize {
		t.Fatalf("headers differ: %+v vs %+v", ia, ib)
	}
	if _, err := segment.Open("missing", in(d, nil)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing segment: %v, want fs.ErrNotExist", err)
	}
}

func TestSegment_Bytes_Aligned(t *testing.T) {
	s := mustCreate(t, segDir(t), "a", 100, nil)
	info, _ := s.Stat()
	if info.DataOffset%64 != 0 {
		t.Fatalf("data offset %d not cache-line aligned", info.DataOffset)
	}
	if cap(s.Bytes()) != 100 {
		t.Fatalf("cap(Bytes()) = %d: appending would run past the data region", cap(s.Bytes()))
	}
}

func TestSegment_Close(t *testing.T) {
	d := segDir(t)
	s, err := segment.Create("c", 10, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.Close(), s.Lock(), s.Unlock(), s.Refresh(), func() error { _, err := s.Stat(); return err }(),
		func() error { _, err := s.TryLock(); return err }(), s.LockContext(context.Background())} {
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("after Close: %v, want fs.ErrClosed", err)
		}
	}
	if s.Bytes() != nil {
		t.Error("Bytes after Close is not nil")
	}
	// The object outlives the handle.
	s2, err := segment.Open("c", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestSegment_Unlink(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "u", 64, nil)
	copy(s.Bytes(), "still here")
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !info.Unlinked {
		t.Fatalf("Stat after Unlink: Unlinked = false (%+v)", info)
	}
	if string(s.Bytes()[:10]) != "still here" {
		t.Fatal("mapping lost after Unlink")
	}
	if _, err := segment.Open("u", in(d, nil)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after Unlink: %v", err)
	}
	if err := s.Unlink(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Unlink: %v", err)
	}
}

func TestOpenOrCreate(t *testing.T) {
	d := segDir(t)
	a, err := segment.OpenOrCreate("oc", 256, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := segment.OpenOrCreate("oc", 256, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !a.Creator() || b.Creator() {
		t.Fatalf("Creator: first %v, second %v", a.Creator(), b.Creator())
	}
	old := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	os.Chtimes(a.Path(), old, old)
	_, err = segment.OpenOrCreate("oc", 512, in(d, nil))
	if !errors.Is(err, segment.ErrSizeMismatch) || !strings.Contains(err.Error(), a.Path()) {
		t.Fatalf("other size: %v, want ErrSizeMismatch naming %s", err, a.Path())
	}
	if atime, _ := segStat(t, a.Path()); atime != old.UnixNano() {
		t.Fatal("a refused OpenOrCreate refreshed the segment")
	}
}

func TestSegment_Lock(t *testing.T) {
	d := segDir(t)
	a := mustCreate(t, d, "l", 8, nil)
	b, err := segment.Open("l", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if info, _ := b.Stat(); info.LockHolder != os.Getpid() {
		t.Fatalf("LockHolder = %d, want %d", info.LockHolder, os.Getpid())
	}
	if ok, err := b.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on a held lock: %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext on a held lock: %v", err)
	}
	if err := b.Unlock(); err != nil { // the lock is the process's
		t.Fatal(err)
	}
	if err := a.Unlock(); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Unlock of a free lock: %v, want ErrNotHeld", err)
	}
	if ok, err := b.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock on a free lock: %v, %v", ok, err)
	}
	if err := b.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestSegment_Lock_Goroutines(t *testing.T) {
	s := mustCreate(t, segDir(t), "g", 8, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if err := s.Lock(); err != nil {
					t.Error(err)
					return
				}
				b := s.Bytes()
				binary.NativeEndian.PutUint64(b, binary.NativeEndian.Uint64(b)+1)
				if err := s.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := binary.NativeEndian.Uint64(s.Bytes()); n != 8000 {
		t.Fatalf("counter = %d, want 8000", n)
	}
}

// BenchmarkSegment_LockUnlock measures an uncontended Lock+Unlock of a
// segment with refresh-on-use at the default interval and with it turned
// off, and of a bare lock.Mutex over a 64-bit word in shared memory with
// its default identity, in the same run: the segment's target is 1.5
// times the bare lock. (The guard that turns a fault on a truncated file
// into ErrTruncated, fault.go, costs each of Lock and Unlock two calls of
// debug.SetPanicOnFault and a deferred call; the bare lock has none.)
func BenchmarkSegment_LockUnlock(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
	}{{"refresh=default", 0}, {"refresh=off", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			s := mustCreate(b, segDir(b), "bench", 64, &segment.Options{RefreshInterval: bc.interval})
			b.ReportAllocs()
			for b.Loop() {
				s.Lock()
				s.Unlock()
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		m := bareMutex(b)
		b.ReportAllocs()
		for b.Loop() {
			m.Lock()
			m.Unlock()
		}
	})
}

// TestCreate_System uses this system's own convention (/dev/shm on
// Linux), where C programs find the same objects.
func TestCreate_System(t *testing.T) {
	name := "/posixshm-segment-test-" + strconv.Itoa(os.Getpid())
	s, err := segment.Create(name, 100, nil)
	if err != nil {
		t.Skipf("no native shared memory here: %v", err)
	}
	defer posixshm.Unlink(name)
	defer s.Close()
	if p, _ := posixshm.Path(name); s.Path() != p {
		t.Errorf("Path() = %q, want %q", s.Path(), p)
	}
	copy(s.Bytes(), "native")
	o, err := segment.OpenOrCreate(name, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Creator() || string(o.Bytes()[:6]) != "native" {
		t.Fatalf("OpenOrCreate: Creator %v, data %q", o.Creator(), o.Bytes()[:6])
	}
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := segment.Open(name, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Unlink: %v", err)
	}
}

// TestSegment_CloseWhileLockWaits: Close while other goroutines wait in
// Lock and LockContext must make them give up with fs.ErrClosed, not
// unmap the lock word under them (which faulted: SIGSEGV).
func TestSegment_CloseWhileLockWaits(t *testing.T) {
	d := segDir(t)
	a := mustCreate(t, d, "cw", 8, nil)
	b, err := segment.Open("cw", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- b.Lock() }()
	go func() { errc <- b.LockContext(ctx) }()
	go func() { errc <- b.Lock() }()
	time.Sleep(50 * time.Millisecond) // let them reach the futex sleep
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case err := <-errc:
			if !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Lock while closing = %v, want fs.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Lock still waiting 10s after Close")
		}
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSegment_LockUnlockRatio reports Segment Lock+Unlock (default
// options) over bare lock.Mutex Lock+Unlock (New64, default identity):
// the median of the ratios of paired runs of 10^5 iterations each, taken
// in turn, which a busy machine disturbs far less than two separate
// benchmarks. The target is ≤ 1.5.
func BenchmarkSegment_LockUnlockRatio(b *testing.B) {
	s := mustCreate(b, segDir(b), "ratio", 64, nil)
	m := bareMutex(b)
	pairedRatio(b, 100000, "bare", func(n int) {
		for range n {
			m.Lock()
			m.Unlock()
		}
	}, "segment", func(n int) {
		for range n {
			s.Lock()
			s.Unlock()
		}
	})
}

// pairedRatio runs base(n) and then other(n), n operations each, once
// per iteration of b.Loop, and reports the median of the ratios
// other/base (as "OTHER/BASE") and the median time per operation of each
// ("ns/BASE", "ns/OTHER").
func pairedRatio(b *testing.B, n int, baseName string, base func(n int), otherName string, other func(n int)) {
	perOp := func(start time.Time) float64 { return float64(time.Since(start).Nanoseconds()) / float64(n) }
	var ratios, others, bases []float64
	for b.Loop() {
		start := time.Now()
		base(n)
		t0 := perOp(start)
		start = time.Now()
		other(n)
		t1 := perOp(start)
		ratios, others, bases = append(ratios, t1/t0), append(others, t1), append(bases, t0)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(ratios), otherName+"/"+baseName)
	b.ReportMetric(median(others), "ns/"+otherName)
	b.ReportMetric(median(bases), "ns/"+baseName)
}

// bareMutex returns a lock.Mutex over a 64-bit word in shared memory, with
// the default identity: what a Segment's lock costs is measured against it.
func bareMutex(b *testing.B) *lock.Mutex {
	m := lock.New64((*uint64)(unsafe.Pointer(&sharedPage(b)[64])))
	b.Cleanup(m.Close)
	return m
}

// sharedPage maps a page of shared memory until the benchmark ends, after
// the cleanups registered later.
func sharedPage(b *testing.B) []byte {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

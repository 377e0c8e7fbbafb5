package sem_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/sem"
)

// goLayouts are the layouts of the Go-only tests, each in a test
// directory: OpenBSD's format (Dir) and glibc's (its 64-bit or 32-bit
// struct, as this architecture's glibc has it).
func goLayouts(t *testing.T) map[string]sem.Layout {
	return map[string]sem.Layout{"openbsd": sem.Dir(t.TempDir()), "glibc64": sem.GlibcLayout(t.TempDir(), sem.Glibc64),
		"glibc32": sem.GlibcLayout(t.TempDir(), sem.Glibc32)}
}

func TestOpen_CreateAndOpen(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			const name = "/s"
			if _, err := l.Open(name, 0, 0, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open of a missing semaphore: %v, want ENOENT", err)
			} else {
				pathErr(t, err, "sem_open", name)
			}
			s := mustOpen(t, l, name, os.O_CREATE|os.O_EXCL, 3)
			if got := info(t, s); got.Value != 3 || got.Waiters != 0 {
				t.Errorf("new semaphore: %+v, want value 3, no waiters", got)
			}
			if _, err := l.Open(name, os.O_CREATE|os.O_EXCL, 0o600, 1); !errors.Is(err, fs.ErrExist) {
				t.Errorf("O_CREAT|O_EXCL of an existing semaphore: %v, want EEXIST", err)
			}
			// O_CREAT alone opens the existing one: its value stays.
			s2 := mustOpen(t, l, name, os.O_CREATE, 9)
			if v, _ := s2.Value(); v != 3 {
				t.Errorf("O_CREAT of an existing semaphore: value %d, want 3", v)
			}
			if ok, err := s2.TryWait(); !ok || err != nil {
				t.Fatalf("TryWait: %v, %v", ok, err)
			}
			if v, _ := s.Value(); v != 2 {
				t.Errorf("after TryWait through another handle: value %d, want 2", v)
			}
			p, err := l.Path(name)
			if err != nil || s.Path() != p || s.Name() != name {
				t.Errorf("Path %q, %v; s.Path() %q, s.Name() %q", p, err, s.Path(), s.Name())
			}
			// Unlink: the name goes, the open semaphore stays.
			if err := l.Unlink(name); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Open(name, 0, 0, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open after Unlink: %v, want ENOENT", err)
			}
			if err := s.Post(); err != nil {
				t.Fatal(err)
			}
			if v, _ := s2.Value(); v != 3 {
				t.Errorf("unlinked semaphore: value %d, want 3", v)
			}
			if err := l.Unlink(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("second Unlink: %v, want ENOENT", err)
			} else {
				pathErr(t, err, "sem_unlink", name)
			}
		})
	}
}

func TestOpen_Flags(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			for _, flag := range []int{os.O_RDWR, os.O_RDWR | os.O_CREATE, os.O_CREATE | os.O_TRUNC, os.O_WRONLY, unix.O_NONBLOCK} {
				if _, err := l.Open("/f", flag, 0o600, 0); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("Open with flag %#o: %v, want EINVAL", flag, err)
				}
			}
			if _, err := l.Path("/f"); err != nil {
				t.Fatal(err)
			}
			if p, _ := l.Path("/f"); fileExists(p) {
				t.Errorf("a refused Open created %s", p)
			}
		})
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestOpen_Value: glibc refuses an initial value above SEM_VALUE_MAX
// (INT_MAX), only when it creates; OpenBSD's SEM_VALUE_MAX is UINT_MAX.
func TestOpen_Value(t *testing.T) {
	g := sem.GlibcDir(t.TempDir())
	if _, err := g.Open("/big", os.O_CREATE, 0o600, 1<<31); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("glibc, value 2^31: %v, want EINVAL", err)
	}
	mustOpen(t, g, "/big", os.O_CREATE, 1<<31-1)
	if s, err := g.Open("/big", os.O_CREATE, 0o600, 1<<31); err != nil {
		t.Errorf("glibc, O_CREAT of an existing semaphore with value 2^31: %v, want it opened (the value is not looked at)", err)
	} else {
		s.Close()
	}
	d := sem.Dir(t.TempDir())
	s := mustOpen(t, d, "/big", os.O_CREATE, 1<<32-1)
	if v, _ := s.Value(); uint32(v) != 1<<32-1 {
		t.Errorf("OpenBSD, value UINT_MAX: got %d", v)
	}
}

// TestPost_Overflow: Post fails with EOVERFLOW at SEM_VALUE_MAX, and the
// value stays.
func TestPost_Overflow(t *testing.T) {
	for lname, c := range map[string]struct {
		l   sem.Layout
		max uint32
	}{
		"glibc":   {sem.GlibcDir(t.TempDir()), 1<<31 - 1},
		"openbsd": {sem.Dir(t.TempDir()), 1<<32 - 1},
	} {
		t.Run(lname, func(t *testing.T) {
			s := mustOpen(t, c.l, "/o", os.O_CREATE, c.max-1)
			if err := s.Post(); err != nil {
				t.Fatal(err)
			}
			err := s.Post()
			if !errors.Is(err, syscall.EOVERFLOW) {
				t.Fatalf("Post at SEM_VALUE_MAX: %v, want EOVERFLOW", err)
			}
			pathErr(t, err, "sem_post", "/o")
			// The message says which file and why (failed before: "sem_post
			// /o: value too large for defined data type").
			if msg := err.Error(); !strings.Contains(msg, s.Path()) || !strings.Contains(msg, "SEM_VALUE_MAX ("+strconv.FormatUint(uint64(c.max), 10)+")") {
				t.Errorf("Post at SEM_VALUE_MAX: %q names neither the file nor the limit", msg)
			}
			if v, _ := s.Value(); uint32(v) != c.max {
				t.Errorf("value after the refused Post: %d, want %d", v, c.max)
			}
		})
	}
}

// TestWait_Wakes: goroutines asleep in Wait take exactly the units posted,
// and a post with nobody counted as waiting makes the value only.
func TestWait_Wakes(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			s := mustOpen(t, l, "/w", os.O_CREATE, 0)
			const waiters = 4
			var took atomic.Int32
			var wg sync.WaitGroup
			for range waiters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.Wait(); err != nil {
						t.Error(err)
						return
					}
					took.Add(1)
				}()
			}
			waitFor(t, 10*time.Second, "4 waiters counted", func() bool { return info(t, s).Waiters == waiters })
			for i := 1; i <= waiters; i++ {
				if err := s.Post(); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 10*time.Second, "a waiter to take the unit", func() bool { return took.Load() == int32(i) })
			}
			wg.Wait()
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after the waits: %+v, want value 0 and no waiters", got)
			}
		})
	}
}

func TestWaitContext(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			s := mustOpen(t, l, "/c", os.O_CREATE, 1)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.WaitContext(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("WaitContext with a done context: %v, want context.Canceled", err)
			}
			if v, _ := s.Value(); v != 1 {
				t.Errorf("a done context took a unit: value %d", v)
			}
			if err := s.WaitContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Cancelled while asleep: no unit, unregistered.
			ctx, cancel = context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- s.WaitContext(ctx) }()
			waitFor(t, 10*time.Second, "the waiter to be counted", func() bool { return info(t, s).Waiters == 1 })
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled WaitContext: %v", err)
			} else {
				pathErr(t, err, "sem_wait", "/c")
			}
			// A deadline.
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if err := s.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitContext past its deadline: %v", err)
			}
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after the given-up waits: %+v, want value 0 and no waiters", got)
			}
		})
	}
}

func TestTimedWait(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			s := mustOpen(t, l, "/t", os.O_CREATE, 0)
			err := s.TimedWait(time.Now().Add(20 * time.Millisecond))
			if !errors.Is(err, syscall.ETIMEDOUT) {
				t.Fatalf("TimedWait: %v, want ETIMEDOUT", err)
			}
			pathErr(t, err, "sem_timedwait", "/t")
			if err := s.TimedWait(time.Time{}); !errors.Is(err, syscall.ETIMEDOUT) {
				t.Errorf("TimedWait at the epoch: %v, want ETIMEDOUT", err)
			}
			// A deadline past still takes a unit that is there.
			s.Post()
			if err := s.TimedWait(time.Unix(1, 0)); err != nil {
				t.Errorf("TimedWait in the past with a unit there: %v", err)
			}
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after the timed waits: %+v", got)
			}
		})
	}
}

// TestClose: Close ends this process's waits with fs.ErrClosed and every
// later call; the semaphore itself stays.
func TestClose(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			s, err := l.Open("/x", os.O_CREATE, 0o600, 0)
			if err != nil {
				t.Fatal(err)
			}
			other := mustOpen(t, l, "/x", 0, 0)
			errc := make(chan error, 2)
			for range 2 {
				go func() { errc <- s.Wait() }()
			}
			waitFor(t, 10*time.Second, "two waiters", func() bool { return info(t, other).Waiters == 2 })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-errc; !errors.Is(err, fs.ErrClosed) {
					t.Errorf("Wait ended by Close: %v, want fs.ErrClosed", err)
				}
			}
			if got := info(t, other); got.Waiters != 0 || got.Value != 0 {
				t.Errorf("after Close: %+v, want no waiters counted, value 0", got)
			}
			if err := s.Post(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Post after Close: %v", err)
			}
			if _, err := s.TryWait(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("TryWait after Close: %v", err)
			}
			if _, err := s.Value(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Value after Close: %v", err)
			}
			if err := s.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestConcurrent: goroutines post and take through two handles; every
// unit posted is taken once.
func TestConcurrent(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			a := mustOpen(t, l, "/k", os.O_CREATE, 0)
			b := mustOpen(t, l, "/k", 0, 0)
			const workers, per = 4, 2000
			var wg sync.WaitGroup
			for i := range workers {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Add(2)
				go func() {
					defer wg.Done()
					for range per {
						if err := s.Post(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				go func() {
					defer wg.Done()
					for j := range per {
						var err error
						if j%3 == 0 {
							var ok bool
							if ok, err = s.TryWait(); ok {
								continue
							}
						}
						if err == nil {
							err = s.Wait()
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if got := info(t, a); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after %d posts and takes: %+v", workers*per, got)
			}
		})
	}
}

// TestOpen_Hardening: a symbolic link is never followed, a FIFO never
// blocks, and only a regular file with one link of the format's size is
// opened; a refused file is not changed.
func TestOpen_Hardening(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			path := func(name string) string {
				p, err := l.Path(name)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			side := t.TempDir()
			target := filepath.Join(side, "target")
			os.WriteFile(target, make([]byte, 32), 0o600)
			musl := make([]byte, 128)
			musl[8] = 0 // __val[2]: 0, a shared musl semaphore
			os.WriteFile(path("/musl"), musl, 0o600)
			os.Symlink(target, path("/link"))
			unix.Mkfifo(path("/fifo"), 0o600)
			os.Mkdir(path("/dir"), 0o700)
			os.Link(target, path("/hard"))
			os.WriteFile(path("/short"), []byte("short"), 0o600)
			os.WriteFile(path("/empty"), nil, 0o600)
			for _, c := range []struct {
				name  string
				flag  int
				errno syscall.Errno
			}{
				{"/link", 0, syscall.ELOOP},
				{"/link", os.O_CREATE, syscall.ELOOP},
				{"/fifo", 0, syscall.EINVAL},
				{"/dir", 0, syscall.EISDIR},
				{"/hard", 0, syscall.EPERM},
				{"/short", 0, syscall.EINVAL},
				{"/short", os.O_CREATE, syscall.EINVAL},
				{"/empty", 0, syscall.EINVAL},
				{"/musl", 0, syscall.EINVAL},
			} {
				_, err := l.Open(c.name, c.flag, 0o600, 5)
				if !errors.Is(err, c.errno) {
					t.Errorf("Open(%s, %#o): %v, want %v", c.name, c.flag, err, c.errno)
				}
			}
			if b, _ := os.ReadFile(target); len(b) != 32 {
				t.Errorf("the link's target changed: %d bytes", len(b))
			}
			if b, _ := os.ReadFile(path("/short")); string(b) != "short" {
				t.Errorf("the refused short file changed: %q", b)
			}
		})
	}
}

// TestOpenBSD_EmptyFile: as in OpenBSD, an empty file (a C creator's
// between open and ftruncate) is sized and initialised by an opener with
// O_CREAT, and refused (EINVAL) without.
func TestOpenBSD_EmptyFile(t *testing.T) {
	d := sem.Dir(t.TempDir())
	p, _ := d.Path("/e")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("/e", 0, 0, 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Open of an empty file: %v, want EINVAL", err)
	}
	s := mustOpen(t, d, "/e", os.O_CREATE, 7)
	if got := info(t, s); got.Value != 7 || got.Format != sem.OpenBSD {
		t.Errorf("after O_CREAT of an empty file: %+v", got)
	}
	if st, _ := os.Stat(p); st.Size() != int64(sem.PageSize) {
		t.Errorf("size %d, want one page", st.Size())
	}
	b, _ := os.ReadFile(p)
	if b[12] != 1 && b[15] != 1 {
		t.Errorf("shared field not 1: % x", b[:16])
	}
}

// TestOpenBSD_Owner: OpenBSD's sem_open opens only the caller's own
// semaphores (EPERM), root included.
func TestOpenBSD_Owner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	d := sem.Dir(t.TempDir())
	s := mustOpen(t, d, "/o", os.O_CREATE, 1)
	s.Close()
	p, _ := d.Path("/o")
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("/o", 0, 0, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("Open of another user's semaphore: %v, want EPERM", err)
	}
}

// TestOpenBSD_Mode: OpenBSD ignores perm; a new semaphore is 0600.
func TestOpenBSD_Mode(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	d := sem.Dir(t.TempDir())
	mustOpen(t, d, "/m", os.O_CREATE, 0)
	p, _ := d.Path("/m")
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", st.Mode(), err)
	}
	g := sem.GlibcDir(t.TempDir())
	s, err := g.Open("/m", os.O_CREATE, 0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	p, _ = g.Path("/m")
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("glibc: mode %v, %v; want perm 0644", st.Mode(), err)
	}
}

// TestOpen_NoTemporaryLeft: creating leaves only the semaphore's own file
// in the directory.
func TestOpen_NoTemporaryLeft(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			mustOpen(t, l, "/a", os.O_CREATE, 0)
			mustOpen(t, l, "/b", os.O_CREATE|os.O_EXCL, 0)
			l.Open("/a", os.O_CREATE|os.O_EXCL, 0o600, 0) // EEXIST: its temporary file goes too
			p, _ := l.Path("/a")
			des, _ := os.ReadDir(filepath.Dir(p))
			if len(des) != 2 {
				var names []string
				for _, de := range des {
					names = append(names, de.Name())
				}
				t.Errorf("directory holds %q, want the two semaphores only", names)
			}
		})
	}
}

func TestNames(t *testing.T) {
	g := sem.GlibcDir("/d")
	for _, c := range []struct {
		name, path string
		errno      syscall.Errno
	}{
		{"/a", "/d/sem.a", 0},
		{"a", "/d/sem.a", 0},
		{"//a", "/d/sem.a", 0},
		{".", "/d/sem..", 0},
		{"", "", syscall.EINVAL},
		{"/", "", syscall.EINVAL},
		{"/a/b", "", syscall.EINVAL},
		{"/a\x00b", "", syscall.EINVAL},
		{"/" + string(make([]byte, 0)) + repeat(251), "/d/sem." + repeat(251), 0},
		{"/" + repeat(252), "", syscall.ENAMETOOLONG},
		{"/" + repeat(255), "", syscall.ENAMETOOLONG},
		{"/" + repeat(256), "", syscall.EINVAL},
	} {
		p, err := g.Path(c.name)
		if p != c.path || errnoOf(err) != int(c.errno) {
			t.Errorf("glibc Path(%.20q...): %q, %v; want %q, errno %d", c.name, p, err, c.path, c.errno)
		}
	}
	d := sem.Dir("/tmp")
	want, _ := posixshm.Dir("/tmp").SemPath("/a")
	if p, err := d.Path("/a"); err != nil || p != want || filepath.Ext(p) != ".sem" {
		t.Errorf("Dir Path: %q, %v; want %q", p, err, want)
	}
	if _, err := sem.Dir("").Path("/a"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Dir(\"\"): %v, want EINVAL", err)
	}
}

func repeat(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

// TestOpen_Musl: a musl program's semaphore (128 bytes) is refused, saying
// whose it is; so is a glibc-sized file whose private field is not
// FUTEX_SHARED.
func TestOpen_Musl(t *testing.T) {
	g := sem.GlibcDir(t.TempDir())
	p, _ := g.Path("/m")
	os.WriteFile(p, make([]byte, 128), 0o600)
	_, err := g.Open("/m", 0, 0, 0)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "musl") {
		t.Errorf("Open of a musl semaphore: %v, want EINVAL naming musl", err)
	}
	q, _ := g.Path("/z")
	os.WriteFile(q, make([]byte, 32), 0o600)
	if _, err := g.Open("/z", 0, 0, 0); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "private") {
		t.Errorf("Open of 32 zero bytes: %v, want EINVAL about the private field", err)
	}
}

// TestOpen_OtherWidth: a 64-bit glibc semaphore is opened in its own
// format by a layout that creates 32-bit ones, and the other way round.
func TestOpen_OtherWidth(t *testing.T) {
	dir := t.TempDir()
	g64, g32 := sem.GlibcLayout(dir, sem.Glibc64), sem.GlibcLayout(dir, sem.Glibc32)
	a := mustOpen(t, g64, "/a", os.O_CREATE, 4)
	b := mustOpen(t, g32, "/b", os.O_CREATE, 5)
	if got := info(t, mustOpen(t, g32, "/a", 0, 0)); got.Format != sem.Glibc64 || got.Value != 4 {
		t.Errorf("64-bit semaphore opened by a 32-bit layout: %+v", got)
	}
	if got := info(t, mustOpen(t, g64, "/b", 0, 0)); got.Format != sem.Glibc32 || got.Value != 5 {
		t.Errorf("32-bit semaphore opened by a 64-bit layout: %+v", got)
	}
	for name, want := range map[string]int64{"/a": 32, "/b": 16} {
		p, _ := g64.Path(name)
		if st, err := os.Stat(p); err != nil || st.Size() != want {
			t.Errorf("%s: %v, want %d bytes", name, err, want)
		}
	}
	_, _ = a, b
}

// TestAllocs: the uncontended Post and TryWait allocate nothing, in any
// format (CI runs this without the race detector too).
func TestAllocs(t *testing.T) {
	for lname, l := range goLayouts(t) {
		s := mustOpen(t, l, "/a", os.O_CREATE, 0)
		if n := testing.AllocsPerRun(1000, func() {
			s.Post()
			s.TryWait()
		}); n != 0 {
			t.Errorf("%s: Post+TryWait allocate %v times", lname, n)
		}
	}
}

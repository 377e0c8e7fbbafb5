package pledge_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/pledge"
	"golang.org/x/sys/unix"
)

// futex(2) operations (linux/futex.h); x/sys has no names for them.
const (
	futexWait = 0
	futexWake = 1
)

// The promises a segment user needs on OpenBSD (issue 15).
const segmentPromises = "stdio rpath wpath cpath fattr flock"

func mustSucceed(t *testing.T, r pledge.Result) {
	t.Helper()
	if !r.Succeeded() {
		t.Fatal(r)
	}
}

func mustViolate(t *testing.T, r pledge.Result) {
	t.Helper()
	if !r.Violated() {
		t.Fatalf("want a kill by SIGSYS; %v", r)
	}
	// Precisely: killed by the signal, no exit status, no core file.
	if !r.Status.Signaled() || r.Status.Signal() != syscall.SIGSYS || r.Status.Exited() || r.Status.CoreDump() {
		t.Fatalf("wait status %#x: want signaled by SIGSYS without core", uint32(r.Status))
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Everything a segment user does, under the promises OpenBSD would need.
func TestRunConfined_SegmentWork(t *testing.T) {
	dir := pledge.SharedDir(t)
	r := pledge.RunConfined(t, segmentPromises, func(t *testing.T) {
		path := filepath.Join(dir, "segment")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		check(t, "create", err)
		fd := int(f.Fd())
		check(t, "ftruncate", f.Truncate(4096))
		var st unix.Stat_t
		check(t, "fstat", unix.Fstat(fd, &st))
		b, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		check(t, "mmap", err)
		b[64] = 42
		check(t, "msync", unix.Msync(b, unix.MS_SYNC))

		// futimens(fd, NULL): what refreshing a segment does.
		if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, 0, 0, 0, 0); e != 0 {
			t.Fatalf("futimens: %v", e)
		}
		check(t, "fchmod", f.Chmod(0o600))
		check(t, "fchown to oneself", f.Chown(os.Geteuid(), -1))
		// To anybody else: EPERM, as pledge_chown answers, even for root.
		if err := f.Chown(65534, -1); !errors.Is(err, syscall.EPERM) {
			t.Errorf("fchown to 65534: %v, want EPERM", err)
		}

		// Record locks: POSIX on one descriptor, OFD on another, and both
		// kinds of F_GETLK seeing them from a third.
		wr := func(start int64) *unix.Flock_t {
			return &unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: start, Len: 1}
		}
		check(t, "F_SETLK", unix.FcntlFlock(uintptr(fd), unix.F_SETLK, wr(0)))
		g, err := os.OpenFile(path, os.O_RDWR, 0)
		check(t, "open again", err)
		check(t, "F_OFD_SETLK", unix.FcntlFlock(g.Fd(), unix.F_OFD_SETLK, wr(1)))
		h, err := os.Open(path)
		check(t, "open read-only", err)
		q := wr(0)
		check(t, "F_OFD_GETLK", unix.FcntlFlock(h.Fd(), unix.F_OFD_GETLK, q))
		if q.Type != unix.F_WRLCK || q.Pid != int32(os.Getpid()) {
			t.Errorf("F_OFD_GETLK on byte 0: type %d pid %d, want F_WRLCK by %d", q.Type, q.Pid, os.Getpid())
		}
		q = wr(1)
		check(t, "F_GETLK", unix.FcntlFlock(h.Fd(), unix.F_GETLK, q))
		if q.Type != unix.F_WRLCK || q.Pid != -1 {
			t.Errorf("F_GETLK on byte 1: type %d pid %d, want F_WRLCK by an OFD (-1)", q.Type, q.Pid)
		}
		check(t, "F_OFD_SETLKW unlock", unix.FcntlFlock(g.Fd(), unix.F_OFD_SETLKW, &unix.Flock_t{Type: unix.F_UNLCK, Start: 1, Len: 1}))
		check(t, "flock", unix.Flock(int(h.Fd()), unix.LOCK_SH|unix.LOCK_NB))

		// Signals to itself: kill(getpid(), 0), kill(0, 0), tgkill.
		check(t, "kill(self, 0)", unix.Kill(os.Getpid(), 0))
		check(t, "kill(0, 0)", unix.Kill(0, 0))
		check(t, "tgkill(self, tid, 0)", unix.Tgkill(os.Getpid(), unix.Gettid(), 0))

		// futex on the shared mapping, as the lock's waiters do.
		word := (*uint32)(unsafe.Pointer(&b[0]))
		if n, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake, 1, 0, 0, 0); e != 0 || n != 0 {
			t.Errorf("futex wake: %d woken, %v", n, e)
		}
		// A wait that times out: FUTEX_WAIT with a 1 ms timeout.
		ts := unix.NsecToTimespec(int64(time.Millisecond))
		if _, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, 0, uintptr(unsafe.Pointer(&ts)), 0, 0); e != unix.ETIMEDOUT {
			t.Errorf("futex wait: %v, want ETIMEDOUT", e)
		}

		// New threads (clone with CLONE_THREAD; through glibc under -race),
		// CPU-bound goroutines the runtime preempts with tgkill, sleeps.
		var wg sync.WaitGroup
		var filtered atomic.Int32
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				if mode, _ := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); mode == 2 {
					filtered.Add(1)
				}
				spin(20 * time.Millisecond)
				time.Sleep(5 * time.Millisecond)
			}()
		}
		wg.Wait()
		if n := filtered.Load(); n != 8 {
			t.Errorf("%d of 8 threads in seccomp filter mode", n)
		}

		// Paths: rename, list, stat, remove.
		other := filepath.Join(dir, "renamed")
		check(t, "rename", os.Rename(path, other))
		ents, err := os.ReadDir(dir)
		check(t, "readdir", err)
		if len(ents) != 1 || ents[0].Name() != "renamed" {
			t.Errorf("readdir: %v", ents)
		}
		_, err = os.Stat(other)
		check(t, "stat", err)
		check(t, "mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o700))
		check(t, "rmdir", os.Remove(filepath.Join(dir, "d")))

		// A pipe through the runtime's poller (epoll, eventfd).
		pr, pw, err := os.Pipe()
		check(t, "pipe", err)
		go pw.Write([]byte("x"))
		pr.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := pr.Read(make([]byte, 1))
		check(t, "pipe read", err)
		if n != 1 {
			t.Errorf("pipe read %d bytes", n)
		}
		_, err = rand.Read(make([]byte, 16)) // getrandom
		check(t, "getrandom", err)

		check(t, "munmap", unix.Munmap(b))
		for _, c := range []*os.File{f, g, h, pr, pw} {
			c.Close()
		}
		check(t, "unlink", os.Remove(other))
	})
	mustSucceed(t, r)
	if _, err := os.Stat(filepath.Join(dir, "renamed")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the child's file is still there (or: %v)", err)
	}
}

// spin keeps a CPU busy for d, long enough for the runtime to preempt it.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// The child finds no /proc, as on OpenBSD; the parent's /proc is untouched.
func TestRunConfined_NoProc(t *testing.T) {
	if !pledge.IsChild(t) {
		procOK(t)
	}
	r := pledge.RunConfined(t, segmentPromises, func(t *testing.T) {
		for _, p := range []string{"/proc/self/stat", "/proc/1/cmdline", "/proc/self/ns/mnt"} {
			if _, err := os.ReadFile(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("read %s: %v, want ErrNotExist", p, err)
			}
		}
		ents, err := os.ReadDir("/proc")
		if err != nil || len(ents) != 0 {
			t.Errorf("/proc: %d entries, %v; want an empty directory", len(ents), err)
		}
		var sfs unix.Statfs_t
		check(t, "statfs /proc", unix.Statfs("/proc", &sfs))
		if sfs.Type == unix.PROC_SUPER_MAGIC {
			t.Error("/proc is still procfs")
		}
	})
	mustSucceed(t, r)
	procOK(t)
}

// procOK checks that this process has its real /proc.
func procOK(t *testing.T) {
	t.Helper()
	var sfs unix.Statfs_t
	check(t, "statfs /proc", unix.Statfs("/proc", &sfs))
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		t.Fatalf("/proc here has file system type %#x, not procfs", sfs.Type)
	}
	if _, err := os.ReadFile("/proc/self/stat"); err != nil {
		t.Fatal(err)
	}
}

// Each forbidden call kills the confined child with SIGSYS. Each case calls
// reached just before the forbidden call, so a kill by an earlier call
// (a hole in the table) fails the test instead of passing it.
func TestRunConfined_Violations(t *testing.T) {
	dir := pledge.SharedDir(t)
	if !pledge.IsChild(t) {
		check(t, "setup", os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o600))
	}
	file := filepath.Join(dir, "file")
	open := func() (*os.File, error) { return os.Open(file) }
	for _, tt := range []struct {
		name     string
		promises string
		do       func(reached func()) error
	}{
		{"kill other", segmentPromises, func(reached func()) error {
			reached()
			return unix.Kill(os.Getppid(), 0)
		}},
		{"tgkill other", segmentPromises, func(reached func()) error {
			reached()
			return unix.Tgkill(os.Getppid(), os.Getppid(), 0)
		}},
		{"ptrace", segmentPromises, func(reached func()) error {
			buf := make([]byte, 8)
			reached()
			_, err := unix.PtracePeekData(os.Getppid(), 0, buf)
			return err
		}},
		{"socket inet", segmentPromises, func(reached func()) error {
			reached()
			_, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			return err
		}},
		{"socket unix under inet", "stdio inet", func(reached func()) error {
			reached()
			_, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			return err
		}},
		{"fork", segmentPromises, func(reached func()) error {
			cmd := exec.Command("/bin/true")
			reached() // os/exec's own preparations come first
			return cmd.Run()
		}},
		{"execve", segmentPromises + " proc", func(reached func()) error {
			reached()
			return unix.Exec("/bin/true", []string{"true"}, nil)
		}},
		{"affinity of other", segmentPromises, func(reached func()) error {
			var s unix.CPUSet
			reached()
			return unix.SchedGetaffinity(os.Getppid(), &s)
		}},
		{"read without rpath", "stdio wpath cpath", func(reached func()) error {
			reached()
			_, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			return err
		}},
		{"create without cpath", "stdio rpath wpath", func(reached func()) error {
			reached()
			_, err := unix.Open(filepath.Join(dir, "new"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
			return err
		}},
		{"F_GETLK without flock", "stdio rpath wpath cpath fattr", func(reached func()) error {
			f, err := open()
			if err != nil {
				return err
			}
			reached()
			return unix.FcntlFlock(f.Fd(), unix.F_GETLK, &unix.Flock_t{Type: unix.F_WRLCK, Len: 1})
		}},
		{"futimens without fattr", "stdio rpath wpath cpath flock", func(reached func()) error {
			f, err := open()
			if err != nil {
				return err
			}
			reached()
			if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, 0, 0, 0, 0); e != 0 {
				return e
			}
			return nil
		}},
		{"executable memory", segmentPromises, func(reached func()) error {
			reached()
			_, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			return err
		}},
		{"narrowed by a second Confine", segmentPromises, func(reached func()) error {
			if err := pledge.Confine("stdio"); err != nil {
				return err
			}
			reached()
			_, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := pledge.RunConfined(t, tt.promises, func(t *testing.T) {
				err := tt.do(func() { fmt.Println("reached the forbidden call") })
				t.Errorf("survived the call (error %v)", err)
			})
			mustViolate(t, r)
			if !strings.Contains(r.Output, "\nreached the forbidden call\n") {
				t.Fatalf("killed before the forbidden call; %v", r)
			}
		})
	}
}

// The same calls pass with the promise OpenBSD asks for.
func TestRunConfined_MorePromises(t *testing.T) {
	for _, tt := range []struct {
		name     string
		promises string
		do       func() error
	}{
		{"kill other with proc", "stdio proc", func() error { return unix.Kill(os.Getppid(), 0) }},
		{"socket inet with inet", "stdio inet", func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustSucceed(t, pledge.RunConfined(t, tt.promises, func(t *testing.T) {
				check(t, tt.name, tt.do())
			}))
		})
	}
}

// A thread that existed before Confine is filtered too (TSYNC): its
// forbidden call kills the whole process.
func TestRunConfined_ThreadsBeforeConfine(t *testing.T) {
	do := make(chan struct{})
	if pledge.IsChild(t) {
		// Started before RunConfined confines the process.
		ready := make(chan int)
		go func() {
			runtime.LockOSThread() // this thread is never given back
			ready <- unix.Gettid()
			<-do
			unix.Kill(os.Getppid(), 0)
			select {} // not reached
		}()
		<-ready
	}
	r := pledge.RunConfined(t, segmentPromises, func(t *testing.T) {
		close(do)
		time.Sleep(10 * time.Second) // not reached
		t.Error("the old thread's call did not kill the process")
	})
	mustViolate(t, r)
}

// A child that fails its checks is a failure, not a violation or success.
func TestRunConfined_ChildFails(t *testing.T) {
	for name, fn := range map[string]func(t *testing.T){
		"Error":   func(t *testing.T) { t.Error("expected failure") },
		"FailNow": func(t *testing.T) { t.FailNow() },
		"Goexit":  func(t *testing.T) { runtime.Goexit() },
	} {
		t.Run(name, func(t *testing.T) {
			r := pledge.RunConfined(t, "stdio", fn)
			if r.Succeeded() || r.Violated() || !r.Confined || !r.Status.Exited() || r.Status.ExitStatus() != 1 {
				t.Fatalf("want a confined child failing with status 1; %v", r)
			}
		})
	}
	t.Run("panic", func(t *testing.T) {
		r := pledge.RunConfined(t, "stdio", func(t *testing.T) { panic("expected panic") })
		if r.Succeeded() || r.Violated() || r.Status.ExitStatus() != 2 || !strings.Contains(r.Output, "expected panic") {
			t.Fatalf("want status 2 and the panic in the output; %v", r)
		}
	})
}

func TestConfine_BadPromises(t *testing.T) {
	// Refused before anything is installed, so safe in the test process.
	if err := pledge.Confine("stdio bogus"); err == nil || errors.Is(err, pledge.ErrNotSimulated) {
		t.Errorf("unknown promise: %v", err)
	}
	if err := pledge.Confine("stdio dns"); !errors.Is(err, pledge.ErrNotSimulated) {
		t.Errorf("dns: %v, want ErrNotSimulated", err)
	}
}

// TestSharedDir_Subtests: a directory shared by a test with the confined
// children of its subtests (TestRunConfined_Violations' pattern) is the
// parent's in every child, and the children, which exit without running
// cleanups, make no directory of their own: each used to leave
// $TMPDIR/TestRunConfined_Violations*/001/file behind, one per subtest.
func TestSharedDir_Subtests(t *testing.T) {
	tmp := os.Getenv("POSIXSHM_PLEDGE_TESTTMP")
	if !pledge.IsChild(t) {
		tmp = t.TempDir()
		t.Setenv("POSIXSHM_PLEDGE_TESTTMP", tmp)
		t.Setenv("TMPDIR", tmp)
	}
	dir := pledge.SharedDir(t)
	if !pledge.IsChild(t) {
		check(t, "setup", os.WriteFile(filepath.Join(dir, "file"), []byte("parent's"), 0o600))
	}
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			r := pledge.RunConfined(t, "stdio rpath", func(t *testing.T) {
				if b, err := os.ReadFile(filepath.Join(dir, "file")); string(b) != "parent's" {
					t.Errorf("the child reads %q, %v in %s, want the parent's file", b, err, dir)
				}
			})
			mustSucceed(t, r)
		})
	}
	if pledge.IsChild(t) {
		return
	}
	ents, err := os.ReadDir(tmp)
	check(t, "reading "+tmp, err)
	// The parent's own directories are in the root its first TempDir
	// made, before TMPDIR was set: anything in tmp is a child's.
	if len(ents) != 0 {
		t.Errorf("the children left %d directories in $TMPDIR: %v", len(ents), ents)
	}
}

//go:build linux

package sem_test

// Go and C share semaphores: glibc's own sem_open and friends
// (testdata/cref/glibcsem.c) on /dev/shm, and a C reference of OpenBSD's
// rthread_sem.c (testdata/cref/obsdsem.c) on a Dir. The same tests run
// over both; in the openbsdsim build too, where Go's side is OpenBSD's
// code path.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/sem"
)

// asleep waits until the single-threaded process pid sleeps in futex(2)
// (its /proc/PID/wchan names a futex function), so that what follows
// tests a wake-up and not a waiter that has yet to sleep.
func asleep(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, 10*time.Second, "process "+strconv.Itoa(pid)+" asleep in futex(2)", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
		if err != nil || string(b) == "0" || string(b) == "" {
			// wchan hidden: give it time to get there.
			time.Sleep(50 * time.Millisecond)
			return true
		}
		return strings.Contains(string(b), "futex")
	})
}

// TestInterop_GoPostWakesCWait: a C process asleep in sem_wait is woken
// by a Go Post.
func TestInterop_GoPostWakesCWait(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			name := uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 0)
			if got := s.Format(); got != f.want {
				t.Fatalf("created in format %v, want %v", got, f.want)
			}
			c := f.cStart(t, "wait", name)
			waitFor(t, 10*time.Second, "the C waiter to be counted", func() bool { return info(t, s).Waiters == 1 })
			asleep(t, c.cmd.Process.Pid)
			if err := s.Post(); err != nil {
				t.Fatal(err)
			}
			if out := c.wait(t, 30*time.Second); out != "ok" {
				t.Fatalf("C sem_wait: %s", out)
			}
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after the wake-up: %+v, want value 0 and no waiters", got)
			}
		})
	}
}

// TestInterop_CPostWakesGoWait: a Go Wait asleep is woken by a C sem_post,
// in this process and in another.
func TestInterop_CPostWakesGoWait(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.ctool(t)
			name := uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 0)
			errc := make(chan error, 1)
			go func() { errc <- s.Wait() }()
			waitFor(t, 10*time.Second, "the Go waiter to be counted", func() bool { return info(t, s).Waiters == 1 })
			time.Sleep(20 * time.Millisecond) // into futex(2)
			if out := c("post", name); out != "ok" {
				t.Fatalf("C sem_post: %s", out)
			}
			select {
			case err := <-errc:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the Go waiter did not wake up")
			}
			// A Go waiter in another process, started by the test.
			g := f.goStart(t, "wait", "SEMTEST_NAME="+name)
			waitFor(t, 10*time.Second, "the Go child to be counted", func() bool { return info(t, s).Waiters == 1 })
			time.Sleep(20 * time.Millisecond)
			c("post", name)
			if out := g.wait(t, 30*time.Second); out != "ok" {
				t.Fatalf("Go child: %s", out)
			}
			if got := info(t, s); got.Value != 0 || got.Waiters != 0 {
				t.Errorf("after the wake-ups: %+v", got)
			}
		})
	}
}

// TestInterop_Mixed: two C and two Go processes make 10^5 operations
// between them, posts and takes of every kind (sem_trywait, sem_wait,
// sem_timedwait and their Go twins) in batches that cannot deadlock; in
// the end the value is the initial one, nobody is counted waiting, and C
// and Go read the same.
func TestInterop_Mixed(t *testing.T) {
	const perProc, initial = 25000, 3
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.ctool(t)
			name := uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, initial)
			var ps []*proc
			for i := range 2 {
				ps = append(ps, f.cStart(t, "mixed", name, strconv.Itoa(perProc), strconv.Itoa(100+i)))
				ps = append(ps, f.goStart(t, "mixed", "SEMTEST_NAME="+name, "SEMTEST_OPS="+strconv.Itoa(perProc), "SEMTEST_SEED="+strconv.Itoa(200+i)))
			}
			posts, takes := 0, 0
			for _, p := range ps {
				out := p.wait(t, 5*time.Minute)
				var a, b int
				if _, err := fmt.Sscanf(out, "posts %d takes %d", &a, &b); err != nil {
					t.Fatalf("%s: %q", p.cmd.Path, out)
				}
				posts, takes = posts+a, takes+b
			}
			if posts+takes < 4*perProc || posts != takes {
				t.Fatalf("%d posts and %d takes", posts, takes)
			}
			if got := info(t, s); got.Value != initial || got.Waiters != 0 {
				t.Errorf("after %d operations: %+v, want value %d and no waiters", posts+takes, got, initial)
			}
			if out := c("value", name); out != "value "+strconv.Itoa(initial) {
				t.Errorf("C sem_getvalue: %s", out)
			}
		})
	}
}

// TestInterop_PingPong: a C and a Go process pass one unit back and forth
// through two semaphores, 50000 times each way, every wait a sleep that
// only the other side's post ends: C's sem_wait has no timeout, so a Go
// post that failed to wake it would hang the test, and a C post that
// failed to wake the Go side would cost it a 100 ms recheck each time
// (over an hour in all). The value and waiter counts end right.
func TestInterop_PingPong(t *testing.T) {
	const n = 50000
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			a, b := uniqueName(t, f.layout), uniqueName(t, f.layout)
			sa := mustOpen(t, f.layout, a, os.O_CREATE|os.O_EXCL, 1)
			sb := mustOpen(t, f.layout, b, os.O_CREATE|os.O_EXCL, 0)
			c := f.cStart(t, "relay", a, b, strconv.Itoa(n))
			g := f.goStart(t, "relay", "SEMTEST_NAME="+b, "SEMTEST_TO="+a, "SEMTEST_N="+strconv.Itoa(n))
			var cs, gs int
			if _, err := fmt.Sscanf(c.wait(t, 5*time.Minute), "ok %d", &cs); err != nil {
				t.Fatalf("C: %v", err)
			}
			if _, err := fmt.Sscanf(g.wait(t, 5*time.Minute), "ok %d", &gs); err != nil {
				t.Fatalf("Go: %v", err)
			}
			ia, ib := info(t, sa), info(t, sb)
			if ia.Value != 1 || ib.Value != 0 || ia.Waiters != 0 || ib.Waiters != 0 {
				t.Errorf("after %d round trips: A %+v, B %+v; want the unit back in A and no waiters", n, ia, ib)
			}
			t.Logf("%d round trips; voluntary context switches (about the sleeps): C %d, Go %d", n, cs, gs)
		})
	}
}

// TestInterop_TimedWait: C's sem_timedwait times out (ETIMEDOUT), refuses
// a bad timespec (EINVAL) and leaves nobody counted either way; Go's
// TimedWait and C's agree on a deadline in the past.
func TestInterop_TimedWait(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.ctool(t)
			name := uniqueName(t, f.layout)
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 0)
			errnoLine := func(e syscall.Errno) string { return "errno " + strconv.Itoa(int(e)) }
			if out := c("timedwait", name, "30"); out != errnoLine(syscall.ETIMEDOUT) {
				t.Errorf("C sem_timedwait on 0: %s, want ETIMEDOUT", out)
			}
			if out := c("timedwait-bad", name); out != errnoLine(syscall.EINVAL) {
				t.Errorf("C sem_timedwait, tv_nsec 1e9: %s, want EINVAL", out)
			}
			if out := c("timedwait-past", name); out != errnoLine(syscall.ETIMEDOUT) {
				t.Errorf("C sem_timedwait in 1970 on 0: %s, want ETIMEDOUT", out)
			}
			if err := s.TimedWait(time.Unix(0, 0)); errnoOf(err) != int(syscall.ETIMEDOUT) {
				t.Errorf("Go TimedWait in 1970 on 0: %v, want ETIMEDOUT", err)
			}
			if got := info(t, s); got.Waiters != 0 || got.Value != 0 {
				t.Errorf("after the timeouts: %+v, want nobody counted", got)
			}
			// A unit there is taken even with a deadline past, by both.
			s.Post()
			s.Post()
			if out := c("timedwait-past", name); out != "ok" {
				t.Errorf("C sem_timedwait in 1970 with a unit: %s", out)
			}
			if err := s.TimedWait(time.Unix(0, 0)); err != nil {
				t.Errorf("Go TimedWait in 1970 with a unit: %v", err)
			}
			// A C waiter asleep with a deadline is woken by Go's post
			// before it, and takes the unit.
			p := f.cStart(t, "timedwait", name, "20000")
			waitFor(t, 10*time.Second, "the C timed waiter", func() bool { return info(t, s).Waiters == 1 })
			asleep(t, p.cmd.Process.Pid)
			s.Post()
			if out := p.wait(t, 30*time.Second); out != "ok" {
				t.Errorf("C sem_timedwait woken: %s", out)
			}
		})
	}
}

// TestInterop_Overflow: glibc's sem_post and Post both refuse to go past
// SEM_VALUE_MAX (EOVERFLOW); OpenBSD's sem_post wraps from UINT_MAX to 0,
// which Post refuses.
func TestInterop_Overflow(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.ctool(t)
			name := uniqueName(t, f.layout)
			max := uint32(1<<31 - 1)
			if f.name == "openbsd" {
				max = 1<<32 - 1
			}
			s := mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, max)
			if err := s.Post(); errnoOf(err) != int(syscall.EOVERFLOW) {
				t.Errorf("Go Post at SEM_VALUE_MAX: %v, want EOVERFLOW", err)
			}
			out := c("post", name)
			v, _ := s.Value()
			switch f.name {
			case "glibc", "glibc32":
				if out != "errno "+strconv.Itoa(int(syscall.EOVERFLOW)) || v != int(max) {
					t.Errorf("glibc sem_post at SEM_VALUE_MAX: %s, value %d", out, v)
				}
			default:
				if out != "ok" || v != 0 {
					t.Errorf("OpenBSD's sem_post at UINT_MAX: %s, value %d; want it to wrap to 0", out, v)
				}
			}
		})
	}
}

// TestInterop_Unlink: sem_unlink from either side removes the name for
// both.
func TestInterop_Unlink(t *testing.T) {
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.ctool(t)
			name := uniqueName(t, f.layout)
			mustOpen(t, f.layout, name, os.O_CREATE|os.O_EXCL, 1)
			if out := c("unlink", name); out != "ok" {
				t.Fatalf("C sem_unlink: %s", out)
			}
			if _, err := f.layout.Open(name, 0, 0, 0); errnoOf(err) != int(syscall.ENOENT) {
				t.Errorf("Go Open after C's sem_unlink: %v, want ENOENT", err)
			}
			if out := c("open", name, strconv.Itoa(unix.O_CREAT|unix.O_EXCL), "0600", "2"); out != "ok" {
				t.Fatalf("C sem_open O_CREAT|O_EXCL: %s", out)
			}
			s := mustOpen(t, f.layout, name, 0, 0)
			if got := info(t, s); got.Value != 2 || got.Format != f.want {
				t.Errorf("Go Open of C's semaphore: %+v, want value 2, format %v", got, f.want)
			}
			if err := f.layout.Unlink(name); err != nil {
				t.Fatal(err)
			}
			if out := c("open", name, "0", "0", "0"); out != "errno "+strconv.Itoa(int(syscall.ENOENT)) {
				t.Errorf("C sem_open after Go's Unlink: %s, want ENOENT", out)
			}
		})
	}
}

// TestInterop_CreateRace: a C and a Go process create the same name at
// once, again and again: with O_CREAT both open one semaphore, whose value
// is exactly one of the two initial values; with O_CREAT|O_EXCL exactly
// one of them succeeds.
func TestInterop_CreateRace(t *testing.T) {
	const rounds = 40
	for _, f := range formats(t) {
		t.Run(f.name, func(t *testing.T) {
			name := uniqueName(t, f.layout)
			wins := map[string]int{}
			// Each side is one process that opens once per line it
			// reads, so that each round is a race, not a start-up.
			c := f.cStart(t, "openloop", name)
			cr := bufio.NewReader(c.stdoutPipe(t))
			g := f.goStart(t, "open", "SEMTEST_NAME="+name)
			gr := bufio.NewReader(g.stdoutPipe(t))
			read := func(r *bufio.Reader, p *proc) string {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("%s: %v\n%s", p.cmd.Path, err, p.output())
				}
				return strings.TrimSpace(line)
			}
			for r := range rounds {
				f.layout.Unlink(name)
				flag := unix.O_CREAT
				if r%2 == 1 {
					flag |= unix.O_EXCL
				}
				fmt.Fprintf(c.stdin, "%d 11\n", flag)
				fmt.Fprintf(g.stdin, "%d 22\n", flag)
				cout, gout := read(cr, c), read(gr, g)
				s, err := f.layout.Open(name, 0, 0, 0)
				if err != nil {
					t.Fatalf("round %d (C %s, Go %s): %v", r, cout, gout, err)
				}
				v, _ := s.Value()
				s.Close()
				exist := "errno " + strconv.Itoa(int(syscall.EEXIST))
				switch {
				case flag&unix.O_EXCL == 0 && (cout != "ok" || gout != "ok"):
					t.Fatalf("round %d, O_CREAT: C %s, Go %s; want both ok", r, cout, gout)
				case flag&unix.O_EXCL != 0 && !(cout == "ok" && gout == exist || cout == exist && gout == "ok"):
					t.Fatalf("round %d, O_CREAT|O_EXCL: C %s, Go %s; want one ok, the other EEXIST", r, cout, gout)
				case v != 11 && v != 22:
					t.Fatalf("round %d: value %d, want 11 (C's) or 22 (Go's)", r, v)
				case flag&unix.O_EXCL != 0 && (v == 11) != (cout == "ok"):
					t.Fatalf("round %d: value %d, but C %s and Go %s", r, v, cout, gout)
				}
				wins[map[bool]string{true: "C", false: "Go"}[v == 11]]++
			}
			t.Logf("%d rounds: the initial value came from C %d times, from Go %d times", rounds, wins["C"], wins["Go"])
		})
	}
}

// TestInterop_GlibcNames: Go's Open takes and refuses the names glibc's
// sem_open does, with the same errno, and both reach the same files.
func TestInterop_GlibcNames(t *testing.T) {
	f := glibcFormat(t)
	c := f.ctool(t)
	tag := "semtest-" + strconv.Itoa(os.Getpid())
	long := func(n int) string { return "/" + tag + strings.Repeat("x", n-len(tag)) }
	for _, name := range []string{"/" + tag + "a", tag + "b", "//" + tag + "c", "", "/", "//", "/" + tag + "/d",
		long(251), long(252), long(255), long(256)} {
		cout := c("open", name, strconv.Itoa(unix.O_CREAT|unix.O_EXCL), "0600", "1")
		g, err := f.layout.Open(name, os.O_CREATE|os.O_EXCL, 0o600, 1)
		gout := "ok"
		if err != nil {
			gout = "errno " + strconv.Itoa(errnoOf(err))
		} else {
			g.Close()
		}
		want := cout
		if cout == "ok" {
			// C made it first: Go's O_EXCL must find it.
			want = "errno " + strconv.Itoa(int(syscall.EEXIST))
			c("unlink", name)
		}
		if gout != want {
			t.Errorf("name %.30q (%d bytes): C %s, Go %s", name, len(name), cout, gout)
		}
		if err == nil {
			f.layout.Unlink(name)
		}
	}
}

// obsdStates are files planted at an OpenBSD semaphore's path before the
// C reference and Open meet them.
var obsdStates = []string{"missing", "page", "empty", "short", "symlink", "dir", "fifo", "hardlink", "otheruser"}

// plantOBSD makes state at path; side holds link targets.
func plantOBSD(t *testing.T, state, path, side string) {
	t.Helper()
	page := make([]byte, sem.PageSize)
	binary.NativeEndian.PutUint32(page[8:], 5)
	binary.NativeEndian.PutUint32(page[12:], 1)
	var err error
	switch state {
	case "missing":
	case "page":
		err = os.WriteFile(path, page, 0o600)
	case "empty":
		err = os.WriteFile(path, nil, 0o600)
	case "short":
		err = os.WriteFile(path, page[:100], 0o600)
	case "symlink":
		target := filepath.Join(side, "target")
		os.WriteFile(target, page, 0o600)
		err = os.Symlink(target, path)
	case "dir":
		err = os.Mkdir(path, 0o700)
	case "fifo":
		err = unix.Mkfifo(path, 0o600)
	case "hardlink":
		target := filepath.Join(side, "twin")
		os.WriteFile(target, page, 0o600)
		err = os.Link(target, path)
	case "otheruser":
		if err = os.WriteFile(path, page, 0o600); err == nil {
			err = os.Chown(path, 65534, 65534)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// describeOBSD says what is at path after an open: the errno and, for a
// regular file, its size and value.
func describeOBSD(path string) string {
	st, err := os.Lstat(path)
	if err != nil {
		return "none"
	}
	if !st.Mode().IsRegular() {
		return st.Mode().Type().String()
	}
	b, _ := os.ReadFile(path)
	s := fmt.Sprintf("size %d mode %v", len(b), st.Mode().Perm())
	if len(b) >= 16 {
		s += fmt.Sprintf(" value %d shared %d", binary.NativeEndian.Uint32(b[8:]), binary.NativeEndian.Uint32(b[12:]))
	}
	return s
}

// TestInterop_OpenBSDOpen runs the C reference of OpenBSD's sem_open and
// Dir.Open on the same planted files, with each flag combination, and
// compares the errno and the file left behind. The one difference is the
// hardening: a file with two links is refused (EPERM), which OpenBSD opens.
func TestInterop_OpenBSDOpen(t *testing.T) {
	bin := buildC(t, "obsdsem.c", false)
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	flags := []int{0, unix.O_CREAT, unix.O_CREAT | unix.O_EXCL, unix.O_EXCL, unix.O_RDWR, unix.O_CREAT | unix.O_TRUNC}
	for _, state := range obsdStates {
		if state == "otheruser" && os.Geteuid() != 0 {
			continue
		}
		for _, flag := range flags {
			goDir, cDir, side := t.TempDir(), t.TempDir(), t.TempDir()
			d := sem.Dir(goDir)
			goPath, _ := d.Path("/o")
			cPath, _ := sem.Dir(cDir).Path("/o")
			plantOBSD(t, state, goPath, side)
			plantOBSD(t, state, cPath, side)
			cmd := exec.Command(bin, "open", "/o", strconv.Itoa(flag), "0644", "9")
			cmd.Env = append(os.Environ(), "OBSD_SEM_DIR="+cDir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("obsdsem: %v", err)
			}
			cout := strings.TrimSpace(string(out))
			s, err := d.Open("/o", flag, 0o644, 9)
			gout := "ok"
			if err != nil {
				gout = "errno " + strconv.Itoa(errnoOf(err))
			} else {
				s.Close()
			}
			if state == "hardlink" && cout == "ok" {
				if gout != "errno "+strconv.Itoa(int(syscall.EPERM)) {
					t.Errorf("%s, flag %#o: Go %s, want EPERM (a file with two links is refused)", state, flag, gout)
				}
				continue
			}
			if cout != gout {
				t.Errorf("%s, flag %#o: C %s, Go %s", state, flag, cout, gout)
			}
			if c, g := describeOBSD(cPath), describeOBSD(goPath); c != g {
				t.Errorf("%s, flag %#o: C left %s, Go left %s", state, flag, c, g)
			}
		}
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"golang.org/x/sys/unix"
)

// Layout of the shared page the parent and its children map. Lock words
// and the counter sit on their own cache lines, as in a segment header.
const (
	offWords   = 0   // three lock words, 64 bytes apart
	offCounter = 192 // incremented non-atomically under the lock
	offReady   = 256 // children that reached the start line
	offGo      = 264 // start flag
	offTimes   = 320 // per child: start, end (CLOCK_MONOTONIC ns)
	maxProcs   = 64
	offRound   = 2048 // wake: the holder's round number
	offAck     = 2056 // wake: the waiter's last finished round
	offUnlock  = 2064 // wake: CLOCK_MONOTONIC ns just before the Unlock
	offResult  = 2072 // wake: median latency found by the waiter
	pageSize   = 4096
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: benchproc increments|pingpong|mkobjects [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	p := fs.Int("p", 2, "processes")
	m := fs.Int("m", 1_000_000, "increments per process")
	n := fs.Int("n", 10000, "round trips, or objects")
	dir := fs.String("dir", "/dev/shm", "tmpfs directory for the shared page or the objects")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "increments":
		return increments(out, *dir, *p, *m)
	case "pingpong":
		return pingpong(out, *dir, *n)
	case "mkobjects":
		return mkobjects(*dir, *n)
	case "child-incr":
		return childIncr(fs.Arg(0), *p, *m)
	case "child-pong":
		return childPong(fs.Arg(0), *p, *n)
	case "wake":
		return wake(out, *dir, *n)
	case "child-wake":
		return childWake(fs.Arg(0), *p, *n)
	case "pingpong-futex":
		return pingpongFutex(out, *dir, *n)
	case "child-futex":
		return childFutex(fs.Arg(0), *p, *n)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// newPage creates the shared page in dir and maps it. The caller removes
// the file.
func newPage(dir string) (string, []byte, error) {
	f, err := os.CreateTemp(dir, "benchproc-")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	if err := f.Truncate(pageSize); err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), mem, nil
}

func mapPage(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func u32(b []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
func u64(b []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&b[off])) }

func word(b []byte, i int) *uint32 { return u32(b, offWords+64*i) }

// monotonic reads CLOCK_MONOTONIC, which (unlike Go's monotonic time) is
// comparable between processes.
func monotonic() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// startLine counts the child in and waits for the parent's start flag.
func startLine(b []byte) {
	atomic.AddUint64(u64(b, offReady), 1)
	for atomic.LoadUint64(u64(b, offGo)) == 0 {
		time.Sleep(20 * time.Microsecond)
	}
}

// runChildren starts P copies of this program as role, lets them go at
// once and waits for them. It returns the wall time from the first child's
// start to the last child's end.
func runChildren(b []byte, path, role string, p int, args ...string) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var cmds []*exec.Cmd
	for i := range p {
		a := append([]string{role, "-p", strconv.Itoa(i)}, args...)
		cmd := exec.Command(self, append(a, path)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		cmds = append(cmds, cmd)
	}
	deadline := time.Now().Add(30 * time.Second)
	for atomic.LoadUint64(u64(b, offReady)) < uint64(p) {
		if time.Now().After(deadline) {
			for _, c := range cmds {
				c.Process.Kill()
			}
			return 0, errors.New("children did not start")
		}
		time.Sleep(100 * time.Microsecond)
	}
	atomic.StoreUint64(u64(b, offGo), 1)
	var errs []error
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("child: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	var first, last uint64
	for i := range p {
		s := atomic.LoadUint64(u64(b, offTimes+16*i))
		e := atomic.LoadUint64(u64(b, offTimes+16*i+8))
		if i == 0 || s < first {
			first = s
		}
		last = max(last, e)
	}
	return time.Duration(last - first), nil
}

// increments: P processes × M increments of a shared counter under one
// lock word; prints wall time per increment.
func increments(out io.Writer, dir string, p, m int) error {
	if p < 1 || p > maxProcs || m < 1 {
		return errors.New("increments: bad -p or -m")
	}
	path, b, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(b)
	d, err := runChildren(b, path, "child-incr", p, "-m", strconv.Itoa(m))
	if err != nil {
		return err
	}
	if got := *u64(b, offCounter); got != uint64(p*m) {
		return fmt.Errorf("increments: counter %d, want %d", got, p*m)
	}
	fmt.Fprintf(out, "go_incr_%dp %.2f ns/increment\n", p, float64(d.Nanoseconds())/float64(p*m))
	return nil
}

func childIncr(path string, idx, m int) error {
	b, err := mapPage(path)
	if err != nil {
		return err
	}
	mu := lock.New(word(b, 0))
	c := u64(b, offCounter)
	startLine(b)
	atomic.StoreUint64(u64(b, offTimes+16*idx), monotonic())
	for range m {
		if err := mu.Lock(); err != nil {
			return err
		}
		*c++
		if err := mu.Unlock(); err != nil {
			return err
		}
	}
	atomic.StoreUint64(u64(b, offTimes+16*idx+8), monotonic())
	return nil
}

// mkobjects creates n empty objects in OpenBSD's layout in dir.
func mkobjects(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	d := posixshm.Dir(filepath.Clean(dir))
	for i := range n {
		f, err := d.Open(fmt.Sprintf("/bench-object-%06d", i), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

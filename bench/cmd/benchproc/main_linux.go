//go:build linux && !openbsdsim

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

const maxProcs = 64

// page is the shared memory that the parent and its children map. Lock
// words and the counter sit on their own cache lines, as in a segment
// header; so does each child's line.
type page struct {
	words   [3][16]uint32 // three lock words (or a turn word), 64 bytes apart
	counter counterLine
	_       [64 - unsafe.Sizeof(counterLine{})]byte
	ready   uint64 // children that reached the start line
	goFlag  uint64 // start flag
	_       [48]byte
	// wake and spinbudget: the holder's round, the waiter's last finished
	// round, the time just before the holder's Unlock, the median found;
	// spinbudget: the time just before the waiter's Lock, and its round.
	round, ack, tUnlock, median uint64
	tLock, started              uint64
	_                           [16]byte
	quant                       [len(quantiles)]uint64 // a distribution, by the timing child
	_                           [64 - len(quantiles)*8%64]byte
	procs                       [maxProcs]procLine
}

// mutex returns a Mutex over lock word i: a 64-bit word (lock.New64), as a
// segment's is; its state half is words[i][0], what futex(2) watches.
func (pg *page) mutex(i int) *lock.Mutex {
	return lock.New64((*uint64)(unsafe.Pointer(&pg.words[i][0])))
}

// counterLine is what increments write under the lock: the counter and
// the records of how the lock changes hands (see record).
type counterLine struct {
	counter   uint64
	streak    uint64 // increments by last in a row, so far
	maxStreak uint64
	handoffs  uint64 // changes of holder
	last      uint64 // index+1 of the child that incremented last
}

// procLine is one child's: its times (CLOCK_MONOTONIC ns) and what
// getrusage says it used between start and end.
type procLine struct {
	start, end    uint64
	lost          uint64 // when another child last took the lock from it
	maxWait       uint64 // longest time from lost to its next acquisition
	cpu, switches uint64 // user+system ns; voluntary+involuntary switches
	_             [16]byte
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		os.Exit(1)
	}
}

// A role is what a child does: prepare (if not nil) before the start
// line, then run.
type role struct {
	prepare func(pg *page, idx int) error
	run     func(pg *page, idx int, o *options) error
}

var roles = map[string]role{
	"child-incr":  {run: childIncr},
	"child-pong":  {prepare: pongStart, run: childPong},
	"child-futex": {run: childFutex},
	"child-spin":  {run: childSpin},

	"child-prodcons": {run: childProdcons},
}

type options struct {
	p, m, n int
	plain   bool
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: benchproc increments|pingpong|pingpong-futex|spinbudget|wakeup|prodcons|mkobjects [flags]")
	}
	switch args[0] {
	case "wakeup":
		return wakeup(out, "/dev/shm", args[1:])
	case "child-wakeup":
		return childWakeup(args[1:])
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	var o options
	fs.IntVar(&o.p, "p", 2, "processes (children: their index)")
	fs.IntVar(&o.m, "m", 1_000_000, "increments per process")
	fs.IntVar(&o.n, "n", 10000, "round trips, wake-ups, or objects")
	fs.BoolVar(&o.plain, "plain", false, "increments: keep no records of the handoffs")
	dir := fs.String("dir", "/dev/shm", "tmpfs directory for the shared page or the objects")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if role, ok := roles[args[0]]; ok {
		return runChild(fs.Arg(0), o.p, &o, role)
	}
	switch args[0] {
	case "increments":
		return increments(out, *dir, &o)
	case "pingpong":
		return pingpong(out, *dir, &o, "child-pong", "go_pingpong")
	case "pingpong-futex":
		return pingpong(out, *dir, &o, "child-futex", "go_futex_pingpong")
	case "spinbudget":
		return spinBudget(out, *dir, &o)
	case "prodcons":
		return prodcons(out, *dir, &o)
	case "mkobjects":
		return mkobjects(*dir, o.n)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

const pageSize = int(unsafe.Sizeof(page{}))

// newPage creates the shared page in dir and maps it. The caller removes
// the file and unmaps the page.
func newPage(dir string) (string, *page, []byte, error) {
	f, err := os.CreateTemp(dir, "benchproc-")
	if err != nil {
		return "", nil, nil, err
	}
	defer f.Close()
	if err := f.Truncate(int64(pageSize)); err != nil {
		os.Remove(f.Name())
		return "", nil, nil, err
	}
	pg, mem, err := mapFile(f)
	if err != nil {
		os.Remove(f.Name())
		return "", nil, nil, err
	}
	return f.Name(), pg, mem, nil
}

func mapFile(f *os.File) (*page, []byte, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return (*page)(unsafe.Pointer(&mem[0])), mem, nil
}

// runChild is a child process: it maps the page, reaches the start line,
// runs role between two readings of the clock and of getrusage, and
// leaves them in its line of the page.
func runChild(path string, idx int, o *options, r role) error {
	if idx < 0 || idx >= maxProcs {
		return fmt.Errorf("bad child index %d", idx)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	pg, _, err := mapFile(f)
	f.Close()
	if err != nil {
		return err
	}
	me := &pg.procs[idx]
	if r.prepare != nil {
		if err := r.prepare(pg, idx); err != nil {
			return err
		}
	}
	atomic.AddUint64(&pg.ready, 1)
	for atomic.LoadUint64(&pg.goFlag) == 0 {
		time.Sleep(20 * time.Microsecond)
	}
	cpu0, sw0 := usage()
	start := monotonic()
	me.start, me.lost = start, start
	err = r.run(pg, idx, o)
	me.end = monotonic()
	cpu1, sw1 := usage()
	me.cpu, me.switches = cpu1-cpu0, sw1-sw0
	return err
}

// usage returns the CPU time (user + system, all threads) and the context
// switches (voluntary + involuntary) of this process so far.
func usage() (cpuNs, switches uint64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return uint64(ru.Utime.Nano() + ru.Stime.Nano()), uint64(ru.Nvcsw + ru.Nivcsw)
}

// runChildren starts p copies of this program as role on the page at
// path, lets them go at once and waits for them. It returns the wall time
// from the first child's start to the last child's end.
func runChildren(pg *page, path, role string, p int, args ...string) (time.Duration, error) {
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
	for atomic.LoadUint64(&pg.ready) < uint64(p) {
		if time.Now().After(deadline) {
			for _, c := range cmds {
				c.Process.Kill()
			}
			return 0, errors.New("children did not start")
		}
		time.Sleep(100 * time.Microsecond)
	}
	atomic.StoreUint64(&pg.goFlag, 1)
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
		pr := &pg.procs[i]
		if i == 0 || pr.start < first {
			first = pr.start
		}
		last = max(last, pr.end)
	}
	return time.Duration(last - first), nil
}

// increments: P processes × M increments of a shared counter under one
// lock word; prints the wall time per increment and, unless -plain, how
// the lock changed hands.
func increments(out io.Writer, dir string, o *options) error {
	if o.p < 1 || o.p > maxProcs || o.m < 1 {
		return errors.New("increments: bad -p or -m")
	}
	path, pg, mem, err := newPage(dir)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer unix.Munmap(mem)
	d, err := runChildren(pg, path, "child-incr", o.p, "-m", strconv.Itoa(o.m), "-plain="+strconv.FormatBool(o.plain))
	if err != nil {
		return err
	}
	c := &pg.counter
	total := uint64(o.p * o.m)
	if c.counter != total {
		return fmt.Errorf("increments: counter %d, want %d", c.counter, total)
	}
	key := fmt.Sprintf("go_incr_%dp", o.p)
	if o.plain {
		key += "_plain"
	}
	fmt.Fprintf(out, "%s %.2f ns/increment\n", key, float64(d.Nanoseconds())/float64(total))
	if o.plain {
		return nil
	}
	var maxWait uint64
	for i := range o.p {
		maxWait = max(maxWait, pg.procs[i].maxWait)
	}
	fmt.Fprintf(out, "%s_handoffs %d handoffs\n", key, c.handoffs)
	fmt.Fprintf(out, "%s_streak_mean %.1f increments\n", key, float64(total)/float64(c.handoffs+1))
	fmt.Fprintf(out, "%s_streak_max %d increments\n", key, max(c.maxStreak, c.streak))
	fmt.Fprintf(out, "%s_wait_max %d ns\n", key, maxWait)
	return nil
}

func childIncr(pg *page, idx int, o *options) error {
	mu := pg.mutex(0)
	me := uint64(idx + 1)
	c := &pg.counter
	for range o.m {
		if err := mu.Lock(); err != nil {
			return err
		}
		c.counter++
		if !o.plain {
			pg.record(me)
		}
		if err := mu.Unlock(); err != nil {
			return err
		}
	}
	return nil
}

// record runs under the lock after each increment by child me (index+1):
// it counts the changes of holder and the streaks of increments by one
// child, and at each change of holder the time the new holder waited since
// the lock was taken from it (or since its start). Between changes it
// touches only the counter's cache line, which the increment has just
// written; the clock is read once per change of holder. The wait is
// measured from the moment the next child took the lock over, so it misses
// the handoff itself (microseconds). bench/c/lock.c does the same.
func (pg *page) record(me uint64) {
	c := &pg.counter
	if c.last == me {
		c.streak++
		return
	}
	now := monotonic()
	if c.last != 0 {
		c.handoffs++
		pg.procs[c.last-1].lost = now
		c.maxStreak = max(c.maxStreak, c.streak)
	}
	pr := &pg.procs[me-1]
	if now > pr.lost {
		pr.maxWait = max(pr.maxWait, now-pr.lost)
	}
	c.last, c.streak = me, 1
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

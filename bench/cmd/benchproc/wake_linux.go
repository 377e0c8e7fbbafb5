//go:build linux && !openbsdsim

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/futex"
	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"golang.org/x/sys/unix"
)

// The sleeping-waiter figures (benchproc wakeup; bench/c/wake.c is the C
// side): how long a waiter asleep in a wait takes to return after another
// process acted, from just before the act (an Unlock, a Signal, a Release)
// to the return of the wait. One protocol for every kind of wait, the
// same as wake.c's, round by round:
//
//	notifier: prepare (mutex: Lock; sem: Acquire its unit), then let the
//	          waiters go (round = r, and a FUTEX_WAKE)
//	waiter:   sleep in futex(2) until round r (the Go side through
//	          internal/futex, as lock sleeps; for the futex kind with a
//	          raw Syscall6, so that nothing in its process yields), arm (cond: Lock, Wait; segnotif: take the
//	          mark), say so (started = r), and wait
//	notifier: once every waiter started, sleep gap in nanosleep(2) (both
//	          sides: Go's time.Sleep would have the scheduler wake a
//	          spinning thread when its timer fires, which warms the other
//	          CPU for the waiter and flatters the Go side), then for each
//	          waiter: stamp CPU and time, act; then sleep in futex(2)
//	          until every waiter acknowledged
//	waiter:   on return, stamp the time (the sample) and its CPU, undo
//	          (Unlock, Release), acknowledge (FUTEX_WAKE of the notifier)
//
// Where each side runs decides the figure more than the code (waking an
// idle vCPU costs tens of µs in a VM, a wake-up on the waker's own CPU a
// few), so both sides are pinned, every thread of a Go process (-cpus
// NOTIFIER,WAITER; the C side the same), and the waiter records on which
// CPU it woke: the share on the notifier's CPU is printed (KEY_samecpu), with the
// waiter process's context switches per wake-up (KEY_switches, getrusage:
// voluntary + involuntary, all threads, over the whole run).

// maxWaiters bounds -w, the waiter goroutines of the waiter process, each
// with its own words (and the notifier acting on each in turn).
const maxWaiters = 8

// wakeLine is one waiter's: its words on their own cache lines, and the
// round's protocol.
type wakeLine struct {
	mu   uint64 // lock.New64 word (mutex, cond)
	_    [56]byte
	note uint32 // notify word (cond) or turn word (futex)
	_    [60]byte
	ack  uint32 // futex: the waiter's last finished round (the notifier sleeps on it)
	_    [60]byte
	go32 uint32 // futex: round, for the waiter to sleep on until the round starts
	_    [60]byte
	cond uint64 // cond: the condition, changed under mu
	_    [56]byte
	sem  [128]byte // lock.Semaphore of 1 unit (sem)
	// round: the notifier's; started: the waiter's armed round; tAct: the
	// time just before the act; cpu: the notifier's CPU then.
	round, started, tAct, cpu uint64
	_                         [32]byte
}

// wakePage is the shared page of a wakeup run, in its own file.
type wakePage struct {
	lines [maxWaiters]wakeLine
	// The waiter process's results: samples, same-CPU wake-ups, switches.
	median, same, switches, n uint64
	_                         [32]byte
	quant                     [len(quantiles)]uint64
}

const wakePageSize = int(unsafe.Sizeof(wakePage{}))

// wakeKinds: what the waiter waits in, and what wakes it.
var wakeKinds = map[string]string{
	"mutex":    "lock.Mutex: Unlock → Lock returns",
	"futex":    "raw FUTEX_WAKE → FUTEX_WAIT returns (Syscall6, as lock sleeps, and no yield anywhere in the waiter process)",
	"cond":     "lock.Cond: Signal → Wait returns (its Mutex locked again)",
	"segwait":  "segment: Notify → Segment.Wait returns (its lock held again)",
	"segnotif": "segment: Notify → WaitNotification returns",
	"sem":      "lock.Semaphore: Release → Acquire returns",
}

type wakeOpts struct {
	kind, key       string
	n, waiters      int
	gap             time.Duration
	wakerCPU, cpuWt int // -1: not pinned
}

// wakeup: the parent. It makes the page (and, for the segment kinds, one
// segment per waiter), runs the notifier and the waiter process, and
// prints the waiter's figures.
func wakeup(out io.Writer, dir string, args []string) error {
	var w wakeOpts
	fs := newFlags("wakeup")
	fs.StringVar(&w.kind, "kind", "cond", "what the waiter waits in: "+strings.Join(sortedKeys(wakeKinds), ", "))
	fs.IntVar(&w.n, "n", 300, "wake-ups per waiter")
	fs.IntVar(&w.waiters, "w", 1, "waiter goroutines in the waiter process")
	fs.DurationVar(&w.gap, "gap", wakeGap, "the notifier's sleep before it acts")
	cpus := fs.String("cpus", "", "NOTIFIER,WAITER: pin each process to that CPU (-1: not pinned)")
	fs.StringVar(&w.key, "key", "", "the figures' name (default go_KIND_wake)")
	fs.StringVar(&dir, "dir", dir, "tmpfs directory for the shared page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, ok := wakeKinds[w.kind]; !ok || w.n < 1 || w.waiters < 1 || w.waiters > maxWaiters {
		return fmt.Errorf("wakeup: bad -kind, -n or -w (kinds: %s; 1 ≤ w ≤ %d)", strings.Join(sortedKeys(wakeKinds), ", "), maxWaiters)
	}
	if w.key == "" {
		w.key = "go_" + w.kind + "_wake"
	}
	w.wakerCPU, w.cpuWt = -1, -1
	if *cpus != "" {
		a, b, ok := strings.Cut(*cpus, ",")
		var e1, e2 error
		w.wakerCPU, e1 = strconv.Atoi(a)
		w.cpuWt, e2 = strconv.Atoi(b)
		if !ok || e1 != nil || e2 != nil || w.wakerCPU < -1 || w.cpuWt < -1 {
			return fmt.Errorf("wakeup: -cpus %q: want NOTIFIER,WAITER (-1: not pinned)", *cpus)
		}
	}
	f, err := os.CreateTemp(dir, "benchproc-wake-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = f.Truncate(int64(wakePageSize))
	f.Close()
	if err != nil {
		return err
	}
	if strings.HasPrefix(w.kind, "seg") {
		for i := range w.waiters {
			s, err := segment.Create(segName(f.Name(), i), 64, &segment.Options{Layout: posixshm.Dir(dir)})
			if err != nil {
				return err
			}
			defer s.Unlink()
			s.Close()
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmds := make([]*child, 2)
	for i := range cmds {
		cpu := w.wakerCPU
		if i == 1 {
			cpu = w.cpuWt
		}
		cmds[i] = startChild(self, "child-wakeup", "-kind", w.kind, "-n", strconv.Itoa(w.n), "-w", strconv.Itoa(w.waiters),
			"-gap", w.gap.String(), "-p", strconv.Itoa(i), "-cpu", strconv.Itoa(cpu), "-dir", dir, f.Name())
	}
	var errs []error
	for _, c := range cmds {
		errs = append(errs, c.wait())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pg, mem, err := mapWakePage(f.Name())
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	printQuantiles(out, w.key, "ns/wake", pg.quant[:])
	fmt.Fprintf(out, "%s %d ns/wake\n", w.key, pg.median)
	fmt.Fprintf(out, "%s_switches %.3f switches/wake\n", w.key, float64(pg.switches)/float64(pg.n))
	fmt.Fprintf(out, "%s_samecpu %.3f share\n", w.key, float64(pg.same)/float64(pg.n))
	return nil
}

func segName(page string, i int) string {
	return fmt.Sprintf("/%s-%d", page[strings.LastIndexByte(page, '/')+1:], i)
}

func mapWakePage(path string) (*wakePage, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, wakePageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return (*wakePage)(unsafe.Pointer(&mem[0])), mem, nil
}

// childWakeup is one of the two processes: -p 0 the notifier, 1 the waiter.
func childWakeup(args []string) error {
	var w wakeOpts
	var idx, cpu int
	var dir string
	fs := newFlags("child-wakeup")
	fs.StringVar(&w.kind, "kind", "", "")
	fs.IntVar(&w.n, "n", 0, "")
	fs.IntVar(&w.waiters, "w", 1, "")
	fs.DurationVar(&w.gap, "gap", 0, "")
	fs.IntVar(&idx, "p", 0, "")
	fs.IntVar(&cpu, "cpu", -1, "")
	fs.StringVar(&dir, "dir", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cpu >= 0 {
		if err := pinProcess(cpu); err != nil {
			return err
		}
	}
	pg, mem, err := mapWakePage(fs.Arg(0))
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	ws := make([]*wakeWaiter, w.waiters)
	for i := range ws {
		if ws[i], err = newWakeWaiter(pg, i, w.kind, dir, segName(fs.Arg(0), i), idx == 0); err != nil {
			return err
		}
		defer ws[i].close()
	}
	if idx == 0 {
		return notifyRounds(pg, ws, w)
	}
	lat := make([][]uint64, len(ws))
	same := make([]uint64, len(ws))
	sw := make([][][2]uint64, len(ws)) // per waiter, per round: switches at arm, at wake
	var wg sync.WaitGroup
	errs := make([]error, len(ws))
	for i, x := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i], same[i], sw[i], errs[i] = x.waitRounds(uint64(w.n))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	all := slices.Concat(lat...)
	storeQuantiles(pg.quant[:], all)
	pg.median = all[len(all)/2]
	for _, s := range same {
		pg.same += s
	}
	// The process's switches while some waiter of the round was armed:
	// from the earliest arm to the latest wake (the counters only grow).
	for r := range w.n {
		first, last := sw[0][r][0], sw[0][r][1]
		for i := range ws {
			first, last = min(first, sw[i][r][0]), max(last, sw[i][r][1])
		}
		pg.switches += last - first
	}
	pg.n = uint64(len(all))
	return nil
}

// switches is the process's context switches so far (getrusage: voluntary
// and involuntary, every thread), by a raw system call that leaves the
// scheduler alone.
func switches() uint64 {
	var ru unix.Rusage
	unix.RawSyscall(unix.SYS_GETRUSAGE, unix.RUSAGE_SELF, uintptr(unsafe.Pointer(&ru)), 0)
	return uint64(ru.Nvcsw + ru.Nivcsw)
}

// notifyRounds is the notifier.
func notifyRounds(pg *wakePage, ws []*wakeWaiter, w wakeOpts) error {
	for r := uint64(1); r <= uint64(w.n); r++ {
		for _, x := range ws {
			if err := x.prepare(); err != nil {
				return err
			}
			atomic.StoreUint64(&x.l.round, r)
			atomic.StoreUint32(&x.l.go32, uint32(r))
			futexWakeRaw(&x.l.go32)
		}
		for _, x := range ws {
			for atomic.LoadUint64(&x.l.started) < r {
				osSleep(20 * time.Microsecond)
			}
		}
		osSleep(w.gap)
		for _, x := range ws {
			atomic.StoreUint64(&x.l.cpu, uint64(getcpu()))
			atomic.StoreUint64(&x.l.tAct, monotonic())
			if err := x.act(r); err != nil {
				return err
			}
		}
		for _, x := range ws {
			for {
				a := atomic.LoadUint32(&x.l.ack)
				if uint64(a) >= r {
					break
				}
				futexWaitRaw(&x.l.ack, a)
			}
		}
	}
	return nil
}

// A wakeWaiter is one waiter's handles, in either process.
type wakeWaiter struct {
	kind string
	l    *wakeLine
	mu   *lock.Mutex
	c    *lock.Cond
	sem  *lock.Semaphore
	seg  *segment.Segment
	mark uint32 // segnotif: the count the waiter waits to move from
}

func newWakeWaiter(pg *wakePage, i int, kind, dir, seg string, notifier bool) (*wakeWaiter, error) {
	l := &pg.lines[i]
	x := &wakeWaiter{kind: kind, l: l}
	var err error
	switch kind {
	case "mutex", "cond":
		x.mu, x.c = lock.New64(&l.mu), lock.NewCond(&l.note)
	case "sem":
		x.sem, err = lock.NewSemaphore(l.sem[:lock.SemaphoreSize(1)], 1)
	case "segwait", "segnotif":
		x.seg, err = segment.Open(seg, &segment.Options{Layout: posixshm.Dir(dir)})
	}
	return x, err
}

func (x *wakeWaiter) close() {
	if x.sem != nil {
		x.sem.Close()
	}
	if x.seg != nil {
		x.seg.Close()
	}
}

// prepare is the notifier's, before the waiter may go: hold what the
// waiter will wait for.
func (x *wakeWaiter) prepare() error {
	switch x.kind {
	case "mutex":
		return x.mu.Lock()
	case "sem":
		return x.sem.Acquire()
	}
	return nil
}

// act is the notifier's: what wakes the waiter of round r.
func (x *wakeWaiter) act(r uint64) error {
	switch x.kind {
	case "mutex":
		return x.mu.Unlock()
	case "sem":
		return x.sem.Release()
	case "futex":
		atomic.StoreUint32(&x.l.note, uint32(r))
		futexWakeRaw(&x.l.note)
	case "cond":
		if err := x.mu.Lock(); err != nil {
			return err
		}
		atomic.StoreUint64(&x.l.cond, r)
		if err := x.mu.Unlock(); err != nil {
			return err
		}
		x.c.Signal()
	case "segwait":
		if err := x.seg.Lock(); err != nil {
			return err
		}
		atomic.StoreUint64(segCond(x.seg), r)
		if err := x.seg.Unlock(); err != nil {
			return err
		}
		x.seg.Notify()
	case "segnotif":
		x.seg.Notify()
	}
	return nil
}

// segCond is the condition of the segwait kind: the data region's first
// 8 bytes, changed under the segment's lock.
func segCond(s *segment.Segment) *uint64 { return (*uint64)(unsafe.Pointer(&s.Bytes()[0])) }

// waitRounds is one waiter goroutine: n rounds, the latency of each, and
// how many woke on the notifier's CPU, and the process's switches when
// it armed and when it woke.
func (x *wakeWaiter) waitRounds(n uint64) (lat []uint64, same uint64, sw [][2]uint64, err error) {
	l := x.l
	lat = make([]uint64, 0, n)
	sw = make([][2]uint64, n)
	ctx := context.Background()
	for r := uint64(1); r <= n; r++ {
		for {
			v := atomic.LoadUint32(&l.go32)
			if uint64(v) >= r {
				break
			}
			if x.kind == "futex" {
				// Nothing in this process keeps its P: the floor
				// of a Go waiter without internal/futex's yield.
				futexWaitRaw(&l.go32, v)
			} else {
				futex.Sleep(&l.go32, v, time.Now(), time.Time{}, futex.Any)
			}
		}
		sw[r-1][0] = switches()
		switch x.kind {
		case "mutex", "sem", "futex":
			atomic.StoreUint64(&l.started, r)
		}
		switch x.kind {
		case "mutex":
			err = x.mu.Lock()
		case "sem":
			err = x.sem.Acquire()
		case "futex":
			for {
				v := atomic.LoadUint32(&l.note)
				if uint64(v) >= r {
					break
				}
				futexWaitRaw(&l.note, v)
			}
		case "cond":
			if err = x.mu.Lock(); err != nil {
				break
			}
			atomic.StoreUint64(&l.started, r)
			for err == nil && atomic.LoadUint64(&l.cond) < r {
				err = x.c.Wait(x.mu)
			}
		case "segwait":
			if err = x.seg.Lock(); err != nil {
				break
			}
			atomic.StoreUint64(&l.started, r)
			for err == nil && atomic.LoadUint64(segCond(x.seg)) < r {
				err = x.seg.Wait()
			}
		case "segnotif":
			mark := x.seg.Notifications()
			atomic.StoreUint64(&l.started, r)
			_, err = x.seg.WaitNotification(ctx, mark)
		}
		t := monotonic()
		if err != nil {
			return nil, 0, nil, err
		}
		lat = append(lat, t-atomic.LoadUint64(&l.tAct))
		if uint64(getcpu()) == atomic.LoadUint64(&l.cpu) {
			same++
		}
		sw[r-1][1] = switches()
		switch x.kind {
		case "mutex", "cond":
			err = x.mu.Unlock()
		case "sem":
			err = x.sem.Release()
		case "segwait":
			err = x.seg.Unlock()
		}
		if err != nil {
			return nil, 0, nil, err
		}
		atomic.StoreUint32(&l.ack, uint32(r))
		futexWakeRaw(&l.ack)
	}
	return lat, same, sw, nil
}

// futexWaitRaw sleeps while *addr == v (FUTEX_WAIT, shared; through
// Syscall6, as a blocking call must): harness glue, not lock's.
func futexWaitRaw(addr *uint32, v uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 0 /* FUTEX_WAIT */, uintptr(v), 0, 0, 0)
}

// futexWakeRaw wakes one sleeper on addr (FUTEX_WAKE, shared).
func futexWakeRaw(addr *uint32) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

// getcpu is sched_getcpu(3): the CPU this thread runs on.
func getcpu() int {
	var cpu uint32
	unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	return int(cpu)
}

// pinProcess confines every thread of this process to cpu; threads
// started later inherit the mask of the thread that starts them. Set at
// run time, not by the parent, so that GOMAXPROCS stays the number of
// CPUs, as in a program that is not pinned.
func pinProcess(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pin to CPU %d: %w", cpu, err)
		}
	}
	return nil
}

func newFlags(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) }

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// A child process started by wakeup.
type child struct {
	cmd *exec.Cmd
	err error
}

func startChild(name string, args ...string) *child {
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return &child{cmd: c, err: c.Start()}
}

func (e *child) wait() error {
	if e.err != nil {
		return e.err
	}
	if err := e.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(e.cmd.Args[1:3], " "), err)
	}
	return nil
}

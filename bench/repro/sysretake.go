//go:build ignore

// sysretake.go: a self-contained reproducer (Linux, Go 1.26; one Go file and
// sysretake.c beside it, standard library only) for a Go runtime behaviour
// that makes a goroutine which sleeps in a blocking system call at regular
// intervals wake up several times slower than a C thread doing the same.
//
//	go run sysretake.go                # builds sysretake.c with cc, prints a table
//	go run sysretake.go -rounds 1000 -gaps 100us,1ms,20ms
//
// The experiment: a waiter sleeps in futex(2) (FUTEX_WAIT on a word in a
// shared page); another process (sysretake.c's waker, the same for every
// waiter) sleeps GAP in nanosleep(2), stamps CLOCK_MONOTONIC, changes the
// word and calls FUTEX_WAKE; the figure is the time from the stamp to the
// waiter's return from futex(2). Both processes are otherwise idle: an idle
// server woken by a request every GAP. The waiters:
//
//   - c:       a C thread (sysretake.c waiter), the baseline;
//   - go:      a goroutine, FUTEX_WAIT through syscall.Syscall6 (which
//     calls entersyscall/exitsyscall, as any blocking system call must);
//   - go+yield: the same, calling runtime.Gosched() before a futex sleep
//     if 5 ms have passed since its last call, and not after a sleep that
//     lasted more than 10 ms.
//
// What happens (runtime/proc.go, Go 1.26):
//
//  1. The waiter's goroutine never goes through schedule(): every futex(2)
//     returns through exitsyscall's fast path on the same P, so that P's
//     schedtick does not move.
//  2. sysmon's retake() sees the same schedtick for forcePreemptNS (10 ms)
//     and sets sysretake, meant for a goroutine that runs too long. For a P
//     in a system call that skips the rule that leaves the P alone when the
//     run queue is empty and other Ps are idle ("On the one hand we don't
//     want to retake Ps if there is no other work to do"), so sysmon takes
//     the P during the next futex sleep, however short, and handoffp()
//     starts an M that finds nothing to do and sleeps again. With no P
//     running, sysmon then goes into its deep sleep (sysmonwait).
//  3. On the wake-up, exitsyscall has lost its P. exitsyscallTryGetP takes
//     an idle one and, since sysmon is in deep sleep, calls
//     notewakeup(&sched.sysmonnote): a FUTEX_WAKE of the sysmon thread, in
//     the critical path of every wake-up. The P it got was idle, so its
//     schedtick has not moved either, and the cycle repeats at every sleep.
//
// A runtime.Gosched() goes through schedule(), moves schedtick, and so keeps
// the P: one call every 5 ms suffices, since sysretake needs 10 ms without
// one. A sleep longer than 10 ms loses the P in any case (that is the rule
// working as intended: the P is idle), so after one the yield only costs.
//
// What it printed on a 2-vCPU VM (AMD EPYC, Linux 6.18, Go 1.26.8; a load
// average of 10 from other work, so single runs vary; 500 wake-ups, 100 µs
// gaps), p50 and context switches per round of the waiter process:
//
//	same CPU   c 6.4–7.4 µs, 1.3   go 8.1–9.4 µs, 3.7–4.4   go+yield 6.6–8.0 µs, 1.5–1.7
//	other CPU  c 37–48 µs,   1.0   go 38–44 µs,   3.2–4.3   go+yield 29–31 µs,   1.7–1.8
//
// and at 1 ms gaps on one CPU: c 7.0 µs, 1.5; go 17.0 µs, 6.0; go+yield
// 7.9 µs, 2.4. At 20 ms every Go waiter loses its P during each sleep, with
// or without the yield (go 33 µs, go+yield 26 µs, c 15 µs on one CPU). A
// perf sched trace (perf sched record; perf sched timehist) shows the
// waiter's extra switches as sysmon's thread and an M started by handoffp.
//
// bench/NOTES.md of github.com/posixshm/posixshm has the analysis; that
// module's internal/futex is the workaround in production (per-P stamps,
// and a yield spacing that adapts to the sleeps).
//
// The remedy inside the runtime would be for retake not to treat a P in a
// system call whose goroutine has not been scheduled for 10 ms as a
// preemption candidate (there is nothing to preempt: the goroutine is in
// the kernel), or for exitsyscall to count as a scheduling point for
// retake's purpose (moving pd.schedwhen) when it keeps its P.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// shared is sysretake.c's struct shared.
type shared struct {
	word    uint32
	_       [60]byte
	started uint64
	_       [56]byte
	twake   uint64
	_       [56]byte
	ack     uint32
	_       [60]byte
	cpu     uint32
	_       [60]byte
}

func main() {
	child := flag.String("child", "", "internal: run as the Go waiter (go or go+yield) on FILE")
	cpu := flag.Int("cpu", -1, "internal: the Go waiter's CPU")
	cbin := flag.String("c", "", "sysretake.c built (default: build it with cc into a temporary directory)")
	rounds := flag.Int("rounds", 300, "wake-ups per measurement")
	gaps := flag.String("gaps", "100us,1ms,20ms", "time between wake-ups")
	flag.Parse()
	if *child != "" {
		if err := goWaiter(flag.Arg(0), *cpu, *rounds, *child == "go+yield"); err != nil {
			fmt.Fprintln(os.Stderr, "sysretake:", err)
			os.Exit(1)
		}
		return
	}
	if err := table(*cbin, *rounds, *gaps); err != nil {
		fmt.Fprintln(os.Stderr, "sysretake:", err)
		os.Exit(1)
	}
}

func table(cbin string, rounds int, gaps string) error {
	dir, err := os.MkdirTemp("", "sysretake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cbin == "" {
		_, self, _, _ := runtime.Caller(0)
		cbin = filepath.Join(dir, "sysretake")
		out, err := exec.Command("cc", "-O2", "-o", cbin, filepath.Join(filepath.Dir(self), "sysretake.c")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("cc sysretake.c: %v\n%s", err, out)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("%s, GOMAXPROCS %d, %d CPUs, %d wake-ups each\n\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), rounds)
	fmt.Printf("%-6s %-8s %-9s %10s %10s %15s %15s\n", "CPUs", "gap", "waiter", "p50", "p90", "switches/round", "on waker's CPU")
	for _, pl := range placements {
		if pl.waker >= runtime.NumCPU() || pl.waiter >= runtime.NumCPU() {
			continue
		}
		for _, g := range strings.Split(gaps, ",") {
			gap, err := time.ParseDuration(g)
			if err != nil {
				return err
			}
			for _, w := range []string{"c", "go", "go+yield"} {
				cmd := exec.Command(self, "-child", w, "-cpu", strconv.Itoa(pl.waiter), "-rounds", strconv.Itoa(rounds))
				if w == "c" {
					cmd = exec.Command(cbin, "waiter", "FILE", strconv.Itoa(pl.waiter), strconv.Itoa(rounds))
				}
				f, err := run(dir, cbin, pl.waker, gap, rounds, cmd)
				if err != nil {
					return fmt.Errorf("%s waiter, gap %v: %v", w, gap, err)
				}
				fmt.Printf("%-6s %-8v %-9s %10v %10v %15.2f %14.0f%%\n", pl.name, gap, w,
					time.Duration(f.p50), time.Duration(f.p90), f.switches, 100*float64(f.same)/float64(rounds))
			}
		}
	}
	return nil
}

// placements pin the waker and the waiter (every thread of a Go waiter):
// where a wake-up has to wake an idle CPU, it costs far more than on the
// waker's own CPU (tens of µs in a VM), and an unpinned comparison
// measures where the scheduler put each side rather than the code.
var placements = []struct {
	name          string
	waker, waiter int
}{
	{"same", 0, 0},  // both on CPU 0
	{"cross", 0, 1}, // waker on CPU 0, waiter on CPU 1
}

type figures struct {
	p50, p90 uint64
	switches float64
	same     int
}

// run makes a fresh shared page, starts the waiter (cmd, whose "FILE"
// argument or last argument becomes the page's path) and the C waker, and
// reads the waiter's figures from its stdout.
func run(dir, cbin string, wakerCPU int, gap time.Duration, rounds int, cmd *exec.Cmd) (figures, error) {
	var f figures
	file, err := os.CreateTemp(dir, "page-")
	if err != nil {
		return f, err
	}
	defer os.Remove(file.Name())
	err = file.Truncate(int64(unsafe.Sizeof(shared{})))
	file.Close()
	if err != nil {
		return f, err
	}
	if i := slices.Index(cmd.Args, "FILE"); i >= 0 {
		cmd.Args[i] = file.Name()
	} else {
		cmd.Args = append(cmd.Args, file.Name())
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return f, err
	}
	wk := exec.Command(cbin, "waker", file.Name(), strconv.Itoa(wakerCPU), strconv.FormatInt(gap.Nanoseconds(), 10), strconv.Itoa(rounds))
	wk.Stderr = os.Stderr
	if err := wk.Run(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return f, fmt.Errorf("waker: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		return f, err
	}
	_, err = fmt.Sscan(out.String(), &f.p50, &f.p90, &f.switches, &f.same)
	return f, err
}

// goWaiter is sysretake.c's waiter in Go.
func goWaiter(path string, cpu, rounds int, yield bool) error {
	if cpu >= 0 {
		if err := pin(cpu); err != nil {
			return err
		}
	}
	fd, err := syscall.Open(path, syscall.O_RDWR, 0)
	if err != nil {
		return err
	}
	mem, err := syscall.Mmap(fd, 0, int(unsafe.Sizeof(shared{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	syscall.Close(fd)
	if err != nil {
		return err
	}
	s := (*shared)(unsafe.Pointer(&mem[0]))
	clock := newClock()
	lat := make([]uint64, rounds)
	same := 0
	var lastYield, sleptAt uint64
	var slept uint64 // length of the last futex sleep
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	for r := 1; r <= rounds; r++ {
		atomic.StoreUint64(&s.started, uint64(r))
		for {
			v := atomic.LoadUint32(&s.word)
			if v == uint32(r) {
				break
			}
			if yield {
				now := clock.now()
				if slept <= uint64(10*time.Millisecond) && now-lastYield >= uint64(5*time.Millisecond) {
					lastYield = now
					runtime.Gosched()
				}
			}
			sleptAt = clock.now()
			_, _, e := syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&s.word)), 0 /* FUTEX_WAIT */, uintptr(v), 0, 0, 0)
			if e != 0 && e != syscall.EAGAIN && e != syscall.EINTR {
				return e
			}
			slept = clock.now() - sleptAt
		}
		lat[r-1] = clock.now() - atomic.LoadUint64(&s.twake)
		var cpu uint32
		syscall.RawSyscall(sysGetcpu, uintptr(unsafe.Pointer(&cpu)), 0, 0)
		if cpu == atomic.LoadUint32(&s.cpu) {
			same++
		}
		atomic.StoreUint32(&s.ack, uint32(r))
		syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&s.ack)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	slices.Sort(lat)
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d %d %.2f %d\n", lat[rounds/2], lat[rounds*9/10],
		float64(r1.Nvcsw+r1.Nivcsw-r0.Nvcsw-r0.Nivcsw)/float64(rounds), same)
	return w.Flush()
}

// pin confines every thread of the process to cpu; threads started later
// inherit it from the thread that starts them. (Set at run time, not by
// the parent, so that GOMAXPROCS stays the number of CPUs, as in a
// program that is not pinned.)
func pin(cpu int) error {
	var set [16]uint64
	set[cpu/64] |= 1 << (cpu % 64)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set)))
		if e != 0 {
			return fmt.Errorf("sched_setaffinity: %v", e)
		}
	}
	return nil
}

// sysGetcpu is getcpu(2)'s number, which package syscall lacks on amd64.
var sysGetcpu = map[string]uintptr{"amd64": 309, "arm64": 168, "386": 318, "arm": 345, "riscv64": 168}[runtime.GOARCH]

// A clock reads CLOCK_MONOTONIC, as C's clock_gettime does, through
// time.Since (the runtime's nanotime, the vDSO) rather than a system call.
type clock struct {
	base time.Time
	mono uint64 // CLOCK_MONOTONIC at base
}

// newClock pairs time.Now with a clock_gettime(2) system call; the pair
// read closest together of 20 sets the offset.
func newClock() clock {
	var c clock
	best := time.Hour
	for range 20 {
		var ts syscall.Timespec
		t0 := time.Now()
		syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1 /* CLOCK_MONOTONIC */, uintptr(unsafe.Pointer(&ts)), 0)
		d := time.Since(t0)
		if d < best {
			best = d
			c.base = t0.Add(d / 2)
			c.mono = uint64(ts.Nano())
		}
	}
	return c
}

func (c clock) now() uint64 { return c.mono + uint64(time.Since(c.base)) }

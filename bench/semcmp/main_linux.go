//go:build linux && !openbsdsim

// Command semcmp measures package sem against glibc's own semaphores in C,
// in the same run, and prints paired ratios (Go / C, each pair measured
// back to back):
//
//	go run ./bench/semcmp [-rounds 15] [-n 500000] [-wakes 2000] [-gaps 100us,1ms]
//
// Uncontended: sem.Semaphore's Post+TryWait against sem_post+sem_trywait,
// n pairs in a plain loop on each side, in one process, both on CPU 1.
//
// Wake-up: a waiter asleep in Wait (sem_wait) until a poster in another
// process posts, from just before the post to the waiter's return, with the
// poster sleeping gap (nanosleep on both sides) before each post so that
// the waiter is asleep; waiter and poster pinned to the same two CPUs on
// both sides.
//
// It builds bench/c/semcmp.c with gcc, and uses a semaphore and a page in
// /dev/shm, which it removes again. Figures from a shared machine vary from
// run to run: compare the ratios of one run, not figures across runs.
package main

import (
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
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/sem"
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

func main() {
	if role := os.Getenv("SEMCMP_ROLE"); role != "" {
		if err := child(role, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "semcmp child:", err)
			os.Exit(1)
		}
		return
	}
	rounds := flag.Int("rounds", 15, "pairs of measurements")
	n := flag.Int("n", 500000, "uncontended post+trywait pairs per measurement")
	wakes := flag.Int("wakes", 2000, "wake-ups per measurement")
	gaps := flag.String("gaps", "100us,1ms", "the poster's sleeps before each post, comma-separated")
	flag.BoolVar(&pinWake, "pin", true, "pin the wake-up's waiter to CPU 0 and poster to CPU 1 (else the scheduler places them)")
	flag.Parse()
	if err := run(*rounds, *n, *wakes, *gaps); err != nil {
		fmt.Fprintln(os.Stderr, "semcmp:", err)
		os.Exit(1)
	}
}

type env struct {
	cbin, self, name, page string
	s                      *sem.Semaphore
}

func run(rounds, n, wakes int, gapList string) error {
	tmp, err := os.MkdirTemp("", "semcmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src, _ := filepath.Abs(filepath.Join(sourceDir(), "..", "c", "semcmp.c"))
	e := env{cbin: filepath.Join(tmp, "semcmp-c"), name: "/semcmp-" + strconv.Itoa(os.Getpid())}
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-o", e.cbin, src).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, out)
	}
	if e.self, err = os.Executable(); err != nil {
		return err
	}
	l := sem.GlibcLayout("/dev/shm", 0)
	if e.s, err = l.Open(e.name, os.O_CREATE|os.O_EXCL, 0o600, 0); err != nil {
		return err
	}
	defer l.Unlink(e.name)
	defer e.s.Close()
	pf, err := os.CreateTemp("/dev/shm", "semcmp-page-")
	if err != nil {
		return err
	}
	e.page = pf.Name()
	defer os.Remove(e.page)
	pf.Truncate(4096)
	pf.Close()

	fmt.Printf("semcmp: %s, %d CPUs, %s\n", runtime.Version(), runtime.NumCPU(), cpuModel())
	var ratios, gos, cs []float64
	fmt.Printf("\nuncontended Post+TryWait vs sem_post+sem_trywait, %d pairs per measurement, ns per pair:\n", n)
	for r := range rounds {
		var g, c float64
		if r%2 == 0 {
			g = goUncontended(e.s, n)
			c, err = e.cUncontended(n)
		} else {
			c, err = e.cUncontended(n)
			g = goUncontended(e.s, n)
		}
		if err != nil {
			return err
		}
		ratios, gos, cs = append(ratios, g/c), append(gos, g), append(cs, c)
		fmt.Printf("  round %d: Go %.2f  C %.2f  ratio %.3f\n", r+1, g, c, g/c)
	}
	fmt.Printf("  ratio Go/C: median of the rounds' %.3f (min %.3f, max %.3f); of the best of each side %.3f (Go %.2f, C %.2f)\n",
		median(ratios), slices.Min(ratios), slices.Max(ratios), slices.Min(gos)/slices.Min(cs), slices.Min(gos), slices.Min(cs))

	for _, gs := range strings.Split(gapList, ",") {
		gap, err := time.ParseDuration(gs)
		if err != nil {
			return err
		}
		where := "waiter on CPU 0, poster on CPU 1"
		if !pinWake {
			where = "not pinned"
		}
		fmt.Printf("\nwake-up, poster sleeps %v before each post, %d wake-ups, %s; median (p90) ns:\n", gap, wakes, where)
		var ratios []float64
		for r := range rounds {
			var g, c [2]uint64
			if r%2 == 0 {
				g, err = e.wake(false, wakes, gap)
				if err == nil {
					c, err = e.wake(true, wakes, gap)
				}
			} else {
				c, err = e.wake(true, wakes, gap)
				if err == nil {
					g, err = e.wake(false, wakes, gap)
				}
			}
			if err != nil {
				return err
			}
			ratio := float64(g[0]) / float64(c[0])
			ratios = append(ratios, ratio)
			fmt.Printf("  round %d: Go %d (%d)  C %d (%d)  ratio %.2f\n", r+1, g[0], g[1], c[0], c[1], ratio)
		}
		fmt.Printf("  ratio Go/C of the medians: median %.2f (min %.2f, max %.2f)\n", median(ratios), slices.Min(ratios), slices.Max(ratios))
	}
	return nil
}

// sourceDir is the directory of this file (bench/c/semcmp.c is beside it).
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Dir(file)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

// goUncontended times n Post+TryWait pairs in a plain loop (the C side's
// shape), in ns per pair, on CPU 1 (as the C side).
func goUncontended(s *sem.Semaphore, n int) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	unix.SchedGetaffinity(0, &old)
	set.Set(1 % runtime.NumCPU())
	unix.SchedSetaffinity(0, &set)
	defer unix.SchedSetaffinity(0, &old)
	t0 := nanotime()
	for i := 0; i < n; i++ {
		s.Post()
		s.TryWait()
	}
	return float64(nanotime()-t0) / float64(n)
}

func (e *env) cUncontended(n int) (float64, error) {
	cmd := exec.Command(e.cbin, "uncontended", e.name, strconv.Itoa(n))
	var out strings.Builder
	cmd.Stdout = &out
	if err := startPinned(cmd, 1); err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
}

// wake runs one waiter and one poster (C's or Go's) for n rounds and
// returns the waiter's median and 90th percentile, in ns.
func (e *env) wake(c bool, n int, gap time.Duration) ([2]uint64, error) {
	if err := os.WriteFile(e.page, make([]byte, 4096), 0o600); err != nil {
		return [2]uint64{}, err
	}
	cmd := func(role string, cpu int, args ...string) *exec.Cmd {
		if c {
			return exec.Command(e.cbin, append([]string{role, e.name, e.page, strconv.Itoa(n)}, args...)...)
		}
		x := exec.Command(e.self, append([]string{e.name, e.page, strconv.Itoa(n)}, args...)...)
		x.Env = append(os.Environ(), "SEMCMP_ROLE="+role)
		return x
	}
	waiter := cmd("waiter", 0, "-1")
	var out strings.Builder
	waiter.Stdout = &out
	waiter.Stderr = os.Stderr
	poster := cmd("poster", 1, strconv.FormatInt(gap.Nanoseconds(), 10), "-1")
	poster.Stderr = os.Stderr
	wcpu, pcpu := 0, 1
	if !pinWake {
		wcpu, pcpu = -1, -1
	}
	if err := startPinned(waiter, wcpu); err != nil {
		return [2]uint64{}, err
	}
	if err := startPinned(poster, pcpu); err != nil {
		waiter.Process.Kill()
		return [2]uint64{}, err
	}
	perr := poster.Wait()
	werr := waiter.Wait()
	if perr != nil || werr != nil {
		return [2]uint64{}, fmt.Errorf("wake-up round: poster %v, waiter %v", perr, werr)
	}
	var r [2]uint64
	_, err := fmt.Sscan(out.String(), &r[0], &r[1])
	return r, err
}

// pinWake is -pin.
var pinWake = true

// startPinned starts cmd on CPU cpu: the child inherits the CPU mask of
// the thread that forks it, which is this locked one for the moment. cpu
// -1 starts it where the scheduler likes.
func startPinned(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	set.Set(cpu % runtime.NumCPU())
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return err
	}
	defer unix.SchedSetaffinity(0, &old)
	return cmd.Start()
}

// child runs a waiter or poster role: args are NAME PAGE N [GAP] CPU.
func child(role string, args []string) error {
	s, err := sem.GlibcLayout("/dev/shm", 0).Open(args[0], 0, 0, 0)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(args[1], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	word := func(i int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[i*64])) }
	started, ack, stamp := word(0), word(1), word(2)
	n, _ := strconv.Atoi(args[2])
	switch role {
	case "waiter":
		lat := make([]uint64, 0, n)
		for r := uint64(1); r <= uint64(n); r++ {
			atomic.StoreUint64(started, r)
			if err := s.Wait(); err != nil {
				return err
			}
			lat = append(lat, uint64(nanotime())-atomic.LoadUint64(stamp))
			atomic.StoreUint64(ack, r)
		}
		slices.Sort(lat)
		fmt.Println(lat[n/2], lat[n*9/10])
	case "poster":
		gap, _ := strconv.ParseInt(args[3], 10, 64)
		for r := uint64(1); r <= uint64(n); r++ {
			for atomic.LoadUint64(started) < r {
			}
			ts := unix.NsecToTimespec(gap)
			for unix.Nanosleep(&ts, &ts) == unix.EINTR {
			}
			atomic.StoreUint64(stamp, uint64(nanotime()))
			if err := s.Post(); err != nil {
				return err
			}
			for atomic.LoadUint64(ack) < r {
			}
		}
	}
	return nil
}

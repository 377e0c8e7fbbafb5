package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
	"golang.org/x/sys/unix"
)

func init() {
	register(&command{
		name:    "demo",
		args:    "[--dir DIR] [--procs N] [--iters M]",
		summary: "count in shared memory from several processes under the segment lock",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			intFlag(fs, "procs", 2, "run `N` worker processes")
			intFlag(fs, "iters", 1000000, "`M` increments per worker")
		},
		help: `Create a segment called /posixshm-demo-<pid>, start N worker processes (this
program again) that each add 1 to a counter in the segment's data M times, as
a plain load and store under the segment's lock, then check that no increment
was lost and print the time per increment, the header and the refresh state.

The time is the counting phase only: from the first worker's first increment
to the last worker's last, as the workers measure it; starting the processes
is not counted.

The segment's name is removed as soon as every worker has opened it (they
share it by their mappings from then on), and in any case at the end, also
after a failure or SIGINT, SIGTERM or SIGHUP. The status is 1 if any
increment was lost or a worker failed, and 128+N after signal N (130 for
SIGINT). On Linux and FreeBSD the workers are killed if demo dies, even by
SIGKILL; elsewhere a worker whose demo is killed during the count finishes
its M increments first.

examples:
  posixshm demo                         # 2 processes × 1000000 increments
  posixshm demo --procs 4 --iters 100000
  posixshm demo --dir /tmp              # OpenBSD's layout in /tmp, on any system`,
		run: runDemo,
	})
}

// demoWorker is one started worker process.
type demoWorker struct {
	cmd   *exec.Cmd
	start io.WriteCloser // a byte written to it starts the worker
	lines *bufio.Scanner // "ready", then "done START END"
}

func runDemo(c *cli, args []string) int {
	if len(args) != 0 {
		return c.usageError("demo takes no arguments, got %s", plural(len(args), "argument"))
	}
	procs, iters := c.flag("procs").(int), c.flag("iters").(int)
	if procs < 1 || iters < 1 {
		return c.usageError("--procs and --iters must be at least 1")
	}
	// Catch SIGINT, SIGTERM and SIGHUP (a closed terminal) before the
	// segment exists, so that it is removed whenever it was created.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case s := <-sigs:
			cancel(signalError{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	name := "/posixshm-demo-" + strconv.Itoa(os.Getpid())
	seg, err := segment.Create(name, 64, c.segOptions())
	if err != nil {
		c.fail(err)
		return exitFail
	}
	unlinked := false
	unlink := func() {
		if err := seg.Unlink(); err != nil {
			c.fail(err)
		}
		unlinked = true
	}
	defer func() {
		if !unlinked {
			unlink()
		}
		seg.Close()
	}()

	// Once every worker has the segment mapped, nobody needs its name:
	// removing it then leaves nothing behind even if demo is killed.
	counting, err := runWorkers(ctx, c, name, procs, iters, unlink)
	if err != nil {
		var sig signalError
		if errors.As(err, &sig) {
			c.errorf("demo %s: stopped by %s", name, unix.SignalName(sig.Signal))
			return 128 + int(sig.Signal)
		}
		c.errorf("demo %s: %v", name, err)
		return exitFail
	}
	counter := binary.NativeEndian.Uint64(seg.Bytes())
	expected := uint64(procs) * uint64(iters)
	info, err := seg.Stat()
	if err != nil {
		c.fail(err)
		return exitFail
	}
	now := time.Now()
	const stamp = "15:04:05.000"
	w := c.stdout
	fmt.Fprintf(w, "segment:  %s (name %q)\n", quoted(seg.Path()), name)
	fmt.Fprintf(w, "header:   version %d, %d bytes; data %d bytes at offset %d; file %d bytes\n",
		info.Version, info.HeaderSize, info.DataSize, info.DataOffset, info.FileSize)
	fmt.Fprintf(w, "workers:  %s × %s (load, add, store) under the segment lock\n",
		plural(procs, "process"), plural(iters, "increment"))
	fmt.Fprintf(w, "counter=%d expected=%d lost=%d\n", counter, expected, int64(expected)-int64(counter))
	fmt.Fprintf(w, "time:     %v counting (first increment to last), %.1f ns per increment; start-up not included\n",
		counting.Round(time.Microsecond), float64(counting.Nanoseconds())/float64(expected))
	fmt.Fprintf(w, "refresh:  last refresh %s (%s ago); atime %s, mtime %s\n",
		info.Refreshed.Format(stamp), age(info.Refreshed, now), info.Atime.Format(stamp), info.Mtime.Format(stamp))
	fmt.Fprintf(w, "removed:  %s\n", quoted(seg.Path()))
	if counter != expected {
		return exitFail
	}
	return exitOK
}

// runWorkers starts procs workers on the segment called name, calls ready
// once all have opened it, releases them together, and returns the length
// of the counting phase: from the earliest first increment to the latest
// last one, as the workers read the wall clock (see clockNow).
func runWorkers(ctx context.Context, c *cli, name string, procs, iters int, ready func()) (time.Duration, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	args := []string{workerCommand, "--iters", strconv.Itoa(iters)}
	if c.dir != "" {
		args = append(args, "--dir", c.dir)
	}
	args = append(args, "--", name)

	// The workers die with us (dieWithParent); see there why this
	// goroutine stays on the thread that starts them until they exit.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var workers []*demoWorker
	defer func() { // on every path: no worker outlives the demo
		for _, w := range workers {
			w.start.Close()
			if w.cmd.ProcessState == nil {
				w.cmd.Process.Kill()
				w.cmd.Wait()
			}
		}
	}()
	for range procs {
		w, err := startWorker(c, exe, args)
		if err != nil {
			return 0, err
		}
		workers = append(workers, w)
	}
	if _, err := expectAll(ctx, workers, "ready"); err != nil {
		return 0, err
	}
	ready()
	for i, w := range workers {
		if _, err := w.start.Write([]byte{'g'}); err != nil {
			return 0, fmt.Errorf("starting worker %d (pid %d): %v", i, w.cmd.Process.Pid, err)
		}
		w.start.Close()
	}
	done, err := expectAll(ctx, workers, "done")
	if err != nil {
		return 0, err
	}
	for i, w := range workers {
		if err := w.cmd.Wait(); err != nil {
			return 0, fmt.Errorf("worker %d (pid %d): %v", i, w.cmd.Process.Pid, err)
		}
	}
	return countingPhase(done)
}

// countingPhase is the time from the earliest start to the latest end in
// the workers' "done START END" lines (Unix nanoseconds).
func countingPhase(done [][]string) (time.Duration, error) {
	var first, last int64
	for i, f := range done {
		if len(f) != 3 {
			return 0, fmt.Errorf("worker %d said %q, want \"done START END\"", i, strings.Join(f, " "))
		}
		start, err1 := strconv.ParseInt(f[1], 10, 64)
		end, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || end < start {
			return 0, fmt.Errorf("worker %d said %q, want \"done START END\"", i, strings.Join(f, " "))
		}
		if i == 0 || start < first {
			first = start
		}
		if i == 0 || end > last {
			last = end
		}
	}
	return time.Duration(last - first), nil
}

func startWorker(c *cli, exe string, args []string) (*demoWorker, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = c.stderr
	dieWithParent(cmd)
	start, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting worker: %v", err)
	}
	return &demoWorker{cmd: cmd, start: start, lines: bufio.NewScanner(out)}, nil
}

// expectAll reads from every worker a line whose first word is want, and
// returns each line's words; it fails when a worker says something else,
// exits, or ctx is done (SIGINT, SIGTERM or SIGHUP: the error is then the
// signalError).
func expectAll(ctx context.Context, workers []*demoWorker, want string) ([][]string, error) {
	type reply struct {
		i      int
		fields []string
		err    error
	}
	replies := make(chan reply, len(workers))
	for i, w := range workers {
		go func() {
			if w.lines.Scan() {
				if f := strings.Fields(w.lines.Text()); len(f) > 0 && f[0] == want {
					replies <- reply{i: i, fields: f}
					return
				}
			}
			replies <- reply{i: i, err: fmt.Errorf("worker %d (pid %d) failed before %q", i, w.cmd.Process.Pid, want)}
		}()
	}
	out := make([][]string, len(workers))
	for range workers {
		select {
		case r := <-replies:
			if r.err != nil {
				return nil, r.err
			}
			out[r.i] = r.fields
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	return out, nil
}

// incrementLoop is a worker's work: iters times, lock, load the counter at
// the start of seg's data, store it plus one, unlock. It returns how many
// times it recovered the lock from a dead holder.
func incrementLoop(seg *segment.Segment, iters int) (recovered int, err error) {
	data := seg.Bytes()
	if len(data) < 8 {
		return 0, fmt.Errorf("data area of %d bytes has no room for the counter", len(data))
	}
	for range iters {
		if err := seg.Lock(); err != nil {
			if !errors.Is(err, lock.ErrOwnerDead) {
				return recovered, err
			}
			recovered++
		}
		binary.NativeEndian.PutUint64(data, binary.NativeEndian.Uint64(data)+1)
		if err := seg.Unlock(); err != nil {
			return recovered, err
		}
	}
	return recovered, nil
}

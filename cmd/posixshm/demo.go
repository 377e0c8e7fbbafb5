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
	"strconv"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
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
The segment is removed at the end, also after a failure or SIGINT, SIGTERM
or SIGHUP.
The status is 1 if any increment was lost or a worker failed.

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
	start io.WriteCloser // closing it starts the worker
	lines *bufio.Scanner // "ready", then "done"
}

func runDemo(c *cli, args []string) int {
	if len(args) != 0 {
		return c.usageError("demo takes no arguments, got %q", args)
	}
	procs, iters := c.flag("procs").(int), c.flag("iters").(int)
	if procs < 1 || iters < 1 {
		return c.usageError("--procs and --iters must be at least 1")
	}
	// Catch SIGINT, SIGTERM and SIGHUP (a closed terminal) before the
	// segment exists, so that it is removed whenever it was created.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	name := "/posixshm-demo-" + strconv.Itoa(os.Getpid())
	seg, err := segment.Create(name, 64, c.segOptions())
	if err != nil {
		c.fail(err)
		return exitFail
	}
	defer func() {
		if err := seg.Unlink(); err != nil {
			c.fail(err)
		}
		seg.Close()
	}()

	elapsed, err := runWorkers(ctx, c, name, procs, iters)
	if err != nil {
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
	fmt.Fprintf(w, "segment:  %s (name %q)\n", seg.Path(), name)
	fmt.Fprintf(w, "header:   version %d, %d bytes; data %d bytes at offset %d; file %d bytes\n",
		info.Version, info.HeaderSize, info.DataSize, info.DataOffset, info.FileSize)
	fmt.Fprintf(w, "workers:  %d processes × %d increments (load, add, store) under the segment lock\n", procs, iters)
	fmt.Fprintf(w, "counter=%d expected=%d lost=%d\n", counter, expected, int64(expected)-int64(counter))
	fmt.Fprintf(w, "time:     %v for %d increments: %.1f ns per increment\n",
		elapsed.Round(time.Microsecond), expected, float64(elapsed.Nanoseconds())/float64(expected))
	fmt.Fprintf(w, "refresh:  last refresh %s (%s ago); atime %s, mtime %s\n",
		info.Refreshed.Format(stamp), age(info.Refreshed, now), info.Atime.Format(stamp), info.Mtime.Format(stamp))
	fmt.Fprintf(w, "removed:  %s\n", seg.Path())
	if counter != expected {
		return exitFail
	}
	return exitOK
}

// runWorkers starts procs workers on the segment called name, releases them
// together once all have opened it, and returns the wall time until the
// last one has finished its increments.
func runWorkers(ctx context.Context, c *cli, name string, procs, iters int) (time.Duration, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	args := []string{workerCommand, "--iters", strconv.Itoa(iters)}
	if c.dir != "" {
		args = append(args, "--dir", c.dir)
	}
	args = append(args, "--", name)

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
	if err := expectAll(ctx, workers, "ready"); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for _, w := range workers {
		w.start.Close()
	}
	if err := expectAll(ctx, workers, "done"); err != nil {
		return 0, err
	}
	elapsed := time.Since(t0)
	for i, w := range workers {
		if err := w.cmd.Wait(); err != nil {
			return 0, fmt.Errorf("worker %d (pid %d): %v", i, w.cmd.Process.Pid, err)
		}
	}
	return elapsed, nil
}

func startWorker(c *cli, exe string, args []string) (*demoWorker, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = c.stderr
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

// expectAll reads the line want from every worker, or fails when a worker
// says something else, exits, or ctx is done (SIGINT, SIGTERM or SIGHUP).
func expectAll(ctx context.Context, workers []*demoWorker, want string) error {
	errc := make(chan error, len(workers))
	for i, w := range workers {
		go func() {
			if w.lines.Scan() && w.lines.Text() == want {
				errc <- nil
				return
			}
			errc <- fmt.Errorf("worker %d (pid %d) failed before %q", i, w.cmd.Process.Pid, want)
		}()
	}
	for range workers {
		select {
		case err := <-errc:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return errors.New("interrupted")
		}
	}
	return nil
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

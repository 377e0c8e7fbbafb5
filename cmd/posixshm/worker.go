package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// workerCommand is the hidden subcommand demo runs in its worker processes.
const workerCommand = "__worker"

func init() {
	register(&command{
		name:    workerCommand,
		args:    "[--dir DIR] --iters M [--] NAME",
		summary: "demo's worker process (internal)",
		hidden:  true,
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			intFlag(fs, "iters", 0, "`M` increments")
		},
		help: `Internal to "posixshm demo": open the segment NAME, print "ready", wait for a
byte on standard input (end of input instead means demo is gone: exit 1
without counting), increment the counter M times under the lock, and print
"done START END", the wall clock in Unix nanoseconds around the increments.`,
		run: runWorker,
	})
}

func runWorker(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	seg, err := segment.Open(args[0], c.segOptions())
	if err != nil {
		c.fail(err)
		return exitFail
	}
	defer seg.Close()
	fmt.Fprintln(c.stdout, "ready")
	var b [1]byte
	if _, err := io.ReadFull(os.Stdin, b[:]); err != nil {
		c.errorf("worker %d: demo ended before the start; not counting", os.Getpid())
		return exitFail
	}
	start := clockNow()
	recovered, err := incrementLoop(seg, c.flag("iters").(int))
	end := clockNow()
	if recovered > 0 {
		c.errorf("worker %d: recovered the lock from a dead holder %d times", os.Getpid(), recovered)
	}
	if err != nil {
		c.errorf("worker %d: %v", os.Getpid(), err)
		return exitFail
	}
	fmt.Fprintln(c.stdout, "done", start, end)
	return exitOK
}

// clockNow reads the wall clock, in nanoseconds: Go's monotonic readings
// cannot be compared across processes, the wall clock can, on every system
// (x/sys has no CLOCK_MONOTONIC for NetBSD). A clock step during the count
// would show in demo's figure.
func clockNow() int64 { return time.Now().UnixNano() }

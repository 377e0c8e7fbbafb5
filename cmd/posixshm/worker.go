package main

import (
	"flag"
	"fmt"
	"io"
	"os"

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
		help: `Internal to "posixshm demo": open the segment NAME, print "ready", wait for
standard input to close, increment the counter M times under the lock, print
"done".`,
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
	io.Copy(io.Discard, os.Stdin) // demo closes our stdin to start everyone at once
	recovered, err := incrementLoop(seg, c.flag("iters").(int))
	if recovered > 0 {
		c.errorf("worker %d: recovered the lock from a dead holder %d times", os.Getpid(), recovered)
	}
	if err != nil {
		c.errorf("worker %d: %v", os.Getpid(), err)
		return exitFail
	}
	fmt.Fprintln(c.stdout, "done")
	return exitOK
}

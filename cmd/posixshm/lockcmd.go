package main

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
)

// Exit statuses for a CMD that could not be run, as shells use them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

func init() {
	register(&command{
		name:    "lock",
		args:    "[--dir DIR] [--timeout DUR] [--] NAME CMD [ARGS...]",
		summary: "run a command while holding a segment's lock, like flock(1)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.Duration("timeout", 0, "give up after `DUR` (e.g. 500ms, 2s) if the lock is not free; 0 waits forever")
		},
		help: `Take the lock in the header of the segment NAME, run CMD with ARGS, and release
the lock when CMD exits. The lock is held by this process, not by CMD: it is
released when CMD exits, and a waiter recovers it if this process dies.

The exit status is CMD's, or 128+N if CMD was killed by signal N. SIGINT,
SIGTERM, SIGHUP and SIGQUIT received while CMD runs are passed on to it. If the
lock is not acquired within --timeout, CMD is not run and the status is 1.
A CMD that is not found gives 127, one that cannot be started 126.

If the previous holder died holding the lock, the lock is taken over and
"posixshm: previous holder pid N died; lock recovered" is printed on stderr
before CMD runs: the data the lock protects may need repair.

examples:
  posixshm lock /myseg ./update-counters
  posixshm lock --timeout 2s /myseg sh -c 'backup && rotate'
  posixshm lock --dir /var/tmp/app -- -odd-name make install`,
		run: runLock,
	})
}

func runLock(c *cli, args []string) int {
	if len(args) < 2 {
		return c.usageError("want NAME and CMD, got %d arguments", len(args))
	}
	name, argv := args[0], args[1:]
	timeout := c.flag("timeout").(time.Duration)
	if timeout < 0 {
		return c.usageError("--timeout must not be negative")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		c.errorf("lock %s: %v", name, err)
		// As the shell: 127 if there is no such file, 126 if there is
		// one that cannot be run (not executable, a directory).
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	seg, err := c.layout().OpenSegment(name, nil)
	if err != nil {
		c.fail(err)
		return exitFail
	}
	defer seg.Close()
	if code, ok := acquire(c, seg, name, timeout); !ok {
		return code
	}
	status, err := runChild(c, path, argv)
	if err != nil {
		c.errorf("lock %s: %v", name, err)
	}
	if err := seg.Unlock(); err != nil {
		c.errorf("lock %s: unlock: %v", name, err)
		if status == exitOK {
			status = exitFail
		}
	}
	return status
}

// acquire takes seg's lock within timeout (0: no limit), reporting a
// recovered lock. It returns false and the exit status when it failed.
func acquire(c *cli, seg *posixshm.Segment, name string, timeout time.Duration) (int, bool) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := seg.LockContext(ctx)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, lock.ErrOwnerDead):
		var dead *lock.OwnerDeadError
		if errors.As(err, &dead) {
			c.errorf("previous holder pid %d died; lock recovered", dead.PID)
		} else {
			c.errorf("previous holder died; lock recovered")
		}
		return exitOK, true
	case errors.Is(err, context.DeadlineExceeded):
		holder := "another process"
		if info, serr := seg.Stat(); serr == nil && info.LockHolder != 0 {
			holder = "pid " + strconv.Itoa(info.LockHolder)
		}
		c.errorf("lock %s: timed out after %v: the lock is held by %s", name, timeout, holder)
		return exitFail, false
	}
	c.errorf("lock %s: %v", name, err)
	return exitFail, false
}

// runChild runs argv (found at path) with our standard streams, passing on
// the signals that would otherwise leave it running without the lock. It
// returns its exit status, 128+N for a death by signal N, or
// exitCannotRun and the error if it could not be started.
func runChild(c *cli, path string, argv []string) (int, error) {
	cmd := &exec.Cmd{Path: path, Args: argv, Stdin: os.Stdin, Stdout: c.stdout, Stderr: c.stderr}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return exitCannotRun, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	return exitStatus(cmd.ProcessState, err), nil
}

// exitStatus is the shell's $? for a finished command.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return exitFail
		}
		return exitOK
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

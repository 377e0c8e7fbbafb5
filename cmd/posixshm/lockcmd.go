package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
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
			durationFlag(fs, "timeout", 0, "give up after `DUR` (e.g. 500ms, 2s) if the lock is not free; 0 waits forever")
		},
		help: `Take the lock in the header of the segment NAME, run CMD with ARGS, and release
the lock when CMD exits. The lock is held by this process, not by CMD: it is
released when CMD exits, and a waiter recovers it if this process dies.
CMD is started only once the lock is held.

So that CMD never runs without the lock, on Linux and FreeBSD CMD is killed
(SIGKILL) when this process dies, even by SIGKILL, and also if it dies while
CMD is being started. That covers CMD's own process, not processes CMD starts
in the background or a shell script's commands: use "exec" for a shell's last
command (sh -c 'prepare; exec work'), or have CMD wait for its children. Nor
does it cover a set-user-ID or set-group-ID CMD (sudo...): the kernel drops
the signal when such a program starts.
OpenBSD, NetBSD, DragonFly, macOS, illumos and Solaris have no parent-death
signal: there, if this process is killed with SIGKILL, CMD keeps running while
the next "posixshm lock" recovers the lock and runs its own CMD.

The exit status is CMD's, or 128+N if CMD was killed by signal N. While CMD
runs, SIGTERM and SIGHUP sent to this process are passed on to it; SIGINT and
SIGQUIT are not (a terminal's Ctrl-C and Ctrl-\ reach CMD directly); either
way the lock is released only once CMD has exited. A signal that arrives while
waiting for the lock ends the wait: CMD is not run and the status is 128+N. If
the lock is not acquired within --timeout, CMD is not run and the status is 1.
A CMD that is not found gives 127, one that cannot be started 126.

If the previous holder died holding the lock, the lock is taken over and
"posixshm: previous holder pid N died; lock recovered" is printed on stderr
before CMD runs: the data the lock protects may need repair.

examples:
  posixshm lock /myseg ./update-counters
  posixshm lock --timeout 2s /myseg sh -c 'backup && rotate'
  posixshm lock --dir /var/tmp/app -- -odd-name make install`,
		run:   runLock,
		names: 2, // NAME and CMD; ARGS are CMD's
	})
}

func runLock(c *cli, args []string) int {
	if len(args) < 2 {
		return c.usageError("want NAME and CMD, got %s", plural(len(args), "argument"))
	}
	name, argv := args[0], args[1:]
	timeout := c.flag("timeout").(time.Duration)
	if timeout < 0 {
		return c.usageError("--timeout must not be negative")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		c.errorf("lock %s: %v", quoted(name), err)
		// As the shell: 127 if there is no such file, 126 if there is
		// one that cannot be run (not executable, a directory).
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	seg := c.openSeg(name)
	if seg == nil {
		return exitFail
	}
	defer seg.Close()
	// Catch signals from here on: one that arrives while we wait for the
	// lock ends the wait, and none may kill us while we hold the lock.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if code, ok := acquire(c, seg, name, timeout, sigs); !ok {
		return code
	}
	status, err := runChild(c, path, argv, sigs)
	if err != nil {
		c.errorf("lock %s: %v", quoted(name), err)
	}
	if err := seg.Unlock(); err != nil {
		c.failOn("lock", name, err)
		if status == exitOK {
			status = exitFail
		}
	}
	return status
}

// tooShort explains why segment.Open refused the object called name as
// truncated when its file is too short to hold a segment's header: such a
// file is not a segment at all (a creator sizes the file in one step before
// it writes the header, so no segment in the making is ever that short), or
// returns "" when err is not that.
func tooShort(l posixshm.Layout, name string, err error) string {
	if !errors.Is(err, segment.ErrTruncated) {
		return ""
	}
	fa, ok := objectFacts(l, name)
	if !ok || fa.Size <= 0 || fa.Size >= segment.HeaderSize {
		return ""
	}
	return fmt.Sprintf("not a posixshm segment (a plain object: %s has %s, too few for a segment's %d-byte header)",
		quoted(fa.Path), plural(int(fa.Size), "byte"), segment.HeaderSize)
}

// acquire takes seg's lock within timeout (0: no limit), reporting a
// recovered lock. It returns false and the exit status when it failed.
func acquire(c *cli, seg *segment.Segment, name string, timeout time.Duration, sigs <-chan os.Signal) (int, bool) {
	ctx, cancel, release := timeoutContext(timeout)
	defer release()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case s := <-sigs:
			cancel(signalError{s.(syscall.Signal)})
		case <-stop:
		}
	}()
	err := seg.LockContext(ctx)
	var sig signalError
	switch {
	case errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &sig):
		// As the signal would have ended us: without running CMD.
		c.errorf("lock %s: %v while waiting for the lock", quoted(name), sig.Signal)
		return 128 + int(sig.Signal), false
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
		c.errorf("lock %s: timed out after %v: the lock is held by %s", quoted(name), timeout, holder)
		return exitFail, false
	}
	c.failOn("lock", name, err)
	return exitFail, false
}

// signalError is the cause of a wait for the lock ended by a signal.
type signalError struct{ syscall.Signal }

func (e signalError) Error() string { return "interrupted by " + e.Signal.String() }

// runChild runs argv (found at path) with our standard streams and returns
// its exit status, 128+N for a death by signal N, or exitCannotRun and the
// error if it could not be started. While it runs we hold the lock and must
// not die: SIGTERM and SIGHUP, which are sent to us, are passed on to CMD;
// SIGINT and SIGQUIT are not, because a terminal sends them to the whole
// foreground process group, CMD included, which would get them twice. In
// every case we wait for CMD to exit and then unlock.
//
// CMD must never run without the lock, so it is killed (SIGKILL) if we die,
// even by SIGKILL, where the system has a parent-death signal (see
// dieWithParent): flock(1) gets this for free, its child holding the lock's
// descriptor, but our lock word names this process. It is started only once
// we hold the lock, and the goroutine stays on the thread that forked it
// until it has exited.
func runChild(c *cli, path string, argv []string, sigs <-chan os.Signal) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := &exec.Cmd{Path: path, Args: argv, Stdin: os.Stdin, Stdout: c.stdout, Stderr: c.stderr}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return exitCannotRun, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGTERM || s == syscall.SIGHUP {
					cmd.Process.Signal(s)
				}
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

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "sem",
		args:    "post|wait|value|create|rm [--dir DIR] [--timeout DUR] [--value N] [--] NAME",
		summary: "post, wait for, read, create or remove a named semaphore (sem_open's, shared with C)",
		names:   1, // the verb: its own flags and NAME follow it
		help: `Talk to a POSIX named semaphore, the kind C programs open with sem_open(3),
from a shell script, without cgo or a C helper:

  posixshm sem post [--dir DIR] [--] NAME                 sem_post: add a unit, wake a waiter
  posixshm sem wait [--dir DIR] [--timeout DUR] [--] NAME sem_wait: take a unit, sleeping until one comes
  posixshm sem value [--dir DIR] [--] NAME                sem_getvalue: print the value and the waiters counted
  posixshm sem create [--dir DIR] [--value N] [--] NAME   sem_open(O_CREAT|O_EXCL, 0600, N)
  posixshm sem rm [--dir DIR] [--] NAME                   sem_unlink

Flags go after the verb. Without --dir, names follow this system's sem_open:
on Linux glibc's /dev/shm/sem.NAME (NAME without its leading slashes), on
OpenBSD /tmp/<sha256-hex(NAME)>.sem; with --dir DIR, OpenBSD's layout rooted
at DIR, on any system. The semaphore must exist (but for create).

wait exits 0 once it has taken a unit, and 1 if --timeout passes first (0,
the default, waits forever); SIGINT, SIGTERM and SIGHUP end it with 128+N,
without a unit. While it waits it keeps the semaphore's file fresh, as keep
does. value prints two numbers: the value, and how many waiters the format
counts (a waiter killed while waiting stays counted: glibc and OpenBSD keep
no record of who waits). post fails (status 1, EOVERFLOW) at SEM_VALUE_MAX.

These semaphores are not robust, as in C: a process that dies holding a unit
loses it. See "posixshm help keep" for keeping them from OpenBSD's daily(8).

examples:
  posixshm sem wait --timeout 30s /jobs && ./process-one-job
  ./make-item && posixshm sem post /items
  read value waiters <<< "$(posixshm sem value /items)"
  posixshm sem create --dir /var/tmp/app --value 4 /slots`,
		run: runSem,
	})
}

// semVerbs are sem's verbs, each a command of its own with its flags.
var semVerbs = map[string]*command{
	"post": {name: "sem post", args: "[--dir DIR] [--] NAME", setFlags: dirFlag, run: runSemPost,
		help: "sem_post: add a unit to the semaphore NAME and wake one of its waiters."},
	"wait": {name: "sem wait", args: "[--dir DIR] [--timeout DUR] [--] NAME", run: runSemWait,
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			durationFlag(fs, "timeout", 0, "give up after `DUR` (e.g. 500ms, 2s, 1h) with status 1; 0 waits forever")
		},
		help: "sem_wait: take a unit of the semaphore NAME, sleeping until one is posted; exit 0 with it, 1 on --timeout."},
	"value": {name: "sem value", args: "[--dir DIR] [--] NAME", setFlags: dirFlag, run: runSemValue,
		help: "sem_getvalue: print the value of the semaphore NAME and the number of waiters its format counts."},
	"create": {name: "sem create", args: "[--dir DIR] [--value N] [--] NAME", run: runSemCreate,
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			intFlag(fs, "value", 0, "the initial value `N`")
		},
		help: "sem_open(NAME, O_CREAT|O_EXCL, 0600, N): create the semaphore NAME; it must not exist."},
	"rm": {name: "sem rm", args: "[--dir DIR] [--] NAME", setFlags: dirFlag, run: runSemRm,
		help: "sem_unlink: remove the semaphore NAME; processes that have it open keep using it."},
}

func runSem(c *cli, args []string) int {
	if len(args) == 0 {
		return c.usageError("want a verb: post, wait, value, create or rm")
	}
	verb, ok := semVerbs[args[0]]
	if !ok {
		return c.usageError("unknown verb %q: want post, wait, value, create or rm", args[0])
	}
	return runCommand(verb, args[1:], c.stdout, c.stderr)
}

// oneName checks that args is one NAME.
func (c *cli) oneName(args []string) (string, bool) {
	if len(args) != 1 {
		c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
		return "", false
	}
	return args[0], true
}

// openSem opens the existing semaphore name, reporting a failure.
func (c *cli) openSem(name string) *sem.Semaphore {
	s, err := c.semLayout().Open(name, 0, 0, 0)
	if err != nil {
		c.fail(err)
		return nil
	}
	return s
}

func runSemPost(c *cli, args []string) int {
	name, ok := c.oneName(args)
	if !ok {
		return exitUsage
	}
	s := c.openSem(name)
	if s == nil {
		return exitFail
	}
	defer s.Close()
	if err := s.Post(); err != nil {
		c.fail(err)
		return exitFail
	}
	return exitOK
}

func runSemValue(c *cli, args []string) int {
	name, ok := c.oneName(args)
	if !ok {
		return exitUsage
	}
	s := c.openSem(name)
	if s == nil {
		return exitFail
	}
	defer s.Close()
	i, err := s.Info()
	if err != nil {
		c.fail(err)
		return exitFail
	}
	fmt.Fprintln(c.stdout, i.Value, i.Waiters)
	return exitOK
}

func runSemCreate(c *cli, args []string) int {
	name, ok := c.oneName(args)
	if !ok {
		return exitUsage
	}
	v := c.flag("value").(int)
	if v < 0 || int64(v) > 1<<32-1 {
		return c.usageError("--value must be 0 to 4294967295 (glibc's semaphores: 2147483647)")
	}
	s, err := c.semLayout().Open(name, os.O_CREATE|os.O_EXCL, 0o600, uint32(v))
	if err != nil {
		c.fail(err)
		return exitFail
	}
	s.Close()
	return exitOK
}

func runSemRm(c *cli, args []string) int {
	name, ok := c.oneName(args)
	if !ok {
		return exitUsage
	}
	if err := c.semLayout().Unlink(name); err != nil {
		c.fail(err)
		return exitFail
	}
	return exitOK
}

func runSemWait(c *cli, args []string) int {
	name, ok := c.oneName(args)
	if !ok {
		return exitUsage
	}
	timeout := c.flag("timeout").(time.Duration)
	if timeout < 0 {
		return c.usageError("--timeout must not be negative")
	}
	s := c.openSem(name)
	if s == nil {
		return exitFail
	}
	defer s.Close()
	// Signals from here on end the wait, not the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel, release := timeoutContext(timeout)
	defer release()
	go func() {
		select {
		case sig := <-sigs:
			cancel(signalError{sig.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	err := s.WaitContext(ctx)
	var sig signalError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &sig):
		c.errorf("sem wait %s: %v while waiting for a unit", quoted(name), sig.Signal)
		return 128 + int(sig.Signal)
	case errors.Is(err, context.DeadlineExceeded):
		c.errorf("sem wait %s: timed out after %v with no unit", quoted(name), timeout)
		return exitFail
	}
	c.fail(err)
	return exitFail
}

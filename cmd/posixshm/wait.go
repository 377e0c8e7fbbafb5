package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/segment"
)

func init() {
	register(&command{
		name:    "wait",
		args:    "[--dir DIR] [--timeout DUR] [--since COUNT | --count] [--] NAME",
		summary: "wait until a process notifies a segment (see notify)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			durationFlag(fs, "timeout", 0, "give up after `DUR` (e.g. 500ms, 2s, 1h) with status 1; 0 waits forever")
			fs.String("since", "", "return once the notification count is not `COUNT` (at once if it is not); COUNT is what --count or a wait printed")
			fs.Bool("count", false, "print the segment's notification count and exit, without waiting")
		},
		help: `Wait until a process notifies the segment NAME ("posixshm notify NAME", or a
program's Segment.Notify or NotifyAll), then print the segment's notification
count on stdout and exit 0. If --timeout passes first, exit 1.

A notification counts if it is made after wait began. In a script, "began"
cannot be seen from outside: a waiter started in the background may begin
after the event it waits for. So take the count first, with --count, and
wait --since that count: every notification made after --count printed it
ends the wait, at once if it came already. The count a wait prints is the
mark for the next one, so a loop misses nothing, not even notifications made
while it works:

  n=$(posixshm wait --count /ready)
  ./start-server &                  # runs "posixshm notify /ready" once it listens
  posixshm wait --since "$n" --timeout 30s /ready >/dev/null || exit 1

  n=$(posixshm wait --count /jobs)
  while n=$(posixshm wait --since "$n" /jobs); do
      ./process-new-jobs            # notifications meanwhile end the next wait at once
  done

Every waiting process returns on every notification ("posixshm notify" wakes
one at once and the others within a tenth of a second; --all wakes them all at
once): a notification says that something changed, not what, nor for whom.
The count moves by one per notification (modulo 2^32), whoever waits.

While it waits, wait keeps the segment from being deleted as unused by
OpenBSD's daily(8), refreshing it hourly as "posixshm keep" does, and it exits
1 if the segment is removed (nobody could notify it any more). SIGINT, SIGTERM
and SIGHUP end the wait with status 128+N (130, 143, 129).

examples:
  posixshm wait --timeout 10m /backup-done >/dev/null && ./upload
  posixshm wait --count /jobs
  posixshm wait --dir /var/tmp/app --since 41 -- -odd-name`,
		run: runWait,
	})
}

// waitRecheck is how often wait checks that its segment still exists.
const waitRecheck = time.Second

// errRemoved is the cause of a wait ended because the segment's name no
// longer leads to it.
var errRemoved = errors.New("the segment was removed while waiting: nobody can notify it any more")

func runWait(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	name := args[0]
	timeout := c.flag("timeout").(time.Duration)
	if timeout < 0 {
		return c.usageError("--timeout must not be negative")
	}
	sinceSet := isSet(c.flags, "since")
	var since uint32
	if c.flag("count").(bool) {
		if sinceSet || isSet(c.flags, "timeout") {
			return c.usageError("--count prints the count and does not wait: it takes neither --since nor --timeout")
		}
	} else if sinceSet {
		v, err := strconv.ParseUint(c.flag("since").(string), 10, 32)
		if err != nil {
			return c.usageError("--since %q: want a notification count, 0 to 4294967295, as --count or a wait printed it", c.flag("since"))
		}
		since = uint32(v)
	}
	seg := c.openSeg(name)
	if seg == nil {
		return exitFail
	}
	defer seg.Close()
	if c.flag("count").(bool) {
		fmt.Fprintln(c.stdout, seg.Notifications())
		return exitOK
	}
	// Signals from here on end the wait, not the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if !sinceSet {
		since = seg.Notifications() // the moment wait begins
	}
	ctx, cancel, release := timeoutContext(timeout)
	defer release()
	refreshErrs := seg.KeepAlive(ctx, 0)
	// The file as it is now, before the wait begins: "posixshm rm" may
	// come as soon as this process is seen waiting, before the watcher
	// runs.
	start, startErr := lstatFacts(seg.Path())
	go watchWait(c, seg, name, start, startErr, sigs, refreshErrs, cancel)
	n, err := seg.WaitNotification(ctx, since)
	var sig signalError
	switch {
	case err == nil:
		fmt.Fprintln(c.stdout, n)
		return exitOK
	case errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &sig):
		c.errorf("wait %s: %v while waiting for a notification", quoted(name), sig.Signal)
		return 128 + int(sig.Signal)
	case errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), errRemoved):
		c.errorf("wait %s: %v", quoted(name), errRemoved)
		return exitFail
	case errors.Is(err, context.DeadlineExceeded):
		c.errorf("wait %s: timed out after %v with no notification", quoted(name), timeout)
		return exitFail
	}
	c.failOn("wait", name, err)
	return exitFail
}

// timeoutContext returns a context that cancel ends with a cause, and that
// times out after timeout (0: never). Call release when done with it.
func timeoutContext(timeout time.Duration) (ctx context.Context, cancel context.CancelCauseFunc, release func()) {
	ctx, cancel = context.WithCancelCause(context.Background())
	if timeout <= 0 {
		return ctx, cancel, func() { cancel(nil) }
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	return ctx, cancel, func() {
		cancelTimeout()
		cancel(nil)
	}
}

// watchWait ends the wait (cancel) on a signal, or once the segment's file
// is gone or replaced, and reports the refreshes that failed; it returns
// when refreshErrs is closed, which happens when the wait's context is
// done. The file is checked by its path, every waitRecheck, against
// start (startErr), what it was before the wait began: a file missing then
// was removed since it was opened; kernel objects (macOS, FreeBSD), whose
// "path" is the name, have no file to check, and are not.
func watchWait(c *cli, seg *segment.Segment, name string, start facts, startErr error, sigs <-chan os.Signal, refreshErrs <-chan error, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(waitRecheck)
	defer tick.Stop()
	switch {
	case startErr == nil:
	case errors.Is(startErr, fs.ErrNotExist) && seg.Path() != name:
		cancel(errRemoved)
	default:
		tick.Stop()
	}
	for {
		select {
		case s := <-sigs:
			cancel(signalError{s.(syscall.Signal)})
		case err, ok := <-refreshErrs:
			if !ok {
				return
			}
			c.errorf("wait %s: warning: %s", quoted(name), describe(err, nil))
		case <-tick.C:
			if fa, err := lstatFacts(seg.Path()); errors.Is(err, fs.ErrNotExist) || err == nil && (fa.Dev != start.Dev || fa.Ino != start.Ino) {
				cancel(errRemoved)
			}
		}
	}
}

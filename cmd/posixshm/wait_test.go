package main

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"github.com/rogpeppe/go-internal/testscript"
)

// waitnotify DIR NAME waits up to 10s for the notify word of segment NAME
// (OpenBSD's layout in DIR) to show a waiter: a "posixshm wait" started in
// the background is then asleep, its signal handling set up. (Use a
// segment whose waiters bit no earlier waiter has left set.)
func cmdWaitNotify(ts *testscript.TestScript, neg bool, args []string) {
	waitHeader(ts, neg, args, "waitnotify", "a waiter for a notification on ", func(h segment.Header) bool { return h.NotifyWaiters })
}

// waitHeader is the command cmd DIR NAME: it waits up to 10s for ok to
// hold of the header of segment NAME in OpenBSD's layout in DIR.
func waitHeader(ts *testscript.TestScript, neg bool, args []string, cmd, what string, ok func(segment.Header) bool) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: %s DIR NAME", cmd)
	}
	path, err := posixshm.Dir(ts.MkAbs(args[0])).Path(args[1])
	ts.Check(err)
	waitFor(ts, what+args[1], func() bool {
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		h, err := segment.ReadHeader(f)
		return err == nil && ok(h)
	})
}

// TestWatchWait_RemovedFirst: a segment removed before the watcher of
// "posixshm wait" first looks at its file (the watcher is a goroutine, and
// a loaded machine may run it after "posixshm rm") ends the wait as
// removed. The watcher used to take the missing file for a kernel object
// with no path, stop checking, and leave the wait hanging: wait.txtar's
// "removed while waited for" hung for its whole test timeout under load.
func TestWatchWait_RemovedFirst(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	seg, err := segment.Create("/r", 8, &segment.Options{Layout: d})
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	c := &cli{stdout: io.Discard, stderr: io.Discard, name: "wait", dir: string(d)}
	start, startErr := lstatFacts(seg.Path())
	if err := d.Unlink("/r"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	refreshErrs := make(chan error)
	go watchWait(c, seg, "/r", start, startErr, nil, refreshErrs, cancel)
	defer close(refreshErrs)
	select {
	case <-ctx.Done():
		if !errors.Is(context.Cause(ctx), errRemoved) {
			t.Errorf("the wait ended with %v, want errRemoved", context.Cause(ctx))
		}
	case <-time.After(10 * time.Second): // a hang guard: the recheck is every second
		t.Fatal("the wait on a removed segment was never ended")
	}
}

package main

import (
	"os"

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

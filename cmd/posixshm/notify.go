package main

import "flag"

func init() {
	register(&command{
		name:    "notify",
		args:    "[--dir DIR] [--all] [--] NAME",
		summary: "wake the processes waiting on a segment (see wait)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.Bool("all", false, "wake every waiting process at once")
		},
		help: `Notify the segment NAME: add 1 to its notification count and wake one process
waiting on it ("posixshm wait", or a program in Segment.Wait or
WaitNotification), or, with --all, every one. With nobody waiting nothing else
happens, but the count has moved: a later "posixshm wait --since" sees it.

Every "posixshm wait" returns on any notification made after it started: notify
wakes one waiting process at once and the others within a tenth of a second,
notify --all wakes them all at once. Programs waiting under the segment's lock
(Segment.Wait) are woken one (notify) or all (--all). A notification says that
something changed, not what: make the change first (under "posixshm lock" if
waiters read it under the lock), then notify.

examples:
  ./update-feed && posixshm notify --all /feed        # a cron job wakes every reader
  posixshm lock /jobs ./enqueue && posixshm notify /jobs
  posixshm notify --dir /var/tmp/app -- -odd-name`,
		run: runNotify,
	})
}

func runNotify(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	seg := c.openSeg(args[0])
	if seg == nil {
		return exitFail
	}
	defer seg.Close()
	if c.flag("all").(bool) {
		seg.NotifyAll()
	} else {
		seg.Notify()
	}
	return exitOK
}

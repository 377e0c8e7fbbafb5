package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "keep",
		args:    "[--dir DIR] [--sem] [--every DUR] [--verbose] [--] NAME...",
		summary: "keep objects from being deleted by refreshing them until interrupted",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			semFlag(fs)
			durationFlag(fs, "every", segment.DefaultRefreshInterval, "refresh every `DUR` (e.g. 30m, 1h)")
			fs.Bool("verbose", false, "print a line on stderr after every round")
		},
		help: `Open each object and refresh it at once and then every DUR, until SIGINT or
SIGTERM, which end it with status 0. A segment is refreshed as its users do
(its last-refresh stamp and the file's access and modification times); any
other object gets its times set to now, as "posixshm touch" does. This keeps
OpenBSD's daily(8), which deletes what was not accessed for a week, away from
objects that are in use only through mmap.

With --sem the NAMEs are named semaphores (sem_open's: on OpenBSD the files
/tmp/<sha256>.sem, which daily(8) deletes just the same), opened as
"posixshm sem" opens them and refreshed the same way.

Every object must open, or keep exits 1 at once. Afterwards keep is quiet
unless a refresh fails (reported, retried next round) or an object is removed
(reported and dropped; keep exits 1 when none is left).

examples:
  posixshm keep /myseg /other &                # hourly, in the background
  posixshm keep --every 10m --dir /var/tmp/app /myseg
  posixshm keep --sem /jobs /slots &           # a C program's semaphores
  # as a service: ExecStart=/usr/local/bin/posixshm keep /myseg`,
		run: runKeep,
	})
}

// kept is one object keep refreshes: a segment, a semaphore (--sem), or a
// file for the others.
type kept struct {
	name string
	seg  *segment.Segment
	sem  *sem.Semaphore
	f    *os.File
	path string // f's file
}

func runKeep(c *cli, names []string) int {
	if len(names) == 0 {
		return c.usageError("no NAME given")
	}
	every := c.flag("every").(time.Duration)
	if every <= 0 {
		return c.usageError("--every must be positive")
	}
	verbose := c.flag("verbose").(bool)
	// Signals are caught before anything is opened: opening a segment
	// refreshes it, and a script that waits for that refresh and then
	// sends SIGINT must find keep ready for it (it used to kill keep,
	// when it came before signal.NotifyContext; seen under load).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	l := c.layout()
	var objs []*kept
	defer func() {
		for _, k := range objs {
			k.close()
		}
	}()
	for _, name := range names {
		if c.flag("sem").(bool) {
			s, err := c.semLayout().Open(name, 0, 0, 0)
			if err != nil {
				c.fail(err)
				continue
			}
			objs = append(objs, &kept{name: name, sem: s})
			continue
		}
		k, err := openKept(l, name)
		if err != nil {
			c.failRefresh(l, name, err)
			continue
		}
		objs = append(objs, k)
	}
	if len(objs) != len(names) {
		return exitFail
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		objs = refreshAll(c, objs, verbose)
		if len(objs) == 0 {
			c.errorf("keep: every object was removed; nothing left to refresh")
			return exitFail
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
	}
}

// openKept opens name as a segment or, if it is not one, as a plain object.
func openKept(l posixshm.Layout, name string) (*kept, error) {
	seg, err := segment.Open(name, &segment.Options{Layout: l})
	if err == nil {
		return &kept{name: name, seg: seg}, nil
	}
	if !notSegment(err) {
		return nil, err
	}
	f, err := l.Open(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	path, _ := l.Path(name) // Open accepted the name
	return &kept{name: name, f: f, path: path}, nil
}

// notSegment reports whether err says the object is not a usable segment,
// so that it can still be refreshed as a plain object.
func notSegment(err error) bool {
	for _, e := range []error{segment.ErrNotSegment, segment.ErrTruncated, segment.ErrNotInitialized,
		segment.ErrVersion, segment.ErrSizeMismatch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// refreshAll refreshes every object once and returns those still to keep:
// an object whose file was removed is reported and dropped.
func refreshAll(c *cli, objs []*kept, verbose bool) []*kept {
	live := objs[:0]
	for _, k := range objs {
		removed, err := k.refresh()
		switch {
		case removed:
			c.errorf("keep %s: removed; no longer refreshed", quoted(k.name))
			k.close()
			continue
		case err != nil:
			c.errorf("keep %s: %s", quoted(k.name), describe(err, nil))
		}
		live = append(live, k)
	}
	if verbose {
		c.errorf("keep: refreshed %s at %s", plural(len(live), "object"), time.Now().Format(time.RFC3339))
	}
	return live
}

// refresh refreshes k, or reports that its file has been removed.
func (k *kept) refresh() (removed bool, err error) {
	if k.sem != nil {
		fi, err := k.sem.Stat()
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
				return true, nil
			}
		}
		return false, k.sem.Refresh()
	}
	if k.seg != nil {
		info, err := k.seg.Stat()
		if err == nil && info.Unlinked {
			return true, nil
		}
		return false, k.seg.Refresh()
	}
	fa, err := fstatFacts(k.f, k.path)
	if err == nil && fa.Nlink == 0 {
		return true, nil
	}
	return false, posixshm.Touch(k.f)
}

func (k *kept) close() {
	if k.sem != nil {
		k.sem.Close()
		return
	}
	if k.seg != nil {
		k.seg.Close()
	} else {
		k.f.Close()
	}
}

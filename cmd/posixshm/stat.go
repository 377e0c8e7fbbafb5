package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "stat",
		args:    "[--dir DIR] [--sem] [--json] [--] NAME",
		summary: "describe an object without refreshing it",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			semFlag(fs)
			fs.Bool("json", false, "print one JSON object instead of text")
		},
		help: `Describe the object called NAME: its file, owner, mode, size, last access and
modification, and, in OpenBSD's layout, when OpenBSD's daily(8) would delete
it. For a posixshm segment it adds the header (version, sizes, creation, last
refresh), the processes attached to it (the PID each recorded, as it sees
itself in its own PID namespace, and how many attached without a slot in the
table), and who holds the lock and whether that holder still lives. Both are
judged as the segment package judges them, from the record locks the kernel
holds for every live attachment: a process killed with kill -9 never counts,
and one in another PID namespace (a container) does. It also gives the count of
notifications made (the COUNT of "posixshm wait --since") and whether a process
may be waiting for the next. Any shared memory object can be described; for one
that is not a segment it says so.

stat does not refresh the object and does not attach to it: it opens it
read-only, reads the header without mapping it for use, asks the kernel which
attachment locks are held (F_GETLK), and if reading moved the access time
(Linux's relatime does for files not accessed for a day; OpenBSD on every
read) it puts the old access time back. Only the owner and root can do
either, so for another user's object the header is not read.

daily(8) runs "find -atime +7" in /tmp; BSD find rounds the days since the last
access up, so a file becomes removable once it has not been accessed for more
than 7×24 hours, from atime + 7 days + 1 second on, and the next nightly run
deletes it. "at risk" means that moment is less than a day away or past. That
verdict is given only for OpenBSD's layout: with --dir (which assumes DIR is
cleaned as daily(8) cleans /tmp), and without it on OpenBSD. Other systems'
conventions (Linux's /dev/shm...) have no such cleaner: stat shows the times
and no daily(8) line.

With --sem, NAME is a named semaphore (sem_open's; see "posixshm help sem"):
stat shows its file and its value and the waiters its format counts, read
without mapping or refreshing it (the owner's and root's only, as above).

--json prints one object: name, path, uid, owner, mode, size, atime, mtime;
daily_applies (whether the daily(8) verdict applies, as above) and, only when
it does, daily_removable_at (the first moment find would match),
daily_days_left (days until then, to a tenth; negative: overdue) and
daily_at_risk (true when daily_removable_at is less than a day away or past;
always false when daily_applies is false); segment (the header, or null)
with not_segment saying why it is null; with --sem, semaphore (format, value,
waiters) or semaphore_unknown saying why it could not be read; warning (e.g.
the access time could not be put back). In segment: lock_held, lock_holder (the PID the holder
recorded; 0 when the lock is free or its holder has no slot) and
lock_holder_alive; users (count, pids, overflow; null when they could not be
checked, users_error saying why); slots and remove_when_unused.

examples:
  posixshm stat /myseg
  posixshm stat --json /myseg | jq .segment.users.pids
  posixshm stat --dir /var/tmp/app -- -odd-name`,
		run: runStat,
	})
}

// statReport is what stat prints; its JSON form is the --json output.
type statReport struct {
	Name  string    `json:"name"`
	Path  string    `json:"path"`
	Uid   uint32    `json:"uid"`
	Owner string    `json:"owner,omitempty"`
	Mode  string    `json:"mode"`
	Size  int64     `json:"size"`
	Atime time.Time `json:"atime"`
	Mtime time.Time `json:"mtime"`
	dailyVerdict
	Segment    *segmentReport `json:"segment"`               // nil: not a readable segment
	NotSegment string         `json:"not_segment,omitempty"` // why Segment is nil
	// A named semaphore's state (--sem), or why it could not be read.
	Semaphore        *semJSON `json:"semaphore,omitempty"`
	SemaphoreUnknown string   `json:"semaphore_unknown,omitempty"`
	Warning          string   `json:"warning,omitempty"` // e.g. the access time could not be restored
	sem              bool     // --sem: a semaphore's report
}

// dailyVerdict is daily(8)'s verdict on an object, as stat and ls report
// it; their JSON holds these fields inline. When DailyApplies is false
// (see dailyApplies), AtRisk is false and the other two are left out.
type dailyVerdict struct {
	DailyApplies bool      `json:"daily_applies"`
	RemovableAt  time.Time `json:"daily_removable_at,omitzero"`
	DaysLeft     *float64  `json:"daily_days_left,omitempty"` // to a tenth; negative: overdue
	AtRisk       bool      `json:"daily_at_risk"`
}

// verdict is daily(8)'s verdict at now on a file last accessed at atime,
// or only "does not apply".
func verdict(applies bool, atime, now time.Time) dailyVerdict {
	if !applies {
		return dailyVerdict{}
	}
	at := removableAt(atime)
	left := float64(int64(at.Sub(now).Hours()/24*10)) / 10
	return dailyVerdict{DailyApplies: true, RemovableAt: at, DaysLeft: &left, AtRisk: atRisk(atime, now)}
}

type segmentReport struct {
	Version          uint32     `json:"version"`
	HeaderSize       int64      `json:"header_size"`
	DataOffset       int64      `json:"data_offset"`
	DataSize         int64      `json:"data_size"`
	Created          time.Time  `json:"created"`
	Refreshed        time.Time  `json:"refreshed"`
	Slots            int        `json:"slots"`
	RemoveWhenUnused bool       `json:"remove_when_unused"`
	LockWord         uint32     `json:"lock_word"`
	LockHeld         bool       `json:"lock_held"`
	LockHolder       int        `json:"lock_holder"` // the PID the holder recorded; 0: free, or a holder without a slot
	LockHolderAlive  bool       `json:"lock_holder_alive"`
	Notifications    uint32     `json:"notifications"`  // Segment.Notify and NotifyAll calls, modulo 2^32 (posixshm wait --since)
	NotifyWaiters    bool       `json:"notify_waiters"` // some process may wait for a notification
	Users            *usersJSON `json:"users"`          // nil: not checked (UsersError says why)
	UsersError       string     `json:"users_error,omitempty"`
}

func runStat(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	statFn := func() (statReport, error) { return statObject(c.layout(), args[0], time.Now()) }
	if c.flag("sem").(bool) {
		statFn = func() (statReport, error) { return statSem(c.semLayout(), args[0], time.Now()) }
	}
	r, err := statFn()
	if err != nil {
		c.fail(err)
		return exitFail
	}
	if r.Warning != "" {
		c.errorf("stat %s: warning: %s", quoted(args[0]), r.Warning)
	}
	if c.flag("json").(bool) {
		b, _ := json.Marshal(r)
		fmt.Fprintf(c.stdout, "%s\n", b)
		return exitOK
	}
	r.print(c.stdout, time.Now())
	return exitOK
}

// geteuid is os.Geteuid, replaced in tests.
var geteuid = os.Geteuid

// statObject describes the object called name without refreshing it.
func statObject(l posixshm.Layout, name string, now time.Time) (statReport, error) {
	r := statReport{Name: name}
	r.DailyApplies = dailyApplies(l)
	f, err := l.Open(name, os.O_RDONLY, 0)
	if err != nil {
		// A file we may not open (another user's, a symlink, a FIFO) is
		// still described from lstat(2); a missing one is an error.
		path, perr := l.Path(name)
		if errors.Is(err, fs.ErrNotExist) || perr != nil {
			return r, err
		}
		fa, lerr := lstatFacts(path)
		if lerr != nil {
			return r, err
		}
		r.setFacts(fa, now)
		r.NotSegment = "not opened: " + err.Error()
		return r, nil
	}
	defer f.Close()
	path, _ := l.Path(name) // Open accepted the name
	fa, err := fstatFacts(f, path)
	if err != nil {
		return r, err
	}
	r.setFacts(fa, now)
	sr := readSegment(f, fa)
	r.Warning = sr.warning
	if sr.notSegment != "" {
		r.NotSegment = sr.notSegment
		return r, nil
	}
	h := sr.header
	r.Segment = &segmentReport{
		Version: h.Version, HeaderSize: h.HeaderSize, DataOffset: h.DataOffset, DataSize: h.DataSize,
		Created: h.Created, Refreshed: h.Refreshed, Slots: h.Slots, RemoveWhenUnused: h.RemoveWhenUnused,
		LockWord: h.LockWord, LockHeld: lock.HolderPID(h.LockWord) != 0, LockHolder: h.LockHolder,
		Notifications: h.Notifications, NotifyWaiters: h.NotifyWaiters,
	}
	// The holder is judged from the header and the attachments' record
	// locks, as the segment's own lockers judge it, never by probing its
	// PID, which may name another process (reused) or none here (another
	// PID namespace).
	if sr.usersErr != nil {
		r.Segment.UsersError = unwrapPath(sr.usersErr).Error()
	} else {
		r.Segment.Users = newUsersJSON(sr.users)
		r.Segment.LockHolderAlive = r.Segment.LockHeld && !sr.users.LockOwnerDead
	}
	return r, nil
}

// statSem describes the semaphore called name in l without refreshing it.
func statSem(l sem.Layout, name string, now time.Time) (statReport, error) {
	r := statReport{Name: name, sem: true, NotSegment: "a named semaphore"}
	_, r.DailyApplies = l.(sem.Dir)
	path, err := l.Path(name)
	if err != nil {
		return r, err
	}
	// O_NONBLOCK and O_NOFOLLOW: a FIFO cannot block the open, nor a
	// symbolic link lead elsewhere.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		fa, lerr := lstatFacts(path)
		if lerr != nil {
			return r, &fs.PathError{Op: "stat", Path: name, Err: unwrapPath(err)}
		}
		r.setFacts(fa, now)
		r.SemaphoreUnknown = "not opened: " + unwrapPath(err).Error()
		return r, nil
	}
	defer f.Close()
	fa, err := fstatFacts(f, path)
	if err != nil {
		return r, err
	}
	r.setFacts(fa, now)
	if !fa.Mode.IsRegular() {
		r.SemaphoreUnknown = "not a regular file"
		return r, nil
	}
	r.Semaphore, r.SemaphoreUnknown, r.Warning = readSem(f, fa, l)
	return r, nil
}

// dailyApplies reports whether daily(8)'s verdict applies to objects in
// the layout l: only in OpenBSD's layout, a posixshm.Dir (--dir, and this
// system's convention on OpenBSD, where it is posixshm.OpenBSD). Nothing
// deletes idle objects in other systems' conventions (Linux's /dev/shm is
// not cleaned on a schedule), so there the times are shown without one.
func dailyApplies(l posixshm.Layout) bool {
	_, ok := l.(posixshm.Dir)
	return ok
}

func (r *statReport) setFacts(fa facts, now time.Time) {
	r.Path, r.Uid, r.Owner = fa.Path, fa.Uid, owners{}.name(fa.Uid)
	r.Mode, r.Size, r.Atime, r.Mtime = fa.Mode.String(), fa.Size, fa.Atime, fa.Mtime
	r.dailyVerdict = verdict(r.DailyApplies, fa.Atime, now)
}

func (r *statReport) print(w io.Writer, now time.Time) {
	const layout = "2006-01-02 15:04:05.000 MST"
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-10s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	owner := fmt.Sprint(r.Uid)
	if r.Owner != "" {
		owner += " (" + r.Owner + ")"
	}
	line("name", "%q", r.Name)
	line("path", "%s", quoted(r.Path))
	line("owner", "%s", owner)
	line("mode", "%s", r.Mode)
	line("size", "%d", r.Size)
	line("accessed", "%s (%s ago)", r.Atime.Format(layout), age(r.Atime, now))
	line("modified", "%s (%s ago)", r.Mtime.Format(layout), age(r.Mtime, now))
	switch left := r.RemovableAt.Sub(now); {
	case !r.DailyApplies:
		// Nothing deletes idle objects here: no verdict.
	case left > 0:
		risk := ""
		if r.AtRisk {
			risk = "; AT RISK"
		}
		line("daily(8)", "removable from %s, in %s days%s", r.RemovableAt.Format(layout), days(left), risk)
	default:
		line("daily(8)", "removable since %s: AT RISK, the next run deletes it", r.RemovableAt.Format(layout))
	}
	if r.sem {
		if r.Semaphore != nil {
			line("semaphore", "%s (%s)", r.Semaphore, r.Semaphore.Format)
		} else {
			line("semaphore", "%s", r.SemaphoreUnknown)
		}
		return
	}
	s := r.Segment
	if s == nil {
		line("segment", "%s", r.NotSegment)
		return
	}
	line("segment", "posixshm version %d", s.Version)
	line("header", "%d bytes; data %d bytes at offset %d", s.HeaderSize, s.DataSize, s.DataOffset)
	line("created", "%s", s.Created.Format(layout))
	line("refreshed", "%s (%s ago)", s.Refreshed.Format(layout), age(s.Refreshed, now))
	holder := "an attachment without a slot"
	if s.LockHolder != 0 {
		holder = fmt.Sprintf("pid %d", s.LockHolder)
	}
	switch {
	case !s.LockHeld:
		line("lock", "free (word 0x%08x)", s.LockWord)
	case s.Users == nil:
		line("lock", "held by %s, alive or not: its attachment could not be checked (word 0x%08x)", holder, s.LockWord)
	case s.LockHolderAlive:
		line("lock", "held by %s, alive (word 0x%08x)", holder, s.LockWord)
	default:
		line("lock", "held by %s, which is dead: the next locker recovers it (word 0x%08x)", holder, s.LockWord)
	}
	waiting := "nobody waits"
	if s.NotifyWaiters {
		waiting = "a process may wait for the next"
	}
	count := strconv.FormatUint(uint64(s.Notifications), 10) + " notifications" // modulo 2^32: no int on 32-bit systems
	if s.Notifications == 1 {
		count = "1 notification"
	}
	line("notify", "%s; %s", count, waiting)
	table := "a table of " + plural(s.Slots, "slot")
	if s.RemoveWhenUnused {
		table += "; removed when unused"
	}
	switch u := s.Users; {
	case u == nil:
		line("users", "cannot be checked: %s", s.UsersError)
	case u.Count == 0:
		line("users", "none attached; %s", table)
	default:
		line("users", "%s; %s", attachments(segment.Attachments{PIDs: u.PIDs, Overflow: u.Overflow}), table)
	}
}

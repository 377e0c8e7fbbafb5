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

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "stat",
		args:    "[--dir DIR] [--sem] [-h] [--json] [--] NAME...",
		summary: "describe objects without refreshing them",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			semFlag(fs)
			humanFlag(fs)
			fs.Bool("json", false, "print one JSON object per NAME, one per line, instead of text")
		},
		help: `Describe each object NAME: its file, owner, mode, size, last access and
modification, and, in OpenBSD's layout, when OpenBSD's daily(8) would delete
it. For a posixshm segment it adds the header (version, the name it was
created under, sizes, creation, last refresh), the processes attached to it
(the PID each recorded, as it sees itself in its own PID namespace, with its
command name where /proc shows that process using the segment, and how many
attached without a slot in the table), and who holds the lock and whether that
holder still lives. Both are judged as the segment package judges them, from
the record locks the kernel holds for every live attachment: a process killed
with kill -9 never counts, and one in another PID namespace (a container)
does. It also gives the count of notifications made (the COUNT of "posixshm
wait --since") and whether a process may be waiting for the next. Any shared
memory object can be described; for one that is not a segment it says so,
and on Linux it lists the processes that map it or hold it open, read from
/proc as "posixshm gc --plain" reads them (a process whose /proc entries
cannot be read may be missing: stat says so).

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

With --sem, each NAME is a named semaphore (sem_open's; see "posixshm help
sem"): stat shows its file and its value and the waiters its format counts,
read without mapping or refreshing it (the owner's and root's only, as above).

With several NAMEs stat describes each in turn, a blank line between them; a
NAME that does not exist is an error on stderr, and the others are still
described (the exit status is then 1). -h shows the size as ls -h does.

--json prints one JSON object per NAME, one per line (jq reads them as a
stream; jq -s makes an array), with the fields "posixshm help json" lists:
name (the NAME given), kind, path, owner, mode, size, times, the daily(8)
fields, users, segment (the header, or null; not_segment says why) and, with
--sem, semaphore (format, value, waiters) or semaphore_unknown.

examples:
  posixshm stat /myseg
  posixshm stat /myseg /psm_1f2e3d /dev-input   # several at once
  posixshm stat --json /myseg | jq .segment.users.pids
  posixshm stat --dir /var/tmp/app -- -odd-name`,
		run: runStat,
	})
}

// statReport is what stat says of one object; its JSON form is the --json
// output.
type statReport struct {
	objectJSON
	sem  bool    // --sem: a semaphore's report
	key  fileKey // the file's
	scan bool    // whether /proc should tell who uses it (not a segment)
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

func runStat(c *cli, args []string) int {
	if len(args) == 0 {
		return c.usageError("no NAME given")
	}
	statFn := func(name string) (statReport, error) { return statObject(c.layout(), name, time.Now()) }
	if c.flag("sem").(bool) {
		statFn = func(name string) (statReport, error) { return statSem(c.semLayout(), name, time.Now()) }
	}
	status := exitOK
	var reports []*statReport
	for _, name := range args {
		r, err := statFn(name)
		if err != nil {
			c.fail(err)
			status = exitFail
			continue
		}
		if r.Warning != "" {
			c.errorf("stat %s: warning: %s", quoted(name), r.Warning)
		}
		reports = append(reports, &r)
	}
	procUsersOf(reports)
	if c.flag("json").(bool) {
		for _, r := range reports {
			b, _ := json.Marshal(r)
			fmt.Fprintf(c.stdout, "%s\n", b)
		}
		return status
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		r.print(c.stdout, time.Now(), c.flag("h").(bool))
	}
	return status
}

// procUsersOf fills in who uses the objects that are not segments, from
// /proc (on Linux; nowhere else does anything tell), in one scan for all.
func procUsersOf(reports []*statReport) {
	want := map[fileKey]bool{}
	for _, r := range reports {
		if r.scan {
			want[r.key] = true
		}
	}
	if len(want) == 0 || procRoot == "" {
		return
	}
	pu := scanProcs(procRoot, want, os.Getpid(), geteuid())
	for _, r := range reports {
		if !r.scan {
			continue
		}
		if pu.unknown != "" {
			r.UsersUnknown = pu.unknown
			continue
		}
		r.Users = procUsersJSON(pu.users[r.key])
		if len(pu.unreadable) > 0 {
			r.UsersUnknown = "some may be missing: " + pu.unreadableText()
		}
	}
}

// geteuid is os.Geteuid, replaced in tests.
var geteuid = os.Geteuid

// statObject describes the object called name without refreshing it.
func statObject(l posixshm.Layout, name string, now time.Time) (statReport, error) {
	var r statReport
	r.setName(name, false)
	daily := dailyApplies(l)
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
		r.setFacts(fa, daily, now, owners{})
		r.Kind, r.NotSegment = kindOther, "not opened: "+err.Error()
		return r, nil
	}
	defer f.Close()
	path, _ := l.Path(name) // Open accepted the name
	fa, err := fstatFacts(f, path)
	if err != nil {
		return r, err
	}
	r.setFacts(fa, daily, now, owners{})
	r.readShm(f, fa, newProcNamer(procRoot))
	r.key, r.scan = fa.key(), r.Kind == kindPlain
	return r, nil
}

// statSem describes the semaphore called name in l without refreshing it.
func statSem(l sem.Layout, name string, now time.Time) (statReport, error) {
	r := statReport{sem: true}
	r.Kind, r.NotSegment = kindSem, "a named semaphore"
	r.setName(name, false)
	_, daily := l.(sem.Dir)
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
		r.setFacts(fa, daily, now, owners{})
		r.SemaphoreUnknown = "not opened: " + unwrapPath(err).Error()
		return r, nil
	}
	defer f.Close()
	fa, err := fstatFacts(f, path)
	if err != nil {
		return r, err
	}
	r.setFacts(fa, daily, now, owners{})
	if !fa.Mode.IsRegular() {
		r.SemaphoreUnknown = "not a regular file"
		return r, nil
	}
	r.Semaphore, r.SemaphoreUnknown, r.Warning = readSem(f, fa, l)
	r.key, r.scan = fa.key(), true
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

func (r *statReport) print(w io.Writer, now time.Time, human bool) {
	const layout = "2006-01-02 15:04:05.000 MST"
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-10s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	owner := fmt.Sprint(r.Uid)
	if r.Owner != "" {
		owner += " (" + r.Owner + ")"
	}
	name := strconv.Quote(*r.Name)
	if s := r.Segment; s != nil && s.Name != nil && (*s.Name != *r.Name || s.NameTruncated) {
		name += " (created as " + strconv.Quote(*s.Name)
		if s.NameTruncated {
			name += "…"
		}
		name += ")"
	}
	line("name", "%s", name)
	line("path", "%s", quoted(r.Path))
	line("owner", "%s", owner)
	line("mode", "%s", r.Mode)
	line("size", "%s", sizeText(r.Size, human))
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
		r.printProcUsers(line)
		return
	}
	s := r.Segment
	if s == nil {
		line("segment", "%s", r.NotSegment)
		r.printProcUsers(line)
		return
	}
	line("segment", "posixshm version %d", s.Version)
	line("header", "%d bytes; data %d bytes at offset %d", s.HeaderSize, s.DataSize, s.DataOffset)
	if s.TxLogSize > 0 {
		line("undo log", "%d bytes at offset %d", s.TxLogSize, s.TxLogOffset)
	}
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
		line("users", "%s; %s", attachmentsText(u), table)
	}
}

// printProcUsers prints who uses an object that is not a segment, as /proc
// tells it (Linux), if stat asked.
func (r *statReport) printProcUsers(line func(label, format string, args ...any)) {
	switch u := r.Users; {
	case !r.scan || u == nil && r.UsersUnknown == "":
		// Nothing tells here.
	case u == nil:
		line("users", "cannot be told: %s", r.UsersUnknown)
	case u.Count == 0 && r.UsersUnknown != "":
		line("users", "none found: %s", r.UsersUnknown)
	case u.Count == 0:
		line("users", "no process maps it or holds it open")
	default:
		text := plural(u.Count, "process") + " map it or hold it open: " + u.list()
		if u.Count == 1 {
			text = "1 process maps it or holds it open: " + u.list()
		}
		if r.UsersUnknown != "" {
			text += "; " + r.UsersUnknown
		}
		line("users", "%s", text)
	}
}

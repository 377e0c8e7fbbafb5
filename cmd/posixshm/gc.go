package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// defaultMinAge is how long an object must have been idle before gc
// removes it, unless --min-age says otherwise: far longer than any
// creator takes to set an object up and its users to open it.
const defaultMinAge = 10 * time.Minute

func init() {
	register(&command{
		name:    "gc",
		args:    "[--dir DIR] [--min-age DUR] [--dry-run] [-h] [--json] [--plain]",
		summary: "remove segments no process is attached to (and, with --plain, unused plain objects)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			durationFlag(fs, "min-age", defaultMinAge, "remove only objects idle for at least `DUR` (e.g. 10m, 1h, 48h)")
			fs.Bool("dry-run", false, "remove nothing: say what would be removed")
			humanFlag(fs)
			fs.Bool("json", false, "print one JSON array of objects instead of a table")
			fs.Bool("plain", false, "also remove objects that are not segments when no process maps them or holds them open (Linux)")
		},
		help: `Remove the segments in a directory that no process is attached to and that have
been idle for at least --min-age: the leftovers of programs that crashed or exited
without removing them. Print every object with what was done and why.

A segment is in use while any process is attached to it: each attachment holds
a record lock on the segment's file, which the kernel drops when the process
dies, even by kill -9, in any PID namespace. A segment whose users cannot be
checked counts as in use. It is idle since the latest of its refreshed-at stamp
and its file's access and modification times. gc removes a segment under the
lock that every opener holds while it attaches, checking again under it that
nobody is attached, so no process is ever left attached to a segment gc
removed. A file still being created is never removed: an empty one, or one
whose creator holds its creation lock and has not yet published the header. A
segment whose creator died before publishing its header is removed once idle.
Where a creator builds a new segment under a temporary name before linking it
onto its own (.posixshm-new- and 64 hex digits: systems without O_TMPFILE, such
as OpenBSD), gc removes a temporary file whose creator died (nobody holds its
creation lock), whatever --min-age says, and keeps one whose creator lives.

Objects that are not segments (Python's shared_memory, C programs' shm_open
objects, named semaphores: glibc's sem.NAME, OpenBSD's <sha256>.sem) keep no
record of their users. gc removes one only
with --plain, only on Linux, only if no other process maps it or holds it open
(gc reads the maps and every thread's descriptor table, /proc/PID/task/TID/fd,
of every process) and only once idle for --min-age. A process whose entries cannot be read (for a
user other than root: other users' processes) makes every such object count as
in use, and so does running in a PID namespace of its own (a container), whose
/proc does not show the processes outside it. No lock keeps a program from
opening such an object just as gc removes it: --min-age is what protects new
objects, and /proc is read once more just before removing. Where nothing tells
who uses an object (OpenBSD, macOS, no /proc), gc never removes plain objects.

gc never follows a symbolic link and removes only regular files with a single
link, by name in the directory itself. Symbolic links, FIFOs, directories,
files with other links and, for a user other than root, other users' objects
are listed as kept, with why. A user other than root touches only their own
objects; root, everyone's in the directory. What gc keeps it does not refresh.

Without --dir: this system's convention (on Linux every file in /dev/shm; on
OpenBSD the /tmp/<64 hex digits>.shm files and nothing else in /tmp). With
--dir DIR: the files DIR/<64 hex digits>.shm, OpenBSD's layout.

Reasons (the text output's REASON column, and "reason" in --json):
  removed (or would_remove, with --dry-run):
    unused         a segment no process is attached to, idle for --min-age
    creator_died   a segment whose creator died before publishing its header
    abandoned      a temporary file whose creator died before linking its segment
    plain_unused   (--plain) an object no process maps or holds open
  kept:
    attached       processes are attached (their PIDs are listed)
    open           a process maps it or holds it open (/proc)
    unknown_users  who uses it cannot be told (unreadable /proc entries...)
    young          idle for less than --min-age
    being_created  its creator is setting it up
    empty          an empty file: a creator may be about to size it
    busy           another process held the segment's removal lock too long
    plain          not a segment, and no --plain
    no_proc        not a segment, and nothing here tells who uses it
    not_regular    a symbolic link, FIFO, directory, socket or device
    hard_links     the file has other names
    not_owner      another user's object, and gc does not run as root
    changed        the file was replaced or removed while gc looked at it
    error          it could not be checked (the detail says why)

The exit status is 0 when every object was checked, removed or kept, and 1 if
one could not be (reason error) or the directory could not be read.

The table shows each object's KIND (segment, plain, sem, temp, other), OWNER,
MODE, SIZE (-h: as ls -h shows it), NAME (the name a segment's header
records, or the file's name where it is the object's; "-" where nothing
tells, as under OpenBSD's hashed names), PATH and REASON; attached processes
and those that map a plain object are named as fuser -v names them, "pid 4242
(nginx)".

--json prints one array of objects with the fields "posixshm help json"
lists (the same as ls's and stat's: kind, name, path, owner, mode, size,
times, users, segment...) and gc's verdict: action ("removed", "kept" or
"would_remove"), reason, detail (the reason in words), last_used and
idle_seconds when known, attached and overflow for segments in use, open_by
(PIDs that map it or hold it open).

examples:
  posixshm gc --dry-run                       # what would go, and why
  posixshm gc --plain --min-age 24h           # Linux: also crashed programs' /dev/shm objects
  posixshm gc --dir /var/tmp/app --min-age 1m # an application's own directory
  # OpenBSD, in /etc/daily.local (run as root before daily(8) cleans /tmp):
  /usr/local/bin/posixshm gc --dir /tmp --min-age 1h
  posixshm gc --json | jq '.[] | select(.action == "removed") | .path'`,
		run: runGc,
	})
}

// gcEntry is one object gc looked at; its JSON form is the --json output:
// the fields ls and stat give too ("posixshm help json"), and gc's verdict.
type gcEntry struct {
	objectJSON
	Action   string    `json:"action"` // "removed", "kept" or "would_remove"
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Idle     *float64  `json:"idle_seconds,omitempty"`
	// Attached and Overflow repeat users.pids and users.overflow for a
	// segment in use, as gc reported them before users; OpenBy are the
	// processes /proc shows mapping the file or holding it open.
	Attached []int `json:"attached,omitempty"`
	Overflow int   `json:"overflow,omitempty"`
	OpenBy   []int `json:"open_by,omitempty"`

	name        string   // in the directory
	fa          facts    // lstat(2)'s, when gc began to look
	f           *os.File // open while gc decides (check)
	unpublished bool     // a segment whose header was not published when gc looked
	why         string   // why a plain object is no segment
}

// Actions.
const (
	actRemoved     = "removed"
	actKept        = "kept"
	actWouldRemove = "would_remove"
)

// keep records that e is kept, and why.
func (e *gcEntry) keep(reason, format string, args ...any) {
	e.Action, e.Reason, e.Detail = actKept, reason, fmt.Sprintf(format, args...)
}

// doom records that e is to be removed, and why.
func (e *gcEntry) doom(reason, detail string) {
	e.Action, e.Reason, e.Detail = actWouldRemove, reason, detail
}

// setLastUsed records when e was last used, and so how long it is idle.
func (e *gcEntry) setLastUsed(t, now time.Time) {
	idle := float64(now.Sub(t).Milliseconds()) / 1000
	e.LastUsed, e.Idle = t, &idle
}

// scanProcs is scanProc, replaced in tests.
var scanProcs = scanProc

// gc is one run of the command.
type gc struct {
	c      *cli
	sc     scope
	names  dirNames // names in the directory, for segment.RemoveUnused
	minAge time.Duration
	dryRun bool
	plain  bool
	euid   int
	owners owners
	human  bool      // -h
	now    time.Time // when gc began, for daily(8)'s verdict
}

func runGc(c *cli, args []string) int {
	if len(args) != 0 {
		return c.usageError("gc takes no arguments, got %s (give a directory with --dir)", plural(len(args), "argument"))
	}
	g := &gc{
		c:      c,
		minAge: c.flag("min-age").(time.Duration),
		dryRun: c.flag("dry-run").(bool),
		plain:  c.flag("plain").(bool),
		euid:   geteuid(),
		owners: owners{},
		human:  c.flag("h").(bool),
		now:    time.Now(),
	}
	if g.minAge < 0 {
		return c.usageError("--min-age must not be negative")
	}
	sc, err := c.scope()
	if err != nil {
		c.errorf("gc%s", strings.TrimPrefix(err.Error(), "ls"))
		return exitFail
	}
	g.sc = sc
	entries, err := g.run()
	if err != nil {
		c.errorf("gc %s: %v", quoted(sc.dir), err)
		return exitFail
	}
	status := exitOK
	for _, e := range entries {
		if e.Reason == "error" {
			status = exitFail
		}
	}
	if c.flag("json").(bool) {
		if entries == nil {
			entries = []*gcEntry{}
		}
		b, _ := json.Marshal(entries)
		fmt.Fprintf(c.stdout, "%s\n", b)
		return status
	}
	w := bufio.NewWriter(c.stdout)
	g.print(w, entries)
	if err := w.Flush(); err != nil {
		c.errorf("gc: %v", err)
		return exitFail
	}
	return status
}

// run looks at every object in the directory and decides; unless dry-run,
// it then removes what it decided to remove, each after looking again.
func (g *gc) run() ([]*gcEntry, error) {
	dir, err := os.Open(g.sc.dir)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer dir.Close()
	g.names = dirNames{dir: g.sc.dir, fd: int(dir.Fd())}
	des, err := dir.ReadDir(-1)
	if err != nil {
		return nil, unwrapPath(err)
	}
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var entries []*gcEntry
	want := map[fileKey]bool{}
	for _, de := range des {
		name := de.Name()
		if posixshm.IsTempName(name) {
			entries = append(entries, g.temp(dir, name))
			continue
		}
		if g.sc.kind(name) == "" {
			continue
		}
		if e := g.look(name); e != nil {
			entries = append(entries, e)
			if e.Action == "" {
				want[e.fa.key()] = true
			}
		}
	}
	pu := scanProcs(procRoot, want, os.Getpid(), g.euid)
	var doomed []*gcEntry
	for _, e := range entries {
		if e.Action != "" {
			continue // decided already
		}
		if g.check(e, pu, false); e.Action == actWouldRemove {
			doomed = append(doomed, e)
		}
	}
	if g.dryRun || len(doomed) == 0 {
		return entries, nil
	}
	// Look at /proc again just before removing: no lock keeps out the
	// processes that use an object without attaching to it.
	want = map[fileKey]bool{}
	for _, e := range doomed {
		want[e.fa.key()] = true
	}
	pu = scanProcs(procRoot, want, os.Getpid(), g.euid)
	for _, e := range doomed {
		g.check(e, pu, true)
	}
	return entries, nil
}

// look looks at the file called name in the directory (lstat(2) only) and
// returns its entry: undecided (no action yet) if it may be removed, else
// kept, with why. It returns nil if the file is gone.
func (g *gc) look(name string) *gcEntry {
	path := filepath.Join(g.sc.dir, name)
	e := &gcEntry{name: name}
	e.Kind = kindOther
	e.setPath(path)
	if n, ok := g.sc.nameOf(name); ok {
		e.setName(n, false)
	}
	fa, err := g.names.lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.keep("error", "%v", err)
		return e
	}
	e.fa = fa
	e.setFacts(fa, g.sc.hashed, g.now, g.owners)
	switch {
	case !fa.Mode.IsRegular():
		e.keep("not_regular", "%s, not a regular file: never followed or removed", fileType(fa.Mode))
		return e
	case g.euid != 0 && int64(fa.Uid) != int64(g.euid):
		e.keep("not_owner", "belongs to %s; gc run as uid %d touches only that user's objects (root: everyone's)", who(fa.Uid, e.Owner), g.euid)
		return e
	case fa.Nlink > 1:
		e.keep("hard_links", "has %d hard links: other names lead to the same file", fa.Nlink)
		return e
	}
	e.Kind = kindPlain
	if g.sc.kind(name) == "sem" {
		e.Kind = kindSem
	}
	if fa.Size == 0 {
		e.keep("empty", "an empty file: a creator may be about to size it (if it died, remove the file by hand)")
	}
	return e
}

// temp looks at name, the temporary file in which a creator builds a new
// segment before it links it onto its name (posixshm.CreateUnnamed), and
// removes it (unless dry-run) if its creator died: nobody holds its
// creation lock, which the kernel drops when the creator dies. That is
// proof enough: --min-age does not apply. A creator that finds its new
// file gone before it took the lock starts again.
func (g *gc) temp(dir *os.File, name string) *gcEntry {
	e := &gcEntry{name: name}
	e.Kind = kindTemp
	e.setPath(filepath.Join(g.sc.dir, name))
	fa, err := g.names.lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.keep("changed", "removed while gc looked at it")
		return e
	case err != nil:
		e.keep("error", "%v", err)
		return e
	}
	e.fa = fa
	e.setFacts(fa, g.sc.hashed, g.now, g.owners)
	switch {
	case !fa.Mode.IsRegular():
		e.keep("not_regular", "%s at a temporary file's name: never followed or removed", fileType(fa.Mode))
		return e
	case g.euid != 0 && int64(fa.Uid) != int64(g.euid):
		e.keep("not_owner", "belongs to %s; gc run as uid %d touches only that user's objects (root: everyone's)", who(fa.Uid, e.Owner), g.euid)
		return e
	}
	const detail = "a temporary file whose creator died before it linked the segment onto its name"
	switch err := posixshm.RemoveTemp(dir, name, g.dryRun); {
	case err == nil && g.dryRun:
		e.doom("abandoned", detail)
	case err == nil:
		e.Action, e.Reason, e.Detail = actRemoved, "abandoned", detail
	case errors.Is(err, syscall.EBUSY):
		e.keep("being_created", "a creator is building a segment in it: it holds its creation lock")
	case errors.Is(err, fs.ErrNotExist):
		e.keep("changed", "removed while gc looked at it")
	default:
		e.keep("error", "%v", unwrapPath(err))
	}
	return e
}

// check opens e (checking that it is still the file look saw), reads it
// as a segment, decides about it, and with remove set removes it if it is
// still to be removed, deciding again. The file is open only meanwhile.
func (g *gc) check(e *gcEntry, pu procUsers, remove bool) {
	f, err := g.names.Open(e.name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		f, err = g.names.Open(e.name, os.O_RDONLY, 0)
	}
	if errors.Is(err, fs.ErrNotExist) {
		e.keep("changed", "removed while gc looked at it")
		return
	}
	if err != nil {
		e.keep("error", "%v", unwrapPath(err))
		return
	}
	// gc is attached to none of these files (it never opens a segment as
	// a user), so closing one drops no attachment's record lock, as it
	// would on OpenBSD (POSIX locks) in a process attached to the file.
	defer f.Close()
	before, err := fstatFacts(f, e.Path)
	if err != nil || before.key() != e.fa.key() || before.Nlink != 1 || !before.Mode.IsRegular() {
		e.keep("changed", "replaced while gc looked at it")
		return
	}
	e.f = f
	defer func() { e.f = nil }()
	if g.sc.kind(e.name) == "sem" {
		// sem_open's file: a plain object, never read as a segment (an
		// OpenBSD semaphore with nothing posted begins with zeros).
		e.Kind, e.why = kindSem, "a named semaphore"
	} else {
		h, err := segment.ReadHeader(f)
		g.restoreAtime(e, before)
		switch {
		case err == nil:
			e.Kind, e.unpublished = kindSegment, false
			e.Segment = newSegmentReport(h)
			e.useRecordedName(g.sc)
		case errors.Is(err, segment.ErrNotInitialized):
			// A creator at work or dead, or another program's object
			// that begins with zeros: RemoveUnused tells them apart.
			e.Kind, e.unpublished = kindSegment, true
		default:
			e.Kind, e.why, e.NotSegment = kindPlain, notSegmentText(err, before.Size), notSegmentText(err, before.Size)
		}
	}
	if e.Kind == kindSegment {
		g.checkSegment(e, pu, remove)
	}
	if e.Kind == kindPlain || e.Kind == kindSem { // perhaps only now: a file of zeros
		if g.checkPlain(e, pu); remove && e.Action == actWouldRemove {
			g.removePlain(e)
		}
	}
}

// checkSegment decides about the segment e: the segment package says who
// is attached, under the removal gate. With remove set, it removes the
// segment if it is still to be removed, deciding again under the gate.
func (g *gc) checkSegment(e *gcEntry, pu procUsers, remove bool) {
	users := pu.users[e.fa.key()]
	var lastUsed, now time.Time
	var timesErr error
	decide := func(h segment.Header) bool {
		fa, err := fstatFacts(e.f, e.Path)
		if timesErr = err; err != nil {
			return false
		}
		lastUsed, now = latest(h.Created, h.Refreshed, fa.Atime, fa.Mtime), time.Now()
		// Whether the header is published now, under the gate (it may
		// have been published since gc first looked).
		_, herr := segment.ReadHeader(e.f)
		if e.unpublished = errors.Is(herr, segment.ErrNotInitialized); !e.unpublished {
			e.Segment = newSegmentReport(h)
			e.useRecordedName(g.sc)
		}
		return remove && len(users) == 0 && g.idle(lastUsed, now)
	}
	before, ferr := fstatFacts(e.f, e.Path)
	u, removed, err := segment.RemoveUnused(e.f, g.names, e.name, decide)
	if !removed && ferr == nil {
		g.restoreAtime(e, before)
	}
	if !lastUsed.IsZero() {
		e.setLastUsed(lastUsed, now)
	}
	if err == nil {
		// The attached processes are among those /proc shows mapping
		// the file (users): those are named.
		names := map[int]string{}
		for _, p := range users {
			names[p.pid] = p.comm
		}
		e.Users = attachedUsers(u, names)
		if e.Segment != nil {
			e.Segment.Users = e.Users
			e.Segment.LockHolderAlive = e.Segment.LockHeld && !u.LockOwnerDead
		}
	}
	switch {
	case errors.Is(err, syscall.EAGAIN) && e.unpublished:
		e.keep("being_created", "its creator is setting it up: it holds the creation lock and has not published the header")
	case errors.Is(err, syscall.EAGAIN):
		e.keep("busy", "%s", describe(err, nil))
	case errors.Is(err, segment.ErrNotInitialized):
		// Zeros where a header would be, and nobody creating it.
		e.Kind, e.why = kindPlain, "not a posixshm segment: it begins with zeros, and nobody is creating a segment in it"
		e.Segment, e.NotSegment = nil, e.why
	case errors.Is(err, fs.ErrNotExist):
		e.keep("changed", "removed or replaced while gc looked at it")
	case err != nil:
		e.keep("error", "%s", describe(err, nil))
	case u.InUse():
		e.Attached, e.Overflow = u.PIDs, u.Overflow
		e.keep("attached", "%s", attachmentsText(e.Users))
	case timesErr != nil:
		e.keep("error", "fstat: %v", timesErr)
	case lastUsed.IsZero():
		e.keep("error", "the segment package did not say whether it is in use")
	case len(users) > 0:
		e.OpenBy = pids(users)
		e.keep("open", "no process is attached, but %s maps it or holds it open (a program using it without attaching)", procList(users))
	case !g.idle(lastUsed, now):
		e.keep("young", "idle for %s, less than --min-age %v", age(lastUsed, now), g.minAge)
	case e.unpublished:
		e.doom("creator_died", "its creator died before publishing the header; idle for "+age(lastUsed, now))
	default:
		e.doom("unused", "no process is attached; idle for "+age(lastUsed, now))
	}
	if removed {
		e.Action = actRemoved
	} else if remove && e.Action == actWouldRemove {
		e.keep("error", "not removed, for no reason given") // cannot happen: decide agreed
	}
}

// checkPlain decides about e, which is not a segment, from what /proc
// says about it (pu).
func (g *gc) checkPlain(e *gcEntry, pu procUsers) {
	fa, err := fstatFacts(e.f, e.Path)
	if err != nil {
		e.keep("error", "%v", err)
		return
	}
	lastUsed, now := latest(fa.Atime, fa.Mtime), time.Now()
	e.setLastUsed(lastUsed, now)
	users := pu.users[e.fa.key()]
	if e.Users, e.UsersUnknown = nil, pu.unknown; pu.unknown == "" {
		e.Users = procUsersJSON(users)
		if len(pu.unreadable) > 0 {
			e.UsersUnknown = "some may be missing: " + pu.unreadableText()
		}
	}
	switch {
	case !g.plain:
		e.keep("plain", "%s; removed only with --plain", e.why)
	case pu.none:
		e.keep("no_proc", "%s, and %s: never removed", e.why, pu.unknown)
	case pu.unknown != "":
		e.keep("unknown_users", "%s, and who uses it cannot be told: %s", e.why, pu.unknown)
	case len(users) > 0:
		e.OpenBy = pids(users)
		e.keep("open", "%s maps it or holds it open", procList(users))
	case len(pu.unreadable) > 0:
		e.keep("unknown_users", "counts as in use: %s", pu.unreadableText())
	case !g.idle(lastUsed, now):
		e.keep("young", "idle for %s, less than --min-age %v", age(lastUsed, now), g.minAge)
	default:
		e.doom("plain_unused", fmt.Sprintf("%s, and no other process maps it or holds it open; idle for %s", e.why, age(lastUsed, now)))
	}
}

// removePlain removes e, which is not a segment, if its name still leads
// to the file gc decided about.
func (g *gc) removePlain(e *gcEntry) {
	fa, err := g.names.lstat(e.name)
	if err != nil || fa.key() != e.fa.key() || fa.Nlink != 1 || !fa.Mode.IsRegular() {
		e.keep("changed", "removed or replaced while gc looked at it")
		return
	}
	if err := g.names.Unlink(e.name); err != nil {
		e.keep("error", "%v", unwrapPath(err))
		return
	}
	e.Action = actRemoved
}

// idle reports whether an object last used at t has been idle for
// --min-age at now.
func (g *gc) idle(t, now time.Time) bool { return !t.After(now.Add(-g.minAge)) }

// restoreAtime puts e's access time back if gc's reading moved it (see
// restoreAtime), warning if it cannot.
func (g *gc) restoreAtime(e *gcEntry, before facts) {
	if err := restoreAtime(e.f, before); err != nil {
		g.c.errorf("gc %s: warning: %v", quoted(e.Path), err)
	}
}

// print prints entries as a table, then a summary.
func (g *gc) print(w io.Writer, entries []*gcEntry) {
	removed := 0
	if len(entries) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "ACTION\tKIND\tOWNER\tMODE\tSIZE\tNAME\tPATH\tREASON\n")
		for _, e := range entries {
			act := e.Action
			if act == actWouldRemove {
				act = "would remove"
			}
			if e.Action != actKept {
				removed++
			}
			owner, mode, size := "-", "-", "-"
			if e.Mode != "" { // else lstat failed: nothing is known
				owner, mode, size = e.Owner, e.Mode, sizeText(e.Size, g.human)
				if owner == "" {
					owner = strconv.FormatUint(uint64(e.Uid), 10)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s: %s\n", act, e.Kind, owner, mode, size, e.nameText(), quoted(e.Path), e.Reason, e.Detail)
		}
		tw.Flush()
	}
	verb := "removed"
	if g.dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(w, "gc: %s %d of %s in %s\n", verb, removed, plural(len(entries), "object"), quoted(g.sc.dir))
}

// dirNames is the layout of gc's directory: names are the files' names in
// it, reached through its descriptor (never by a path that could lead
// elsewhere), never following a symbolic link.
type dirNames struct {
	dir string
	fd  int
}

func (d dirNames) Path(name string) (string, error) { return filepath.Join(d.dir, name), nil }

func (d dirNames) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	// O_NONBLOCK: a FIFO planted at the name cannot block the open.
	fd, err := unixutil.IgnoringEINTR2(func() (int, error) {
		return unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm))
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(d.dir, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.dir, name)), nil
}

func (d dirNames) Unlink(name string) error {
	if err := unixutil.IgnoringEINTR(func() error { return unix.Unlinkat(d.fd, name, 0) }); err != nil {
		return &fs.PathError{Op: "unlink", Path: filepath.Join(d.dir, name), Err: err}
	}
	return nil
}

// lstat returns the facts of the file called name, not following a
// symbolic link.
func (d dirNames) lstat(name string) (facts, error) {
	var st unix.Stat_t
	path := filepath.Join(d.dir, name)
	if err := unixutil.IgnoringEINTR(func() error { return unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return facts{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return factsOf(path, &st), nil
}

// latest is the latest of the times ts.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// fileType names what a file that is not a regular file is.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// who is a user ID with its name, if it has one: "uid 65534 (nobody)".
func who(uid uint32, name string) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if name != "" {
		s += " (" + name + ")"
	}
	return s
}

// attachmentsText describes a segment's live attachments: "1 live
// attachment: pid 4242 (nginx)".
func attachmentsText(u *usersJSON) string {
	if u.Count == 0 {
		return "no live attachment"
	}
	return plural(u.Count, "live attachment") + ": " + u.list()
}

// procList names up to three processes, and how many more there are.
func procList(ps []proc) string {
	const most = 3
	s := make([]string, 0, most)
	for _, p := range ps[:min(len(ps), most)] {
		s = append(s, p.String())
	}
	if len(ps) > most {
		s = append(s, fmt.Sprintf("%d more", len(ps)-most))
	}
	return strings.Join(s, ", ")
}

// pids returns the processes' PIDs.
func pids(ps []proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid
	}
	return out
}

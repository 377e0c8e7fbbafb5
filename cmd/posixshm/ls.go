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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "ls",
		args:    "[--dir DIR] [-h] [--json]",
		summary: "list objects with name, owner, size, live users, idle time (and daily(8) risk in OpenBSD's layout)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			humanFlag(fs)
			fs.Bool("json", false, "print one JSON array of objects instead of a table")
		},
		help: `List the shared memory objects in a directory, sorted by path: KIND
(segment, plain for another program's object, sem for a named semaphore,
other for one that was not read), OWNER, MODE, SIZE (-h: as ls -h shows it),
USERS, how long ago each was last accessed, NAME and PATH. In OpenBSD's
layout (with --dir, and without it on OpenBSD) a DAILY(8) column marks
"at-risk" those that OpenBSD's daily(8) would delete within a day (see
"posixshm help stat" for the exact rule: removable once not accessed for more
than 7×24 hours); other systems' conventions have no such cleaner, and no
such column.

NAME is the object's name: where the file name tells it (Linux's
/dev/shm/NAME, glibc's sem.NAME), that name; else the name a segment was
created under, which its header records (from this release on), if that name
leads to this file (the header of a renamed or copied file names another
object, and is not believed: "posixshm stat" shows what it claims); "-" where
nothing tells (OpenBSD's file names are hashes of the names; a segment of the
release before records none). A name cut to the 4096 bytes the header keeps
ends with "…".

USERS are the processes attached to a segment, as fuser -v shows them: the
PID each recorded and, where /proc shows that process using the segment
(Linux), its command name, "4242 (nginx)"; "0" for none, "+N" for more than
three or attachments without a slot, "-" for an object that is not a segment
(ls does not read /proc: "posixshm stat NAME" lists who maps a plain object),
"?" where they cannot be told. They are counted as "posixshm stat" counts
them, from the record locks the kernel holds for every live attachment.

With --dir DIR: the files DIR/<64 hex digits>.shm and .sem, OpenBSD's layout.
Without: this system's convention; on OpenBSD those files in /tmp, on Linux
every regular file in /dev/shm (glibc's semaphores, sem.NAME, included), on
other systems that keep objects in files the directory and file name prefix
of posixshm path /probe. Systems whose objects live in the kernel (FreeBSD,
macOS) cannot be listed.

ls never refreshes what it lists, nor attaches to it. It reads the header of
each shared memory object (not semaphores) that it may read without moving its
access time, as stat does: its owner's, or everyone's for root; another user's
object is "other", its users "?".

For named semaphores (sem_open's .sem files in OpenBSD's layout, sem.NAME in
/dev/shm) a VALUE column shows their value and the waiters their format
counts, read as stat reads them (without refreshing; another user's: "?").

--json prints one array of objects with the fields "posixshm help json"
lists (the same as stat's and gc's): kind, name, path, owner, mode, size,
times, the daily(8) fields, users (with the processes' names), segment (the
header) or not_segment, semaphore.

examples:
  posixshm ls
  posixshm ls -h --dir /tmp       # OpenBSD's layout, on any system; sizes as ls -h
  posixshm ls --json | jq '.[] | select(.daily_at_risk) | .path'
  posixshm ls --json | jq '.[] | select(.users.count == 0) | .name // .path'`,
		run: runLs,
	})
}

// scope is a directory of objects and the rule for which files in it are
// objects.
type scope struct {
	dir    string
	hashed bool   // OpenBSD's layout: <64 hex>.shm and <64 hex>.sem only; daily(8)'s verdict applies
	prefix string // otherwise, files whose names start with this
}

func runLs(c *cli, args []string) int {
	if len(args) != 0 {
		return c.usageError("%s", c.lsArgsHint(args))
	}
	sc, err := c.scope()
	if err != nil {
		c.fail(err)
		return exitFail
	}
	now := time.Now()
	entries, err := list(sc, now, func(w string) { c.errorf("ls: warning: %s", w) })
	if err != nil {
		c.fail(err)
		return exitFail
	}
	if c.flag("json").(bool) {
		if entries == nil {
			entries = []objectJSON{}
		}
		b, _ := json.Marshal(entries)
		fmt.Fprintf(c.stdout, "%s\n", b)
		return exitOK
	}
	// One write per buffer, not per tabwriter cell: 10,000 objects
	// would otherwise cost 150,000 write(2) calls.
	w := bufio.NewWriter(c.stdout)
	printLs(w, entries, now, sc.hashed, c.flag("h").(bool))
	if err := w.Flush(); err != nil {
		c.errorf("ls: %v", err)
		return exitFail
	}
	return exitOK
}

// scope returns where ls looks: the --dir layout or this system's.
func (c *cli) scope() (scope, error) {
	if c.dir != "" {
		return scope{dir: c.dir, hashed: true}, nil
	}
	const probe = "probe"
	p, err := posixshm.Path("/" + probe)
	if err == nil && p == "/"+probe {
		// FreeBSD and macOS: the "path" is the kernel's key, not a file.
		err = errors.New("they live in the kernel")
	}
	if err != nil {
		return scope{}, fmt.Errorf("ls: cannot list this system's shared memory objects (%v); use --dir", err)
	}
	dir, base := filepath.Split(p)
	dir = filepath.Clean(dir)
	switch {
	case isHashed(base):
		return scope{dir: dir, hashed: true}, nil
	case strings.HasSuffix(base, probe):
		return scope{dir: dir, prefix: strings.TrimSuffix(base, probe)}, nil
	}
	return scope{}, fmt.Errorf("ls: cannot tell which files in %s are shared memory objects; use --dir", quoted(dir))
}

// lsArgsHint says what to do instead of "ls ARG": ls takes a directory
// only as --dir, and then lists OpenBSD's layout there.
func (c *cli) lsArgsHint(args []string) string {
	msg := "ls takes no arguments, got " + plural(len(args), "argument")
	if len(args) != 1 || c.dir != "" {
		return msg
	}
	arg := args[0]
	if sc, err := c.scope(); err == nil && filepath.Clean(arg) == sc.dir {
		return msg + fmt.Sprintf(": plain \"posixshm ls\" lists %s, this system's objects", quoted(sc.dir))
	}
	return msg + fmt.Sprintf(": to list the objects in OpenBSD's layout in a directory, give it with --dir: posixshm ls --dir %s", shellQuote(arg))
}

// list returns the objects in sc, sorted by path. It calls lstat(2) once
// per candidate, and reads the objects it may read (see lsRead). Any
// warning goes to warn.
func list(sc scope, now time.Time, warn func(string)) ([]objectJSON, error) {
	des, err := os.ReadDir(sc.dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("ls %s: %w", quoted(sc.dir), unwrapPath(err))
	}
	var out []objectJSON
	names, namer := owners{}, newProcNamer(procRoot)
	for _, de := range des {
		base := de.Name()
		kind := sc.kind(base)
		if kind == "" || de.Type()&fs.ModeType != 0 { // d_type says not regular
			continue
		}
		fa, err := lstatFacts(filepath.Join(sc.dir, base))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			return nil, fmt.Errorf("ls %s: %s", quoted(sc.dir), describe(err, nil))
		}
		if !fa.Mode.IsRegular() {
			continue
		}
		var o objectJSON
		o.setFacts(fa, sc.hashed, now, names)
		if name, ok := sc.nameOf(base); ok {
			o.setName(name, false)
		}
		lsRead(&o, fa, sc, kind, namer, warn)
		out = append(out, o)
	}
	return out, nil
}

// lsRead reads the object whose file's facts are fa into o, as stat does,
// without attaching or refreshing: a semaphore's value (kind "sem"), or
// for a shared memory object (kind "shm") whether it is a segment, and
// who is attached. Only its owner's objects (everyone's, for root) are
// read: see readSegment.
func lsRead(o *objectJSON, fa facts, sc scope, kind string, namer *procNamer, warn func(string)) {
	if kind == "sem" {
		o.Kind = kindSem
	}
	// O_NONBLOCK and O_NOFOLLOW: whatever replaced the file since lstat,
	// a FIFO cannot block the open, nor a symbolic link lead elsewhere.
	f, err := os.OpenFile(fa.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err == nil {
		defer f.Close() // not attached: closing drops no attachment's lock (see readSegment)
		if now, ferr := fstatFacts(f, fa.Path); ferr != nil || now.key() != fa.key() {
			err = errors.New("replaced while ls looked at it")
		}
	} else {
		err = fmt.Errorf("not opened: %w", unwrapPath(err))
	}
	switch {
	case err != nil && kind == "sem":
		o.SemaphoreUnknown = err.Error()
		return
	case err != nil:
		o.Kind, o.UsersUnknown = kindOther, err.Error()
		return
	case kind == "sem":
		var warning string
		o.Semaphore, o.SemaphoreUnknown, warning = readSem(f, fa, sc.semLayout())
		if warning != "" {
			warn(warning)
		}
		return
	}
	o.readShm(f, fa, namer)
	if o.Warning != "" {
		warn(o.Warning)
		o.Warning = ""
	}
	o.useRecordedName(sc)
}

// semLayout is the layout of sc's semaphores: OpenBSD's in a hashed
// directory, else glibc's.
func (sc scope) semLayout() sem.Layout {
	if sc.hashed {
		return sem.Dir(sc.dir)
	}
	return sem.GlibcLayout(sc.dir, 0)
}

// kind says whether the file called name is an object of sc: "shm", "sem",
// or "" for a file that is not.
func (sc scope) kind(name string) string {
	if sc.hashed {
		switch {
		case !isHashed(name):
			return ""
		case strings.HasSuffix(name, posixshm.SemSuffix):
			return "sem"
		}
		return "shm"
	}
	if !strings.HasPrefix(name, sc.prefix) {
		return ""
	}
	if sc.prefix == "" && strings.HasPrefix(name, "sem.") { // glibc's sem_open
		return "sem"
	}
	return "shm"
}

// nameOf returns the name of the object whose file in sc's directory is
// called base, where the file name tells it: in every layout but
// OpenBSD's, whose file names are hashes of the names. It is the name
// that leads to that file in this system's convention (glibc's sem.NAME
// is the semaphore NAME).
func (sc scope) nameOf(base string) (string, bool) {
	if sc.hashed || !strings.HasPrefix(base, sc.prefix) {
		return "", false
	}
	path := filepath.Join(sc.dir, base)
	if sc.kind(base) == "sem" {
		name := "/" + strings.TrimPrefix(base, "sem.")
		p, err := sem.System().Path(name)
		return name, err == nil && p == path
	}
	name := "/" + strings.TrimPrefix(base, sc.prefix)
	p, err := posixshm.Path(name)
	return name, err == nil && p == path
}

// leadsTo reports whether the object called name in sc's layout is the
// file at path.
func (sc scope) leadsTo(name, path string) bool {
	var l posixshm.Layout = posixshm.System()
	if sc.hashed {
		l = posixshm.Dir(sc.dir)
	}
	p, err := l.Path(name)
	return err == nil && filepath.Clean(p) == filepath.Clean(path)
}

// isHashed reports whether base is a file name OpenBSD's libc gives its
// objects: 64 lowercase hex digits and ".shm" or ".sem".
func isHashed(base string) bool {
	return posixshm.IsHashedName(base, posixshm.ShmSuffix) || posixshm.IsHashedName(base, posixshm.SemSuffix)
}

// printLs prints entries as a table, with a DAILY(8) column when daily(8)'s
// verdict applies to them, sizes as ls -h shows them if human is set.
func printLs(w io.Writer, entries []objectJSON, now time.Time, daily, human bool) {
	if len(entries) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	dailyCol := func(s string) string {
		if !daily {
			return ""
		}
		return s + "\t"
	}
	// A VALUE column when semaphores are listed: theirs, "-" for the rest.
	sems := false
	for _, e := range entries {
		sems = sems || e.Kind == kindSem
	}
	semCol := func(e *objectJSON) string {
		switch {
		case !sems:
			return ""
		case e == nil:
			return "VALUE\t"
		case e.Semaphore != nil:
			return e.Semaphore.String() + "\t"
		case e.SemaphoreUnknown != "":
			return "?\t"
		}
		return "-\t"
	}
	fmt.Fprintf(tw, "KIND\tOWNER\tMODE\tSIZE\tUSERS\t%sACCESSED\t%sNAME\tPATH\n", semCol(nil), dailyCol("DAILY(8)"))
	for _, e := range entries {
		owner := e.Owner
		if owner == "" {
			owner = fmt.Sprint(e.Uid)
		}
		risk := "-"
		if e.AtRisk {
			risk = "at-risk"
		}
		users := "-"
		switch {
		case e.Users != nil:
			users = e.Users.column()
		case e.UsersUnknown != "":
			users = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s ago\t%s%s\t%s\n", e.Kind, owner, e.Mode, sizeText(e.Size, human), users,
			semCol(&e), age(e.Atime, now), dailyCol(risk), e.nameText(), quoted(e.Path))
	}
	tw.Flush()
}

// unwrapPath drops the *fs.PathError around err when the message names the
// path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

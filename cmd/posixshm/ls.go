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
		args:    "[--dir DIR] [--json]",
		summary: "list objects with owner, size, live users, idle time (and daily(8) risk in OpenBSD's layout)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.Bool("json", false, "print one JSON array of objects instead of a table")
		},
		help: `List the shared memory objects in a directory, sorted by path, with owner, mode,
size, how many processes are attached to each segment (USERS; "-" for an object
that is not a segment, "?" where it cannot be told) and how long ago each was
last accessed. In OpenBSD's layout (with --dir,
and without it on OpenBSD) a DAILY(8) column marks "at-risk" those that
OpenBSD's daily(8) would delete within a day (see "posixshm help stat" for the
exact rule: removable once not accessed for more than 7×24 hours); other
systems' conventions have no such cleaner, and no such column.

With --dir DIR: the files DIR/<64 hex digits>.shm and .sem, OpenBSD's layout.
Without: this system's convention; on OpenBSD those files in /tmp, on Linux
every regular file in /dev/shm (glibc's semaphores, sem.NAME, included), on
other systems that keep objects in files the directory and file name prefix
of posixshm path /probe. Systems whose objects live in the kernel (FreeBSD,
macOS) cannot be listed.

ls never refreshes what it lists, nor attaches to it. It reads the header of
each shared memory object (not semaphores) that it may read without moving its
access time, as stat does: its owner's, or everyone's for root; another user's
object shows "?". Live users are counted as "posixshm stat" counts them, from
the record locks the kernel holds for every live attachment.

For named semaphores (sem_open's .sem files in OpenBSD's layout, sem.NAME in
/dev/shm) a VALUE column shows their value and the waiters their format
counts, read as stat reads them (without refreshing; another user's: "?").

--json prints an array of objects: path, kind ("shm" or "sem"), uid, owner,
mode, size, atime, mtime, users for a segment (count, pids, overflow: see
"posixshm help stat"), users_unknown saying why they could not be told,
semaphore for a semaphore (format, value, waiters) or semaphore_unknown, and
the daily(8) fields as "posixshm help stat" describes them (daily_applies;
daily_removable_at and daily_days_left only when it applies; daily_at_risk,
false when it does not).

examples:
  posixshm ls
  posixshm ls --dir /tmp          # OpenBSD's layout, on any system
  posixshm ls --json | jq '.[] | select(.daily_at_risk) | .path'
  posixshm ls --json | jq '.[] | select(.users.count == 0) | .path'`,
		run: runLs,
	})
}

// lsEntry is one listed object; its JSON form is the --json output.
type lsEntry struct {
	Path  string    `json:"path"`
	Kind  string    `json:"kind"` // "shm" or "sem"
	Uid   uint32    `json:"uid"`
	Owner string    `json:"owner,omitempty"`
	Mode  string    `json:"mode"`
	Size  int64     `json:"size"`
	Atime time.Time `json:"atime"`
	Mtime time.Time `json:"mtime"`
	// Users are a segment's live attachments; UsersUnknown says why
	// they could not be told. Neither, for an object that is not a
	// segment.
	Users        *usersJSON `json:"users,omitempty"`
	UsersUnknown string     `json:"users_unknown,omitempty"`
	// Semaphore is a named semaphore's state; SemaphoreUnknown says why
	// it could not be read. Neither, for a shared memory object.
	Semaphore        *semJSON `json:"semaphore,omitempty"`
	SemaphoreUnknown string   `json:"semaphore_unknown,omitempty"`
	dailyVerdict
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
			entries = []lsEntry{}
		}
		b, _ := json.Marshal(entries)
		fmt.Fprintf(c.stdout, "%s\n", b)
		return exitOK
	}
	// One write per buffer, not per tabwriter cell: 10,000 objects
	// would otherwise cost 150,000 write(2) calls.
	w := bufio.NewWriter(c.stdout)
	printLs(w, entries, now, sc.hashed)
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
// per candidate, and reads the segments it may read (see lsUsers). Any
// warning goes to warn.
func list(sc scope, now time.Time, warn func(string)) ([]lsEntry, error) {
	des, err := os.ReadDir(sc.dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("ls %s: %w", quoted(sc.dir), unwrapPath(err))
	}
	var out []lsEntry
	names := owners{}
	for _, de := range des {
		name := de.Name()
		kind := sc.kind(name)
		if kind == "" || de.Type()&fs.ModeType != 0 { // d_type says not regular
			continue
		}
		fa, err := lstatFacts(filepath.Join(sc.dir, name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			return nil, fmt.Errorf("ls %s: %s", quoted(sc.dir), describe(err, nil))
		}
		if !fa.Mode.IsRegular() {
			continue
		}
		e := lsEntry{
			Path: fa.Path, Kind: kind, Uid: fa.Uid, Owner: names.name(fa.Uid), Mode: fa.Mode.String(),
			Size: fa.Size, Atime: fa.Atime, Mtime: fa.Mtime, dailyVerdict: verdict(sc.hashed, fa.Atime, now),
		}
		switch kind {
		case "shm":
			e.Users, e.UsersUnknown = lsUsers(fa, warn)
		case "sem":
			e.Semaphore, e.SemaphoreUnknown = lsSem(fa, sc, warn)
		}
		out = append(out, e)
	}
	return out, nil
}

// lsUsers tells who is attached to the object whose file's facts are fa,
// if it is a segment: its users; nil and why they cannot be told; or nil
// and "" for an object that is not a segment. As stat, it reads without
// attaching or refreshing, and only its owner's objects (everyone's, for
// root).
func lsUsers(fa facts, warn func(string)) (*usersJSON, string) {
	if euid := geteuid(); euid != 0 && fa.Uid != uint32(euid) {
		return nil, fmt.Sprintf("another user's (uid %d): not read", fa.Uid)
	}
	// O_NONBLOCK and O_NOFOLLOW: whatever replaced the file since lstat,
	// a FIFO cannot block the open, nor a symbolic link lead elsewhere.
	f, err := os.OpenFile(fa.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "not opened: " + unwrapPath(err).Error()
	}
	defer f.Close() // not attached: closing drops no attachment's lock (see readSegment)
	if now, err := fstatFacts(f, fa.Path); err != nil || now.key() != fa.key() {
		return nil, "replaced while ls looked at it"
	}
	r := readSegment(f, fa)
	if r.warning != "" {
		warn(r.warning)
	}
	switch {
	case r.notSegment != "":
		return nil, ""
	case r.usersErr != nil:
		return nil, unwrapPath(r.usersErr).Error()
	}
	return newUsersJSON(r.users), ""
}

// lsSem reads the state of the semaphore whose file's facts are fa, as
// readSem does.
func lsSem(fa facts, sc scope, warn func(string)) (*semJSON, string) {
	f, err := os.OpenFile(fa.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "not opened: " + unwrapPath(err).Error()
	}
	defer f.Close()
	if now, err := fstatFacts(f, fa.Path); err != nil || now.key() != fa.key() {
		return nil, "replaced while ls looked at it"
	}
	s, unknown, warning := readSem(f, fa, sc.semLayout())
	if warning != "" {
		warn(warning)
	}
	return s, unknown
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

// isHashed reports whether base is a file name OpenBSD's libc gives its
// objects: 64 lowercase hex digits and ".shm" or ".sem".
func isHashed(base string) bool {
	return posixshm.IsHashedName(base, posixshm.ShmSuffix) || posixshm.IsHashedName(base, posixshm.SemSuffix)
}

// printLs prints entries as a table, with a DAILY(8) column when daily(8)'s
// verdict applies to them.
func printLs(w io.Writer, entries []lsEntry, now time.Time, daily bool) {
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
		sems = sems || e.Kind == "sem"
	}
	semCol := func(e *lsEntry) string {
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
	fmt.Fprintf(tw, "KIND\tOWNER\tMODE\tSIZE\tUSERS\t%sACCESSED\t%sPATH\n", semCol(nil), dailyCol("DAILY(8)"))
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
			users = fmt.Sprint(e.Users.Count)
		case e.UsersUnknown != "":
			users = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s%s ago\t%s%s\n", e.Kind, owner, e.Mode, e.Size, users, semCol(&e), age(e.Atime, now), dailyCol(risk), quoted(e.Path))
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

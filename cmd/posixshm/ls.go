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
	"text/tabwriter"
	"time"

	"github.com/posixshm/posixshm/posixshm"
)

func init() {
	register(&command{
		name:    "ls",
		args:    "[--dir DIR] [--json]",
		summary: "list objects with owner, size, idle time (and daily(8) risk in OpenBSD's layout)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.Bool("json", false, "print one JSON array of objects instead of a table")
		},
		help: `List the shared memory objects in a directory, sorted by path, with owner, mode,
size and how long ago each was last accessed. In OpenBSD's layout (with --dir,
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

ls only calls lstat(2): it never opens, reads or refreshes what it lists.

--json prints an array of objects: path, kind ("shm" or "sem"), uid, owner,
mode, size, atime, mtime, and the daily(8) fields as "posixshm help stat"
describes them (daily_applies; daily_removable_at and daily_days_left only
when it applies; daily_at_risk, false when it does not).

examples:
  posixshm ls
  posixshm ls --dir /tmp          # OpenBSD's layout, on any system
  posixshm ls --json | jq '.[] | select(.daily_at_risk) | .path'`,
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
	entries, err := list(sc, now)
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
// per candidate and opens nothing.
func list(sc scope, now time.Time) ([]lsEntry, error) {
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
		out = append(out, lsEntry{
			Path: fa.Path, Kind: kind, Uid: fa.Uid, Owner: names.name(fa.Uid), Mode: fa.Mode.String(),
			Size: fa.Size, Atime: fa.Atime, Mtime: fa.Mtime, dailyVerdict: verdict(sc.hashed, fa.Atime, now),
		})
	}
	return out, nil
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
	fmt.Fprintf(tw, "KIND\tOWNER\tMODE\tSIZE\tACCESSED\t%sPATH\n", dailyCol("DAILY(8)"))
	for _, e := range entries {
		owner := e.Owner
		if owner == "" {
			owner = fmt.Sprint(e.Uid)
		}
		risk := "-"
		if e.AtRisk {
			risk = "at-risk"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s ago\t%s%s\n", e.Kind, owner, e.Mode, e.Size, age(e.Atime, now), dailyCol(risk), quoted(e.Path))
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

package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// openSeg opens the existing segment called name for c's command, or says
// on stderr why it cannot (with the command to create it, if it is
// missing) and returns nil.
func (c *cli) openSeg(name string) *segment.Segment {
	seg, err := segment.Open(name, c.segOptions())
	if err == nil {
		return seg
	}
	if why := tooShort(c.layout(), name, err); why != "" {
		c.errorf("%s %s: %s", c.name, quoted(name), why)
		return nil
	}
	if why := plainObject(c.layout(), name, err); why != "" {
		c.errorf("%s %s: %s", c.name, quoted(name), why)
		return nil
	}
	c.fail(err)
	if errors.Is(err, fs.ErrNotExist) {
		c.errorf("%s %s: create the segment first: posixshm create%s -- %s", c.name, quoted(name), c.dirArg(), shellQuote(name))
	}
	return nil
}

// plainObject explains why segment.Open refused the object called name in
// layout l when it is no segment but a plain object, or returns "" when
// err is not that: one that does not begin with a segment's header
// (ErrNotSegment), or that is empty or begins with zeros
// (ErrNotInitialized). Segments are built complete before they get their
// names wherever objects are files, so such a file is another program's
// object (Python's shared_memory and C's shm_open make new objects of
// zeros), perhaps in use: the message never suggests removing it, and says
// who uses it where /proc tells. Objects that live in the kernel (FreeBSD,
// macOS) are still made under their names, and one of zeros may also be a
// segment whose creator has not published its header, or died first.
func plainObject(l posixshm.Layout, name string, err error) string {
	zeros := errors.Is(err, segment.ErrNotInitialized)
	if !zeros && !errors.Is(err, segment.ErrNotSegment) {
		return ""
	}
	fa, ok := objectFacts(l, name)
	switch {
	case !ok && zeros:
		return "not a posixshm segment (a plain object, whose first bytes are zeros as another program's new object's are), " +
			"or a segment whose creator has not published its header, or died before it did"
	case !ok:
		return ""
	}
	var what string
	switch {
	case !zeros:
		what = quoted(fa.Path) + " does not begin with a segment's header"
	case fa.Size == 0:
		what = quoted(fa.Path) + " is empty"
	default:
		what = quoted(fa.Path) + " begins with zeros where a segment's header would be, as another program's new object does (Python's shared_memory, C's shm_open)"
	}
	if procRoot != "" {
		want := map[fileKey]bool{fa.key(): true}
		if ps := scanProcs(procRoot, want, os.Getpid(), geteuid()).users[fa.key()]; len(ps) > 0 {
			what += "; used by " + procList(ps)
		}
	}
	return "not a posixshm segment (a plain object: " + what + ")"
}

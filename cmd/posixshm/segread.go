package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/posixshm/posixshm/segment"
)

// What stat and ls read of a segment, without attaching to it or
// refreshing it.

// segRead is what reading an object as a segment found.
type segRead struct {
	header     segment.Header
	users      segment.Attachments
	unread     string // why it was not read at all; "" if it was
	notSegment string // why it is not a readable segment; "" if it is one
	usersErr   error  // the attachments could not be checked
	warning    string // e.g. the access time could not be put back
}

// readSegment reads the object open as f, whose facts before any reading
// are fa, as a segment: its header and who is attached. It neither
// attaches nor refreshes; an access time that reading moved is put back.
// Only the owner and root can do that (and read without moving it, with
// O_NOATIME), so another user's object is not read at all.
func readSegment(f *os.File, fa facts) segRead {
	if euid := geteuid(); euid != 0 && fa.Uid != uint32(euid) {
		// Only the owner (or root) may read without moving the access
		// time (O_NOATIME) or put it back afterwards (futimes): for anyone
		// else, reading the header would refresh the object.
		return segRead{unread: fmt.Sprintf("header not read: the object belongs to uid %d, and reading it as uid %d would refresh it", fa.Uid, euid)}
	}
	var r segRead
	h, err := segment.ReadHeader(f)
	if err == nil {
		r.header = h
		// Users only asks (F_GETLK) and reads. This process is not
		// attached to the segment, so f's descriptor holds none of its
		// record locks: closing it later drops nothing (on OpenBSD,
		// POSIX locks would all go with it if this process were
		// attached; see segment's package documentation).
		r.users, r.usersErr = segment.Users(f)
	} else {
		r.notSegment = notSegmentText(err, fa.Size)
	}
	if warn := restoreAtime(f, fa); warn != nil {
		r.warning = warn.Error()
	}
	return r
}

// notSegmentText says why a file of size bytes whose header ReadHeader
// refused with err is not a (readable) segment. A file of zeros is not
// called a segment whose creator died: segments are built complete before
// they get their names, and another program's new object (Python's
// shared_memory, C's shm_open and ftruncate) begins with zeros too.
func notSegmentText(err error, size int64) string {
	switch {
	case errors.Is(err, segment.ErrNotSegment):
		return unwrapPath(err).Error()
	case errors.Is(err, segment.ErrNotInitialized) && size == 0:
		return "not a posixshm segment: an empty file"
	case errors.Is(err, segment.ErrNotInitialized):
		return "not a posixshm segment: it begins with zeros where a segment's header would be, as another program's new object does"
	case errors.Is(err, segment.ErrTruncated):
		return "not a posixshm segment, or not a complete one: " + unwrapPath(err).Error()
	}
	return "damaged or unsupported posixshm header: " + unwrapPath(err).Error()
}

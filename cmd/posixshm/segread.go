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
		return segRead{notSegment: fmt.Sprintf("header not read: the object belongs to uid %d, and reading it as uid %d would refresh it", fa.Uid, euid)}
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
		r.notSegment = notSegmentText(err)
	}
	if warn := restoreAtime(f, fa); warn != nil {
		r.warning = warn.Error()
	}
	return r
}

// notSegmentText says why a file whose header ReadHeader refused with err
// is not a (readable) segment.
func notSegmentText(err error) string {
	switch {
	case errors.Is(err, segment.ErrNotSegment):
		return unwrapPath(err).Error()
	case errors.Is(err, segment.ErrTruncated), errors.Is(err, segment.ErrNotInitialized):
		return "not a posixshm segment, or not a complete one: " + unwrapPath(err).Error()
	}
	return "damaged or unsupported posixshm header: " + unwrapPath(err).Error()
}

// usersJSON is who is attached to a segment, in stat's and ls's JSON.
type usersJSON struct {
	Count    int   `json:"count"`
	PIDs     []int `json:"pids"`
	Overflow int   `json:"overflow"`
}

func newUsersJSON(u segment.Attachments) *usersJSON {
	pids := u.PIDs
	if pids == nil {
		pids = []int{}
	}
	return &usersJSON{Count: u.Count(), PIDs: pids, Overflow: u.Overflow}
}

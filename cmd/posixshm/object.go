package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
)

// objectJSON is one object as ls, stat and gc describe it: the fields all
// three share, in their JSON (documented in "posixshm help json") and
// behind their text. gc adds its verdict; stat's name is the one given.
type objectJSON struct {
	Kind string `json:"kind"` // kindSegment, kindPlain, kindSem, kindTemp or kindOther
	// Name is the object's name, where it is known: the one its file name
	// tells (all but OpenBSD's hashed layout), else the one a segment's
	// header records (version 3) if that name leads to this file (see
	// useRecordedName), or for stat the name given. Nil (null, "-" in
	// text) where nothing tells it.
	Name          *string `json:"name"`
	NameTruncated bool    `json:"name_truncated,omitempty"` // the header holds only its first segment.MaxName bytes
	// NameBytes holds Name's bytes where they are not UTF-8, which JSON
	// strings cannot carry (encoding/json puts U+FFFD for each bad byte,
	// so that two names can read alike); PathBytes the same for Path.
	NameBytes []byte    `json:"name_bytes,omitempty"`
	Path      string    `json:"path"`
	PathBytes []byte    `json:"path_bytes,omitempty"`
	Uid       uint32    `json:"uid"`
	Owner     string    `json:"owner,omitempty"`
	Mode      string    `json:"mode"`
	Size      int64     `json:"size"`
	Atime     time.Time `json:"atime"`
	Mtime     time.Time `json:"mtime"`
	dailyVerdict
	// Users are who uses the object: a segment's live attachments, or the
	// processes that /proc shows mapping a plain object or holding it
	// open (stat and gc, on Linux). UsersUnknown says why they are not
	// known, or may be incomplete.
	Users        *usersJSON `json:"users,omitempty"`
	UsersUnknown string     `json:"users_unknown,omitempty"`
	// Segment is a segment's header; NotSegment says why there is none.
	Segment    *segmentReport `json:"segment"`
	NotSegment string         `json:"not_segment,omitempty"`
	// Semaphore is a named semaphore's state; SemaphoreUnknown says why
	// it could not be read.
	Semaphore        *semJSON `json:"semaphore,omitempty"`
	SemaphoreUnknown string   `json:"semaphore_unknown,omitempty"`
	Warning          string   `json:"warning,omitempty"` // e.g. the access time could not be put back
}

// Kinds of objects.
const (
	kindSegment = "segment" // a posixshm segment (one being created, for gc, too)
	kindPlain   = "plain"   // a shared memory object that is not a segment
	kindSem     = "sem"     // a named semaphore's file
	kindTemp    = "temp"    // a creator's temporary file (gc)
	kindOther   = "other"   // a file that was not read: another user's, not a regular file, ...
)

// setFacts records what stat(2) said of the object's file, and daily(8)'s
// verdict on it at now where that applies.
func (o *objectJSON) setFacts(fa facts, daily bool, now time.Time, names owners) {
	o.setPath(fa.Path)
	o.Uid, o.Owner = fa.Uid, names.name(fa.Uid)
	o.Mode, o.Size, o.Atime, o.Mtime = fa.Mode.String(), fa.Size, fa.Atime, fa.Mtime
	o.dailyVerdict = verdict(daily, fa.Atime, now)
}

// setName records the object's name.
func (o *objectJSON) setName(name string, truncated bool) {
	o.Name, o.NameTruncated, o.NameBytes = &name, truncated, notUTF8(name)
}

// setPath records the object's file.
func (o *objectJSON) setPath(path string) { o.Path, o.PathBytes = path, notUTF8(path) }

// notUTF8 returns the bytes of s if s is not UTF-8, else nil.
func notUTF8(s string) []byte {
	if utf8.ValidString(s) {
		return nil
	}
	return []byte(s)
}

// useRecordedName makes the name a segment's header records the object's
// name, where nothing better tells it: not where the file's own name does
// (Linux's /dev/shm/NAME: setName came first), and only if the recorded
// name leads to this very file in sc's layout. The header is a claim that
// whoever could write the file could have made, and a renamed file keeps
// its old one: a name that leads elsewhere would send "posixshm rm NAME"
// to another object. A name cut to segment.MaxName bytes cannot be
// checked; it is shown ending in "…", which no command takes for a name.
// The header's claim stays in Segment.Name either way.
func (o *objectJSON) useRecordedName(sc scope) {
	s := o.Segment
	if s == nil || s.Name == nil || o.Name != nil {
		return
	}
	if s.NameTruncated || sc.leadsTo(*s.Name, o.Path) {
		o.setName(*s.Name, s.NameTruncated)
	}
}

// nameText is the object's name for a table: "-" where it is not known,
// quoted where it is not plain text, with "…" where it was cut.
func (o *objectJSON) nameText() string { return nameText(o.Name, o.NameTruncated) }

func nameText(name *string, truncated bool) string {
	switch {
	case name == nil:
		return "-"
	case truncated:
		return quoted(*name) + "…"
	}
	return quoted(*name)
}

// readShm reads the shared memory object open as f, whose facts before
// any reading are fa, as ls and stat do (see readSegment): a segment's
// header and live attachments, with their processes' names where /proc
// tells them, or why it is not a segment, or was not read.
func (o *objectJSON) readShm(f *os.File, fa facts, namer *procNamer) {
	r := readSegment(f, fa)
	o.Warning = r.warning
	switch {
	case r.unread != "":
		o.Kind, o.NotSegment, o.UsersUnknown = kindOther, r.unread, r.unread
		return
	case r.notSegment != "":
		o.Kind, o.NotSegment = kindPlain, r.notSegment
		return
	}
	o.Kind = kindSegment
	o.Segment = newSegmentReport(r.header)
	if r.usersErr != nil {
		o.UsersUnknown = unwrapPath(r.usersErr).Error()
		o.Segment.UsersError = o.UsersUnknown
		return
	}
	o.Users = attachedUsers(r.users, namer.names(fa.key(), r.users.PIDs))
	o.Segment.Users = o.Users
	o.Segment.LockHolderAlive = o.Segment.LockHeld && !r.users.LockOwnerDead
}

// segmentReport is a segment's header, as stat, ls and gc report it.
type segmentReport struct {
	Version    uint32 `json:"version"`
	HeaderSize int64  `json:"header_size"`
	DataOffset int64  `json:"data_offset"`
	DataSize   int64  `json:"data_size"`
	// Name is the name the header records (version 3); nil for version 2.
	Name             *string    `json:"name"`
	NameTruncated    bool       `json:"name_truncated,omitempty"`
	TxLogOffset      int64      `json:"tx_log_offset"` // the undo log (0 and 0: none)
	TxLogSize        int64      `json:"tx_log_size"`
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

// newSegmentReport reports the header h; the caller adds the users.
func newSegmentReport(h segment.Header) *segmentReport {
	r := &segmentReport{
		Version: h.Version, HeaderSize: h.HeaderSize, DataOffset: h.DataOffset, DataSize: h.DataSize,
		TxLogOffset: h.TxLogOffset, TxLogSize: h.TxLogSize,
		Created: h.Created, Refreshed: h.Refreshed, Slots: h.Slots, RemoveWhenUnused: h.RemoveWhenUnused,
		LockWord: h.LockWord, LockHeld: lock.HolderPID(h.LockWord) != 0, LockHolder: h.LockHolder,
		Notifications: h.Notifications, NotifyWaiters: h.NotifyWaiters,
	}
	if h.HasName() {
		name := h.Name
		r.Name, r.NameTruncated = &name, h.NameTruncated
	}
	return r
}

// usersJSON is who uses an object. Count, PIDs and Overflow are as
// segment.Attachments tells them for a segment (PIDs as the attached
// processes recorded them); for a plain object, the processes /proc
// shows using it (Overflow 0). Processes lists the same PIDs with the
// command names /proc gives them, where it does.
type usersJSON struct {
	Count     int        `json:"count"`
	PIDs      []int      `json:"pids"`
	Overflow  int        `json:"overflow"`
	Processes []procJSON `json:"processes"`
}

// procJSON is a process: its PID and, where known, its command name
// (/proc/PID/comm on Linux).
type procJSON struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm,omitempty"`
}

// attachedUsers reports a segment's live attachments u, naming the
// processes that names names.
func attachedUsers(u segment.Attachments, names map[int]string) *usersJSON {
	r := &usersJSON{Count: u.Count(), PIDs: u.PIDs, Overflow: u.Overflow, Processes: []procJSON{}}
	if r.PIDs == nil {
		r.PIDs = []int{}
	}
	for _, p := range u.PIDs {
		r.Processes = append(r.Processes, procJSON{PID: p, Comm: names[p]})
	}
	return r
}

// procUsersJSON reports the processes ps, which /proc shows using a plain
// object.
func procUsersJSON(ps []proc) *usersJSON {
	r := &usersJSON{Count: len(ps), PIDs: []int{}, Processes: []procJSON{}}
	for _, p := range ps {
		r.PIDs = append(r.PIDs, p.pid)
		r.Processes = append(r.Processes, procJSON{PID: p.pid, Comm: p.comm})
	}
	return r
}

// String is the process as fuser -v shows it: "4242 (nginx)", or "4242"
// without a name. PID 0 is an attachment taking its slot.
func (p procJSON) String() string {
	switch {
	case p.PID == 0:
		return "(attaching)"
	case p.Comm == "":
		return strconv.Itoa(p.PID)
	}
	return strconv.Itoa(p.PID) + " (" + quoted(p.Comm) + ")"
}

// column is u for ls's USERS column: "0", or the processes, at most three
// and how many more.
func (u *usersJSON) column() string {
	if u.Count == 0 {
		return "0"
	}
	const most = 3
	var s []string
	for _, p := range u.Processes[:min(len(u.Processes), most)] {
		s = append(s, p.String())
	}
	if more := u.Count - len(s); more > 0 {
		s = append(s, fmt.Sprintf("+%d", more))
	}
	return strings.Join(s, ", ")
}

// list is u in words: "pid 4242 (nginx), pid 4243; 1 without a slot".
func (u *usersJSON) list() string {
	var parts []string
	if len(u.Processes) > 0 {
		s := make([]string, len(u.Processes))
		for i, p := range u.Processes {
			s[i] = "pid " + p.String()
		}
		parts = append(parts, strings.Join(s, ", "))
	}
	if u.Overflow > 0 {
		parts = append(parts, strconv.Itoa(u.Overflow)+" without a slot")
	}
	return strings.Join(parts, "; ")
}

// sizeText is n bytes for a table: exact, or as ls -h shows it.
func sizeText(n int64, human bool) string {
	if human {
		return humanSize(n)
	}
	return strconv.FormatInt(n, 10)
}

// Package inode keeps one record per file (device and inode number) on
// which this process holds record locks, as SQLite's unix VFS keeps one
// unixInodeInfo per inode, so that no descriptor the library would close
// drops them.
//
// POSIX record locks (F_SETLK: OpenBSD's only kind, and every system's
// but Linux's) belong to the process, and the kernel drops ALL of a
// process's locks on a file when ANY of its descriptors of that file is
// closed, whichever descriptor took them. A process attached to a segment
// holds such locks (its slot's byte; a creator also its creation lock),
// and the library opens files by name all the time: a name may lead to a
// file the process is attached to, by way of another name (a hard link
// someone made) or a race with whoever renames and links names in the
// directory. So every descriptor the library opens and would close again
// goes through Close: while the process holds a record of the file, the
// descriptor is parked on it instead, and closed when the last hold ends
// (Release). Linux's open file description locks have no such trap; the
// same code runs there, so that Linux tests run what OpenBSD runs.
//
// Package posixshm (which builds new objects under creation locks) and
// package segment (whose attachments hold slot locks) share this one
// registry, so that a descriptor one of them closes never drops the
// other's locks; posixshm still imports nothing from segment.
//
// A process whose file is hard-linked at a name it opens, again and again,
// would park a descriptor each time. The parked descriptors are bounded
// per name: once MaxParked descriptors opened by one name are parked on a
// record, Full reports the name, and the library refuses to open it again
// (EAGAIN) until the record ends. Closing one instead is not an option:
// that is the very close that drops the locks.
package inode

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// A Key identifies a file: its device and inode numbers.
type Key struct{ Dev, Ino uint64 }

// KeyOf is the key of the file st describes.
func KeyOf(st *unix.Stat_t) Key { return Key{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} }

// MaxParked bounds the descriptors parked on one record that were opened
// by one name (path): see Full.
const MaxParked = 16

// A record is what this process holds on one file.
type record struct {
	holds    int // attachments and creations that hold record locks on the file
	creating int // of those, creations
	parked   []*os.File
	byPath   map[string]int // parked descriptors, by the path they were opened by
}

var reg struct {
	mu   sync.Mutex
	m    map[Key]*record
	full map[string]int // paths with MaxParked descriptors parked on some record, and on how many
}

// held is len(reg.m) and nfull len(reg.full): the common Close and Full,
// in a process with no records, take no lock and make no system call.
var held, nfull atomic.Int32

// Hold records that this process is about to take record locks on the
// file k (an attachment), and keeps its descriptors from being closed
// until the matching Release. Call it before taking the first lock.
func Hold(k Key) { hold(k, 0) }

// HoldCreating is Hold for a creation: Creating reports k until the
// matching ReleaseCreating.
func HoldCreating(k Key) { hold(k, 1) }

func hold(k Key, creating int) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	r := reg.m[k]
	if r == nil {
		if reg.m == nil {
			reg.m = make(map[Key]*record)
		}
		r = &record{}
		reg.m[k] = r
		held.Add(1)
	}
	r.holds++
	r.creating += creating
}

// Creating reports whether this process is creating the file k. POSIX
// record locks never show a process its own, so a probe with F_GETLK
// cannot tell it.
func Creating(k Key) bool {
	if held.Load() == 0 {
		return false
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	r := reg.m[k]
	return r != nil && r.creating > 0
}

// Held reports whether this process holds record locks on the file k.
func Held(k Key) bool {
	if held.Load() == 0 {
		return false
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.m[k] != nil
}

// Release ends a Hold of the file k. f, if not nil, is a descriptor of
// the file that the caller is done with: it is closed if this was the
// last hold, together with every descriptor parked on the record, and
// otherwise parked. All of that happens under the registry's lock, so
// that a Hold of the same file by another goroutine (which comes before
// its first lock) never sees its locks dropped by these closes.
func Release(k Key, f *os.File) error { return release(k, f, 0) }

// ReleaseCreating ends a HoldCreating, as Release ends a Hold.
func ReleaseCreating(k Key, f *os.File) error { return release(k, f, 1) }

func release(k Key, f *os.File, creating int) error {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	r := reg.m[k]
	if r == nil || r.holds == 0 {
		panic("inode: Release without Hold")
	}
	r.holds--
	r.creating -= creating
	if r.holds > 0 {
		if f != nil {
			r.park(f, "")
		}
		return nil
	}
	delete(reg.m, k)
	held.Add(-1)
	for path, n := range r.byPath {
		if n >= MaxParked {
			unfull(path)
		}
	}
	for _, p := range r.parked {
		p.Close()
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// park adds f, opened by path ("": not by a name), to r's descriptors.
// reg.mu is held.
func (r *record) park(f *os.File, path string) {
	r.parked = append(r.parked, f)
	if path == "" {
		return
	}
	if r.byPath == nil {
		r.byPath = make(map[string]int)
	}
	if r.byPath[path]++; r.byPath[path] == MaxParked {
		if reg.full == nil {
			reg.full = make(map[string]int)
		}
		if reg.full[path]++; reg.full[path] == 1 {
			nfull.Add(1)
		}
	}
}

func unfull(path string) {
	if reg.full[path]--; reg.full[path] == 0 {
		delete(reg.full, path)
		nfull.Add(-1)
	}
}

// Close closes f, a descriptor that the library opened by the name path
// and is done with, unless this process holds record locks on its file:
// then f is parked on the file's record until the last hold ends, since
// closing it would drop them. A descriptor whose file cannot be told
// (fstat fails) is closed.
func Close(f *os.File, path string) error {
	if held.Load() == 0 {
		return f.Close()
	}
	var st unix.Stat_t
	if unixutil.Fstat(int(f.Fd()), &st) != nil {
		return f.Close()
	}
	return CloseKey(f, path, KeyOf(&st))
}

// CloseKey is Close for a descriptor of the file k.
func CloseKey(f *os.File, path string, k Key) error {
	if held.Load() == 0 {
		return f.Close()
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if r := reg.m[k]; r != nil {
		r.park(f, path)
		return nil
	}
	return f.Close()
}

// CloseFd is Close for a raw descriptor, st its file (nil: unknown).
func CloseFd(fd int, path string, st *unix.Stat_t) error {
	if held.Load() == 0 {
		return unix.Close(fd)
	}
	var s unix.Stat_t
	if st == nil {
		if unixutil.Fstat(fd, &s) != nil {
			return unix.Close(fd)
		}
		st = &s
	}
	return CloseKey(os.NewFile(uintptr(fd), path), path, KeyOf(st))
}

// Full reports whether MaxParked descriptors opened by path are parked on
// a record of this process: the library then refuses to open path again
// until that record ends, so that a name hard-linked to a file this
// process holds locks on, again and again, cannot make it keep
// descriptors without bound.
func Full(path string) bool {
	if nfull.Load() == 0 {
		return false
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.full[path] > 0
}

// Parked returns the number of descriptors parked on the record of k (for
// tests), or -1 if there is none.
func Parked(k Key) int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if r := reg.m[k]; r != nil {
		return len(r.parked)
	}
	return -1
}

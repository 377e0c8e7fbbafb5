package segment

import (
	"errors"
	"io/fs"
	"runtime/debug"
	"syscall"

	"github.com/posixshm/posixshm/internal/memfault"
)

// A fault is an error inside the package. The library checks a file's size
// with fstat before it maps and reads it, but another process that may
// write the file can truncate it at any time, and touching a mapped page
// past the end of a file raises SIGBUS, which would crash the program. So
// every access of the package to a mapping (the header, the table, the
// lock and notify words, the data through ReadAt and WriteAt) runs under
// debug.SetPanicOnFault, which turns the fault into a panic of this
// goroutine, recovered here into an error wrapping ErrTruncated. What stays
// the caller's: its own accesses to Bytes(), which fault as any access to
// such a mapping does (ReadAt and WriteAt do not), and a word of its own
// in the data region used with package lock.
//
// Two forms: memfault.Catch (and Segment.guarded, which gives the error) for
// code that may pay for a closure, and faultGuard for the lock's hot
// paths, which may not (see faultGuard).

// errTruncatedUnder is the fault reported when a mapped file shrinks while
// the library reads its header.
const errTruncatedUnder = "file was truncated while its header was read"

// errTruncatedMapped is the reason given when an access to a segment's
// mapping faulted.
const errTruncatedMapped = "file was truncated under the mapping (touching Bytes would fault too)"

// truncated is the error of an access to s's mapping that faulted, in a
// call whose syscall-style op is op.
func (s *Segment) truncated(op string) error {
	hf := fault(ErrTruncated, errTruncatedMapped)
	hf.File = s.path
	return &fs.PathError{Op: op, Path: s.name, Err: hf}
}

// guarded runs fn, which touches s's mapping, and returns its error, or
// the error of a truncated file if an access faulted.
func (s *Segment) guarded(op string, fn func() error) (err error) {
	if !memfault.Catch(func() { err = fn() }) {
		return s.truncated(op)
	}
	return err
}

// A faultGuard is memfault.Catch for the hot paths (Lock, Unlock and their
// kind), without a closure. Beside the lock.Mutex calls it guards, which
// cost 2.5-3 ns each, it adds 7-11 ns (thread CPU time, 2-core VM, Go
// 1.26): two calls of SetPanicOnFault (4-5 ns) and one deferred call
// (about 6). Nothing cheaper catches a fault: SetPanicOnFault is per
// goroutine and must be put back (it is the caller's goroutine), and only
// a deferred call can recover. The pattern:
//
//	func (s *Segment) Op() (err error) {
//		g := faultGuard{old: debug.SetPanicOnFault(true)}
//		defer g.end(s, "op", &err)
//		... the accesses ...
//		g.done = true
//		return ...
//	}
//
// (end only calls recover when the code did not get to done: a call of
// recover that finds no panic costs more than all the rest.)
type faultGuard struct {
	old  bool // the goroutine's SetPanicOnFault setting to put back
	done bool // the guarded code ran to its end
}

// end, deferred, puts the goroutine's SetPanicOnFault setting back and, if
// the guarded code faulted, sets *err to the error of a truncated file.
// Other panics are passed on.
func (g *faultGuard) end(s *Segment, op string, err *error) {
	debug.SetPanicOnFault(g.old)
	if g.done {
		return
	}
	if r := recover(); r != nil {
		if !memfault.Is(r) {
			panic(r)
		}
		*err = s.truncated(op)
	}
}

// faultError turns what package lock says when the word's memory is gone
// (a sleeping waiter's futex(2) got EFAULT) into the error of a truncated
// file; other errors pass.
func (s *Segment) faultError(op string, err error) error {
	if errors.Is(err, syscall.EFAULT) {
		return s.truncated(op)
	}
	return err
}

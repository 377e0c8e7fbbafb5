package sem

import (
	"runtime/debug"
	"syscall"

	"github.com/posixshm/posixshm/internal/memfault"
)

// Faults. Whoever may write a semaphore's file can truncate it (in
// glibc's layout every user its mode lets write, in OpenBSD's only its
// owner), and touching a mapped page past the end of a file raises
// SIGBUS, which kills a Go program as it kills a C one. So the accesses
// of this package to a mapping run under debug.SetPanicOnFault, which
// turns the fault into a panic of this goroutine, recovered here into an
// error (EFAULT, naming the file): Wait, TimedWait, WaitContext (a waiter
// asleep when the file goes finds out at its next look, within 100 ms),
// Value, Info, Open's look at the file, and Post and TryWait once
// contended.
//
// The exception is the uncontended Post and TryWait: one compare-and-swap
// each (OpenBSD's post also reads waitcount after it), inlined for
// glibc's 64-bit format and tried first in the slow path for the others.
// A guard would make them two to three times as costly: Post+TryWait on
// glibc's 64-bit format 7.7-8.6 ns unguarded, 23-34 ns guarded, on a
// 2-core VM with Go 1.26; its cost is two calls of SetPanicOnFault and a
// deferred call, which nothing cheaper replaces (see segment/fault.go). A
// truncated file faults there as in C. Once any guarded access of this
// process has found the file truncated, those attempts are off (stGone),
// so later calls get the error too. Value pays the guard: 12-13 ns
// instead of 2.7.

// A guard is SetPanicOnFault for one call, without a closure:
//
//	func (s *Semaphore) op() (err error) {
//		g := guard{old: debug.SetPanicOnFault(true)}
//		defer g.end(s, opX, &err)
//		... the accesses ...
//		g.done = true
//		return ...
//	}
//
// (end calls recover only when the code did not reach done: a recover
// that finds no panic costs more than the rest.)
type guard struct {
	old  bool // the goroutine's SetPanicOnFault setting to put back
	done bool // the guarded code ran to its end
}

// end, deferred, puts the goroutine's setting back and, if the guarded
// code faulted, sets *err to the error of a truncated file. Other panics
// are passed on.
func (g *guard) end(s *Semaphore, op string, err *error) {
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

// errTruncated is the reason given for an access that faulted.
const errTruncated = "the file was truncated under its mapping (by a process that may write it): the semaphore is gone"

// truncated is the error of an access to s's mapping that faulted, in a
// call whose op is op. It also turns s's fast paths off for good.
func (s *Semaphore) truncated(op string) error {
	s.rmu.Lock()
	if s.state.Load()&stClosed == 0 {
		s.setState(stGone, 0)
	}
	s.rmu.Unlock()
	return pathError(op, s.name, s.path, errTruncated, syscall.EFAULT)
}

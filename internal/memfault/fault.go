// Package memfault catches the memory faults of accesses to a mapped file.
//
// Touching a mapped page past the end of a file (another process may
// truncate a shared file at any time) raises SIGBUS, which the Go runtime
// turns into a crash of the whole program, unless the goroutine runs under
// debug.SetPanicOnFault: then the fault is a panic of that goroutine, which
// a deferred call can recover. Catch is that pattern for code that may pay
// for a closure; the hot paths of packages segment and sem inline it (a
// setting put back and a deferred call that recovers only when the code did
// not finish), and use Is to tell a fault from other panics.
package memfault

import "runtime/debug"

// Catch runs fn, which reads or writes a mapping of a file, and reports
// whether it ran without a memory fault. A panic that is not a memory fault
// is passed on, and the goroutine's SetPanicOnFault setting is put back.
func Catch(fn func()) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !Is(r) {
				panic(r)
			}
			ok = false
		}
	}()
	fn()
	return true
}

// Is reports whether a recovered value is a memory fault: a runtime.Error
// with the faulting address, as SetPanicOnFault makes it.
func Is(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

package segment

import "runtime/debug"

// errTruncatedUnder is the fault reported when a mapped file shrinks while
// the library reads its header.
const errTruncatedUnder = "file was truncated while its header was read"

// noFault runs fn, which reads a mapping of a file, and reports whether it
// ran without a memory fault. The library checks a file's size with fstat
// before it maps and reads it, but another process that may write the file
// can truncate it in between, and reading a mapped page past the end of a
// file raises SIGBUS, which would crash the program. With SetPanicOnFault
// the fault becomes a panic in this goroutine, recovered here.
func noFault(fn func()) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, isFault := r.(interface{ Addr() uintptr }); !isFault {
				panic(r)
			}
			ok = false
		}
	}()
	fn()
	return true
}

package sem

import (
	"io/fs"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
)

// Ops of the *fs.PathError values this package returns, named after the C
// functions they stand in for.
const (
	opOpen     = "sem_open"
	opUnlink   = "sem_unlink"
	opPost     = "sem_post"
	opWait     = "sem_wait"
	opTryWait  = "sem_trywait"
	opTimed    = "sem_timedwait"
	opGetValue = "sem_getvalue"
	opClose    = "sem_close"
	opRefresh  = "futimes"
)

// pathError builds the error returned at the package boundary for the
// semaphore called name. With a file, an errno becomes a
// *posixshm.FileError that names the file and why it was refused; a
// format error keeps its reason as the FileError's.
func pathError(op, name, file, reason string, err error) error {
	if fe, ok := err.(*formatError); ok && file != "" {
		return &fs.PathError{Op: op, Path: name, Err: &posixshm.FileError{File: file, Reason: fe.reason, Errno: syscall.EINVAL}}
	}
	errno, ok := err.(syscall.Errno)
	if !ok || file == "" {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &fs.PathError{Op: op, Path: name, Err: &posixshm.FileError{File: file, Reason: reason, Errno: errno}}
}

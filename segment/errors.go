package segment

import (
	"io/fs"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
)

// opSegment is the Op of errors about a segment's header or size.
const opSegment = "segment"

// pathError builds the error returned at the package boundary for a failed
// system call on the file behind name: a *posixshm.FileError naming the
// file (and why, when the kernel did not say), as package posixshm reports
// them, inside an *fs.PathError whose Path is the caller's name.
func pathError(op, name, file, reason string, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok || file == "" {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &fs.PathError{Op: op, Path: name, Err: &posixshm.FileError{File: file, Reason: reason, Errno: errno}}
}

package segment

import (
	"errors"
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

// ErrNotRemoved: Close detached from a segment that removes itself when
// unused, and saw nobody else attached, but it could not take the removal
// gate within a second: another process held it (a removal or a creation
// in progress, an opener stopped halfway through attaching, a pinned
// attachment, which Close cannot see otherwise, or anybody who may read
// the file, who can hold it as long as it likes). Nothing is lost: the
// segment stays as it was, and its next user (who then finds every other
// attachment dead) or gc removes it once it is unused.
var ErrNotRemoved = errors.New("segment left for its next user or gc to remove")

package posixshm

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// OpenObjectFile opens the file at path for a shared object of another
// kind called name, such as a named semaphore (package sem), with the
// hardening Open gives shared memory objects: O_NOFOLLOW and O_CLOEXEC
// always, a FIFO cannot block the open, only a regular file with a single
// link is accepted (also against a link made and removed while it is
// opened), and O_TRUNC is applied only after these checks. With openbsd
// set, OpenBSD's rules apply as well: a new file gets perm & 0600, and the
// file must be owned by the effective user ID (else EPERM). flag is
// passed to open(2) as it is; the caller applies its own flag rules.
//
// A file with exactly two links is looked at again for a while before it
// is refused: sem_open builds a semaphore in a temporary file and links it
// to its name, so for a moment (glibc: from link(2) to the unlink(2) of
// the temporary name) a new semaphore has two names.
//
// If there is an error, it will be of type *fs.PathError with Op op, Path
// name and, for errors about the file, a *FileError that names it.
func OpenObjectFile(op, name, path string, flag int, perm os.FileMode, openbsd bool) (*os.File, error) {
	var f *os.File
	var err error
	for d := 10 * time.Microsecond; ; d *= 2 {
		f, err = openFile(name, path, flag, perm, policy{openbsd: openbsd})
		var fe *FileError
		if d > linkWait || !errors.As(err, &fe) || fe.Errno != syscall.EPERM || fe.Reason != linksReason(2) {
			break
		}
		time.Sleep(d)
	}
	if pe, ok := err.(*fs.PathError); ok {
		pe.Op = op
	}
	return f, err
}

// linkWait bounds the backoff of OpenObjectFile for a file with two links:
// the sleeps add up to twice this (about 40 ms).
const linkWait = 20 * time.Millisecond

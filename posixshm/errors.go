package posixshm

import (
	"io/fs"
	"syscall"
)

// Ops used in the *fs.PathError values this package returns, named after
// the C functions they stand in for.
const (
	opOpen    = "shm_open"
	opUnlink  = "shm_unlink"
	opMkstemp = "shm_mkstemp"
)

// FileError is the Err of every *fs.PathError returned for a failure that
// concerns the file behind a name. The PathError's Path is the caller's name;
// FileError adds the file it resolved to (which, on OpenBSD, is a hash nobody
// could guess) and, when the kernel did not produce the error itself, why the
// file was refused.
//
// FileError unwraps to its errno, so errors.Is(err, fs.ErrNotExist),
// errors.Is(err, syscall.EPERM) and the like work through the PathError.
type FileError struct {
	File   string        // the resolved path, e.g. /tmp/<sha256>.shm
	Reason string        // why the file was refused; empty for errors from the kernel
	Errno  syscall.Errno // the error the C function would have set errno to
}

func (e *FileError) Error() string {
	if e.Reason == "" {
		return e.File + ": " + e.Errno.Error()
	}
	return e.File + ": " + e.Reason + " (" + e.Errno.Error() + ")"
}

func (e *FileError) Unwrap() error { return e.Errno }

// NameError is the Err of the *fs.PathError returned when a name is
// refused before any file is looked at: for example a name with a NUL byte,
// on Linux an empty one, or any name in the empty Dir. It unwraps to its
// errno.
type NameError struct {
	Reason string        // what is wrong with the name
	Errno  syscall.Errno // the error the C function would have set errno to
}

func (e *NameError) Error() string { return e.Reason + " (" + e.Errno.Error() + ")" }

func (e *NameError) Unwrap() error { return e.Errno }

// errNUL is the error for a name that a C string cannot hold.
var errNUL = &NameError{Reason: "name contains a NUL byte", Errno: syscall.EINVAL}

// pathError builds the error returned at the package boundary. A file of ""
// means the name was refused before any path existed.
func pathError(op, name, file, reason string, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok || file == "" {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &fs.PathError{Op: op, Path: name, Err: &FileError{File: file, Reason: reason, Errno: errno}}
}

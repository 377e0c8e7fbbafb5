package posixshm

import (
	"github.com/posixshm/posixshm/internal/unixutil"
	"io/fs"
	"os"
)

// Touch sets the access and modification times of the open object f to
// now, as futimes(fd, NULL) does. Using an object through mmap never
// updates these times, so on OpenBSD daily(8), which removes files in /tmp
// not accessed for days, deletes objects that are still in use; touching
// them regularly keeps them. The caller must own f or have it open for
// writing. If there is an error, it will be of type *fs.PathError with Op
// "futimes".
func Touch(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: "futimes", Path: f.Name(), Err: err}
	}
	var terr error
	if err := rc.Control(func(fd uintptr) { terr = unixutil.Touch(int(fd)) }); err != nil {
		terr = err
	}
	if terr != nil {
		return &fs.PathError{Op: "futimes", Path: f.Name(), Err: terr}
	}
	return nil
}

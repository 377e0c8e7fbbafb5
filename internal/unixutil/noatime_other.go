//go:build unix && (!linux || openbsdsim)

package unixutil

import (
	"time"

	"golang.org/x/sys/unix"
)

// Noatime does nothing here: there is no O_NOATIME to set with fcntl.
func Noatime(fd int) (restore func()) { return nop }

// KeepAtime notes fd's times and returns a function that puts the access
// time back if reading or mapping fd has moved it meanwhile: OpenBSD's FFS
// marks a file accessed on every read(2), page-ins of a mapping included,
// and has no O_NOATIME, so without this merely looking at a segment would
// refresh it (and a refused file would be changed). If the modification
// time moved too, someone refreshed or wrote the file meanwhile, and the
// times are left as they are. Setting times needs the caller to own the
// file (or be root); otherwise nothing changes. restore reports whether it
// set the time back, so that a caller holding an fstat from meanwhile
// knows to take another.
func KeepAtime(fd int) (restore func() (restored bool)) {
	var before unix.Stat_t
	if Fstat(fd, &before) != nil {
		return func() bool { return false }
	}
	return func() bool {
		var after unix.Stat_t
		if Fstat(fd, &after) != nil || after.Atim == before.Atim || after.Mtim != before.Mtim {
			return false
		}
		return SetAtime(fd, time.Unix(before.Atim.Unix()), time.Unix(after.Mtim.Unix())) == nil
	}
}

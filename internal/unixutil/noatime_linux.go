//go:build linux && !openbsdsim

package unixutil

import "golang.org/x/sys/unix"

// Noatime sets O_NOATIME on fd and returns a function that restores the
// previous flags. Linux updates a file's access time when it is read and
// when it is mapped (relatime included, once a day), so without it merely
// looking at a stale segment, as ReadHeader does, would make it look used,
// and mapping one would hide whether refreshes work. With it only futimes
// moves the times (where there is no O_NOATIME, KeepAtime puts them back
// instead). Setting it needs the caller to own the file (or CAP_FOWNER);
// otherwise nothing changes.
func Noatime(fd int) (restore func()) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NOATIME != 0 {
		return nop
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NOATIME); err != nil {
		return nop
	}
	return func() { unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl) }
}

// KeepAtime does nothing on Linux: Noatime is how reading and mapping leave
// a file's access time alone here (see noatime_other.go for the rest).
func KeepAtime(fd int) (restore func() (restored bool)) { return notRestored }

func notRestored() bool { return false }

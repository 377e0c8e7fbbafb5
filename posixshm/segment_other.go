//go:build unix && !linux

package posixshm

// noatime does nothing here: there is no O_NOATIME to set with fcntl.
func noatime(fd int) (restore func()) { return nop }

func nop() {}

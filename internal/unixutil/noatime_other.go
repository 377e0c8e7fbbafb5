//go:build unix && !linux

package unixutil

// Noatime does nothing here: there is no O_NOATIME to set with fcntl.
func Noatime(fd int) (restore func()) { return nop }

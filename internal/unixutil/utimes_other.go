//go:build unix && !linux

package unixutil

import "golang.org/x/sys/unix"

// futimesNow sets fd's access and modification times to now: futimes(fd, NULL).
func futimesNow(fd int) error { return unix.Futimes(fd, nil) }

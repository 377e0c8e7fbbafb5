//go:build unix && !linux && !darwin && !freebsd && !dragonfly && !openbsd && !netbsd && !solaris

package unixutil

import "errors"

func freeSpace(fd int) (Space, error) { return Space{}, errors.ErrUnsupported }

//go:build unix && !linux && !darwin && !freebsd && !dragonfly && !openbsd && !netbsd && !solaris

package unixutil

import "errors"

// FreeSpace is not implemented here.
func FreeSpace(path string) (int64, error) { return 0, errors.ErrUnsupported }

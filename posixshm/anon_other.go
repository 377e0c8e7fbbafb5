//go:build unix && (!linux || openbsdsim) && !freebsd

package posixshm

import (
	"os"
	"syscall"
)

// openAnonymous: no other system has an anonymous shm_open. OpenBSD,
// NetBSD, DragonFly and illumos implement shm_open with files, and macOS
// refuses SHM_ANON; a caller can create a named object and unlink it.
func openAnonymous() (*os.File, error) {
	return nil, pathError(opOpen, anonName, "", "", syscall.ENOTSUP)
}

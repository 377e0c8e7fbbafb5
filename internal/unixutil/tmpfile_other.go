//go:build unix && (!linux || openbsdsim)

package unixutil

import "syscall"

// OpenTmpfile fails with ENOTSUP: there is no O_TMPFILE here (OpenBSD,
// the other BSDs, illumos, macOS; and the openbsdsim build, which runs
// OpenBSD's code). Callers create the file under a temporary name.
func OpenTmpfile(dir string, mode uint32) (int, error) { return -1, syscall.ENOTSUP }

// LinkTmpfile is never called here: OpenTmpfile gives no file.
func LinkTmpfile(fd, dirfd int, base string) error { return syscall.ENOTSUP }

//go:build !unix || aix

package lock

// This module is POSIX shared memory: shm_open, file descriptors, mmap and
// record locks. It builds for Unix systems only; on any other the build
// stops here, with this name in its error. AIX is a Unix, but it has no
// shm_open convention studied here (nor futimes in x/sys): it stops too.
var _ = posixshm_supports_only_unix_systems

//go:build !unix

package unixutil

// This module is POSIX shared memory: shm_open, file descriptors, mmap and
// record locks. It builds for Unix systems only; on any other the build
// stops here, with this name in its error.
var _ = posixshm_supports_only_unix_systems

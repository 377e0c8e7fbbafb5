//go:build linux && !openbsdsim

package posixshm

// Linux's glibc and musl keep objects in /dev/shm, a tmpfs
// (glibc sysdeps/posix/shm-directory.c; musl src/mman/shm_open.c).
var native Layout = glibcDir("/dev/shm")

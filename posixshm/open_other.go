//go:build unix && !openbsd

package posixshm

// Linux's glibc and musl keep objects in /dev/shm, a tmpfs.
var native layout = glibcDir("/dev/shm")

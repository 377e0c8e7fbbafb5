//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd && !solaris

package posixshm

// The remaining Unixes (AIX, the Hurd) are neither built nor tested here.
// They get glibc's /dev/shm convention, which is the Hurd's; on AIX it
// shares objects among Go programs only.
var native Layout = glibcDir("/dev/shm")

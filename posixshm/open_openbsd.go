package posixshm

// On OpenBSD, shm_open(3) is libc code that keeps objects in /tmp.
var native Layout = OpenBSD

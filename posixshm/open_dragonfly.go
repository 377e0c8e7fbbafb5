package posixshm

import "golang.org/x/sys/unix"

// DragonFly's libc keeps objects in /var/run/shm and marks each open one
// FPOSIXSHM, which sys/fcntl.h defines as O_NOFOLLOW.
var native Layout = dragonflyDir{dir: dragonflyShmDir, fposixshm: unix.O_NOFOLLOW}

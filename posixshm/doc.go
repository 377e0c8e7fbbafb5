// Package posixshm is POSIX shared memory (shm_open and shm_unlink) in pure
// Go, without cgo, reproducing OpenBSD's libc exactly and following each
// system's own convention elsewhere, plus a mapped segment that OpenBSD's
// daily(8) does not delete while it is in use.
//
// # The drop-in
//
// [Open] and [Unlink] open and remove the object that this system's C
// shm_open(name) and shm_unlink(name) would, so Go and C programs share
// objects:
//
//	f, err := posixshm.Open("/myobject", os.O_RDWR|os.O_CREATE, 0o600)
//
// On OpenBSD shm_open is libc code, not a system call: the object called
// name is the plain file /tmp/<sha256-hex(name)>.shm, opened with O_NOFOLLOW
// and O_CLOEXEC, created with mode perm&0600, and refused unless it is a
// regular file owned by the caller. [Dir] is that layout rooted at any
// directory, on any system; on OpenBSD the package-level functions are the
// methods of [OpenBSD] (Dir("/tmp")). On Linux they follow glibc:
// /dev/shm/<name without its leading slashes>.
//
// Both go a little further than libc, because the files live in
// directories anybody can write to: a FIFO planted at the path cannot block
// the open, a file with more than one hard link is refused, O_TRUNC is
// applied only after the checks pass, and symbolic links are never
// followed.
//
// # Errors
//
// Every error is an *fs.PathError whose Op is the C function's name
// ("shm_open", "shm_unlink", "shm_mkstemp") and whose Path is the caller's
// name. Its Err is a [*FileError] naming the file the name resolved to (and,
// for a refused file, why), or a [*NameError] for a name refused outright.
// Both unwrap to the errno the C function would set, so errors.Is works
// with fs.ErrNotExist, fs.ErrExist, fs.ErrPermission and syscall errnos.
//
// # Why daily(8) matters
//
// Mapping and using an object never updates its file times. OpenBSD's
// daily(8) removes files in /tmp whose access time is more than 7 days old
// (3 days in older releases), so a week after creation a live object
// vanishes: running processes keep their mapping, new ones get ENOENT.
// [Touch] refreshes an object's times, as futimes(fd, NULL) does.
//
// # Segments
//
// A [Segment] is an object mapped with a small versioned header in front of
// its data: magic, version, sizes, created-at, a shared refreshed-at stamp,
// and on a cache line of its own a lock word (package lock) and the
// holder's fingerprint. [Dir.CreateSegment], [Dir.OpenSegment] and
// [Dir.OpenOrCreateSegment] (and the package-level forms on this system's
// convention) create and attach to one; many processes may call
// OpenOrCreateSegment at once and exactly one initialises it.
//
//	s, err := posixshm.OpenOrCreateSegment("/counter", 4096, nil)
//	if err := s.Lock(); errors.Is(err, lock.ErrOwnerDead) {
//		// the previous holder died holding the lock: repair s.Bytes()
//	}
//	defer s.Unlock()
//
// Segments refresh themselves as they are used: opening one, or taking its
// lock, sets the file's times to now when they are older than an interval
// (an hour by default), so daily(8) never deletes a segment in use; see
// [Segment.Refresh] for the policy and [Segment.KeepAlive] for processes
// that hold a segment without using it. A file that is not a segment, or is
// corrupt, truncated or of another version, gives one of the sentinels
// [ErrNotSegment], [ErrVersion], [ErrTruncated], [ErrSizeMismatch] and
// [ErrNotInitialized], wrapped in an error that names the file.
package posixshm

// Package segment maps POSIX shared memory objects with a small versioned
// header in front of their data: magic, version, sizes, created-at, a
// shared refreshed-at stamp, and on a cache line of its own a crash-robust
// lock word (package lock).
//
// [Create], [Open] and [OpenOrCreate] create and attach to a segment by
// name; many processes may call OpenOrCreate at once and exactly one
// initialises it. Where the name leads is [Options].Layout: this system's
// own shm_open convention by default (so C programs that call shm_open with
// the same name open the same object), or OpenBSD's layout rooted at any
// directory with a posixshm.Dir.
//
//	s, err := segment.OpenOrCreate("/counter", 4096, nil)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	if err := s.Lock(); errors.Is(err, lock.ErrOwnerDead) {
//		// the previous holder died holding the lock: repair s.Bytes()
//	}
//	defer s.Unlock()
//
// # Why segments refresh themselves
//
// Mapping and using a shared memory object never updates its file times,
// and OpenBSD's daily(8) removes files in /tmp whose access time is more
// than 7 days old (3 in older releases): a week after creation a live
// object vanishes, and new processes get ENOENT. Segments refresh
// themselves as they are used: opening one, or taking its lock, sets the
// file's times to now when they are older than an interval (an hour by
// default), so daily(8) never deletes a segment in use; see
// [Segment.Refresh] for the policy and [Segment.KeepAlive] for processes
// that hold a segment without using it.
//
// # Errors
//
// Errors are *fs.PathError values whose Path is the caller's name. A file
// that is not a segment, or is corrupt, truncated or of another version,
// gives one of the sentinels [ErrNotSegment], [ErrVersion], [ErrTruncated],
// [ErrSizeMismatch] and [ErrNotInitialized], wrapped in an error that names
// the file; [ReadHeader] documents which check gives which. Errors of the
// layout's shm_open are passed on as package posixshm returns them.
package segment

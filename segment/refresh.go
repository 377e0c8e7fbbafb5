package segment

import (
	"context"
	"errors"
	"io/fs"
	"sync/atomic"
	"time"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// Segment.state bits.
const (
	stDue    = 1 << iota // the shared stamp may have gone stale: check at the next lock
	stClosed             // Close was called
)

// retryAfter bounds the wait before a failed refresh is tried again.
const retryAfter = time.Minute

// Refresh sets the segment file's access and modification times to now, as
// futimes(fd, NULL) does, and the shared refreshed-at stamp with them.
//
// Why: mapping and using a shared memory object never updates its file
// times, and OpenBSD's daily(8) deletes files in /tmp whose access time is
// more than 7 days old (3 in older releases), so a live object would vanish
// for every process that has yet to open it.
//
// Refresh-on-use makes explicit calls unnecessary for segments in use. Let
// the interval be Options.RefreshInterval (an hour by default):
//
//   - Opening a segment refreshes it if the file's access time is older
//     than the interval (daily(8) looks at nothing else), or else if the
//     shared stamp is.
//   - Taking the lock (Lock, TryLock, LockContext) refreshes it if the
//     shared stamp is older than the interval.
//   - Of the processes that find the stamp stale at once, only the one whose
//     compare-and-swap advances it calls futimes, so the cost is one
//     system call per interval for all of them together.
//   - While the stamp is fresh, taking the lock costs no system call and no
//     clock read, only one atomic load of a flag in this process: a timer
//     sets the flag when the stamp it last saw will have gone stale.
//
// The refreshes on use are best effort and report no error (a failed one
// is retried within a minute); call Refresh or KeepAlive to see errors.
// Timers follow the monotonic clock, which on some systems stops while the
// machine sleeps; a refresh may then come up to one interval late, which
// daily(8)'s days of slack absorb. Linux updates access times on reads and
// on mmap, OpenBSD on every read: the package opens segments with
// O_NOATIME where it may (Linux) and elsewhere puts back an access time
// that reading the header moved, so that only refreshes move them.
//
// If the file was truncated under the mapping, Refresh sets its times and
// returns an error wrapping ErrTruncated. If there is an error, it will be
// of type *fs.PathError.
func (s *Segment) Refresh() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return &fs.PathError{Op: "futimes", Path: s.name, Err: fs.ErrClosed}
	}
	now := time.Now().UnixNano()
	if err := s.futimes(); err != nil {
		return pathError("futimes", s.name, s.path, "", err)
	}
	return s.guarded("futimes", func() error {
		atomic.StoreInt64(s.stamp, now)
		s.arm(now)
		return nil
	})
}

// KeepAlive starts a goroutine that calls Refresh every interval `every`
// (the refresh interval if every ≤ 0) until ctx is done or the segment is
// closed. It is for processes that keep a segment mapped without opening
// it again or taking its lock. The returned channel receives the errors of
// failed refreshes (it holds one; later errors are dropped while it is
// full) and is closed when the goroutine stops.
func (s *Segment) KeepAlive(ctx context.Context, every time.Duration) <-chan error {
	if every <= 0 {
		every = time.Duration(s.interval)
		if every <= 0 {
			every = DefaultRefreshInterval
		}
	}
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				return
			case <-t.C:
			}
			if err := s.Refresh(); err != nil {
				if errors.Is(err, fs.ErrClosed) {
					return
				}
				select {
				case errc <- err:
				default:
				}
			}
		}
	}()
	return errc
}

// used is called with the lock just taken: the fast path is one atomic
// load of a word private to this process.
func (s *Segment) used() {
	if s.state.Load()&stDue != 0 {
		s.refreshDue()
	}
}

// refreshDue runs when the timer has said the stamp may be stale.
func (s *Segment) refreshDue() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if st := s.state.Load(); st&stClosed != 0 || st&stDue == 0 {
		return // closed, or another goroutine got here first
	}
	s.state.And(^uint32(stDue))
	now := time.Now().UnixNano()
	s.refreshIfStale(now)
	s.arm(now)
}

// refreshOnOpen applies the policy for a segment just opened, whose file
// had access time atime (Unix ns). Its only error is that of a file
// truncated under the mapping.
func (s *Segment) refreshOnOpen(atime int64) error {
	if s.interval <= 0 {
		return nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	now := time.Now().UnixNano()
	return s.guarded("open", func() error {
		if !fresh(now, atime, s.interval) {
			// The file's own access time is what daily(8) looks at. It can
			// be old while the stamp is fresh (times set by hand, a failed
			// futimes, a file restored from a backup), so refresh
			// regardless.
			if s.futimes() == nil {
				atomic.StoreInt64(s.stamp, now)
			}
		} else {
			s.refreshIfStale(now)
		}
		s.arm(now)
		return nil
	})
}

// refreshIfStale calls futimes if the shared stamp is older than the
// interval and this process is the one that advances it.
func (s *Segment) refreshIfStale(now int64) error {
	last := atomic.LoadInt64(s.stamp)
	if fresh(now, last, s.interval) {
		return nil
	}
	// Advance the stamp by compare-and-swap from the very value judged
	// stale: of all the processes that judged so at once, exactly one
	// succeeds and refreshes; the others then find the stamp fresh.
	if !atomic.CompareAndSwapInt64(s.stamp, last, now) {
		return nil
	}
	if err := s.futimes(); err != nil {
		// Put the stale value back so that the next user tries again.
		atomic.CompareAndSwapInt64(s.stamp, now, last)
		return err
	}
	return nil
}

// fresh reports whether a time stamp last is less than interval away from
// now. A stamp far in the future (the clock was set back) counts as stale,
// so it is replaced rather than trusted for as long as the clock was off.
func fresh(now, last, interval int64) bool {
	d := now - last
	return d < interval && d > -interval
}

// arm sets the timer to raise stDue when the stamp will have gone stale.
// It needs s.rmu.
func (s *Segment) arm(now int64) {
	if s.interval <= 0 || s.state.Load()&stClosed != 0 {
		return
	}
	d := time.Duration(atomic.LoadInt64(s.stamp) + s.interval - now)
	switch {
	case d <= 0: // the refresh failed
		d = min(time.Duration(s.interval), retryAfter)
	case d > time.Duration(s.interval):
		d = time.Duration(s.interval)
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, func() { s.state.Or(stDue) })
	} else {
		s.timer.Reset(d)
	}
}

func (s *Segment) futimes() error {
	return unixutil.Touch(s.att.fd)
}

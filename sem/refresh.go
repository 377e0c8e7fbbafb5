package sem

import (
	"io/fs"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// DefaultRefreshInterval is how stale a semaphore's file may get before a
// process using it sets its times to now, as segments do
// (segment.DefaultRefreshInterval).
const DefaultRefreshInterval = time.Hour

// retryAfter bounds the wait before a failed refresh is tried again.
const retryAfter = time.Minute

// Refreshing. A semaphore lives in a file that nothing but its creation
// writes through the file system: posts and waits only touch the mapping,
// so its access time never moves, and OpenBSD's daily(8), which deletes
// files in /tmp not accessed for 7 days, deletes semaphores in use (their
// users keep working; new ones get ENOENT). So a Semaphore sets its file's
// times to now (futimes(fd, NULL)), as a segment does:
//
//   - at Open, if the file's access time is older than the interval;
//   - while it is open, at the first Post, TryWait, Wait or Value after
//     the interval has passed, if the access time is still that old (a
//     timer raises a flag in this process; until then the calls cost one
//     atomic load of that flag, no clock read and no system call);
//   - and whenever Refresh is called.
//
// C's layouts leave no room for the shared refreshed-at stamp a segment
// has, so processes agree through the file's own access time instead: the
// first one due after the interval sets it, the others find it fresh (one
// fstat(2) each per interval). Refreshes on use are best effort and
// report no error (a failed one is tried again within a minute); call
// Refresh to see errors.

// startRefresh applies the policy to a semaphore just opened.
func (s *Semaphore) startRefresh() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.interval = DefaultRefreshInterval
	s.arm(s.refreshIfStale())
}

// SetRefreshInterval sets how stale the file may get before this process
// refreshes it (DefaultRefreshInterval at Open); d ≤ 0 turns refreshing on
// use off (Refresh still works). The new interval applies from now: if
// the file is already older than d, the next use refreshes it.
func (s *Semaphore) SetRefreshInterval(d time.Duration) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return
	}
	s.interval = d
	if d <= 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.setState(0, stDue)
		return
	}
	s.setState(stDue, 0)
}

// Refresh sets the semaphore file's access and modification times to now,
// as futimes(fd, NULL) does. If there is an error, it will be of type
// *fs.PathError with Op "futimes".
func (s *Semaphore) Refresh() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return &fs.PathError{Op: opRefresh, Path: s.name, Err: errClosed}
	}
	if err := unixutil.Touch(int(s.f.Fd())); err != nil {
		return pathError(opRefresh, s.name, s.path, "", err)
	}
	s.arm(time.Now())
	return nil
}

// refreshDue runs when the timer has said the file may be stale.
func (s *Semaphore) refreshDue() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if st := s.state.Load(); st&stClosed != 0 || st&stDue == 0 {
		return // closed, or another goroutine got here first
	}
	s.setState(0, stDue)
	s.arm(s.refreshIfStale())
}

// refreshIfStale sets the file's times to now if its access time is older
// than the interval (or far in the future: the clock was set back), and
// returns the access time the file has now (zero if unknown: the refresh
// failed). It needs s.rmu.
func (s *Semaphore) refreshIfStale() time.Time {
	if s.interval <= 0 {
		return time.Time{}
	}
	fd := int(s.f.Fd())
	var st unix.Stat_t
	if unixutil.Fstat(fd, &st) != nil {
		return time.Time{}
	}
	now, atime := time.Now(), time.Unix(st.Atim.Unix())
	if age := now.Sub(atime); age < s.interval && age > -s.interval {
		return atime
	}
	if unixutil.Touch(fd) != nil {
		return time.Time{}
	}
	return now
}

// arm sets the timer to raise stDue when a file last accessed at atime
// will have gone stale (within a minute if atime is zero: the refresh
// failed). It needs s.rmu.
func (s *Semaphore) arm(atime time.Time) {
	if s.interval <= 0 || s.state.Load()&stClosed != 0 {
		return
	}
	d := min(retryAfter, s.interval)
	if !atime.IsZero() {
		d = min(max(time.Until(atime.Add(s.interval)), time.Second), s.interval)
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.due)
	} else {
		s.timer.Reset(d)
	}
}

// due raises stDue: the timer's function.
func (s *Semaphore) due() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed == 0 {
		s.setState(stDue, 0)
	}
}

package sem

import (
	"context"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Semaphore is a named semaphore open in this process: the file mapped
// shared, and the protocol of its Format on the words in it. Its methods
// may be called from any number of goroutines, except that Close must not
// run while a Post, TryWait or Value is on its way to the mapping (see
// Close).
type Semaphore struct {
	// idle is what fast points to when the fast paths are off: as a
	// data word it says "no unit" to TryWait and "waiters" to Post. First,
	// so that it is 64-bit aligned on 32-bit systems too, as the atomics
	// of the fast paths need (sync/atomic's "Bugs").
	idle uint64
	// state holds stDue, stClosed and stSlow. While it is 0, fast points
	// to the 64-bit data word, else to idle, whose value sends both fast
	// paths to the slow ones: a Post or TryWait with nothing to do but its
	// compare-and-swap loads one pointer and one word (see setState).
	// Both change under rmu.
	state  atomic.Uint32
	fast   atomic.Pointer[uint64]
	format Format
	// w64 is glibc's 64-bit data word (Glibc64); value is the 32-bit
	// word that holds the value (Glibc32: shifted; OpenBSD: as is), and
	// futex the word waiters sleep on: the value's half of w64, or
	// value. count is Glibc32's nwaiters or OpenBSD's waitcount.
	w64   *uint64
	value *uint32
	futex *uint32
	count *uint32

	name, path string
	f          *os.File
	mem        []byte
	// waiting counts this process's goroutines in a blocking wait, so
	// that Close can wake them and wait for them to leave before it
	// unmaps the words they watch.
	waiting atomic.Int32

	rmu      sync.Mutex // refresh state: interval, timer
	interval time.Duration
	timer    *time.Timer
}

// Semaphore.state bits.
const (
	stDue    = 1 << iota // the file may need a refresh: Post and the waits check
	stClosed             // Close was called
	stSlow               // the format has no inlined fast path (all but Glibc64)
	stGone               // an access faulted: the file was truncated (fault.go)
)

func newSemaphore(name, path string, f *os.File, mem []byte, format Format) *Semaphore {
	s := &Semaphore{format: format, name: name, path: path, f: f, mem: mem}
	bindWords(s, mem)
	s.startRefresh()
	return s
}

// bindWords points s's words into mem, by s.format.
func bindWords(s *Semaphore, mem []byte) {
	word := func(off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	s.idle = idleWord
	defer func() {
		if s.format != Glibc64 {
			s.setState(stSlow, 0)
		} else {
			s.setState(0, 0)
		}
	}()
	switch s.format {
	case Glibc64:
		s.w64 = (*uint64)(unsafe.Pointer(&mem[0]))
		s.futex = word(glibcValueOff())
	case Glibc32:
		s.value, s.futex, s.count = word(0), word(0), word(glibcNwaitersOff)
	case OpenBSD:
		s.value, s.futex, s.count = word(obsdValueOff), word(obsdValueOff), word(obsdWaitcountOff)
	}
}

// Name returns the name the semaphore was opened by.
func (s *Semaphore) Name() string { return s.name }

// Path returns the semaphore's file.
func (s *Semaphore) Path() string { return s.path }

// Format returns the format of the semaphore's file.
func (s *Semaphore) Format() Format { return s.format }

// errClosed is the cause of every call on a closed Semaphore.
var errClosed = fs.ErrClosed

// Post adds a unit, as sem_post does, and wakes one waiter if the format
// counts any (glibc: nwaiters; OpenBSD: waitcount, which OpenBSD's own
// sem_post does not look at: it always makes the wake-up system call). With
// nobody waiting it makes no system call. At the format's SEM_VALUE_MAX
// (2147483647 for glibc, 4294967295 for OpenBSD) it fails with EOVERFLOW,
// as glibc does; OpenBSD's sem_post would wrap to 0.
//
// If there is an error, it will be of type *fs.PathError with Op
// "sem_post".
func (s *Semaphore) Post() error {
	// glibc's sem_post, 64-bit: one compare-and-swap adds a unit and
	// reads nwaiters. Below glibcValueMax as a whole, the word says both
	// "no waiter" (the high half is 0) and "room for a unit": there is
	// nobody to wake. (s.fast points to idle when the fast path is off.)
	p := s.fast.Load()
	if d := atomic.LoadUint64(p); d < glibcValueMax && atomic.CompareAndSwapUint64(p, d, d+1) {
		return nil
	}
	return s.postSlow()
}

// TryWait takes a unit if one is there, as sem_trywait does: it reports
// false, with no error, when the value is 0 (sem_trywait's EAGAIN). It
// never makes a system call. If there is an error, it will be of type
// *fs.PathError with Op "sem_trywait".
func (s *Semaphore) TryWait() (bool, error) {
	p := s.fast.Load()
	if d := atomic.LoadUint64(p); uint32(d) != 0 && atomic.CompareAndSwapUint64(p, d, d-1) {
		return true, nil
	}
	return s.tryWaitSlow()
}

// setState sets the bits or and clears the bits andNot of s.state, and
// turns the fast paths on or off to match. It needs s.rmu once s is
// shared.
func (s *Semaphore) setState(or, andNot uint32) {
	s.state.Or(or)
	s.state.And(^andNot)
	if s.state.Load() == 0 {
		s.fast.Store(s.w64)
	} else {
		s.fast.Store(&s.idle)
	}
}

// idleWord is idle's value: no unit (low half 0), and a waiter (high half
// not 0, so Post does not take the fast path).
const idleWord = 1 << 32

//go:noinline
func (s *Semaphore) postSlow() (err error) {
	st, err := s.use(opPost)
	if err != nil {
		return err
	}
	// The 32-bit formats' uncontended post, unguarded as Glibc64's
	// inlined one is (see fault.go).
	if st&stGone == 0 && s.format != Glibc64 && s.postFast() {
		return nil
	}
	g := guard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, opPost, &err)
	switch s.format {
	case Glibc64:
		err = post64(s.w64, s.futex)
	case Glibc32:
		err = post32(s.value)
	default:
		err = postOpenBSD(s.value, s.count)
	}
	g.done = true
	if err == syscall.EOVERFLOW {
		max := uint64(glibcValueMax)
		if s.format == OpenBSD {
			max = openbsdValueMax
		}
		return pathError(opPost, s.name, s.path, "the value is at SEM_VALUE_MAX ("+strconv.FormatUint(max, 10)+")", err)
	}
	if err != nil {
		return pathError(opPost, s.name, "", "", err)
	}
	return nil
}

//go:noinline
func (s *Semaphore) tryWaitSlow() (bool, error) {
	return s.tryWaitOp(opTryWait)
}

// postFast is one attempt at an uncontended post in the 32-bit formats:
// one compare-and-swap with no waiter to wake (Glibc32: the waiters bit
// clear; OpenBSD: waitcount 0 after the increment, which then needs no
// wake-up). It reports whether it posted; if not, the slow path starts
// again from the top.
func (s *Semaphore) postFast() bool {
	if s.format == Glibc32 {
		x := atomic.LoadUint32(s.value)
		return x&nwaitersMask == 0 && x>>valueShift < glibcValueMax && atomic.CompareAndSwapUint32(s.value, x, x+1<<valueShift)
	}
	x := atomic.LoadUint32(s.value)
	if x == openbsdValueMax || !atomic.CompareAndSwapUint32(s.value, x, x+1) {
		return false
	}
	if atomic.LoadUint32(s.count) != 0 {
		futexWake(s.value, 1)
	}
	return true
}

// tryWaitFast is one attempt at an uncontended take in the 32-bit
// formats: one compare-and-swap.
func (s *Semaphore) tryWaitFast() bool {
	x := atomic.LoadUint32(s.value)
	if s.format == Glibc32 {
		return x>>valueShift != 0 && atomic.CompareAndSwapUint32(s.value, x, x-1<<valueShift)
	}
	return x != 0 && atomic.CompareAndSwapUint32(s.value, x, x-1)
}

// take takes a unit if one is there, without waiting.
func (s *Semaphore) take() bool {
	switch s.format {
	case Glibc64:
		return tryWait64(s.w64)
	case Glibc32:
		return tryWait32(s.value)
	}
	return tryWaitOpenBSD(s.value)
}

// use checks the state bits on the way to the mapping: it refreshes a
// file that is due, and fails once the Semaphore is closed.
// It returns the state bits it saw.
func (s *Semaphore) use(op string) (uint32, error) {
	st := s.state.Load()
	if st&stClosed != 0 {
		return st, &fs.PathError{Op: op, Path: s.name, Err: errClosed}
	}
	if st&stDue != 0 {
		s.refreshDue()
	}
	return st, nil
}

// Wait takes a unit, sleeping until one is posted, as sem_wait does. It
// returns only with a unit or once the Semaphore is closed (an error
// wrapping fs.ErrClosed). If there is an error, it will be of type
// *fs.PathError with Op "sem_wait".
func (s *Semaphore) Wait() error { return s.wait(opWait, nil, time.Time{}) }

// WaitContext is Wait that gives up when ctx is done, returning ctx.Err()
// (wrapped in the *fs.PathError) without a unit. A sleeping waiter checks
// ctx at least every 20 ms (it sleeps in futex(2) with a timeout, rather
// than registering with ctx), and meets a deadline exactly; a ctx already
// done fails at once, even with a unit there.
func (s *Semaphore) WaitContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &fs.PathError{Op: opWait, Path: s.name, Err: err}
	}
	deadline, _ := ctx.Deadline()
	return s.wait(opWait, ctx, deadline)
}

// TimedWait is Wait that gives up at deadline, as sem_timedwait does:
// with an error wrapping ETIMEDOUT (Op "sem_timedwait") and no unit. A
// deadline already past still takes a unit that is there.
func (s *Semaphore) TimedWait(deadline time.Time) error {
	if deadline.IsZero() {
		deadline = time.Unix(0, 1) // sem_timedwait at the epoch: take or time out
	}
	return s.wait(opTimed, nil, deadline)
}

// wait takes a unit, sleeping if need be until deadline (none if zero) or
// until ctx (if not nil) is done.
func (s *Semaphore) wait(op string, ctx context.Context, deadline time.Time) error {
	// TryWait's inlined fast path first, so that an uncontended wait
	// costs what TryWait does (and is as unguarded: see fault.go).
	p := s.fast.Load()
	if d := atomic.LoadUint64(p); uint32(d) != 0 && atomic.CompareAndSwapUint64(p, d, d-1) {
		return nil
	}
	if ok, err := s.tryWaitOp(op); ok || err != nil {
		return err
	}
	return s.sleep(op, ctx, deadline)
}

// sleep is wait once no unit was there.
func (s *Semaphore) sleep(op string, ctx context.Context, deadline time.Time) (err error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	// Looked at again after the waiter is counted: Close either sees it
	// or it sees Close (both sequentially consistent).
	if s.state.Load()&stClosed != 0 {
		return &fs.PathError{Op: op, Path: s.name, Err: errClosed}
	}
	w := waiter{s: s, ctx: ctx, deadline: deadline}
	g := guard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, op, &err)
	switch s.format {
	case Glibc64:
		err = wait64(s.w64, s.futex, &w)
	case Glibc32:
		err = wait32(s.value, s.count, &w)
	default:
		err = waitOpenBSD(s.value, s.count, &w)
	}
	g.done = true
	if err != nil {
		return &fs.PathError{Op: op, Path: s.name, Err: err}
	}
	return nil
}

// tryWaitOp is TryWait's slow path with errors under op.
func (s *Semaphore) tryWaitOp(op string) (ok bool, err error) {
	st, err := s.use(op)
	if err != nil {
		return false, err
	}
	// The 32-bit formats' uncontended take, unguarded as Glibc64's
	// inlined one is (see fault.go).
	if st&stGone == 0 && s.format != Glibc64 && s.tryWaitFast() {
		return true, nil
	}
	g := guard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, op, &err)
	ok = s.take()
	g.done = true
	return ok, nil
}

// Value returns the semaphore's value, as sem_getvalue does: the units
// that can be taken now (never negative: neither glibc nor OpenBSD counts
// waiters into it). If there is an error, it will be of type
// *fs.PathError with Op "sem_getvalue".
func (s *Semaphore) Value() (int, error) {
	info, err := s.Info()
	return info.Value, err
}

// Info returns the semaphore's format, value and waiter count (see Info).
// If there is an error, it will be of type *fs.PathError with Op
// "sem_getvalue".
func (s *Semaphore) Info() (info Info, err error) {
	if s.state.Load()&stClosed != 0 {
		return Info{}, &fs.PathError{Op: opGetValue, Path: s.name, Err: errClosed}
	}
	g := guard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, opGetValue, &err)
	info.Format = s.format
	switch s.format {
	case Glibc64:
		d := atomic.LoadUint64(s.w64)
		info.Value, info.Waiters = int(uint32(d)), int(d>>32)
	case Glibc32:
		info.Value, info.Waiters = int(atomic.LoadUint32(s.value)>>1), int(atomic.LoadUint32(s.count))
	default:
		info.Value, info.Waiters = int(atomic.LoadUint32(s.value)), int(int32(atomic.LoadUint32(s.count)))
	}
	g.done = true
	return info, nil
}

// Stat returns the FileInfo of the semaphore's file, from fstat(2) (its
// Sys is a *syscall.Stat_t: Nlink 0 means the name was removed). If there
// is an error, it will be of type *fs.PathError.
func (s *Semaphore) Stat() (fs.FileInfo, error) {
	if s.state.Load()&stClosed != 0 {
		return nil, &fs.PathError{Op: "fstat", Path: s.name, Err: errClosed}
	}
	return s.f.Stat()
}

// Close ends this process's use of the semaphore, as sem_close does: the
// semaphore itself, its value and its name stay. Goroutines of this
// process waiting in it return with an error wrapping fs.ErrClosed, and
// Close waits until they have left; later calls fail the same way without
// touching the mapping. Not calling Post, TryWait or Value while Close
// runs is the caller's job: a call on its way to the mapping is not
// waited for (it would cost every Post an atomic add on a shared count).
// If there is an error, it will be of type *fs.PathError with Op
// "sem_close".
func (s *Semaphore) Close() error {
	s.rmu.Lock()
	if s.state.Load()&stClosed != 0 {
		s.rmu.Unlock()
		return &fs.PathError{Op: opClose, Path: s.name, Err: errClosed}
	}
	s.setState(stClosed, 0)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.rmu.Unlock()
	for d := 20 * time.Microsecond; s.waiting.Load() != 0; d = min(2*d, time.Millisecond) {
		// Again and again: a waiter that looked at the state just before
		// Close set it may go to sleep after a wake-up. Waiters of other
		// processes woken here find no unit and sleep again.
		futexWake(s.futex, maxWake)
		time.Sleep(d)
	}
	err := unix.Munmap(s.mem)
	s.mem, s.w64, s.value, s.futex, s.count = nil, nil, nil, nil, nil
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = errnoOf(cerr)
	}
	if err != nil {
		return pathError(opClose, s.name, s.path, "", err)
	}
	return nil
}

// maxWake wakes every sleeper (futex(2)'s INT_MAX).
const maxWake = 1<<31 - 1

// errTimedOut is sem_timedwait's ETIMEDOUT.
var errTimedOut error = syscall.ETIMEDOUT

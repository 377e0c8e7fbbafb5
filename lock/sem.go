package lock

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/internal/futex"
)

// Semaphore memory layout, native endian, offsets in bytes:
//
//	 0        4  notify word: waiters sleep on it (as a Cond's)
//	 4        4  unit count n, written by the first NewSemaphore
//	 8       56  reserved, 0
//	64      8*n  unit i at 64+8*i: its holder, in lock.New64's format (the
//	             Tag in the 32 bits at the lower address, the Stamp in the
//	             higher ones; where Atomic64 is false, the lower 32 bits
//	             alone, as New writes them, narrow bit included); 0 = free
//
// SemaphoreSize(n) = 64 + 8*n bytes. Zeroed memory is a semaphore with
// every unit free.
const (
	semHeader   = 64
	semUnitSize = 8

	// MaxUnits is the largest number of units a Semaphore can have. A
	// waiter scans every unit, so large counts make waiting slower.
	MaxUnits = 1 << 16

	// semCounted marks a Semaphore whose identity cannot tell this
	// process from a dead predecessor with the same Tag (see
	// semEntry): its fast paths go through the counting slow paths.
	semCounted = 1 << 8
	// semNarrow marks 32-bit units: the fast paths' 64-bit
	// compare-and-swap does not apply.
	semNarrow = 1 << 9
)

// SemaphoreSize is the number of bytes a Semaphore of n units occupies.
func SemaphoreSize(n int) int { return semHeader + semUnitSize*n }

// A Semaphore is one process's handle on a robust counting semaphore in
// shared memory: n units, each taken by one compare-and-swap that writes
// the taker's Holder into the unit, so that units held by a process that
// died are found and handed on, with an error matching ErrOwnerDead, to
// the process that receives them. Units belong to the identity that took
// them (the process, by default), not to a goroutine: any goroutine of the
// process may Release a unit another took. Waiters sleep on the notify
// word at the start of the semaphore's memory. See "Waiting for data" in
// the package documentation.
type Semaphore struct {
	note  waitWord // the notify word at offset 0
	units unsafe.Pointer
	n     int
	start int     // where scans begin: spreads processes over the units
	first *uint64 // unit start: the fast paths try it alone

	// flags is the one in-process word the fast paths load: nonzero
	// sends them to the slow paths.
	flags   uint32 // atomic: flagClosed | semCounted | semNarrow
	narrow  bool   // 32-bit units: the state half alone (!Atomic64)
	self    uint64 // our Holder as a logical word value (pack)
	selfMem uint64 // self as a 64-bit atomic stores it (toMem)

	id         Identity
	pids       bool
	staleAfter time.Duration
	ent        *semEntry // semCounted only
	spinLimit  spinLimit // how long a waiter spins (wait.go)
	key        semKey
	cleanup    runtime.Cleanup
}

// NewSemaphore returns a Semaphore of n units (1..MaxUnits) over mem,
// which must hold at least SemaphoreSize(n) bytes, be 8-byte aligned and
// be shared by all users (MAP_SHARED). The first NewSemaphore over the
// memory records n in it; a later one with another n fails. The options
// are a Mutex's: WithIdentity (holders of units; every user of the
// semaphore must use the same kind), WithStaleAfter (how often a waiter
// looks for units whose holder died, default DefaultStaleAfter) and
// WithBackoff (poll instead of sleeping in futex(2)).
func NewSemaphore(mem []byte, n int, opts ...Option) (*Semaphore, error) {
	return newSemaphore(mem, n, !Atomic64, opts)
}

// newSemaphore is NewSemaphore; narrow selects 32-bit units (tests use it
// where Atomic64 is true).
func newSemaphore(mem []byte, n int, narrow bool, opts []Option) (*Semaphore, error) {
	if n < 1 || n > MaxUnits {
		return nil, fmt.Errorf("lock: NewSemaphore: %d units, want 1..%d", n, MaxUnits)
	}
	if len(mem) < SemaphoreSize(n) {
		return nil, fmt.Errorf("lock: NewSemaphore: %d bytes of memory, %d units need %d", len(mem), n, SemaphoreSize(n))
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	if uintptr(base)%8 != 0 {
		return nil, fmt.Errorf("lock: NewSemaphore: memory at %p is not 8-byte aligned", base)
	}
	c := config{staleAfter: DefaultStaleAfter}
	for _, o := range opts {
		o(&c)
	}
	if c.staleAfter <= 0 {
		c.staleAfter = DefaultStaleAfter
	}
	s := &Semaphore{
		units: unsafe.Add(base, semHeader), n: n, narrow: narrow,
		id: c.id, staleAfter: c.staleAfter,
	}
	s.note = waitWord{w: (*uint32)(base), backoff: c.backoff, recheck: c.staleAfter,
		closed: fmt.Errorf("lock: semaphore closed: %w", fs.ErrClosed)}
	if s.id == nil {
		s.id, s.pids = defaultIdentity(), true
	}
	self := s.id.Self()
	if self.Tag == 0 || self.Tag > MaxTag {
		return nil, fmt.Errorf("lock: NewSemaphore: identity's Tag %d is not in 1..MaxTag", self.Tag)
	}
	if s.narrow {
		self.Stamp = 0
	}
	s.self = pack(self, !s.narrow)
	s.selfMem = toMem(s.self)
	s.start = int(self.Tag % uint32(n))
	s.first = s.unit64(s.start)
	if s.narrow {
		s.flags = semNarrow
	}
	count := (*uint32)(unsafe.Add(base, 4))
	if !atomic.CompareAndSwapUint32(count, 0, uint32(n)) {
		if had := atomic.LoadUint32(count); had != uint32(n) {
			return nil, fmt.Errorf("lock: NewSemaphore: the semaphore in this memory has %d units, not %d", had, n)
		}
	}
	if s.narrow || self.Stamp == 0 {
		s.key = semKey{s.note.w, s.self}
		s.ent = semRegister(s.key, s.showsSelf)
		s.cleanup = runtime.AddCleanup(s, semUnregister, s.key)
		s.flags |= semCounted
	}
	return s, nil
}

// Units returns n, the number of units.
func (s *Semaphore) Units() int { return s.n }

// Holders returns who holds each unit now (Tag 0: free), or nil once
// Close was called.
func (s *Semaphore) Holders() []Holder {
	if atomic.LoadUint32(&s.flags)&flagClosed != 0 {
		return nil
	}
	hs := make([]Holder, s.n)
	for i := range hs {
		hs[i] = holderOf(s.load(i))
	}
	return hs
}

// Acquire takes a unit, waiting as long as necessary. It returns nil, or
// an error matching ErrOwnerDead (errors.As gives the *OwnerDeadError
// naming the dead holder) with the unit taken if the unit was held by a
// process that died: repair what the unit protects. Once Close was called
// it returns an error wrapping fs.ErrClosed. Waiters are not served in
// order: a unit released goes to whoever takes it first.
func (s *Semaphore) Acquire() error {
	// Small enough to inline: the flags and one compare-and-swap.
	if atomic.LoadUint32(&s.flags) == 0 && atomic.CompareAndSwapUint64(s.first, 0, s.selfMem) {
		return nil
	}
	return s.acquireSlow(nil)
}

// AcquireContext is like Acquire but gives up when ctx is done, returning
// ctx.Err() without a unit. A ctx that is already done always fails.
func (s *Semaphore) AcquireContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if atomic.LoadUint32(&s.flags) == 0 && atomic.CompareAndSwapUint64(s.first, 0, s.selfMem) {
		return nil
	}
	return s.acquireSlow(ctx)
}

// TryAcquire takes a unit if it can without waiting: (true, nil) if it
// took a free one, (true, err) with err matching ErrOwnerDead if it took
// one over from a dead holder, (false, nil) if every unit is held by a
// live holder (or one not known to be dead). A TryAcquire that finds no
// free unit asks the identity about every holder.
func (s *Semaphore) TryAcquire() (bool, error) {
	if atomic.LoadUint32(&s.flags) == 0 && atomic.CompareAndSwapUint64(s.first, 0, s.selfMem) {
		return true, nil
	}
	return s.tryAcquireSlow()
}

func (s *Semaphore) tryAcquireSlow() (bool, error) {
	if atomic.LoadUint32(&s.flags)&flagClosed != 0 {
		return false, s.note.closed
	}
	if s.take() {
		return true, nil
	}
	err, ok := s.recoverUnit()
	return ok, err
}

// Release gives back a unit this process holds and wakes a waiter, if
// any; with nobody waiting it makes no system call. It returns an error
// wrapping ErrNotHeld, changing nothing, if no unit shows this process as
// its holder, and an error wrapping fs.ErrClosed once Close was called.
func (s *Semaphore) Release() error {
	if atomic.LoadUint32(&s.flags) == 0 && atomic.CompareAndSwapUint64(s.first, s.selfMem, 0) {
		s.note.notify(false)
		return nil
	}
	return s.releaseSlow()
}

// Close ends this handle's use of the memory, so that it can be unmapped:
// this process's goroutines waiting in Acquire or AcquireContext return an
// error wrapping fs.ErrClosed, and Close returns when none of them touches
// the memory any more. Later calls fail the same way without touching it.
// Close does not release the units this process holds (they are
// recovered from it once it has died). As with Mutex.Close, calls that
// have not started waiting when Close begins are not waited for.
func (s *Semaphore) Close() {
	if atomic.OrUint32(&s.flags, flagClosed)&flagClosed == 0 && s.ent != nil {
		s.cleanup.Stop()
		semUnregister(s.key)
	}
	s.note.close()
}

func (s *Semaphore) unit64(i int) *uint64 { return (*uint64)(unsafe.Add(s.units, semUnitSize*i)) }

// unit32 is unit i's state half, at the lower address.
func (s *Semaphore) unit32(i int) *uint32 { return (*uint32)(unsafe.Add(s.units, semUnitSize*i)) }

// load returns unit i's logical value (see word.go).
func (s *Semaphore) load(i int) uint64 {
	if s.narrow {
		return uint64(atomic.LoadUint32(s.unit32(i)))
	}
	return fromMem(atomic.LoadUint64(s.unit64(i)))
}

// cas replaces unit i's logical value old with new.
func (s *Semaphore) cas(i int, old, new uint64) bool {
	if s.narrow {
		return atomic.CompareAndSwapUint32(s.unit32(i), uint32(old), uint32(new))
	}
	return atomic.CompareAndSwapUint64(s.unit64(i), toMem(old), toMem(new))
}

// grab takes a free unit: the fast path, one compare-and-swap when the
// first unit it looks at is free.
func (s *Semaphore) grab() bool {
	for k, i := 0, s.start; k < s.n; k, i = k+1, i+1 {
		if i == s.n {
			i = 0
		}
		if s.narrow {
			if p := s.unit32(i); atomic.LoadUint32(p) == 0 && atomic.CompareAndSwapUint32(p, 0, uint32(s.self)) {
				return true
			}
		} else if p := s.unit64(i); atomic.LoadUint64(p) == 0 && atomic.CompareAndSwapUint64(p, 0, s.selfMem) {
			return true
		}
	}
	return false
}

// put frees a unit that shows us as its holder.
func (s *Semaphore) put() bool {
	for k, i := 0, s.start; k < s.n; k, i = k+1, i+1 {
		if i == s.n {
			i = 0
		}
		if s.narrow {
			if p := s.unit32(i); atomic.LoadUint32(p) == uint32(s.self) && atomic.CompareAndSwapUint32(p, uint32(s.self), 0) {
				return true
			}
		} else if p := s.unit64(i); atomic.LoadUint64(p) == s.selfMem && atomic.CompareAndSwapUint64(p, s.selfMem, 0) {
			return true
		}
	}
	return false
}

// take is grab with the bookkeeping of semCounted.
func (s *Semaphore) take() bool {
	if s.ent.lock() {
		defer s.ent.mu.Unlock()
	}
	if !s.grab() {
		return false
	}
	s.took()
	return true
}

func (s *Semaphore) took() {
	if s.ent != nil {
		s.ent.held.Add(1)
	}
}

// acquireSlow is Acquire when the first unit it tried was not free, or
// flags are set; a nil ctx is context.Background() (so that Acquire need
// not call it, and stays small enough to inline).
func (s *Semaphore) acquireSlow(ctx context.Context) error {
	if atomic.LoadUint32(&s.flags)&flagClosed != 0 {
		return s.note.closed
	}
	if s.take() {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Announce the waiter before the second look at the flag, so that
	// Close either sees it or it sees Close.
	s.note.waiting.Add(1)
	defer s.note.waiting.Add(-1)
	if atomic.LoadUint32(&s.flags)&flagClosed != 0 {
		return s.note.closed
	}
	// Spin, as Lock does (see Mutex.spin): a holder may be about to
	// release. Watching the units, not yielding the P: runtime.Gosched
	// wakes another thread each time.
	limit := s.spinLimit.get()
	var start time.Time
	for i := 1; ; i++ {
		if s.take() {
			s.spinLimit.won(limit)
			return nil
		}
		futex.Pause()
		if i%spinCheck == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) >= limit {
				s.spinLimit.lost(limit)
				break
			}
		}
	}
	sl := s.note.sleeper(ctx)
	nextCheck := time.Now().Add(s.staleAfter)
	for {
		// Announce, then look at the units once more: a Release that
		// freed a unit after our last look sees the waiters bit (its
		// load of the notify word comes after its compare-and-swap, our
		// look after the announcement), moves the sequence and wakes
		// us; or we find the unit here.
		v := s.note.announce()
		if s.take() {
			return nil
		}
		if !time.Now().Before(nextCheck) {
			if err, ok := s.recoverUnit(); ok {
				return err
			}
			nextCheck = time.Now().Add(s.staleAfter)
		}
		switch err := sl.wait(v, time.Until(nextCheck)); err {
		case nil, errRecheck:
		case errFault:
			return err // the memory is gone: nothing to hand on
		default:
			// A Release may have woken us rather than another waiter:
			// hand its notification on.
			s.note.notify(false)
			return err
		}
	}
}

// recoverUnit looks at every unit: it takes a free one, or one whose
// holder the identity says is dead (by one compare-and-swap from the
// value it judged, so that each dead holder's unit goes to one taker
// only), or, under semCounted, one a dead predecessor with our identity
// left. ok reports that we got a unit; err is then nil or the error
// matching ErrOwnerDead.
func (s *Semaphore) recoverUnit() (err error, ok bool) {
	if s.ent.lock() {
		defer s.ent.mu.Unlock()
		// Count again (semreg.go): units counted as a predecessor's may
		// have been taken over since by another process.
		if k := s.showsSelf() - s.ent.held.Load(); k < s.ent.inherited.Load() {
			s.ent.inherited.Store(max(k, 0))
		}
		if s.ent.inherited.Load() > 0 {
			s.ent.inherited.Add(-1)
			s.ent.held.Add(1)
			h := holderOf(s.self)
			return s.ownerDead(-1, h, s.pidOf(h)), true
		}
	}
	// The verdicts of this scan, so that a holder of several units is
	// judged once.
	var seen [8]struct {
		v    uint64
		dead bool
		pid  int
	}
	nseen := 0
	for i := range s.n {
		v := s.load(i)
		if v == s.self {
			continue
		}
		if tagOf(v) == 0 { // free (or with no holder to ask about)
			if s.cas(i, v, s.self) {
				s.took()
				return nil, true
			}
			continue
		}
		dead, pid, known := false, 0, false
		for _, e := range seen[:nseen] {
			if e.v == v {
				dead, pid, known = e.dead, e.pid, true
				break
			}
		}
		if !known {
			dead, pid = s.id.Dead(holderOf(v))
			if nseen < len(seen) {
				seen[nseen].v, seen[nseen].dead, seen[nseen].pid = v, dead, pid
				nseen++
			}
		}
		if dead && s.cas(i, v, s.self) {
			s.took()
			return s.ownerDead(i, holderOf(v), pid), true
		}
	}
	return nil, false
}

func (s *Semaphore) pidOf(h Holder) int {
	if s.pids {
		return int(h.Tag)
	}
	return 0
}

// releaseSlow is Release when flags are set or the first unit it tried
// did not show us.
func (s *Semaphore) releaseSlow() error {
	if atomic.LoadUint32(&s.flags)&flagClosed != 0 {
		return s.note.closed
	}
	if s.ent == nil {
		if s.put() {
			s.note.notify(false)
			return nil
		}
		return fmt.Errorf("%w (no unit of the semaphore shows it as holder)", ErrNotHeld)
	}
	if err := s.putCounted(); err != nil {
		return err
	}
	s.note.notify(false)
	return nil
}

// putCounted is put with the bookkeeping of semCounted.
func (s *Semaphore) putCounted() error {
	if s.ent.lock() {
		defer s.ent.mu.Unlock()
	}
	for {
		h := s.ent.held.Load()
		if h <= 0 {
			if s.ent.inherited.Load() > 0 {
				return fmt.Errorf("%w (the units that show its identity were left by a dead process with the same identity; Acquire recovers them)", ErrNotHeld)
			}
			return fmt.Errorf("%w (no unit of the semaphore shows it as holder)", ErrNotHeld)
		}
		if s.ent.held.CompareAndSwap(h, h-1) {
			break
		}
	}
	if !s.put() {
		s.ent.held.Add(1)
		return fmt.Errorf("%w (no unit of the semaphore shows it as holder)", ErrNotHeld)
	}
	return nil
}

// showsSelf counts the units that show our identity.
func (s *Semaphore) showsSelf() int32 {
	n := int32(0)
	for i := range s.n {
		if s.load(i) == s.self {
			n++
		}
	}
	return n
}

// unitDeadError is what a taker of a dead holder's unit gets.
type unitDeadError struct {
	unit int // -1: unknown (a predecessor's, under semCounted)
	od   OwnerDeadError
}

func (s *Semaphore) ownerDead(unit int, h Holder, pid int) error {
	return &unitDeadError{unit: unit, od: OwnerDeadError{PID: pid, Holder: h}}
}

func (e *unitDeadError) Error() string {
	who := "pid " + strconv.Itoa(e.od.PID)
	if e.od.PID == 0 {
		who = "tag " + strconv.FormatUint(uint64(e.od.Holder.Tag), 10)
	}
	unit := "a semaphore unit"
	if e.unit >= 0 {
		unit = "semaphore unit " + strconv.Itoa(e.unit)
	}
	return "lock: " + unit + " was held by " + who + ", which died; the unit is now yours, repair what it protects"
}

// Unwrap gives the *OwnerDeadError: errors.Is(err, ErrOwnerDead) holds.
func (e *unitDeadError) Unwrap() error { return &e.od }

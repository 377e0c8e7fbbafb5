// Package futex is how this module's packages wait on a 32-bit word in
// shared memory: sleep while the word holds a value (futex(2) on Linux,
// polling elsewhere), wake sleepers, and spin with a CPU hint first. It is
// internal to the module, a leaf (it imports nothing of the module), and
// small on purpose: package lock uses it for its Mutex, Cond and
// Semaphore, and any other package that sleeps on a word should use it
// too, because every sleep needs the rule of keepP below.
//
// API:
//
//	Supported          whether Sleep sleeps in futex(2) (Linux) or polls
//	Sleep              sleep while *addr == val, until a deadline, as a kind
//	Wake               wake up to n sleepers of some kinds
//	Any                the kind every Wake reaches, and that wakes every kind
//	Pause              a spin-wait hint to the CPU (PAUSE, YIELD)
//	KeepP              the rule Sleep follows, for a futex of one's own
//
// Sleep runs on the caller's goroutine: it starts no goroutine, timer or
// channel, so that a wake-up is one system call's return and nothing else.
package futex

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Any is the bitset of a sleeper that every Wake reaches, and the bitset of
// a Wake that reaches every sleeper (FUTEX_BITSET_MATCH_ANY).
const Any uint32 = 0xFFFFFFFF

// Keeping the P across a futex sleep.
//
// A goroutine that sleeps in a blocking system call again and again (a
// waiter in a loop: a Cond's, a Mutex's behind a slow holder, posixshm
// wait) keeps its P from one call to the next: each futex(2) returns
// through exitsyscall's fast path on the same P, and the goroutine never
// goes through schedule(). In Go 1.26 (runtime/proc.go) that costs a lot:
//
//   - retake, in sysmon, sees that P's schedtick unchanged for
//     forcePreemptNS (10 ms) and sets sysretake (meant for a goroutine
//     that runs too long: preemptone cannot stop one in a system call).
//     sysretake skips the rule that leaves a P in a system call alone
//     when its run queue is empty and other Ps are idle, so sysmon takes
//     the P during the next sleep, however short, and handoffp starts an M
//     that finds nothing to do and sleeps again; with no P running, sysmon
//     then goes into its deep sleep (sched.sysmonwait).
//   - On the wake-up, exitsyscall has lost its P. exitsyscallTryGetP takes
//     an idle one and, sysmon being asleep, calls
//     notewakeup(&sched.sysmonnote): a FUTEX_WAKE of the sysmon thread in
//     the critical path of the wake-up, and the waiter often resumes on
//     the other CPU. The P it took was idle, its schedtick has not moved
//     either, and the cycle repeats at every sleep: measured here, 4 to 6
//     context switches per wake-up instead of 1, and wake-ups 2 to 15 times
//     slower than a C thread's (bench/NOTES.md, bench/repro).
//
// runtime.Gosched goes through schedule() and execute(), which moves the
// P's schedtick (a goroutine readied into runnext, as after time.Sleep,
// inherits the time slice and does not): one call less than 10 ms before
// the next retake check keeps the P. keepP makes that call before a sleep
// when this P is due, so that two yields on it are never 10 ms apart. It
// is not free (goschedImpl's wakep wakes an idle M, which looks for work
// and sleeps again: two to four context switches), so it comes as late as
// is safe: after yieldBy, less twice the time since the last sleep on
// this P began (which bounds that sleep, and predicts the next one), and
// never later than yieldEvery if the sleeps are long. A waiter woken
// every 300 µs then yields every 8.4 ms, one woken every 3 ms every 5 ms;
// a sleep more than twice as long as the last one may cost the P once.
//
// The stamp is per P, not per process: schedtick is per P, and with
// waiters on several Ps one process-wide stamp lets one of them yield for
// all while the others' Ps are retaken (measured: bench/NOTES.md). Go has
// no public P id, but sync.Pool keeps a private object per P: a shard
// taken from it and put back at once is this P's (an occasional stray
// after a preemption or a garbage collection only makes one yield early or
// late; see store).
//
// A sleep longer than 10 ms loses the P whatever we do (then the rule
// works as intended: the P was idle that long). After one (more than
// longSleep since the last sleep on this P began), the next sleep does
// not yield: sleeps that long tend to follow each other (a waiter woken
// every 20 ms), and the yield would only add its cost.
//
// When every P holds a goroutine asleep in a system call, sysmon retakes
// one of them within a few of its ticks by its ordinary rule (no P is
// idle for other work), whatever schedtick says; no yield helps there
// (bench/NOTES.md measures it).
const (
	yieldEvery = 5 * time.Millisecond
	yieldBy    = 9 * time.Millisecond // forcePreemptNS, less a margin
	longSleep  = 10 * time.Millisecond
)

// A shard is one P's record: when a goroutine last yielded on it before a
// sleep, and when the last sleep on it began.
type shard struct {
	last atomic.Int64  // ns since epoch
	prev atomic.Int64  // ns since epoch
	_    [64 - 16]byte // a cache line each
}

var (
	epoch  = time.Now()
	shards = sync.Pool{New: newShard}
	yields atomic.Uint64 // for tests: yields made

	// The shards themselves: a P whose shard the pool dropped (it slept
	// not once in two garbage collections; the race detector also drops
	// some at random) takes the next one, so that sleeping never
	// allocates. After len(store) such takes they are reused: two Ps may
	// then share one for a while, which only makes one of them yield
	// early or late until the pool next drops it.
	store [256]shard
	next  atomic.Uint32
)

func newShard() any { return &store[next.Add(1)%uint32(len(store))] }

// KeepP is the rule above for a package that sleeps in a futex of its
// own (package sem sleeps in C's semaphore words, on OpenBSD through
// libc): call it just before each sleep, with the time.Now taken then.
// Sleep calls it itself.
func KeepP(now time.Time) { keepP(now) }

// keepP yields the processor if this P is due (see above); now is the
// caller's time.Now, taken just before the sleep.
func keepP(now time.Time) {
	s := shards.Get().(*shard)
	shards.Put(s) // at once: the shard stays with this P
	if s.due(int64(now.Sub(epoch))) {
		yields.Add(1)
		runtime.Gosched()
	}
}

// due records that a sleep begins on s's P at t (ns since epoch), and
// reports whether its goroutine should yield first, recording the yield
// if so (see above).
func (s *shard) due(t int64) bool {
	since := t - s.prev.Swap(t) // bounds the last sleep on this P
	if since > int64(longSleep) {
		return false
	}
	l := s.last.Load()
	by := min(max(int64(yieldBy)-2*since, int64(yieldEvery)), int64(yieldBy))
	return t-l >= by && s.last.CompareAndSwap(l, t)
}

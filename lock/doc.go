// Package lock implements a crash-robust interprocess mutex in one word of
// shared memory.
//
// The word may live in any MAP_SHARED mapping (a POSIX shared memory
// segment, a mapped file); every process that maps it builds its own [Mutex]
// over it, with [New64] for a 64-bit word or [New] for a 32-bit one. The
// package makes no system call and no allocation when the lock is free,
// sleeps in the kernel (futex(2), not the private variant) on Linux when it
// is contended, and falls back to spinning plus exponential sleep on other
// systems or when [WithBackoff] is given.
//
// # Word layout
//
// The 32-bit half at the lower address is the state half, which futex(2)
// watches; a 32-bit word is the state half alone. Native endian:
//
//	state half  bits  0..28  Tag of the holder (1..MaxTag; 0 = unlocked)
//	            bit  29      narrow: the holder wrote the state half alone
//	            bit  30      waiters: some process may sleep in futex(2) on it
//	            bit  31      starving: a waiter waited too long; no barging
//	other half  bits  0..31  Stamp of the holder (64-bit words only)
//
// The holder's [Holder] (Tag and Stamp) is what the one compare-and-swap
// that takes the lock writes, so whoever reads the word sees the holder's
// identity whole: never a Tag with the Stamp of another holder. Unlock
// stores 0 (keeping only the starving bit). Use [Split64], [HolderPID],
// [Narrow], [Waiters] and [Starving] to decode a word's value.
//
// # Mixing widths
//
// New and New64 may be used on the same word (New on its state half): a
// 64-bit Mutex of one process and a 32-bit one of another, or programs
// built for GOARCHes with and without [Atomic64] on one machine. A 32-bit
// Mutex writes the state half alone, so when it takes the lock (over from
// a dead holder, or free) the other half keeps whatever Stamp an earlier
// 64-bit holder wrote there. That Stamp says nothing about the new holder,
// and read as its own it would be false evidence: a waiter would see the
// new holder's PID alive with a later start time than "its" stamp, take
// that for a reused PID and rob a live holder (the torture harness's
// mixed-width runs did exactly that before the narrow bit: 8 overlaps in
// 693 kills). So a 32-bit writer sets the narrow bit, a 64-bit writer clears
// it with the same compare-and-swap that writes the Stamp, and a 64-bit
// waiter that finds the bit judges the holder by its Tag alone, as a
// 32-bit waiter does (Holder.Stamp 0), with what that leaves unknown
// (below). One process should use one width on a word: its 64-bit Mutex
// takes a narrow word that shows its own PID for a dead predecessor's.
//
// Words written by earlier versions of this package have no narrow bit:
// their 64-bit words read as before, but their 32-bit writers leave old
// stamps looking like their own, so mixing widths is safe only when every
// 32-bit user runs this version (C code that writes the word, like
// bench/c/lockword.h, must set the bit too). An earlier version reads the
// narrow bit as part of the Tag and takes a live 32-bit holder of this
// version for dead: every user of a 32-bit word must run this version or a
// later one.
//
// # Identity
//
// An [Identity] gives a Mutex the Holder it writes (Self) and judges
// whether another holder is dead (Dead). The owner of a word can supply
// one with [WithIdentity]. The default identifies processes: Tag is the
// PID, Stamp the low 32 bits of the process's start time in clock ticks
// since boot (field 22 of /proc/PID/stat) on Linux, 0 elsewhere. A holder
// is dead when
//
//   - it has our PID but another, earlier stamp (we are its PID's heir: a
//     service restarted in a fresh PID namespace gets the same PID),
//   - kill(pid, 0) fails with ESRCH, or /proc says it is a zombie,
//   - or the process now running with its PID started after its stamp (the
//     PID was reused).
//
// Nothing else counts as evidence: a holder whose PID names a process with
// another start time than a waiter saw earlier may be a new process that
// took the lock legitimately, so no such guess is made. What the default
// identity cannot know:
//
//   - Without a stamp (a 32-bit word, or a system without /proc), a PID
//     reused between a waiter's check and its takeover makes the takeover
//     succeed against the new process. The 64-bit word closes that window:
//     the takeover is one compare-and-swap from the exact 64-bit value the
//     check judged, stamp included.
//   - The opposite case: without a stamp, a dead holder whose PID now
//     belongs to another, unrelated live process is taken for alive, and
//     its lock is not recovered while that process lives (waiters wait,
//     or time out with their context). With a stamp, the live process's
//     later start time shows that the PID was reused, and the lock is
//     recovered.
//   - Without a stamp, a word holding this process's own PID may be held by
//     this process or by a dead predecessor. The process knows which words
//     it has Mutexes over: a word that shows its identity when it makes its
//     first Mutex over that address was left by a predecessor, and Lock and
//     TryLock recover it with [ErrOwnerDead] (Lock after the stale
//     interval); Unlock before that says [ErrNotHeld]. A process that maps
//     the same word at a second address while it holds the lock through the
//     first cannot be told from such an heir by a Mutex over the second
//     mapping: do not do that with 32-bit words.
//   - Two holders with the same PID that started within the same clock tick
//     (10 ms on most systems) have the same identity.
//   - Stamps more than 2^31 ticks apart (248 days at 100 Hz) cannot be
//     ordered; a lock left held that long by a dead process whose PID came
//     back may not be recovered.
//
// # PID namespaces
//
// The default identity assumes that every user of a word sees the same
// PIDs. Across PID namespaces (containers sharing /dev/shm) PIDs mean
// nothing to each other; what is tested:
//
//   - A process restarted as PID 1 of a fresh PID namespace recovers the
//     lock its dead predecessor (also PID 1) held, with 64-bit and with
//     32-bit words.
//   - A waiter does not take the lock from a live holder in another PID
//     namespace whose PID names an older process in the waiter's namespace
//     (such as PID 1): with a 64-bit word the stamp shows that the process
//     it sees cannot be a reuse of the holder's PID.
//
// But a holder in another namespace whose PID does not exist in the
// waiter's namespace is taken for dead, and one whose PID names a younger
// process there is taken for a reused PID: a second holder gets in. And a
// dead holder in another namespace whose PID names a live older process is
// never recovered from there. Share a word across PID namespaces only with
// an identity that does not rest on PIDs (WithIdentity).
//
// # Ownership
//
// The lock is held by the identity, with the default one a process, not a
// goroutine, in the way flock(2) locks belong to an open file description:
// every goroutine of the process that holds the lock is excluded from other
// processes but not from one another's Unlock. Goroutines of one process
// still exclude each other in Lock, because the compare-and-swap from 0
// fails while the word is held, so a Mutex can be shared by goroutines like
// a sync.Mutex. Unlock may be called from any goroutine of the holding
// process. Locking twice from the same goroutine deadlocks, as with
// sync.Mutex.
//
// A Go process cannot fork without exec, so its identity never changes; a
// process started later makes its own Mutex.
//
// # State machine
//
// Lock is one compare-and-swap from 0 to the holder's value when the word
// is free; Unlock is one compare-and-swap back to 0, and a futex wake if
// the waiters bit was set. Everything else happens in Lock's slow path, in
// this order:
//
//  1. Spin: a few rounds re-reading the word, taking it as soon as it is
//     free and the starving bit is clear. If the holder is this process
//     (another goroutine), then a few rounds yielding the processor to it.
//     Never yield otherwise: runtime.Gosched wakes another thread of this
//     process to look for work, which under contention between processes
//     only takes processor time from the holder and from the sleepers it
//     wakes.
//  2. Sleep: set the waiters bit (so that the holder's Unlock issues a
//     wake) and sleep in futex(2) while the state half still has the value
//     just seen. A woken waiter takes a free word with the waiters bit set,
//     since other sleepers may remain ("Futexes Are Tricky", mutex #3). A
//     woken waiter that finds the lock taken again (the unlocker barged)
//     sleeps on without setting the bit, until it starves: otherwise every
//     Unlock of a barging holder would pay a futex wake, and every sleeper
//     would wake, fail and sleep again, taking processor time from the
//     holder. Every sleep is bounded: by the next stale check, and by the
//     waiter's starving time.
//  3. Starve: a waiter that has waited 1 ms (starveAfter) sets the starving
//     bit. While it is set, a free word may be taken only by a waiter that
//     has itself waited 1 ms; everyone else, the Unlocker's next Lock
//     included, waits. This bounds barging, as the starvation mode of
//     sync.Mutex does: under sustained contention the lock changes hands at
//     least about every millisecond. Unlock keeps the bit and, seeing it,
//     wakes one starving sleeper and no other (starving waiters sleep with
//     their own futex bitset; the kernel wakes the one that has slept
//     longest). A starving waiter takes the lock without the bit, and other
//     starving waiters, which look again at least every millisecond while
//     the word changes, set it again; one that gives up (context, Close)
//     clears it. A starving waiter whose sleep ends by its timeout with the
//     word exactly as it left it (one holder in a long critical section:
//     no handoff happened) doubles its next sleep, up to the stale
//     interval, so that a waiter behind a lock held for minutes wakes a few
//     dozen times a second, not a thousand; any change of the word brings
//     it back to a millisecond. If a starving
//     waiter is killed, the bit holds the others back until they have
//     waited 1 ms themselves, and they then take the lock: the bit never
//     stalls the lock for longer.
//     What this bounds is the lock's part of a wait: a waiter needs a
//     processor to take its turn. With a free CPU the longest wait of any
//     process stayed within 5 ms (2 and 4 processes, bench/run); on a
//     2-core machine oversubscribed by other work, the longest waits of 2
//     to 8 processes were 5.9 to 9.4 ms while the 99.9th percentile
//     stayed near 1 ms.
//  4. Check: every stale interval ([WithStaleAfter], default 20 ms) a
//     waiter asks the identity whether the holder is dead. If it is, the
//     waiter takes the lock over with one compare-and-swap from the exact
//     value it judged (if anything changed, the check counts for nothing)
//     and gets [ErrOwnerDead] with the lock held, like POSIX EOWNERDEAD: the
//     data the lock protects may be half-updated, so the caller must repair
//     it before use, then Unlock as usual. Exactly one waiter recovers each
//     death. The takeover sets the waiters bit, since the dead holder may
//     have taken the lock after the last wake-up went out. TryLock checks
//     at once instead of waiting.
//
// TryLock takes a free word even when the starving bit is set (keeping the
// bit): it never waits, so it could never have a turn of its own.
//
// A holder killed between the compare-and-swap that frees the word and its
// futex wake leaves sleepers asleep until their next stale check: at most
// the stale interval, since no futex(2) sleep is longer. A waiter whose
// context can be cancelled also looks at it at least every 20 ms (every
// millisecond while the lock changes hands): there is no per-wait
// registration with the context. A context's deadline is met exactly.
//
// # Closing
//
// [Mutex.Close] ends a handle's use of the word before the memory is
// unmapped: waiters of this process in Lock give up with an error wrapping
// fs.ErrClosed, Close waits until none is left, and later calls fail
// without touching the word. Not calling Lock, TryLock or Unlock while
// Close runs is the caller's job: a call on its way to the word's
// compare-and-swap is not waited for.
//
// Memory that disappears under a word (a file truncated under its
// mapping) makes every access to the word fault (SIGBUS), as any access to
// such memory does; a caller that must survive it wraps its calls in
// runtime/debug.SetPanicOnFault and recovers, as package segment does. A
// sleeping waiter finds out without touching the word (futex(2) fails
// with EFAULT) and returns an error wrapping syscall.EFAULT; waiters that
// fault leave nothing counted that Close would wait for.
//
// # OpenBSD pledge(2)
//
// The default identity's stale check calls kill(2) on another process,
// which under pledge(2) needs the "proc" promise; without it the kernel
// kills the caller with SIGABRT the first time a waiter checks a holder
// (after the stale interval, or at a failed TryLock). Taking, waiting for
// and releasing the lock, and Close, need only "stdio" (waiters there back
// off with nanosleep(2)). TestPledge checks both in a simulation of pledge
// on Linux. A word owner that supplies its own identity decides what its
// Dead needs.
//
// Where 64-bit atomics are not atomic between processes ([Atomic64] false:
// 32-bit MIPS, ARM built for GOARM < 7), New64 works in 32-bit mode on the
// state half.
//
// # Waiting for data
//
// A [Cond] is a condition variable whose waiters may be in any process: a
// consumer checks a condition under a Mutex and, while it does not hold,
// calls [Cond.Wait], which releases the Mutex, sleeps until a notification
// ([Cond.Signal], [Cond.Broadcast]) and locks the Mutex again. It lives in
// one 32-bit notify word in shared memory (a segment reserves one next to
// its lock), native endian, zero when unused:
//
//	bits  0..30  sequence: moves on every notification that finds a waiter
//	bit  31      waiters: someone may wait for the sequence to move
//
// There is nothing per waiter in shared memory, so a waiter killed at any
// point leaves at most a stale waiters bit, and a notifier never waits
// for anyone. The protocol:
//
//   - Wait sets the waiters bit and reads the word while it holds the
//     Mutex, unlocks, and sleeps in futex(2) while the word still has
//     that value. A notification made under the Mutex after the unlock
//     (or made after the change of the condition under the Mutex) sees
//     the bit and moves the sequence, so the sleep either does not begin
//     (futex(2) finds another value) or is woken: no wake-up is lost
//     between the unlock and the sleep. A waiter returns when the word
//     changed; it then locks the Mutex again and passes on what Lock
//     returns, [ErrOwnerDead] included (repair, as after Lock).
//   - A notification with the bit clear is a load and nothing else: no
//     write, no system call. With the bit set, Broadcast moves the
//     sequence, clears the bit and wakes every sleeper; Signal moves the
//     sequence and wakes one, and if it found none asleep (the bit was
//     stale: its waiters are gone, or have not slept yet and will find
//     the word changed) it clears the bit and wakes whoever fell asleep
//     in between. So after the last waiter leaves, one notification pays
//     two system calls and the next ones none.
//   - Spurious wake-ups: Wait may return without a notification meant for
//     its caller: another waiter took the condition first, a waiter
//     arriving during a notification that found no sleeper sees the word
//     change, and every sleeper looks at the word by itself once per
//     recheck interval (WithStaleAfter on the Cond; default
//     [DefaultRecheck]) and returns if the sequence moved. That recheck is
//     what bounds the delay when a notifier is killed between moving the
//     sequence and its futex(2) wake, or a woken waiter is killed before
//     it acted. Always wait in a loop that checks the condition.
//   - The sequence wraps around after 2^31 notifications. A waiter
//     cannot tell 2^31 of them from none, which matters only if all of
//     them happen between its read of the word and its sleep (each of
//     them makes a system call, since it sees the waiters bit), or while
//     it sleeps without being woken by any.
//   - [Cond.WaitCount] is an event count over the same word: notifiers add
//     to a 32-bit counter of their own before they notify, and a waiter
//     with no condition to check under a Mutex waits for the counter to
//     move from a mark it took (a segment's WaitNotification). It
//     announces itself before it reads the counter, so no notification
//     after the read is missed.
//
// Where futex(2) is missing (systems other than Linux, and the openbsdsim
// build) or with [WithBackoff], waiters poll the word with exponential
// backoff up to 1 ms while the lock changes hands; a starving waiter that
// finds the word exactly as at its last look (one holder keeps the lock)
// keeps doubling its sleep up to the stale interval, so that it wakes some
// 50 times a second rather than 1000 behind a long hold, and notices the
// Unlock at most that much later (never later than it had already waited
// for that holder). Notifications there only move the sequence (Signal then
// wakes every waiter). Waiters of both kinds can share a word.
//
// A waiter of a Cond or a Semaphore whose context can be cancelled sleeps,
// like a Mutex's, on its own goroutine with a bounded timeout and looks at
// the context between sleeps: there is nothing per waiter in the word to
// aim a wake-up at, and a helper goroutine or a context.AfterFunc per wait
// would put a goroutine switch and a timer into every wake-up. The bound
// starts at 5 ms and doubles up to 20 ms, so a cancellation is noticed
// within about the time the waiter has already waited (at least 5 ms), and
// never more than 20 ms late; a context's deadline is met on time. These
// bounds are the waiter's own: once it has noticed, its goroutine still
// waits for a P like any other woken goroutine, and in a process that
// keeps more goroutines busy than GOMAXPROCS that takes tens of
// milliseconds at times (measured with 4 spinning goroutines on 2 Ps: up
// to 60 ms, for these waiters and for goroutines blocked in
// <-ctx.Done() alike).
//
// Every sleep in futex(2) first keeps the goroutine's P: the Go runtime
// otherwise takes the P of a goroutine that sleeps in system calls again
// and again without being scheduled, and each of its wake-ups then pays a
// wake-up of the runtime's sysmon thread and several thread switches
// (internal/futex explains the mechanism; bench/NOTES.md measures it).
//
// A [Semaphore] is a robust counting semaphore in 64+8n bytes
// ([SemaphoreSize]): a notify word, the count n, and one word per unit
// that records its holder in [New64]'s format (New's, narrow bit
// included, in the state half where [Atomic64] is false). Taking a unit is one
// compare-and-swap of a free unit's word from 0 to the taker's [Holder],
// so a unit is never held without its holder written down; Release is one
// compare-and-swap back, and a notification of the waiters (no system call
// when there are none). A waiter that finds no free unit sleeps on the
// notify word (announcing itself, then looking at the units once more,
// so that a release in between is not missed) and, every stale interval,
// asks the [Identity] about every holder: a unit whose holder is dead is
// taken over by one compare-and-swap from the value judged, and the taker
// gets an error matching ErrOwnerDead naming the dead holder, once per
// unit. Units belong to the identity, like the Mutex: with the default
// one, to the process. Where the identity has no Stamp (32-bit units, or
// no /proc), units that show this process's identity when it makes its
// first Semaphore over the memory are taken for a dead predecessor's, as
// with a Mutex (a process that closed all its Semaphores over the memory
// while it held units and makes a new one looks like its own heir). Such
// a unit is recovered only while more units show the identity than the
// process holds: another process that judged the predecessor dead just
// before this one was given its PID may have taken it over meanwhile. As
// with a 32-bit Mutex word, one that does so after the recovery takes the
// unit from this process.
package lock

/* lockword.h: package lock's algorithm (lock/lock.go, lock/wait.go,
 * lock/wait_linux.go) in C, the "same algorithm in C" baseline of bench/run:
 * what lock.Mutex would cost if Go added nothing.
 *
 * Word: 32 bits, as lock.New's: bits 0..29 the holder's tag (the PID),
 * bit 30 "waiters" (someone may sleep in futex(2) on the word), bit 31
 * reserved.
 *   lock    one CAS 0 -> tag; on failure the slow path:
 *           LW_ACTIVE_SPINS re-reads with a pause loop between them, then
 *           the passive phase: lock re-reads the word passiveSpins times
 *           with a runtime.Gosched between them, which lets other
 *           goroutines of the process run but keeps the CPU; a C process
 *           has no such thing (sched_yield(2) would give the CPU away to
 *           other processes, for a whole time slice on a busy machine), so
 *           here the passive phase re-reads the word, with the pause loop,
 *           for as long as lock's takes: LW_SPIN_NS from the environment
 *           (bench/run measures lock.Mutex's spin phase at the start of a
 *           run, benchproc spinbudget), else LW_SPIN_DEFAULT_NS. Then
 *           sleep: set the waiters bit by CAS, FUTEX_WAIT (shared, not
 *           PRIVATE) while the word is unchanged, with the same timeout as
 *           the stale check's, re-examine; a waiter that finds the word free
 *           takes it with the waiters bit, as lock does ("Futexes Are
 *           Tricky", mutex 3).
 *   unlock  one CAS tag -> 0; if the word had the waiters bit, a CAS to 0
 *           and FUTEX_WAKE of one sleeper.
 * Not mirrored: the check for a dead holder (waiters look at the holder
 * every LW_STALE_NS; no holder dies in a benchmark, and it costs one clock
 * read per futex wake-up, which is mirrored).
 *
 * LW_WORD64 selects the 64-bit word of lock.New64 (CONTRACT.md): the
 * 32-bit half at the lower address is the state half above (futex waits on
 * it), the other half holds the holder's stamp; lock and unlock are one
 * 64-bit CAS of tag and stamp together. bench/run builds it (so it keeps
 * compiling) but measures the 32-bit word while Go's side uses lock.New.
 * When lock.New64 and its anti-barging bit (bit 31) land, make the Go
 * benchmarks use New64, run the LW_WORD64 build, and mirror what bit 31
 * does here; bench/cmd/benchproc's TestLockwordMatchesLock checks that the
 * active spins below still match lock/wait.go's (the passive phase follows
 * lock's by measurement).
 */
#ifndef LOCKWORD_H
#define LOCKWORD_H

#include <linux/futex.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define LW_ACTIVE_SPINS 4          /* lock/wait.go activeSpins */
#define LW_SPIN_DEFAULT_NS 3000L   /* 16 Goscheds on a quiet 2-core VM, about */
#define LW_PAUSE_LOOP 30           /* lock/wait.go spinPause's loop */
#define LW_STALE_NS 20000000L      /* lock.DefaultStaleAfter: the futex timeout */
#define LW_MIN_WAIT_NS 50000L      /* lock/wait.go minFutexWait */

#define LW_TAG_MASK ((1u << 30) - 1)
#define LW_WAITERS (1u << 30)

#ifdef LW_WORD64
typedef uint64_t lw_word;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LW_STATE(w) ((uint32_t)(w))
#define LW_MAKE(state, stamp) ((uint64_t)(stamp) << 32 | (state))
#else
#define LW_STATE(w) ((uint32_t)((w) >> 32))
#define LW_MAKE(state, stamp) ((uint64_t)(state) << 32 | (stamp))
#endif
#else
typedef uint32_t lw_word;
#define LW_STATE(w) (w)
#define LW_MAKE(state, stamp) ((void)(stamp), (state))
#endif

/* A handle: the word and what this process writes into it. */
struct lw {
	lw_word *word;
	lw_word self; /* tag (and stamp): the locked word of this process */
	long spin_ns; /* length of the passive spin phase */
};

static inline void lw_init(struct lw *l, lw_word *word, uint32_t tag, uint32_t stamp)
{
	const char *e = getenv("LW_SPIN_NS");

	l->word = word;
	l->self = LW_MAKE(tag & LW_TAG_MASK, stamp);
	l->spin_ns = e != NULL && atol(e) >= 0 ? atol(e) : LW_SPIN_DEFAULT_NS;
}

/* lw_state is the futex word: the state half of *word. */
static inline uint32_t *lw_state(lw_word *word)
{
	return (uint32_t *)word; /* the state half is at the lower address */
}

static inline int lw_cas(lw_word *word, lw_word old, lw_word new)
{
	return __atomic_compare_exchange_n(word, &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* lw_pause burns a few dozen cycles without touching shared memory, as
 * lock's spinPause does (a loop of adds, not the PAUSE instruction). */
__attribute__((noinline)) static int lw_pause(void)
{
	int n = 0, i;

	for (i = 0; i < LW_PAUSE_LOOP; i++) {
		n += i;
		__asm__ volatile("" : "+r"(n));
	}
	return n;
}

static inline long lw_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* time.Now() in lockSlow */
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

__attribute__((noinline)) static void lw_lock_slow(struct lw *l)
{
	lw_word w, self = l->self, waiters = LW_MAKE(LW_WAITERS, 0);
	long next, end = 0;
	int i;

	for (i = 0;; i++) {
		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
		if ((LW_STATE(w) & LW_TAG_MASK) == 0) {
			if (lw_cas(l->word, w, self | (w & waiters)))
				return;
			continue;
		}
		if (i == LW_ACTIVE_SPINS)
			end = lw_clock() + l->spin_ns;
		else if (i > LW_ACTIVE_SPINS && lw_clock() >= end)
			break;
		lw_pause();
	}
	next = lw_clock() + LW_STALE_NS;
	for (;;) {
		struct timespec ts;
		long now, d;

		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
		if ((LW_STATE(w) & LW_TAG_MASK) == 0) {
			if (lw_cas(l->word, w, self | waiters))
				return;
			continue;
		}
		now = lw_clock();
		if (now >= next)
			next = now + LW_STALE_NS; /* lock checks the holder here */
		if (!(LW_STATE(w) & LW_WAITERS)) {
			if (!lw_cas(l->word, w, w | waiters))
				continue;
			w |= waiters;
		}
		d = next - now;
		if (d < LW_MIN_WAIT_NS)
			d = LW_MIN_WAIT_NS;
		ts.tv_sec = d / 1000000000L;
		ts.tv_nsec = d % 1000000000L;
		syscall(SYS_futex, lw_state(l->word), FUTEX_WAIT, LW_STATE(w), &ts, NULL, 0);
	}
}

static inline void lw_lock(struct lw *l)
{
	if (!lw_cas(l->word, 0, l->self))
		lw_lock_slow(l);
}

/* lw_unlock returns -1 if this process does not hold the lock. */
__attribute__((noinline)) static int lw_unlock_slow(struct lw *l)
{
	lw_word w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);

	for (;;) {
		if ((w & ~LW_MAKE(LW_WAITERS, 0)) != l->self)
			return -1;
		if (lw_cas(l->word, w, 0))
			break;
		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
	}
	if (LW_STATE(w) & LW_WAITERS)
		syscall(SYS_futex, lw_state(l->word), FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

static inline int lw_unlock(struct lw *l)
{
	if (lw_cas(l->word, l->self, 0))
		return 0;
	return lw_unlock_slow(l);
}

#endif

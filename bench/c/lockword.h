/* lockword.h: package lock's algorithm (lock/lock.go, lock/wait.go,
 * lock/wait_linux.go) in C, the "same algorithm in C" baseline of bench/run:
 * what lock.Mutex would cost if Go added nothing.
 *
 * Word: as lock.New64's with LW_WORD64 (what bench/run measures, as the Go
 * side uses New64), else as lock.New's. The 32-bit state half, at the lower
 * address, is what futex(2) waits on: bits 0..28 the holder's tag (the
 * PID), bit 29 "narrow" (set without LW_WORD64: a 32-bit writer holds the
 * word, so the other half of a 64-bit word is not its stamp), bit 30
 * "waiters" (someone may sleep in futex(2) on the word), bit 31
 * "starving" (a waiter waited LW_STARVE_NS: no barging). With LW_WORD64
 * the other half holds the holder's stamp, and lock and unlock are one
 * 64-bit CAS of tag and stamp together.
 *   lock    one CAS 0 -> tag; on failure the slow path:
 *           spin (lock.Mutex.spin): re-read the word with a PAUSE between
 *           reads, looking at the clock every LW_SPIN_CHECK reads, for up
 *           to the handle's limit, and take a free word whose starving bit
 *           is clear if it was free at the read before too (or at the
 *           first), and stop spinning at once when the word is taken by
 *           another in between (the holder barges); the limit moves a quarter of the way up to
 *           LW_MAX_SPIN_NS after a spin that took the lock, an eighth of
 *           the way down to LW_MIN_SPIN_NS after one that ended asleep.
 *           (lock.Mutex yields with runtime.Gosched instead when the holder
 *           is another goroutine of its own process, which a C process has
 *           not: no passive phase here.)
 *           Then sleep: set the waiters bit by CAS and FUTEX_WAIT_BITSET
 *           (shared, not PRIVATE) while the word is unchanged; a waiter
 *           that finds the word free takes it with the waiters bit if it
 *           has slept ("Futexes Are Tricky", mutex 3). A woken waiter that
 *           finds the word taken again sleeps without setting the bit until
 *           it starves. A waiter that has waited LW_STARVE_NS sets the
 *           starving bit (with the waiters bit) and sleeps with its own
 *           bitset; while the bit is set only starving waiters take a free
 *           word, and clear the bit when they do. Every sleep ends by the
 *           stale check (LW_STALE_NS), by the waiter's starving time, and a
 *           starving waiter's within LW_STARVE_NS.
 *   unlock  one CAS tag -> 0; if the word had flag bits, a CAS to the
 *           starving bit alone, and if it had the waiters bit, a
 *           FUTEX_WAKE_BITSET of one starving sleeper when the starving bit
 *           was set, else a FUTEX_WAKE of one sleeper.
 * Not mirrored: the check for a dead holder (waiters look at the holder
 * every LW_STALE_NS; no holder dies in a benchmark) and the context and
 * Close checks (two loads). bench/cmd/benchproc's TestLockwordMatchesLock
 * checks that the constants below still match lock/wait.go's.
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

#define LW_MIN_SPIN_NS 250L       /* lock/wait.go minSpin */
#define LW_MAX_SPIN_NS 2000L      /* lock/wait.go maxSpin */
#define LW_SPIN_CHECK 16          /* lock/wait.go spinCheck */
#define LW_STALE_NS 20000000L      /* lock.DefaultStaleAfter: bounds every sleep */
#define LW_STARVE_NS 1000000L      /* lock/wait.go starveAfter */
#define LW_MIN_WAIT_NS 50000L      /* lock/wait.go minFutexWait */

#define LW_TAG_MASK ((1u << 29) - 1)
#define LW_NARROW (1u << 29)
#define LW_WAITERS (1u << 30)
#define LW_STARVING (1u << 31)

#define LW_SLEEP_NORMAL 1   /* lock/wait_linux.go sleepNormal: futex bitsets */
#define LW_SLEEP_STARVING 2 /* lock/wait_linux.go sleepStarving */

#ifdef LW_WORD64
typedef uint64_t lw_word;
#define LW_NAME "cas64"
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LW_STATE(w) ((uint32_t)(w))
#define LW_MAKE(state, stamp) ((uint64_t)(stamp) << 32 | (state))
#else
#define LW_STATE(w) ((uint32_t)((w) >> 32))
#define LW_MAKE(state, stamp) ((uint64_t)(state) << 32 | (stamp))
#endif
#define LW_WRITER 0 /* tag and stamp in one CAS */
#else
typedef uint32_t lw_word;
#define LW_NAME "cas"
#define LW_STATE(w) (w)
#define LW_MAKE(state, stamp) ((void)(stamp), (state))
#define LW_WRITER LW_NARROW /* the state half alone */
#endif

/* A handle: the word and what this process writes into it. */
struct lw {
	lw_word *word;
	lw_word self; /* tag (and stamp): the locked word of this process */
	long spin_ns; /* the spin's limit, adaptive (0: LW_MAX_SPIN_NS) */
};

static inline void lw_init(struct lw *l, lw_word *word, uint32_t tag, uint32_t stamp)
{
	l->word = word;
	l->self = LW_MAKE((tag & LW_TAG_MASK) | LW_WRITER, stamp);
	l->spin_ns = 0;
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

/* lw_pause is the spin-wait hint lock's spin gives (internal/futex.Pause):
 * PAUSE on x86, YIELD on arm64. */
static inline void lw_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static inline long lw_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* time.Now() in lock's wait */
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline long lw_min(long a, long b)
{
	return a < b ? a : b;
}

__attribute__((noinline)) static void lw_lock_slow(struct lw *l)
{
	const lw_word waiters = LW_MAKE(LW_WAITERS, 0), starving_bit = LW_MAKE(LW_STARVING, 0);
	lw_word w, flags, self = l->self;
	long now, next, starve_at, start = 0, d, limit = l->spin_ns ? l->spin_ns : LW_MAX_SPIN_NS;
	int i, starving = 0, slept = 0, free = 1;

	for (i = 1;; i++) {
		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
		if ((LW_STATE(w) & (LW_TAG_MASK | LW_STARVING)) == 0) {
			if (free) {
				if (lw_cas(l->word, w, self | (w & waiters))) {
					l->spin_ns = limit + (LW_MAX_SPIN_NS - limit) / 4;
					return;
				}
				l->spin_ns = limit - (limit - LW_MIN_SPIN_NS) / 8;
				break; /* taken under our nose */
			}
			free = 1;
		} else if (free && i > 1) {
			/* free at the last read, taken now: the holder barges */
			l->spin_ns = limit - (limit - LW_MIN_SPIN_NS) / 8;
			break;
		} else {
			free = 0;
		}
		lw_pause();
		if (i % LW_SPIN_CHECK == 0) {
			if (start == 0) {
				start = lw_clock();
			} else if (lw_clock() - start >= limit) {
				l->spin_ns = limit - (limit - LW_MIN_SPIN_NS) / 8;
				break;
			}
		}
	}
	now = lw_clock();
	next = now + LW_STALE_NS;
	starve_at = now + LW_STARVE_NS;
	for (;;) {
		struct timespec ts;
		uint32_t state;

		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
		state = LW_STATE(w);
		if ((state & LW_TAG_MASK) == 0 && (!(state & LW_STARVING) || starving)) {
			if (lw_cas(l->word, w, self | (w & waiters) | (slept ? waiters : 0)))
				return;
			continue;
		}
		now = lw_clock();
		if (!starving && now >= starve_at)
			starving = 1;
		if ((state & LW_TAG_MASK) != 0 && now >= next)
			next = now + LW_STALE_NS; /* lock checks the holder here */
		flags = w;
		if (starving && (state & LW_TAG_MASK) != 0)
			flags |= starving_bit;
		if (!slept || starving)
			flags |= waiters;
		if (flags != w) {
			if (!lw_cas(l->word, w, flags))
				continue;
			w = flags;
		}
		d = lw_min(next - now, LW_STARVE_NS);
		if (!starving)
			d = lw_min(d, starve_at - now);
		if (d < LW_MIN_WAIT_NS)
			d = LW_MIN_WAIT_NS;
		d += now; /* FUTEX_WAIT_BITSET: an absolute CLOCK_MONOTONIC time */
		ts.tv_sec = d / 1000000000L;
		ts.tv_nsec = d % 1000000000L;
		slept = 1;
		syscall(SYS_futex, lw_state(l->word), FUTEX_WAIT_BITSET, LW_STATE(w), &ts, NULL,
		    starving && (LW_STATE(w) & LW_STARVING) ? LW_SLEEP_STARVING : LW_SLEEP_NORMAL);
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
	const lw_word flags = LW_MAKE(LW_WAITERS | LW_STARVING, 0);
	lw_word w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);

	for (;;) {
		if ((w & ~flags) != l->self)
			return -1;
		if (lw_cas(l->word, w, w & LW_MAKE(LW_STARVING, 0)))
			break;
		w = __atomic_load_n(l->word, __ATOMIC_SEQ_CST);
	}
	if (LW_STATE(w) & LW_WAITERS) {
		if (LW_STATE(w) & LW_STARVING)
			syscall(SYS_futex, lw_state(l->word), FUTEX_WAKE_BITSET, 1, NULL, NULL, LW_SLEEP_STARVING);
		else
			syscall(SYS_futex, lw_state(l->word), FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	return 0;
}

static inline int lw_unlock(struct lw *l)
{
	if (lw_cas(l->word, l->self, 0))
		return 0;
	return lw_unlock_slow(l);
}

#endif

/* Cross-process handoff and wake-up latency in C, the baselines of
 * bench/cmd/benchproc's pingpong and wake.
 *
 *   futex pingpong N      sleeping handoff: a turn word says whose turn it
 *                         is; a process waits in FUTEX_WAIT (shared, not
 *                         PRIVATE) until the word is its own, hands it over
 *                         and FUTEX_WAKEs the other. It never spins, so
 *                         every handoff sleeps and wakes.
 *   futex lockpingpong N  spinning handoff with lock's algorithm
 *                         (lockword.h: spin, then futex), through three
 *                         lock words exactly as benchproc's pingpong does
 *                         with lock.Mutex: A holds {k, k+1} and B {k+2}; A
 *                         unlocks k and locks k+2, B locks k and unlocks
 *                         k+2 (mod 3).
 *   futex spinbudget N    how long a lockword.h waiter spins before it
 *                         sleeps behind a held lock: from just before its
 *                         lock to the moment the waiters bit appears
 *                         (median of N, c_spin_ns; benchproc spinbudget
 *                         measures lock.Mutex's the same way).
 *
 * N is round trips. The ping-pongs print, per round trip: wall time
 * (c_KIND_pingpong ns/roundtrip), CPU time of both processes (_cpu,
 * getrusage: user + system), context switches of both (_switches,
 * voluntary + involuntary), and the distribution of single round trips
 * (one in 8 timed, KEY@pQ lines). The sleeping-waiter figures are
 * bench/c/wake.c's.
 * Build: gcc -O2 -o futex futex.c */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "lockword.h"

#define SAMPLE_EVERY 8 /* ping-pong: time one round trip in 8 */

#define LINE __attribute__((aligned(64)))

struct shared {
	uint32_t turn LINE; /* pingpong: whose turn */
	lw_word words[3][64 / sizeof(lw_word)] LINE; /* one line each */
	int ready LINE, go;
	volatile unsigned long round, ack; /* spinbudget: round started, done */
	volatile double tlock;               /* spinbudget: just before the lock */
	volatile unsigned long started;      /* spinbudget: the waiter's round */
	struct {
		double start LINE, end;
		struct usage used;
	} proc[2];
	long nsamples LINE;
	double samples[]; /* filled by process 0 */
};

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static struct shared *s;

/* A role is what each of the two processes does, n times. */
typedef void role(int idx, long n);

/* turn: a ping-pong through the turn word, never spinning. Process 0 times
 * one round trip in SAMPLE_EVERY: from just before it hands the turn over
 * to the moment it has it back. */
static void turn(int idx, long n)
{
	uint32_t me = idx, v;
	double t0 = 0;
	long k;

	for (k = 0; k < n; k++) {
		while ((v = __atomic_load_n(&s->turn, __ATOMIC_ACQUIRE)) != me)
			if (futex(&s->turn, FUTEX_WAIT, v) < 0 && errno != EAGAIN && errno != EINTR)
				die("futex wait");
		if (idx == 0 && t0 != 0) {
			s->samples[s->nsamples++] = now_ns() - t0;
			t0 = 0;
		}
		if (idx == 0 && k % SAMPLE_EVERY == 0)
			t0 = now_ns();
		__atomic_store_n(&s->turn, 1 - me, __ATOMIC_RELEASE);
		if (futex(&s->turn, FUTEX_WAKE, 1) < 0)
			die("futex wake");
	}
	if (idx == 1) /* process 0's last handoff returns the turn to us */
		while ((v = __atomic_load_n(&s->turn, __ATOMIC_ACQUIRE)) != me)
			futex(&s->turn, FUTEX_WAIT, v);
}

/* lockpong: the three-word ping-pong with lockword.h. */
static void lockpong(int idx, long n)
{
	struct lw l[3];
	double t0;
	long k;
	int i;

	for (i = 0; i < 3; i++)
		lw_init(&l[i], s->words[i], getpid(), 0);
	for (k = 0; k < n; k++) {
		if (idx == 0) {
			int timed = k % SAMPLE_EVERY == 0;

			t0 = timed ? now_ns() : 0;
			if (lw_unlock(&l[k % 3]) != 0)
				die("lw_unlock: not held");
			lw_lock(&l[(k + 2) % 3]);
			if (timed)
				s->samples[s->nsamples++] = now_ns() - t0;
		} else {
			lw_lock(&l[k % 3]);
			if (lw_unlock(&l[(k + 2) % 3]) != 0)
				die("lw_unlock: not held");
		}
	}
}

/* lockpongstart takes the words each side starts with: A 0 and 1, B 2. */
static void lockpongstart(int idx)
{
	struct lw l;
	int i;

	for (i = 0; i < 3; i++) {
		if ((idx == 0) != (i < 2))
			continue;
		lw_init(&l, s->words[i], getpid(), 0);
		lw_lock(&l);
	}
}

static void waitfor(volatile unsigned long *p, unsigned long v)
{
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < v)
		usleep(20);
}

/* spinb: process 0 holds the lock and watches for the waiters bit that
 * process 1 sets when it stops spinning. */
static void spinb(int idx, long n)
{
	struct lw l;
	unsigned long r;

	lw_init(&l, s->words[0], getpid(), 0);
	for (r = 1; r <= (unsigned long)n; r++) {
		if (idx == 1) {
			waitfor(&s->round, r);
			s->tlock = now_ns();
			__atomic_store_n(&s->started, r, __ATOMIC_RELEASE);
			lw_lock(&l);
			if (lw_unlock(&l) != 0)
				die("lw_unlock: not held");
			__atomic_store_n(&s->ack, r, __ATOMIC_RELEASE);
			continue;
		}
		lw_lock(&l);
		__atomic_store_n(&s->round, r, __ATOMIC_RELEASE);
		while (__atomic_load_n(&s->started, __ATOMIC_ACQUIRE) < r)
			;
		while (!(LW_STATE(__atomic_load_n(s->words[0], __ATOMIC_ACQUIRE)) & LW_WAITERS))
			;
		s->samples[s->nsamples++] = now_ns() - s->tlock;
		if (lw_unlock(&l) != 0)
			die("lw_unlock: not held");
		waitfor(&s->ack, r);
	}
}

/* run forks the two processes, starts them together and waits. */
static int run(role *r, void (*start)(int), long n)
{
	pid_t pid[2];
	int i, ok = 1;

	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) < 0)
			die("fork");
		if (pid[i] == 0) {
			if (start)
				start(i);
			__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
			while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
				usleep(20);
			s->proc[i].used = get_usage();
			s->proc[i].start = now_ns();
			r(i, n);
			s->proc[i].end = now_ns();
			struct usage u = get_usage();
			s->proc[i].used.cpu_ns = u.cpu_ns - s->proc[i].used.cpu_ns;
			s->proc[i].used.switches = u.switches - s->proc[i].used.switches;
			_exit(0);
		}
	}
	while (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) < 2)
		usleep(100);
	__atomic_store_n(&s->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++) {
		int st;

		if (waitpid(pid[i], &st, 0) < 0)
			die("waitpid");
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	if (!ok)
		fprintf(stderr, "futex: a child failed\n");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	long n;
	char key[64];
	int lock;

	if (argc != 3 || (n = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: futex pingpong|lockpingpong|spinbudget N\n");
		return 2;
	}
	s = mmap(NULL, sizeof(*s) + (n + 1) * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		die("mmap");
	if (strcmp(argv[1], "spinbudget") == 0) {
		if (run(spinb, NULL, n) != 0)
			return 1;
		qsort(s->samples, s->nsamples, sizeof(double), cmp_double);
		printf("c_spin_ns %.0f ns\n", s->samples[s->nsamples / 2]);
		return 0;
	}
	lock = strncmp(argv[1], "lock", 4) == 0;
	if (strcmp(argv[1] + 4 * lock, "pingpong") != 0) {
		fprintf(stderr, "futex: unknown mode %s\n", argv[1]);
		return 2;
	}
	snprintf(key, sizeof(key), "c_%s_pingpong", lock ? "lock" : "futex");
	s->turn = 1; /* process 1 has the first turn */
	if (run(lock ? lockpong : turn, lock ? lockpongstart : NULL, n) != 0)
		return 1;
	printf("%s %.1f ns/roundtrip\n", key,
	    ((s->proc[0].end > s->proc[1].end ? s->proc[0].end : s->proc[1].end) -
		(s->proc[0].start < s->proc[1].start ? s->proc[0].start : s->proc[1].start)) / n);
	printf("%s_cpu %.1f ns/roundtrip\n", key, (s->proc[0].used.cpu_ns + s->proc[1].used.cpu_ns) / n);
	printf("%s_switches %.3f switches/roundtrip\n", key, (s->proc[0].used.switches + s->proc[1].used.switches) / n);
	print_quantiles(key, "ns/roundtrip", s->samples, s->nsamples);
	return 0;
}

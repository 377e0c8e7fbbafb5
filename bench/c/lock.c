/* Lock baselines: package lock's algorithm in C (lockword.h), a robust
 * process-shared pthread mutex, and flock(2).
 *
 *   lock uncontended N        lock+unlock, one process, no contention:
 *                             prints c_cas_uncontended (lockword.h, the
 *                             same two CASes as lock.Mutex) and
 *                             c_pthread_uncontended; built with
 *                             -DLW_WORD64, c_cas64_uncontended only (the
 *                             64-bit word of lock.New64)
 *   lock flock1 N FILE        flock(LOCK_EX) + flock(LOCK_UN), one process
 *   lock incr KIND P M FILE [plain]
 *                             P processes (fork) x M increments of a shared
 *                             counter under KIND = cas | pthread | flock
 *                             (cas: the keys say cas64 with -DLW_WORD64);
 *                             prints the wall time per increment, from the
 *                             first child's start to the last child's end,
 *                             and how the lock changed hands (see record).
 *                             With "plain" the records are not kept: the
 *                             figure then shows what they cost.
 *
 * The locks live in a MAP_SHARED mapping, as a shared memory segment's would.
 * Build: gcc -O2 -pthread -o lock lock.c */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "lockword.h"

#define MAXP 64

#define LINE __attribute__((aligned(64))) /* starts a cache line */

/* Per process, on its own cache line. */
struct proc {
	double start LINE, end; /* CLOCK_MONOTONIC ns around the increments */
	double lost;            /* when another process last took the lock from it */
	double maxwait;         /* longest time from lost to its next acquisition */
};

struct shared {
	pthread_mutex_t mu LINE;
	lw_word word LINE;
	/* The counter's cache line: everything written at every increment. */
	volatile unsigned long counter LINE;
	unsigned long streak, maxstreak, handoffs;
	int last; /* index+1 of the process that incremented last */
	int ready LINE, go;
	struct proc proc[MAXP];
};

static struct shared *mapshared(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t a;

	if (s == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&s->mu, &a) != 0)
		die("pthread_mutex_init");
	return s;
}

static void lockmu(pthread_mutex_t *mu)
{
	if (pthread_mutex_lock(mu) == EOWNERDEAD)
		pthread_mutex_consistent(mu);
}

/* record runs under the lock after each increment by process me (index+1):
 * it counts the changes of holder and the streaks of increments by one
 * process, and at each change of holder the time the new holder waited
 * since the lock was taken from it (or since its start). Between changes
 * it touches only the counter's cache line, which the increment has just
 * written; the clock is read once per change of holder. The wait is
 * measured from the moment the next process took the lock over, so it
 * misses the handoff itself (microseconds). bench/cmd/benchproc does the
 * same for lock.Mutex. */
static inline void record(struct shared *s, int me)
{
	double now, w;

	if (s->last == me) {
		s->streak++;
		return;
	}
	now = now_ns();
	if (s->last != 0) {
		s->handoffs++;
		s->proc[s->last - 1].lost = now;
		if (s->streak > s->maxstreak)
			s->maxstreak = s->streak;
	}
	w = now - s->proc[me - 1].lost;
	if (w > s->proc[me - 1].maxwait)
		s->proc[me - 1].maxwait = w;
	s->last = me;
	s->streak = 1;
}

enum kind { CAS, PTHREAD, FLOCK };

static void child(struct shared *s, int idx, long m, enum kind k, int records, const char *file)
{
	struct lw l;
	int fd = -1;
	long i;

	if (k == FLOCK && (fd = open(file, O_RDWR | O_CLOEXEC)) < 0)
		die("open");
	lw_init(&l, &s->word, getpid(), 1);
	__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
		usleep(20);
	s->proc[idx].start = s->proc[idx].lost = now_ns();
	for (i = 0; i < m; i++) {
		switch (k) {
		case CAS:
			lw_lock(&l);
			break;
		case PTHREAD:
			lockmu(&s->mu);
			break;
		case FLOCK:
			if (flock(fd, LOCK_EX) < 0)
				die("flock");
			break;
		}
		s->counter++;
		if (records)
			record(s, idx + 1);
		switch (k) {
		case CAS:
			if (lw_unlock(&l) != 0) {
				fprintf(stderr, "lock: unlock of a lock not held\n");
				_exit(1);
			}
			break;
		case PTHREAD:
			pthread_mutex_unlock(&s->mu);
			break;
		case FLOCK:
			flock(fd, LOCK_UN);
			break;
		}
	}
	s->proc[idx].end = now_ns();
	_exit(0);
}

static int incr(const char *kind, int p, long m, const char *file, int records)
{
	enum kind k = strcmp(kind, "flock") == 0 ? FLOCK : strcmp(kind, "cas") == 0 ? CAS : PTHREAD;
	struct shared *s = mapshared();
	double first, last, maxwait = 0;
	char key[64];
	int i, ok = 1;

	if (p < 1 || p > MAXP || m < 1) {
		fprintf(stderr, "lock incr: bad P or M\n");
		return 2;
	}
	for (i = 0; i < p; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			child(s, i, m, k, records, file);
	}
	while (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) < p)
		usleep(100);
	__atomic_store_n(&s->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < p; i++) {
		int st;

		if (wait(&st) < 0)
			die("wait");
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	if (!ok || s->counter != (unsigned long)p * m) {
		fprintf(stderr, "lock incr: bad run: counter %lu, want %lu\n",
		    s->counter, (unsigned long)p * m);
		return 1;
	}
	first = s->proc[0].start;
	last = s->proc[0].end;
	for (i = 0; i < p; i++) {
		if (s->proc[i].start < first)
			first = s->proc[i].start;
		if (s->proc[i].end > last)
			last = s->proc[i].end;
		if (s->proc[i].maxwait > maxwait)
			maxwait = s->proc[i].maxwait;
	}
	snprintf(key, sizeof(key), "c_incr_%s_%dp%s", k == CAS ? LW_NAME : kind, p, records ? "" : "_plain");
	printf("%s %.2f ns/increment\n", key, (last - first) / ((double)p * m));
	if (!records)
		return 0;
	if (s->streak > s->maxstreak)
		s->maxstreak = s->streak;
	printf("%s_handoffs %lu handoffs\n", key, s->handoffs);
	printf("%s_streak_mean %.1f increments\n", key, (double)s->counter / (s->handoffs + 1));
	printf("%s_streak_max %lu increments\n", key, s->maxstreak);
	printf("%s_wait_max %.0f ns\n", key, maxwait);
	return 0;
}

int main(int argc, char **argv)
{
	long n, i;
	double t0;

	if (argc == 3 && strcmp(argv[1], "uncontended") == 0 && (n = atol(argv[2])) > 0) {
		struct shared *s = mapshared();
		struct lw l;

		lw_init(&l, &s->word, getpid(), 1);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			lw_lock(&l);
			if (lw_unlock(&l) != 0)
				die("lw_unlock");
		}
		printf("c_" LW_NAME "_uncontended %.2f ns/op\n", (now_ns() - t0) / n);
#ifdef LW_WORD64
		return 0;
#endif
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			lockmu(&s->mu);
			pthread_mutex_unlock(&s->mu);
		}
		printf("c_pthread_uncontended %.2f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "flock1") == 0 && (n = atol(argv[2])) > 0) {
		int fd = open(argv[3], O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("open");
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (flock(fd, LOCK_EX) < 0)
				die("flock");
			flock(fd, LOCK_UN);
		}
		printf("c_flock_uncontended %.1f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if ((argc == 6 || (argc == 7 && strcmp(argv[6], "plain") == 0)) &&
	    strcmp(argv[1], "incr") == 0 &&
	    (strcmp(argv[2], "pthread") == 0 || strcmp(argv[2], "flock") == 0 ||
		strcmp(argv[2], "cas") == 0)) {
		int fd = open(argv[5], O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("open");
		close(fd);
		return incr(argv[2], atoi(argv[3]), atol(argv[4]), argv[5], argc == 6);
	}
	fprintf(stderr, "usage: lock uncontended N | lock flock1 N FILE | "
	    "lock incr cas|pthread|flock P M FILE [plain]\n");
	return 2;
}

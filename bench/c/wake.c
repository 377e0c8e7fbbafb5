/* wake.c: the C side of the sleeping-waiter figures (bench/cmd/benchproc
 * wakeup, whose comment describes the protocol; both follow it step by
 * step): how long a waiter asleep in a wait takes to return after another
 * process acted, from just before the act to the return of the wait.
 *
 *   wake KIND N GAP_NS NOTIFIER_CPU WAITER_CPU W KEY
 *
 *   KIND  lock   lockword.h (lock.Mutex's algorithm): unlock -> lock returns
 *         futex  raw FUTEX_WAKE -> FUTEX_WAIT returns
 *         cond   pthread_cond_signal -> pthread_cond_wait returns (process-
 *                shared condition variable and mutex; the mutex locked
 *                again)
 *         sem    sem_post -> sem_wait returns (process-shared unnamed
 *                semaphore, sem_init pshared=1)
 *   N     wake-ups per waiter
 *   GAP   the notifier's nanosleep before it acts (so that the waiters are
 *         asleep)
 *   CPUs  each process pins itself to its CPU (-1: not pinned)
 *   W     waiter threads in the waiter process, each with its own objects
 *
 * Prints KEY ns/wake (median), KEY@pQ (distribution), KEY_switches (the
 * waiter process's context switches, all threads, from the earliest arm
 * to the latest wake of each round, per wake-up) and KEY_samecpu (the
 * share of wake-ups on the notifier's CPU).
 *
 * Build: gcc -O2 -pthread -DLW_WORD64 -o wake wake.c */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "lockword.h"

#define MAX_WAITERS 8
#define LINE __attribute__((aligned(64)))

struct line {
	lw_word word[64 / sizeof(lw_word)] LINE; /* lock */
	uint32_t turn LINE;                      /* futex */
	uint32_t ack LINE;
	uint32_t go32 LINE; /* round, for the waiter to sleep on */
	pthread_mutex_t mu LINE; /* cond */
	pthread_cond_t cond LINE;
	volatile unsigned long condval LINE;
	sem_t sem LINE;
	volatile unsigned long round LINE, started, cpu;
	volatile double tact;
};

struct shared {
	struct line lines[MAX_WAITERS];
	int ready LINE, go;
	long nsamples LINE;
	long same;
	double switches;
	double samples[]; /* the waiters' */
};

static struct shared *s;
static int kind, waiters;
static long n;
static double gap_ns;

enum { LOCK, FUTEX, COND, SEM };

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void sleep_ns(double ns)
{
	struct timespec ts = { (time_t)(ns / 1e9), (long)ns % 1000000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("sched_setaffinity");
}

static void notifier(void)
{
	struct lw l[MAX_WAITERS];
	unsigned long r;
	int i;

	for (i = 0; i < waiters; i++)
		lw_init(&l[i], s->lines[i].word, getpid(), 0);
	for (r = 1; r <= (unsigned long)n; r++) {
		for (i = 0; i < waiters; i++) {
			struct line *x = &s->lines[i];

			if (kind == LOCK)
				lw_lock(&l[i]);
			__atomic_store_n(&x->round, r, __ATOMIC_RELEASE);
			__atomic_store_n(&x->go32, (uint32_t)r, __ATOMIC_RELEASE);
			futex(&x->go32, FUTEX_WAKE, 1);
		}
		for (i = 0; i < waiters; i++)
			while (__atomic_load_n(&s->lines[i].started, __ATOMIC_ACQUIRE) < r)
				sleep_ns(20000);
		sleep_ns(gap_ns);
		for (i = 0; i < waiters; i++) {
			struct line *x = &s->lines[i];

			x->cpu = sched_getcpu();
			x->tact = now_ns();
			switch (kind) {
			case LOCK:
				if (lw_unlock(&l[i]) != 0)
					die("lw_unlock: not held");
				break;
			case FUTEX:
				__atomic_store_n(&x->turn, (uint32_t)r, __ATOMIC_RELEASE);
				futex(&x->turn, FUTEX_WAKE, 1);
				break;
			case COND:
				pthread_mutex_lock(&x->mu);
				x->condval = r;
				pthread_mutex_unlock(&x->mu);
				pthread_cond_signal(&x->cond);
				break;
			case SEM:
				sem_post(&x->sem);
				break;
			}
		}
		for (i = 0; i < waiters; i++) {
			uint32_t a;

			while ((a = __atomic_load_n(&s->lines[i].ack, __ATOMIC_ACQUIRE)) < r)
				futex(&s->lines[i].ack, FUTEX_WAIT, a);
		}
	}
}

struct result {
	double *lat;
	double (*sw)[2];
	long same;
};

static void *waiter(void *arg)
{
	long i = (long)arg;
	struct line *x = &s->lines[i];
	struct result *res = calloc(1, sizeof(*res));
	struct lw l;
	unsigned long r;
	uint32_t v;

	res->lat = calloc(n, sizeof(double));
	res->sw = calloc(n, sizeof(*res->sw));
	lw_init(&l, x->word, getpid(), 0);
	for (r = 1; r <= (unsigned long)n; r++) {
		while ((v = __atomic_load_n(&x->go32, __ATOMIC_ACQUIRE)) < r)
			futex(&x->go32, FUTEX_WAIT, v);
		res->sw[r - 1][0] = switches();
		switch (kind) {
		case LOCK:
			__atomic_store_n(&x->started, r, __ATOMIC_RELEASE);
			lw_lock(&l);
			break;
		case FUTEX:
			__atomic_store_n(&x->started, r, __ATOMIC_RELEASE);
			while ((v = __atomic_load_n(&x->turn, __ATOMIC_ACQUIRE)) < r)
				futex(&x->turn, FUTEX_WAIT, v);
			break;
		case COND:
			pthread_mutex_lock(&x->mu);
			__atomic_store_n(&x->started, r, __ATOMIC_RELEASE);
			while (x->condval < r)
				pthread_cond_wait(&x->cond, &x->mu);
			break;
		case SEM:
			__atomic_store_n(&x->started, r, __ATOMIC_RELEASE);
			while (sem_wait(&x->sem) != 0)
				;
			break;
		}
		res->lat[r - 1] = now_ns() - x->tact;
		res->same += sched_getcpu() == (int)x->cpu;
		res->sw[r - 1][1] = switches();
		if (kind == LOCK && lw_unlock(&l) != 0)
			die("lw_unlock: not held");
		if (kind == COND)
			pthread_mutex_unlock(&x->mu);
		__atomic_store_n(&x->ack, (uint32_t)r, __ATOMIC_RELEASE);
		futex(&x->ack, FUTEX_WAKE, 1);
	}
	return res;
}

static void waiting(void)
{
	pthread_t t[MAX_WAITERS];
	struct result *res[MAX_WAITERS];
	long i, r;

	for (i = 0; i < waiters; i++)
		if (pthread_create(&t[i], NULL, waiter, (void *)i) != 0)
			die("pthread_create");
	for (i = 0; i < waiters; i++)
		pthread_join(t[i], (void **)&res[i]);
	for (r = 0; r < n; r++) {
		double first = res[0]->sw[r][0], last = res[0]->sw[r][1];

		for (i = 0; i < waiters; i++) {
			s->samples[s->nsamples++] = res[i]->lat[r];
			first = res[i]->sw[r][0] < first ? res[i]->sw[r][0] : first;
			last = res[i]->sw[r][1] > last ? res[i]->sw[r][1] : last;
		}
		s->switches += last - first;
	}
	for (i = 0; i < waiters; i++)
		s->same += res[i]->same;
}

int main(int argc, char **argv)
{
	static const char *kinds[] = { "lock", "futex", "cond", "sem" };
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pid_t pid[2];
	int i, ok = 1, cpu[2];
	const char *key;

	if (argc != 8) {
		fprintf(stderr, "usage: wake lock|futex|cond|sem N GAP_NS NOTIFIER_CPU WAITER_CPU W KEY\n");
		return 2;
	}
	for (kind = 0; kind < 4 && strcmp(argv[1], kinds[kind]) != 0; kind++)
		;
	n = atol(argv[2]);
	gap_ns = atof(argv[3]);
	cpu[0] = atoi(argv[4]);
	cpu[1] = atoi(argv[5]);
	waiters = atoi(argv[6]);
	key = argv[7];
	if (kind == 4 || n < 1 || waiters < 1 || waiters > MAX_WAITERS) {
		fprintf(stderr, "wake: bad KIND, N or W\n");
		return 2;
	}
	s = mmap(NULL, sizeof(*s) + (n * waiters + 1) * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	for (i = 0; i < waiters; i++) {
		if (pthread_mutex_init(&s->lines[i].mu, &ma) != 0 || pthread_cond_init(&s->lines[i].cond, &ca) != 0)
			die("pthread init");
		if (sem_init(&s->lines[i].sem, 1, 0) != 0)
			die("sem_init");
	}
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) < 0)
			die("fork");
		if (pid[i] == 0) {
			pin(cpu[i]);
			__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
			while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
				usleep(20);
			if (i == 0)
				notifier();
			else
				waiting();
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
	if (!ok) {
		fprintf(stderr, "wake: a child failed\n");
		return 1;
	}
	print_quantiles(key, "ns/wake", s->samples, s->nsamples);
	printf("%s %.1f ns/wake\n", key, s->samples[s->nsamples / 2]);
	printf("%s_switches %.3f switches/wake\n", key, s->switches / s->nsamples);
	printf("%s_samecpu %.3f share\n", key, (double)s->same / s->nsamples);
	return 0;
}

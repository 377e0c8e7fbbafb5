/* sysretake.c: the C half of a self-contained reproducer for a Go runtime
 * behaviour (see sysretake.go, which builds and runs this file):
 *
 *   sysretake waker FILE CPU GAP_NS N   wakes the waiter N times, one
 *                                       wake-up every GAP_NS after the last
 *                                       one ended
 *   sysretake waiter FILE CPU N         a C waiter, the baseline
 *
 * Each pins itself to CPU (-1: not pinned).
 *
 * FILE is a shared page (made by sysretake.go) holding, each on its own
 * cache line:
 *
 *   word     the futex word the waiter sleeps on (FUTEX_WAIT, shared)
 *   started  the round the waiter is about to sleep for
 *   twake    CLOCK_MONOTONIC ns, stamped just before FUTEX_WAKE
 *   ack      the last round the waiter finished; the waker sleeps on it
 *   cpu      the waker's CPU (sched_getcpu) at its FUTEX_WAKE
 *
 * The waker: wait (FUTEX_WAIT) until the last round is acknowledged, sleep
 * GAP_NS in nanosleep(2), stamp the time, move the word, FUTEX_WAKE one.
 * Between wake-ups both processes sleep: an idle server woken by a request
 * every GAP_NS.
 *
 * Build: cc -O2 -o sysretake sysretake.c */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct shared {
	uint32_t word __attribute__((aligned(64)));
	uint64_t started __attribute__((aligned(64)));
	uint64_t twake __attribute__((aligned(64)));
	uint32_t ack __attribute__((aligned(64)));
	uint32_t cpu __attribute__((aligned(64)));
};

static struct shared *s;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex_wait(uint32_t *addr, uint32_t val)
{
	if (syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0) < 0 && errno != EAGAIN && errno != EINTR) {
		perror("futex wait");
		exit(1);
	}
}

static void futex_wake(uint32_t *addr)
{
	if (syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0) < 0) {
		perror("futex wake");
		exit(1);
	}
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void waker(long gap, long n)
{
	uint32_t r, a;

	for (r = 1; r <= (uint32_t)n; r++) {
		while ((a = __atomic_load_n(&s->ack, __ATOMIC_ACQUIRE)) < r - 1)
			futex_wait(&s->ack, a);
		sleep_ns(gap);
		while (__atomic_load_n(&s->started, __ATOMIC_ACQUIRE) < r)
			sleep_ns(20000);
		s->cpu = sched_getcpu();
		__atomic_store_n(&s->twake, now_ns(), __ATOMIC_RELEASE);
		__atomic_store_n(&s->word, r, __ATOMIC_RELEASE);
		futex_wake(&s->word);
	}
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* waiter: the same protocol as sysretake.go's Go waiter; prints
 * "p50_ns p90_ns switches_per_round same_cpu_rounds". */
static void waiter(long n)
{
	uint64_t *lat = calloc(n, sizeof(*lat));
	struct rusage r0, r1;
	long same = 0;
	uint32_t r, v;

	getrusage(RUSAGE_SELF, &r0);
	for (r = 1; r <= (uint32_t)n; r++) {
		__atomic_store_n(&s->started, r, __ATOMIC_RELEASE);
		while ((v = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE)) != r)
			futex_wait(&s->word, v);
		lat[r - 1] = now_ns() - __atomic_load_n(&s->twake, __ATOMIC_ACQUIRE);
		same += sched_getcpu() == (int)s->cpu;
		__atomic_store_n(&s->ack, r, __ATOMIC_RELEASE);
		futex_wake(&s->ack);
	}
	getrusage(RUSAGE_SELF, &r1);
	qsort(lat, n, sizeof(*lat), cmp);
	printf("%llu %llu %.2f %ld\n", (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 9 / 10],
	    (double)(r1.ru_nvcsw + r1.ru_nivcsw - r0.ru_nvcsw - r0.ru_nivcsw) / n, same);
}

int main(int argc, char **argv)
{
	int fd, cpu;

	if (argc < 5 || (strcmp(argv[1], "waker") == 0 && argc != 6) ||
	    (strcmp(argv[1], "waiter") == 0 && argc != 5)) {
		fprintf(stderr, "usage: sysretake waker FILE CPU GAP_NS N | sysretake waiter FILE CPU N\n");
		return 2;
	}
	if ((cpu = atoi(argv[3])) >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			perror("sched_setaffinity");
			return 1;
		}
	}
	if ((fd = open(argv[2], O_RDWR)) < 0) {
		perror(argv[2]);
		return 1;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (strcmp(argv[1], "waker") == 0)
		waker(atol(argv[4]), atol(argv[5]));
	else
		waiter(atol(argv[4]));
	return 0;
}

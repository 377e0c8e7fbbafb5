/* Cross-process wake latency with FUTEX_WAIT / FUTEX_WAKE (shared, not
 * PRIVATE) on words in a MAP_SHARED mapping.
 *
 *   futex N        ping-pong: the word says whose turn it is; a process
 *                  waits in the kernel until the word becomes its own, does
 *                  its turn, hands the word over and wakes the other. One
 *                  round trip = two handoffs. Prints "c_futex_pingpong
 *                  ns/roundtrip".
 *   futex wake N   one wake-up of a sleeping waiter, from just before
 *                  FUTEX_WAKE to the waiter's return from FUTEX_WAIT; the
 *                  waker waits 300 us first so that the waiter is asleep.
 *                  Prints the median of N as "c_futex_wake ns/wake".
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

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* play waits for the word to say me, then hands it to the other side. */
static void play(uint32_t *turn, uint32_t me, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		uint32_t v;

		while ((v = __atomic_load_n(turn, __ATOMIC_ACQUIRE)) != me)
			if (futex(turn, FUTEX_WAIT, v) < 0 && errno != EAGAIN && errno != EINTR)
				die("futex wait");
		__atomic_store_n(turn, 1 - me, __ATOMIC_RELEASE);
		if (futex(turn, FUTEX_WAKE, 1) < 0)
			die("futex wake");
	}
}

struct wake {
	uint32_t word; /* 0: wait, 1: go */
	char pad[60];
	volatile unsigned long round, ack;
	volatile double tunlock;
};

static void waitfor(volatile unsigned long *p, unsigned long v)
{
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < v)
		usleep(20);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int wake(long n)
{
	struct wake *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double *lat;
	unsigned long r;
	pid_t pid;
	int st;

	if (w == MAP_FAILED)
		die("mmap");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) { /* the waker */
		for (r = 1; r <= (unsigned long)n; r++) {
			__atomic_store_n(&w->round, r, __ATOMIC_RELEASE);
			usleep(300);
			w->tunlock = now_ns();
			__atomic_store_n(&w->word, 1, __ATOMIC_RELEASE);
			if (futex(&w->word, FUTEX_WAKE, 1) < 0)
				die("futex wake");
			/* Busy until the waiter is done, as a holder that goes on
			 * working would be: the waiter must run on another CPU. */
			while (__atomic_load_n(&w->ack, __ATOMIC_ACQUIRE) < r)
				;
		}
		_exit(0);
	}
	if ((lat = malloc(n * sizeof(*lat))) == NULL)
		die("malloc");
	for (r = 1; r <= (unsigned long)n; r++) {
		waitfor(&w->round, r);
		while (__atomic_load_n(&w->word, __ATOMIC_ACQUIRE) == 0)
			if (futex(&w->word, FUTEX_WAIT, 0) < 0 && errno != EAGAIN && errno != EINTR)
				die("futex wait");
		lat[r - 1] = now_ns() - w->tunlock;
		__atomic_store_n(&w->word, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&w->ack, r, __ATOMIC_RELEASE);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "futex: child failed\n");
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmpd);
	printf("c_futex_wake %.1f ns/wake\n", lat[n / 2]);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t *turn;
	long n;
	double t0, t;
	pid_t pid;
	int st;

	if (argc == 3 && strcmp(argv[1], "wake") == 0 && (n = atol(argv[2])) > 0)
		return wake(n);
	if (argc != 2 || (n = atol(argv[1])) < 1) {
		fprintf(stderr, "usage: futex N | futex wake N\n");
		return 2;
	}
	turn = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (turn == MAP_FAILED)
		die("mmap");
	*turn = 1; /* the child starts waiting for its turn */
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		play(turn, 0, n);
		_exit(0);
	}
	usleep(10000); /* let the child reach its first wait */
	t0 = now_ns();
	play(turn, 1, n);
	/* The child's last handoff gives the turn back to us. */
	while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) != 1)
		futex(turn, FUTEX_WAIT, 0);
	t = now_ns() - t0;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "futex: child failed\n");
		return 1;
	}
	printf("c_futex_pingpong %.1f ns/roundtrip\n", t / n);
	return 0;
}

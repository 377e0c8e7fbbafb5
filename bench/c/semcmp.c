/*
 * semcmp.c: the C side of bench/semcmp (its main_linux.go): glibc's sem_post/sem_trywait and
 * sem_wait on a named semaphore, in the loops main_linux.go runs in Go.
 *
 * Build: gcc -O2 -pthread -o semcmp-c semcmp.c
 *
 *   semcmp-c uncontended NAME N         N × (sem_post + sem_trywait): ns per pair
 *   semcmp-c waiter NAME PAGE N CPU     N wake-ups: sem_wait, asleep, until the
 *                                       poster's sem_post; prints the median and
 *                                       90th percentile of post → return, in ns
 *   semcmp-c poster NAME PAGE N GAP CPU for each round, once the waiter has begun
 *                                       to wait, sleeps GAP ns (so that it is
 *                                       asleep), stamps the time and posts
 *
 * PAGE is a file whose first 3 64-byte lines hold the round the waiter has
 * begun (started), the round it has finished (ack) and the poster's stamp.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
pin(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int
cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	sem_t *s;
	if (argc < 4)
		return 2;
	s = sem_open(argv[2], 0);
	if (s == SEM_FAILED) {
		perror("sem_open");
		return 1;
	}
	if (strcmp(argv[1], "uncontended") == 0) {
		long n = atol(argv[3]), i;
		uint64_t t0 = now();
		for (i = 0; i < n; i++) {
			sem_post(s);
			sem_trywait(s);
		}
		printf("%.3f\n", (double)(now() - t0) / n);
		return 0;
	}
	volatile uint64_t *pg;
	int fd = open(argv[3], O_RDWR);
	pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile uint64_t *started = pg, *ack = pg + 8, *stamp = pg + 16;
	long n = atol(argv[4]), r;
	if (strcmp(argv[1], "waiter") == 0 && argc == 6) {
		uint64_t *lat = malloc(n * sizeof(*lat));
		pin(atoi(argv[5]));
		for (r = 1; r <= n; r++) {
			__atomic_store_n(started, r, __ATOMIC_SEQ_CST);
			sem_wait(s);
			lat[r - 1] = now() - __atomic_load_n(stamp, __ATOMIC_SEQ_CST);
			__atomic_store_n(ack, r, __ATOMIC_SEQ_CST);
		}
		qsort(lat, n, sizeof(*lat), cmp);
		printf("%llu %llu\n", (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 9 / 10]);
		return 0;
	}
	if (strcmp(argv[1], "poster") == 0 && argc == 7) {
		long gap = atol(argv[5]);
		struct timespec ts = { gap / 1000000000L, gap % 1000000000L };
		pin(atoi(argv[6]));
		for (r = 1; r <= n; r++) {
			while (__atomic_load_n(started, __ATOMIC_SEQ_CST) < (uint64_t)r)
				;
			nanosleep(&ts, NULL);
			__atomic_store_n(stamp, now(), __ATOMIC_SEQ_CST);
			sem_post(s);
			while (__atomic_load_n(ack, __ATOMIC_SEQ_CST) < (uint64_t)r)
				;
		}
		return 0;
	}
	return 2;
}

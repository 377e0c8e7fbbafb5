/* Shared helpers for the C baselines of bench/run. Every program prints its
 * figures as "name value unit" lines on stdout, nothing else. */
#ifndef BENCH_H
#define BENCH_H

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* now_ns reads CLOCK_MONOTONIC, one clock for all processes of a run. */
static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

/* sink keeps results alive so the compiler cannot drop the timed work. */
static volatile unsigned long sink;

/* escape makes the compiler assume that p's memory is read, so that the
 * stores that produced it cannot be dropped as dead. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

/* usage is what getrusage(RUSAGE_SELF) says about the CPU time (user +
 * system, all threads) and context switches (voluntary + involuntary) of
 * this process so far. */
struct usage {
	double cpu_ns;
	double switches;
};

static inline struct usage get_usage(void)
{
	struct rusage ru;
	struct usage u;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage");
	u.cpu_ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
	u.switches = ru.ru_nvcsw + ru.ru_nivcsw;
	return u;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The quantiles (percent) of a latency distribution that the programs
 * print, the same list as bench/cmd/benchproc's. */
static const double quantiles[] = {
	0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75,
	80, 85, 90, 95, 98, 99, 99.5, 99.9, 100,
};

/* print_quantiles sorts the n samples v and prints "KEY@pQ value unit"
 * for each quantile Q: the sample at rank floor(Q/100 * (n-1)). */
static inline void print_quantiles(const char *key, const char *unit, double *v, long n)
{
	size_t i;

	if (n < 1)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
		printf("%s@p%g %.1f %s\n", key, quantiles[i], v[(long)(quantiles[i] / 100 * (n - 1))], unit);
}

#endif

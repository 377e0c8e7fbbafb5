/* Shared helpers for the C baselines of bench/run. Every program prints its
 * figures as "name value unit" lines on stdout, nothing else. */
#ifndef BENCH_H
#define BENCH_H

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

#endif

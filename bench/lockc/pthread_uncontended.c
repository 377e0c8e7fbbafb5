/* Uncontended lock+unlock of a robust, process-shared pthread mutex that
 * lives in a MAP_SHARED mapping. Prints "name value unit". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 50000000L;
	pthread_mutex_t *mu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mu == MAP_FAILED) { perror("mmap"); return 1; }
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(mu, &a) != 0) { perror("pthread_mutex_init"); return 1; }
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (pthread_mutex_lock(mu) == EOWNERDEAD) pthread_mutex_consistent(mu);
		pthread_mutex_unlock(mu);
	}
	printf("pthread_robust_uncontended %.2f ns/op\n", (now_ns() - t0) / n);
	return 0;
}

/* 2 processes (fork) x N increments of a shared counter under either a
 * robust process-shared pthread mutex ("pthread") or flock(2) ("flock").
 * Prints wall time per increment as "name value unit". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define P 2

struct shared {
	pthread_mutex_t mu;
	char pad[64];
	volatile unsigned long counter;
	volatile int ready, go;
	double start[P], end[P];
};

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* one clock for all processes */
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void work(struct shared *s, int idx, long n, int useflock, const char *path) {
	int fd = -1;
	if (useflock && (fd = open(path, O_RDWR)) < 0) { perror("open"); _exit(1); }
	__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE)) usleep(20);
	s->start[idx] = now_ns();
	for (long i = 0; i < n; i++) {
		if (useflock) {
			flock(fd, LOCK_EX);
			s->counter++;
			flock(fd, LOCK_UN);
		} else {
			if (pthread_mutex_lock(&s->mu) == EOWNERDEAD) pthread_mutex_consistent(&s->mu);
			s->counter++;
			pthread_mutex_unlock(&s->mu);
		}
	}
	s->end[idx] = now_ns();
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc < 2 || (strcmp(argv[1], "pthread") && strcmp(argv[1], "flock"))) {
		fprintf(stderr, "usage: increments pthread|flock [n]\n");
		return 2;
	}
	int useflock = !strcmp(argv[1], "flock");
	long n = argc > 2 ? atol(argv[2]) : 1000000L;
	char path[] = "/tmp/lockc.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 4096) < 0) { perror("mkstemp"); return 1; }
	struct shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) { perror("mmap"); return 1; }
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->mu, &a);
	for (int i = 0; i < P; i++)
		if (fork() == 0) work(s, i, n, useflock, path);
	while (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) < P) usleep(100);
	__atomic_store_n(&s->go, 1, __ATOMIC_RELEASE);
	int ok = 1;
	for (int i = 0; i < P; i++) {
		int st;
		wait(&st);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	unlink(path);
	if (!ok || s->counter != (unsigned long)P * n) {
		fprintf(stderr, "bad run: counter %lu, want %lu\n", s->counter, (unsigned long)P * n);
		return 1;
	}
	double first = s->start[0], last = s->end[0];
	for (int i = 1; i < P; i++) {
		if (s->start[i] < first) first = s->start[i];
		if (s->end[i] > last) last = s->end[i];
	}
	printf("%s_2proc_increments %.2f ns/increment\n", argv[1], (last - first) / (P * n));
	return 0;
}

/* Lock baselines: a robust process-shared pthread mutex and flock(2).
 *
 *   lock uncontended N        pthread robust pshared mutex, lock+unlock
 *   lock flock1 N FILE        flock(LOCK_EX) + flock(LOCK_UN), one process
 *   lock incr KIND P M FILE   P processes (fork) x M increments of a shared
 *                             counter under KIND = pthread | flock; prints
 *                             wall time per increment, from the first
 *                             child's start to the last child's end.
 *
 * The mutex lives in a MAP_SHARED mapping of FILE (or an anonymous shared
 * mapping), as a shared memory segment's would.
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

#define MAXP 64

struct shared {
	pthread_mutex_t mu;
	char pad1[64];
	volatile unsigned long counter;
	char pad2[64];
	int ready, go;
	double start[MAXP], end[MAXP];
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

static void child(struct shared *s, int idx, long m, int useflock, const char *file)
{
	int fd = -1;
	long i;

	if (useflock && (fd = open(file, O_RDWR | O_CLOEXEC)) < 0)
		die("open");
	__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
		usleep(20);
	s->start[idx] = now_ns();
	for (i = 0; i < m; i++) {
		if (useflock) {
			if (flock(fd, LOCK_EX) < 0)
				die("flock");
			s->counter++;
			flock(fd, LOCK_UN);
		} else {
			lockmu(&s->mu);
			s->counter++;
			pthread_mutex_unlock(&s->mu);
		}
	}
	s->end[idx] = now_ns();
	_exit(0);
}

static int incr(const char *kind, int p, long m, const char *file)
{
	int useflock = strcmp(kind, "flock") == 0;
	struct shared *s = mapshared();
	double first, last;
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
			child(s, i, m, useflock, file);
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
	first = s->start[0];
	last = s->end[0];
	for (i = 1; i < p; i++) {
		if (s->start[i] < first)
			first = s->start[i];
		if (s->end[i] > last)
			last = s->end[i];
	}
	printf("c_incr_%s_%dp %.2f ns/increment\n", kind, p, (last - first) / ((double)p * m));
	return 0;
}

int main(int argc, char **argv)
{
	long n, i;
	double t0;

	if (argc == 3 && strcmp(argv[1], "uncontended") == 0) {
		struct shared *s = mapshared();

		n = atol(argv[2]);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			lockmu(&s->mu);
			pthread_mutex_unlock(&s->mu);
		}
		printf("c_pthread_uncontended %.2f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "flock1") == 0) {
		int fd = open(argv[3], O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("open");
		n = atol(argv[2]);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (flock(fd, LOCK_EX) < 0)
				die("flock");
			flock(fd, LOCK_UN);
		}
		printf("c_flock_uncontended %.1f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "incr") == 0 &&
	    (strcmp(argv[2], "pthread") == 0 || strcmp(argv[2], "flock") == 0)) {
		int fd = open(argv[5], O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("open");
		close(fd);
		return incr(argv[2], atoi(argv[3]), atol(argv[4]), argv[5]);
	}
	fprintf(stderr, "usage: lock uncontended N | lock flock1 N FILE | "
	    "lock incr pthread|flock P M FILE\n");
	return 2;
}

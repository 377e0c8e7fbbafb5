/* Baselines of bench/run's section h (notify and semaphore): what C offers
 * for waiting on data between processes (the sleeping waiters' wake-ups are
 * bench/c/wake.c's).
 *
 *   notify nowaiter N    pthread_cond_signal with nobody waiting
 *                        (c_cond_signal_nowaiter ns/op)
 *   notify sem N         sem_wait+sem_post of a process-shared unnamed
 *                        semaphore (sem_init pshared=1) in a MAP_SHARED
 *                        mapping, one process, never contended
 *                        (c_sem_uncontended ns/op)
 *   notify seqpacket N   a producer process sends N 64-byte items to a
 *                        consumer process through a socketpair(AF_UNIX,
 *                        SOCK_SEQPACKET), one write(2) and one read(2) per
 *                        item; the consumer checks each item's number; the
 *                        figure is N over the wall time from the first start
 *                        to the last end (c_seqpacket items/s)
 *
 * Build: gcc -O2 -pthread -o notify notify.c */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define ITEM 64

#define LINE __attribute__((aligned(64)))

struct shared {
	pthread_mutex_t mu LINE;
	pthread_cond_t cond LINE;
	sem_t sem LINE;
	int ready LINE, go;
	double start[2], end[2];
};

static struct shared *s;

static int sp[2]; /* the socket pair */

static void seqpacket(int idx, long n)
{
	unsigned char item[ITEM];
	long i;

	memset(item, 0xab, sizeof(item));
	for (i = 0; i < n; i++) {
		if (idx == 0) {
			memcpy(item, &i, sizeof(i));
			if (write(sp[0], item, ITEM) != ITEM)
				die("write");
			continue;
		}
		long got;
		ssize_t k = read(sp[1], item, ITEM);

		if (k != ITEM)
			die("read");
		memcpy(&got, item, sizeof(got));
		if (got != i) {
			fprintf(stderr, "notify: item %ld arrived as %ld\n", i, got);
			exit(1);
		}
	}
}

/* run forks the two processes, starts them together and waits. */
static int run(void (*role)(int, long), long n)
{
	pid_t pid[2];
	int i, ok = 1;

	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) < 0)
			die("fork");
		if (pid[i] == 0) {
			__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
			while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
				usleep(20);
			s->start[i] = now_ns();
			role(i, n);
			s->end[i] = now_ns();
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
	if (!ok)
		fprintf(stderr, "notify: a child failed\n");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	long n, i;
	double t0;

	if (argc != 3 || (n = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: notify nowaiter|sem|seqpacket N\n");
		return 2;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	if (pthread_mutex_init(&s->mu, &ma) != 0 || pthread_cond_init(&s->cond, &ca) != 0)
		die("pthread init");
	if (sem_init(&s->sem, 1, 1) != 0)
		die("sem_init");

	if (strcmp(argv[1], "nowaiter") == 0) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			pthread_cond_signal(&s->cond);
			escape(&s->cond);
		}
		printf("c_cond_signal_nowaiter %.2f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if (strcmp(argv[1], "sem") == 0) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (sem_wait(&s->sem) != 0 || sem_post(&s->sem) != 0)
				die("sem_wait/sem_post");
			escape(&s->sem);
		}
		printf("c_sem_uncontended %.2f ns/op\n", (now_ns() - t0) / n);
		return 0;
	}
	if (strcmp(argv[1], "seqpacket") == 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0)
			die("socketpair");
		if (run(seqpacket, n) != 0)
			return 1;
		double first = s->start[0] < s->start[1] ? s->start[0] : s->start[1];
		double last = s->end[0] > s->end[1] ? s->end[0] : s->end[1];
		printf("c_seqpacket %.0f items/s\n", n / ((last - first) / 1e9));
		return 0;
	}
	fprintf(stderr, "notify: unknown mode %s\n", argv[1]);
	return 2;
}

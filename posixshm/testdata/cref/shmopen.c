/*
 * shmopen.c: reference for posixshm's Dir.Open: OpenBSD's shm_open algorithm
 * rooted at a directory (openbsd_shm.h).
 *
 * Build: gcc -O2 -o shmopen shmopen.c -lmd   (Debian: apt-get install libmd-dev)
 *
 * Usage:
 *   shmopen DIR NAME FLAGS MODE
 *        one shm_open(NAME, FLAGS, MODE) in DIR. FLAGS and MODE are numbers
 *        in C syntax (strtol base 0: 66, 0x42, 0600), FLAGS in this
 *        system's O_* values. Prints "ok" or "errno <number>" and exits 0;
 *        exits 2 on bad usage. A FIFO at the path would block open(2), as
 *        it does on OpenBSD: do not call this on one.
 *   shmopen -b N DIR NAME
 *        benchmark: create the object (O_RDWR|O_CREAT, 0600) if needed,
 *        then time N shm_open(NAME, O_RDWR, 0) + close(2), name hashing
 *        included, and print "ns/op <float>".
 */
#include <stdlib.h>
#include <time.h>

#include "openbsd_shm.h"

static const char *dir;

static int
bench(long n, const char *name)
{
	struct timespec t0, t1;
	long i;
	int fd;

	if ((fd = shm_open_dir(dir, name, O_RDWR | O_CREAT, 0600)) == -1) {
		perror("shm_open");
		return 1;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if ((fd = shm_open_dir(dir, name, O_RDWR, 0)) == -1) {
			perror("shm_open");
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ns/op %.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 +
	    (t1.tv_nsec - t0.tv_nsec)) / (double)n);
	return 0;
}

int
main(int argc, char *argv[])
{
	int fd;

	if (argc == 5 && strcmp(argv[1], "-b") == 0) {
		dir = argv[3];
		return bench(atol(argv[2]), argv[4]);
	}
	if (argc != 5) {
		fprintf(stderr, "usage: shmopen DIR NAME FLAGS MODE | shmopen -b N DIR NAME\n");
		return 2;
	}
	dir = argv[1];
	fd = shm_open_dir(dir, argv[2], (int)strtol(argv[3], NULL, 0),
	    (mode_t)strtol(argv[4], NULL, 0));
	if (fd == -1) {
		printf("errno %d\n", errno);
		return 0;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

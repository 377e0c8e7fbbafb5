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
 *
 * bench/c/open.c times the same algorithm (openbsd_shm.h) for bench/run.
 */
#include <stdlib.h>

#include "openbsd_shm.h"

int
main(int argc, char *argv[])
{
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: shmopen DIR NAME FLAGS MODE\n");
		return 2;
	}
	fd = shm_open_dir(argv[1], argv[2], (int)strtol(argv[3], NULL, 0),
	    (mode_t)strtol(argv[4], NULL, 0));
	if (fd == -1) {
		printf("errno %d\n", errno);
		return 0;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

/*
 * shmpath.c: reference for posixshm's name -> path mapping, written the way
 * OpenBSD's lib/libc/gen/shm_open.c (makeshmpath) builds its path:
 *
 *	SHA256Data(name, strlen(name), buf);
 *	snprintf(path, len, "%s/%s.shm", dir, buf);
 *
 * Build: gcc -O2 -o shmpath shmpath.c -lmd   (Debian: apt-get install libmd-dev)
 *
 * Usage:
 *   shmpath DIR            read names from stdin, print DIR/<sha256-hex>.shm,
 *                          one path per line, in input order.
 *                          Input records are length-prefixed so that a name
 *                          may hold any byte but NUL (newlines included):
 *                              <decimal byte count> ':' <bytes> '\n'
 *                          e.g. "4:/foo\n" or "0:\n" for the empty name.
 *   shmpath -b N LEN DIR   benchmark: compute N paths for a name of LEN bytes
 *                          and print "ns/op <float>" on stdout.
 *
 * Exit status 0 on success, 2 on bad usage or malformed input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openbsd_shm.h"

static int
bench(long n, size_t namelen, const char *dir)
{
	char *name, *path;
	size_t pathlen = strlen(dir) + 1 + SHA256_DIGEST_STRING_LENGTH + 4;
	struct timespec t0, t1;
	volatile char sink = 0;
	long i;

	if ((name = malloc(namelen + 1)) == NULL ||
	    (path = malloc(pathlen)) == NULL)
		return 2;
	for (size_t j = 0; j < namelen; j++)
		name[j] = 'a' + j % 26;
	name[namelen] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		name[0] = 'a' + i % 26;	/* defeat any hoisting */
		makeshmpath(dir, name, path, pathlen);
		sink ^= path[pathlen - 6];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ns/op %.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 +
	    (t1.tv_nsec - t0.tv_nsec)) / (double)n);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *dir;
	char *name, *path;
	size_t pathlen, n;
	int c;

	if (argc == 5 && strcmp(argv[1], "-b") == 0)
		return bench(atol(argv[2]), (size_t)atol(argv[3]), argv[4]);
	if (argc != 2) {
		fprintf(stderr, "usage: shmpath DIR < names | shmpath -b N LEN DIR\n");
		return 2;
	}
	dir = argv[1];
	pathlen = strlen(dir) + 1 + SHA256_DIGEST_STRING_LENGTH + 4;
	if ((path = malloc(pathlen)) == NULL)
		return 2;
	while (scanf("%zu", &n) == 1) {
		if (getchar() != ':' || (name = malloc(n + 1)) == NULL)
			return 2;
		if (fread(name, 1, n, stdin) != n)
			return 2;
		name[n] = '\0';
		if ((c = getchar()) != '\n')
			return 2;
		/* strlen, exactly as libc does: a NUL would end the name. */
		makeshmpath(dir, name, path, pathlen);
		puts(path);
		free(name);
	}
	return ferror(stdin) || !feof(stdin) ? 2 : 0;
}

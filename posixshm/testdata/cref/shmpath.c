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
 *
 * Exit status 0 on success, 2 on bad usage or malformed input.
 * bench/c/path.c times the same mapping (openbsd_shm.h) for bench/run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openbsd_shm.h"

int
main(int argc, char *argv[])
{
	const char *dir;
	char *name, *path;
	size_t pathlen, n;
	int c;

	if (argc != 2) {
		fprintf(stderr, "usage: shmpath DIR < names\n");
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

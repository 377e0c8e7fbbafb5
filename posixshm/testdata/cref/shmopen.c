/*
 * shmopen.c: reference for posixshm's Dir.Open, the algorithm of OpenBSD's
 * lib/libc/gen/shm_open.c (rev 1.9) with "/tmp" replaced by a directory:
 *
 *   1. the access mode must be O_RDONLY or O_RDWR, and no flag outside
 *      O_ACCMODE|O_CREAT|O_EXCL|O_TRUNC|O_CLOEXEC|O_NOFOLLOW(|O_CLOFORK)
 *      may be set, else EINVAL;
 *   2. flags |= O_CLOEXEC|O_NOFOLLOW; mode &= 0600;
 *   3. fd = open(DIR/<sha256-hex(name)>.shm, flags, mode), its errno as is;
 *   4. fstat fails or !S_ISREG -> close, EINVAL;
 *   5. st_uid != geteuid() -> close, EPERM.
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
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef O_CLOFORK
#define O_CLOFORK 0
#endif

#define OK_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_CLOFORK | O_NOFOLLOW)

static const char *dir;

static void
makeshmpath(const char *origpath, char *shmpath, size_t len)
{
	char buf[SHA256_DIGEST_STRING_LENGTH];

	SHA256Data((const uint8_t *)origpath, strlen(origpath), buf);
	snprintf(shmpath, len, "%s/%s.shm", dir, buf);
}

static int
shm_open_ref(const char *path, int flags, mode_t mode)
{
	char shmpath[4096];
	struct stat sb;
	int fd;

	if (((flags & O_ACCMODE) != O_RDONLY && (flags & O_ACCMODE) != O_RDWR) ||
	    (flags & ~(O_ACCMODE | OK_FLAGS)) != 0) {
		errno = EINVAL;
		return -1;
	}
	flags |= O_CLOEXEC | O_NOFOLLOW;
	mode = mode & 0600;
	makeshmpath(path, shmpath, sizeof(shmpath));
	fd = open(shmpath, flags, mode);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

static int
bench(long n, const char *name)
{
	struct timespec t0, t1;
	long i;
	int fd;

	if ((fd = shm_open_ref(name, O_RDWR | O_CREAT, 0600)) == -1) {
		perror("shm_open");
		return 1;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if ((fd = shm_open_ref(name, O_RDWR, 0)) == -1) {
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
	fd = shm_open_ref(argv[2], (int)strtol(argv[3], NULL, 0),
	    (mode_t)strtol(argv[4], NULL, 0));
	if (fd == -1) {
		printf("errno %d\n", errno);
		return 0;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

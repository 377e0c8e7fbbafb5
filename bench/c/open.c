/* open+close of an existing shared memory object.
 *
 *   open openbsd N DIR NAME
 *	OpenBSD's shm_open algorithm (lib/libc/gen/shm_open.c) rooted at DIR:
 *	flag check, path = DIR/<sha256-hex(NAME)>.shm, open(O_NOFOLLOW|
 *	O_CLOEXEC), fstat, S_ISREG, st_uid == geteuid(); then close(2).
 *	Name hashing is included, as it is in posixshm's Dir.Open.
 *   open glibc N NAME
 *	glibc's shm_open(NAME, O_RDWR, 0) + close(2), the object in /dev/shm.
 *
 * The object is created first if missing. Prints "c_open_MODE ns/op".
 * Build: gcc -O2 -o open open.c -lmd */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "../../posixshm/testdata/cref/openbsd_shm.h"

int main(int argc, char **argv)
{
	long n, i;
	double t0;
	int fd, bsd;
	const char *dir = NULL, *name;

	if (argc == 5 && strcmp(argv[1], "openbsd") == 0) {
		bsd = 1;
		dir = argv[3];
		name = argv[4];
	} else if (argc == 4 && strcmp(argv[1], "glibc") == 0) {
		bsd = 0;
		name = argv[3];
	} else {
		fprintf(stderr, "usage: open openbsd N DIR NAME | open glibc N NAME\n");
		return 2;
	}
	n = atol(argv[2]);
	fd = bsd ? shm_open_dir(dir, name, O_RDWR | O_CREAT, 0600)
		 : shm_open(name, O_RDWR | O_CREAT, 0600);
	if (fd == -1)
		die("shm_open create");
	close(fd);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		fd = bsd ? shm_open_dir(dir, name, O_RDWR, 0) : shm_open(name, O_RDWR, 0);
		if (fd == -1)
			die("shm_open");
		close(fd);
	}
	printf("c_open_%s %.1f ns/op\n", argv[1], (now_ns() - t0) / n);
	return 0;
}

/* The cost of the single system calls that open+close is made of, on this
 * machine, to explain the open+close ratios: each extra call a Go
 * implementation makes costs about this much.
 *
 *   syscalls N FILE   prints "sys_NAME ns/op" for geteuid, fcntl(F_GETFL),
 *                     fcntl(F_SETFL), fstat and open+close of FILE.
 * Build: gcc -O2 -o syscalls syscalls.c */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
	struct stat st;
	long n, i;
	double t0;
	int fd;

	if (argc != 3 || (n = atol(argv[1])) < 1) {
		fprintf(stderr, "usage: syscalls N FILE\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		die("open");

	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += geteuid();
	printf("sys_geteuid %.1f ns/op\n", (now_ns() - t0) / n);

	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += fcntl(fd, F_GETFL);
	printf("sys_fcntl_getfl %.1f ns/op\n", (now_ns() - t0) / n);

	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += fcntl(fd, F_SETFL, O_RDWR);
	printf("sys_fcntl_setfl %.1f ns/op\n", (now_ns() - t0) / n);

	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += fstat(fd, &st);
	printf("sys_fstat %.1f ns/op\n", (now_ns() - t0) / n);
	close(fd);

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if ((fd = open(argv[2], O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
			die("open");
		close(fd);
	}
	printf("sys_open_close %.1f ns/op\n", (now_ns() - t0) / n);
	return 0;
}

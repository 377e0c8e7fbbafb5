/* A big shared memory object, end to end: shm_open(O_CREAT|O_EXCL),
 * ftruncate, mmap, write every byte (memset), munmap, close, shm_unlink.
 *
 *   bigseg SIZE NAME   prints "c_bigseg ms/op" (glibc shm_open, /dev/shm)
 * Build: gcc -O2 -o bigseg bigseg.c */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
	size_t size;
	double t0;
	char *p;
	int fd;

	if (argc != 3 || (size = strtoull(argv[1], NULL, 0)) == 0) {
		fprintf(stderr, "usage: bigseg SIZE NAME\n");
		return 2;
	}
	t0 = now_ns();
	if ((fd = shm_open(argv[2], O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
		die("shm_open");
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 0xa5, size);
	sink += (unsigned char)p[size - 1];
	if (munmap(p, size) < 0)
		die("munmap");
	close(fd);
	if (shm_unlink(argv[2]) < 0)
		die("shm_unlink");
	printf("c_bigseg %.1f ms/op\n", (now_ns() - t0) / 1e6);
	return 0;
}

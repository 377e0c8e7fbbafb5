/*
 * shmtool: the C side of interop_linux_test.go. It uses the system's own
 * shm_open(3), so the test proves Go's posixshm.Open reaches the very
 * object C reaches.
 *
 *   shmtool write  NAME SIZE SEED   create NAME (O_EXCL), size it, fill it
 *   shmtool read   NAME SIZE SEED   open NAME read-only, check the fill
 *   shmtool unlink NAME             shm_unlink(NAME)
 *   shmtool open   NAME FLAGS MODE  one shm_open(NAME, FLAGS, MODE), numbers
 *                                   in C syntax (strtol base 0); prints "ok"
 *                                   or "errno <number>" and exits 0
 *
 * Exit status: 0 success, 2 shm_open/shm_unlink failed with ENOENT,
 * 3 the contents differ, 1 any other failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char
pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i * 31u + seed) ^ (i >> 8));
}

static int
fail(const char *what, const char *name)
{
	int e = errno;
	fprintf(stderr, "shmtool: %s %s: %s\n", what, name, strerror(e));
	return e == ENOENT ? 2 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "unlink") == 0) {
		if (shm_unlink(argv[2]) != 0)
			return fail("shm_unlink", argv[2]);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "open") == 0) {
		int fd = shm_open(argv[2], (int)strtol(argv[3], NULL, 0),
		    (mode_t)strtol(argv[4], NULL, 0));
		if (fd < 0) {
			printf("errno %d\n", errno);
			return 0;
		}
		close(fd);
		printf("ok\n");
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: shmtool write|read NAME SIZE SEED | unlink NAME | open NAME FLAGS MODE\n");
		return 1;
	}
	const char *name = argv[2];
	size_t size = strtoul(argv[3], NULL, 10);
	unsigned seed = (unsigned)strtoul(argv[4], NULL, 10);
	int writing = strcmp(argv[1], "write") == 0;

	int fd = writing ? shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)
			 : shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return fail("shm_open", name);
	if (writing && ftruncate(fd, (off_t)size) != 0)
		return fail("ftruncate", name);
	struct stat st;
	if (fstat(fd, &st) != 0)
		return fail("fstat", name);
	if ((size_t)st.st_size != size) {
		fprintf(stderr, "shmtool: %s: size %lld, want %zu\n", name,
		    (long long)st.st_size, size);
		return 3;
	}
	unsigned char *p = mmap(NULL, size, writing ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", name);
	close(fd);
	for (size_t i = 0; i < size; i++) {
		if (writing) {
			p[i] = pattern(i, seed);
		} else if (p[i] != pattern(i, seed)) {
			fprintf(stderr, "shmtool: %s: byte %zu is %u, want %u\n", name,
			    i, p[i], pattern(i, seed));
			return 3;
		}
	}
	return munmap(p, size) == 0 ? 0 : fail("munmap", name);
}

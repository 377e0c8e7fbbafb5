/* Name -> path as OpenBSD's lib/libc/gen/shm_open.c (makeshmpath) does it:
 * SHA256Data over the whole name, then snprintf("%s/%s.shm").
 *
 * Usage: path N LEN...   prints "c_path_LEN ns/op" for each name length.
 * Build: gcc -O2 -o path path.c -lmd */
#include <stdint.h>
#include <string.h>
#include "../../posixshm/testdata/cref/openbsd_shm.h"

#include "bench.h"

int main(int argc, char **argv)
{
	char name[4096], path[1024];
	long n, i;
	int a;

	if (argc < 3) {
		fprintf(stderr, "usage: path N LEN...\n");
		return 2;
	}
	n = atol(argv[1]);
	for (a = 2; a < argc; a++) {
		size_t len = (size_t)atol(argv[a]);
		double t0;

		if (len == 0 || len >= sizeof(name)) {
			fprintf(stderr, "path: bad length %s\n", argv[a]);
			return 2;
		}
		/* "/" then letters: the same bytes bench/gobench hashes. */
		name[0] = '/';
		for (i = 1; i < (long)len; i++)
			name[i] = 'a' + i % 26;
		name[len] = '\0';
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			makeshmpath("/tmp", name, path, sizeof(path));
			sink += (unsigned char)path[5];
		}
		printf("c_path_%zu %.2f ns/op\n", len, (now_ns() - t0) / n);
	}
	return 0;
}

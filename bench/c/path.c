/* Name -> path, in C, three ways:
 *
 *   c_path_LEN            what OpenBSD's libc does (lib/libc/gen/shm_open.c,
 *                         makeshmpath): libmd's SHA256Data, which hashes in
 *                         portable C and formats hex, then snprintf
 *                         "%s/%s.shm".
 *   c_path_openssl_LEN    the strongest C we know: OpenSSL's SHA-256
 *                         (SHA256_Init/Update/Final, which use the CPU's SHA
 *                         extensions where it has them), hex from a table of
 *                         digit pairs, memcpy of the directory and suffix.
 *   c_sha256_openssl_LEN  OpenSSL's SHA-256 alone: the hashing half of the
 *                         row above.
 *   c_sha256_block_openssl  SHA256_Update of 64 bytes: the SHA-256
 *                         implementation itself, per block, without the
 *                         padding and output of a one-shot hash.
 *
 * Usage: path N LEN...   prints the three figures, ns/op, per name length,
 * then the last.
 * Names are "/" then letters, the same bytes bench/gobench and posixshm's
 * BenchmarkPath hash.
 * Build: gcc -O2 -o path path.c -lmd -lcrypto */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: faster than EVP */
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>
#include "../../posixshm/testdata/cref/openbsd_shm.h"

#include "bench.h"

/* hexpairs: the two lowercase hex digits of every byte value. */
static char hexpairs[512];

static void inithex(void)
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 256; i++) {
		hexpairs[2 * i] = d[i >> 4];
		hexpairs[2 * i + 1] = d[i & 15];
	}
}

/* opensslpath: dir/<sha256-hex(name)>.shm into path (room assumed). */
static void opensslpath(const char *dir, size_t dirlen, const char *name, char *path)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	char *p;
	int i;

	SHA256_Init(&c);
	SHA256_Update(&c, name, strlen(name));
	SHA256_Final(md, &c);
	memcpy(path, dir, dirlen);
	p = path + dirlen;
	*p++ = '/';
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++, p += 2)
		memcpy(p, hexpairs + 2 * md[i], 2);
	memcpy(p, ".shm", 5);
}

int main(int argc, char **argv)
{
	char name[4096], path[1024];
	unsigned char md[SHA256_DIGEST_LENGTH];
	long n, i;
	int a;

	if (argc < 3 || (n = atol(argv[1])) < 1) {
		fprintf(stderr, "usage: path N LEN...\n");
		return 2;
	}
	inithex();
	for (a = 2; a < argc; a++) {
		size_t len = (size_t)atol(argv[a]);
		double t0;

		if (len == 0 || len >= sizeof(name)) {
			fprintf(stderr, "path: bad length %s\n", argv[a]);
			return 2;
		}
		name[0] = '/';
		for (i = 1; i < (long)len; i++)
			name[i] = 'a' + i % 26;
		name[len] = '\0';

		t0 = now_ns();
		for (i = 0; i < n; i++) {
			makeshmpath("/tmp", name, path, sizeof(path));
			escape(path);
		}
		printf("c_path_%zu %.2f ns/op\n", len, (now_ns() - t0) / n);

		t0 = now_ns();
		for (i = 0; i < n; i++) {
			opensslpath("/tmp", 4, name, path);
			escape(path);
		}
		printf("c_path_openssl_%zu %.2f ns/op\n", len, (now_ns() - t0) / n);
		/* The fast path must be the same path. */
		makeshmpath("/tmp", name, name + len + 1, sizeof(name) - len - 1);
		if (strcmp(path, name + len + 1) != 0) {
			fprintf(stderr, "path: OpenSSL path %s, libmd path %s\n", path, name + len + 1);
			return 1;
		}

		t0 = now_ns();
		for (i = 0; i < n; i++) {
			SHA256_CTX c;

			SHA256_Init(&c);
			SHA256_Update(&c, name, len);
			SHA256_Final(md, &c);
			escape(md);
		}
		printf("c_sha256_openssl_%zu %.2f ns/op\n", len, (now_ns() - t0) / n);
	}
	{
		SHA256_CTX c;
		double t0;

		memset(name, 'a', 64);
		SHA256_Init(&c);
		t0 = now_ns();
		for (i = 0; i < n; i++)
			SHA256_Update(&c, name, 64);
		SHA256_Final(md, &c);
		escape(md);
		printf("c_sha256_block_openssl %.2f ns/op\n", (now_ns() - t0) / n);
	}
	return 0;
}

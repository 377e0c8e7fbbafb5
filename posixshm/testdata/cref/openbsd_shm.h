/*
 * openbsd_shm.h: OpenBSD's shm_open algorithm (lib/libc/gen/shm_open.c,
 * rev 1.9-1.10) with "/tmp" replaced by a directory, in one place for the
 * differential tests (shmpath.c, shmopen.c here) and the benchmark
 * baselines (bench/c/path.c, bench/c/open.c):
 *
 *   1. the access mode must be O_RDONLY or O_RDWR, and no flag outside
 *      O_ACCMODE|O_CREAT|O_EXCL|O_TRUNC|O_CLOEXEC|O_NOFOLLOW(|O_CLOFORK)
 *      may be set, else EINVAL;
 *   2. flags |= O_CLOEXEC|O_NOFOLLOW; mode &= 0600;
 *   3. fd = open(DIR/<sha256-hex(name)>.shm, flags, mode), its errno as is,
 *      where open(2) is OpenBSD's: its vn_open refuses O_TRUNC without
 *      write access, before it looks the path up ("if ((fmode & (O_TRUNC |
 *      FWRITE)) == O_TRUNC) return (EINVAL);"), so O_RDONLY|O_TRUNC is
 *      EINVAL and creates or truncates nothing. Linux's open(2) would
 *      truncate instead, so that refusal is written out here;
 *   4. fstat fails or !S_ISREG -> close, EINVAL;
 *   5. st_uid != geteuid() -> close, EPERM.
 *
 * Needs SHA256Data: libc on OpenBSD, -lmd (Debian's libmd-dev) elsewhere.
 */
#ifndef OPENBSD_SHM_H
#define OPENBSD_SHM_H

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef O_CLOFORK
#define O_CLOFORK 0
#endif

#define OPENBSD_SHM_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_CLOFORK | O_NOFOLLOW)

/* makeshmpath: DIR/<sha256-hex(name)>.shm, the whole name hashed. */
static inline void
makeshmpath(const char *dir, const char *name, char *path, size_t len)
{
	char buf[SHA256_DIGEST_STRING_LENGTH];

	SHA256Data((const uint8_t *)name, strlen(name), buf);
	snprintf(path, len, "%s/%s.shm", dir, buf);
}

static inline int
shm_open_dir(const char *dir, const char *name, int flags, mode_t mode)
{
	char path[4096];
	struct stat sb;
	int fd;

	if (((flags & O_ACCMODE) != O_RDONLY && (flags & O_ACCMODE) != O_RDWR) ||
	    (flags & ~(O_ACCMODE | OPENBSD_SHM_FLAGS)) != 0) {
		errno = EINVAL;
		return -1;
	}
	flags |= O_CLOEXEC | O_NOFOLLOW;
	mode = mode & 0600;
	makeshmpath(dir, name, path, sizeof(path));
	/* OpenBSD's vn_open; a no-op there, where open(2) does it itself. */
	if ((flags & O_TRUNC) && (flags & O_ACCMODE) == O_RDONLY) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, flags, mode);
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

#endif

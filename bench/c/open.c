/* open+close of an existing shared memory object.
 *
 *   open openbsd N DIR NAME
 *	OpenBSD's shm_open algorithm (lib/libc/gen/shm_open.c) rooted at DIR:
 *	flag check, path = DIR/<sha256-hex(NAME)>.shm, open(O_NOFOLLOW|
 *	O_CLOEXEC), fstat, S_ISREG, st_uid == geteuid(); then close(2).
 *	Name hashing is included, as it is in posixshm's Dir.Open. 4 calls.
 *   open glibc N NAME
 *	glibc's shm_open(NAME, O_RDWR, 0) + close(2), the object in /dev/shm.
 *	2 calls.
 *   open samecalls-openbsd N DIR NAME
 *	the system calls posixshm's Dir.Open + Close make, from C: OpenBSD's
 *	algorithm above plus the fcntl(F_GETFL) of Go's os.NewFile, a check
 *	of st_nlink, and the stat(2) of the directory with which the one-link
 *	check asks whether others may remove names there (Dir.Open caches
 *	the answer only for root's sticky directories such as /tmp; DIR here
 *	is a 0700 directory of the caller's). 6 calls.
 *   open samecalls-linux N NAME
 *	the system calls posixshm.Open + Close make on Linux, from C: glibc's
 *	name check and path (/dev/shm/NAME without leading slashes), open,
 *	fstat (S_ISREG, st_nlink == 1), fcntl(F_GETFL), close. 4 calls.
 *   open samecalls-fd-openbsd N DIR NAME
 *   open samecalls-fd-linux N NAME
 *	the same without the fcntl(F_GETFL), which only os.NewFile makes: the
 *	calls of Dir.OpenFd and posixshm.OpenFd + close (5 and 3).
 *
 * The "samecalls" figures are the baselines whose ratio does not depend on
 * what a system call costs on the machine: bench/run counts the calls of
 * every side with strace to show that they are the same.
 * The object is created first if missing. Prints "c_open_MODE ns/op", '-'
 * in MODE as '_'.
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

/* samecalls_openbsd: shm_open_dir's work, then what Go adds. */
static int samecalls_openbsd(const char *dir, const char *name, int getfl)
{
	struct stat sb, dsb;
	char path[4096];
	int fd;

	makeshmpath(dir, name, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    sb.st_nlink > 1 || stat(dir, &dsb) == -1 || (getfl && fcntl(fd, F_GETFL) == -1)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* samecalls_linux: glibc's shm_open (name check, path), then what posixshm
 * and Go add. */
static int samecalls_linux(const char *name, int getfl)
{
	struct stat sb;
	char path[4096];
	size_t len;
	int fd;

	while (*name == '/')
		name++;
	len = strlen(name);
	if (len == 0 || len > 255 || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	memcpy(path, "/dev/shm/", 9);
	memcpy(path + 9, name, len + 1);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_nlink > 1 ||
	    (getfl && fcntl(fd, F_GETFL) == -1)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

enum mode { OPENBSD, GLIBC, SAME_OPENBSD, SAME_LINUX, FD_OPENBSD, FD_LINUX };

static int openit(enum mode m, const char *dir, const char *name, int flags)
{
	switch (m) {
	case OPENBSD:
		return shm_open_dir(dir, name, flags, 0600);
	case GLIBC:
		return shm_open(name, flags, 0600);
	case SAME_OPENBSD:
		return samecalls_openbsd(dir, name, 1);
	case SAME_LINUX:
		return samecalls_linux(name, 1);
	case FD_OPENBSD:
		return samecalls_openbsd(dir, name, 0);
	case FD_LINUX:
		return samecalls_linux(name, 0);
	}
	return -1;
}

int main(int argc, char **argv)
{
	long n, i;
	double t0;
	int fd, withdir;
	enum mode m;
	const char *dir = NULL, *name;

	if (argc == 5 && strcmp(argv[1], "openbsd") == 0)
		m = OPENBSD;
	else if (argc == 5 && strcmp(argv[1], "samecalls-openbsd") == 0)
		m = SAME_OPENBSD;
	else if (argc == 4 && strcmp(argv[1], "glibc") == 0)
		m = GLIBC;
	else if (argc == 4 && strcmp(argv[1], "samecalls-linux") == 0)
		m = SAME_LINUX;
	else if (argc == 5 && strcmp(argv[1], "samecalls-fd-openbsd") == 0)
		m = FD_OPENBSD;
	else if (argc == 4 && strcmp(argv[1], "samecalls-fd-linux") == 0)
		m = FD_LINUX;
	else {
		fprintf(stderr, "usage: open openbsd|samecalls-openbsd|samecalls-fd-openbsd N DIR NAME | "
		    "open glibc|samecalls-linux|samecalls-fd-linux N NAME\n");
		return 2;
	}
	withdir = argc == 5;
	if (withdir)
		dir = argv[3];
	name = argv[argc - 1];
	if ((n = atol(argv[2])) < 1) {
		fprintf(stderr, "open: bad N %s\n", argv[2]);
		return 2;
	}
	/* Create it the standard way; then time the mode's open. */
	fd = withdir ? shm_open_dir(dir, name, O_RDWR | O_CREAT, 0600)
		     : shm_open(name, O_RDWR | O_CREAT, 0600);
	if (fd == -1)
		die("shm_open create");
	close(fd);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if ((fd = openit(m, dir, name, O_RDWR)) == -1)
			die("open");
		close(fd);
	}
	/* The key: c_open_ and the mode, '-' as '_'. */
	for (i = 0; argv[1][i] != '\0'; i++)
		if (argv[1][i] == '-')
			argv[1][i] = '_';
	printf("c_open_%s %.1f ns/op\n", argv[1], (now_ns() - t0) / n);
	return 0;
}

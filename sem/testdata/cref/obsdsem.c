/*
 * obsdsem.c: a reference of OpenBSD's named semaphores
 * (lib/libc/thread/rthread_sem.c rev 1.33, the futex implementation, with
 * struct __sem from lib/libc/include/thread_private.h) rooted at the
 * directory $OBSD_SEM_DIR instead of /tmp, for package sem's tests: the
 * commands of semmain.h over it. It reproduces OpenBSD's algorithm:
 * sem_open's path (SHA256Data of the name, as libc does, from libmd),
 * open flags, checks and sizing, and _sem_wait/_sem_post's atomics; the
 * futex calls of synch.h rev 1.10 (FUTEX_WAIT with a relative timeout,
 * FUTEX_WAKE, both shared) are made to Linux's futex(2), which has the
 * same two operations.
 *
 * Build: gcc -O2 -o obsdsem obsdsem.c -lmd   (Debian: apt-get install libmd-dev)
 */
#include <limits.h>
#include <linux/futex.h>
#include <sha2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "semmain.h"

/* struct __sem: _atomic_lock_t is unsigned char on amd64 (int elsewhere:
 * the same offsets). */
struct __sem {
	unsigned char lock;
	volatile int waitcount;
	volatile int value;
	int shared;
};

struct xsem {
	struct __sem *sem;
};

#undef SEM_VALUE_MAX
#define SEM_VALUE_MAX UINT_MAX /* OpenBSD's sys/syslimits.h */

static long pagesize;

/* OpenBSD's atomics: atomic_inc_int and friends are locked instructions
 * or __sync builtins, full barriers. */
#define atomic_inc_int(p) __sync_add_and_fetch((p), 1)
#define atomic_dec_int(p) __sync_sub_and_fetch((p), 1)
#define atomic_cas_uint(p, o, n) __sync_val_compare_and_swap((p), (o), (n))

static int
futex(volatile int *p, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, p, op, val, ts, NULL, 0);
}

/* synch.h rev 1.10 */
static int
_wake(volatile int *p, int n)
{
	return futex(p, FUTEX_WAKE, n, NULL);
}

static int
_twait(volatile int *p, int val, clockid_t clockid, const struct timespec *abs)
{
	struct timespec now, rel;
	int saved_errno = errno, error;

	if (abs == NULL) {
		error = futex(p, FUTEX_WAIT, val, NULL);
		if (error == -1) {
			error = errno;
			errno = saved_errno;
		}
		return error;
	}
	if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000L ||
	    clock_gettime(clockid, &now))
		return EINVAL;
	if (abs->tv_sec < now.tv_sec ||
	    (abs->tv_sec == now.tv_sec && abs->tv_nsec <= now.tv_nsec))
		return ETIMEDOUT;
	rel.tv_sec = abs->tv_sec - now.tv_sec;
	rel.tv_nsec = abs->tv_nsec - now.tv_nsec;
	if (rel.tv_nsec < 0) {
		rel.tv_sec--;
		rel.tv_nsec += 1000000000L;
	}
	error = futex(p, FUTEX_WAIT, val, &rel);
	if (error == -1) {
		error = errno;
		errno = saved_errno;
	}
	return error;
}

static int
_sem_wait(struct __sem *sem, const struct timespec *abstime)
{
	unsigned int val;
	int error = 0;

	atomic_inc_int(&sem->waitcount);
	for (;;) {
		while ((val = sem->value) > 0) {
			if (atomic_cas_uint((volatile unsigned *)&sem->value, val, val - 1) == val) {
				atomic_dec_int(&sem->waitcount);
				return 0;
			}
		}
		if (error)
			break;
		error = _twait(&sem->value, 0, CLOCK_REALTIME, abstime);
		/* ignore interruptions (no cancellation here) */
		if (error == EINTR || error == EAGAIN)
			error = 0;
	}
	atomic_dec_int(&sem->waitcount);
	return error;
}

static int
_sem_post(struct __sem *sem)
{
	atomic_inc_int(&sem->value);
	_wake(&sem->value, 1);
	return 0;
}

static int x_post(xsem *x) { return _sem_post(x->sem); }

static int
x_wait(xsem *x)
{
	int error = _sem_wait(x->sem, NULL);
	if (error) {
		errno = error;
		return -1;
	}
	return 0;
}

static int
x_timedwait(xsem *x, const struct timespec *abstime)
{
	int error;

	if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L) {
		errno = EINVAL;
		return -1;
	}
	error = _sem_wait(x->sem, abstime);
	if (error) {
		errno = error == EWOULDBLOCK ? ETIMEDOUT : error;
		return -1;
	}
	return 0;
}

static int
x_trywait(xsem *x)
{
	unsigned int val;

	while ((val = x->sem->value) > 0)
		if (atomic_cas_uint((volatile unsigned *)&x->sem->value, val, val - 1) == val)
			return 0;
	errno = EAGAIN;
	return -1;
}

static int
x_getvalue(xsem *x, int *v)
{
	*v = x->sem->value;
	return 0;
}

/* makesempath, rooted at $OBSD_SEM_DIR. */
static void
makesempath(const char *name, char *path, size_t len)
{
	char buf[SHA256_DIGEST_STRING_LENGTH];
	const char *dir = getenv("OBSD_SEM_DIR");

	if (dir == NULL || *dir == '\0') {
		fprintf(stderr, "obsdsem: set OBSD_SEM_DIR\n");
		exit(2);
	}
	SHA256Data((const uint8_t *)name, strlen(name), buf);
	snprintf(path, len, "%s/%s.sem", dir, buf);
}

static xsem *
x_open(const char *name, int oflag, mode_t mode, unsigned value)
{
	char path[4096];
	struct stat sb;
	struct __sem *sem;
	xsem *x;
	int created = 0, fd;

	(void)mode; /* 3rd parameter mode is not used */
	if (pagesize == 0)
		pagesize = sysconf(_SC_PAGESIZE);
	if (oflag & ~(O_CREAT | O_EXCL)) {
		errno = EINVAL;
		return NULL;
	}
	if ((oflag & O_CREAT) && value > SEM_VALUE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	makesempath(name, path, sizeof(path));
	fd = open(path, O_RDWR | O_NOFOLLOW | oflag, 0600);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return NULL;
	}
	if (sb.st_size != (off_t)pagesize) {
		if (!(oflag & O_CREAT) || sb.st_size != 0 ||
		    ftruncate(fd, pagesize) == -1) {
			close(fd);
			errno = EINVAL;
			return NULL;
		}
		created = 1;
	}
	sem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (sem == MAP_FAILED) {
		errno = EINVAL;
		return NULL;
	}
	if (created) {
		sem->value = value;
		sem->shared = 1;
	}
	x = malloc(sizeof(*x));
	x->sem = sem;
	return x;
}

static void
x_close(xsem *x)
{
	munmap(x->sem, pagesize);
	free(x);
}

static int
x_unlink(const char *name)
{
	char path[4096];

	makesempath(name, path, sizeof(path));
	return unlink(path);
}

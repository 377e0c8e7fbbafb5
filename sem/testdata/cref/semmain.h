/*
 * semmain.h: the command line both C sides of package sem's tests share.
 * A file that includes it defines the x_* functions over its semaphores:
 * glibcsem.c over glibc's own sem_open and friends, obsdsem.c over a
 * reference of OpenBSD's rthread_sem.c. Every command prints one line
 * ("ok", "errno N", "value V", ...) and exits 0, or exits 2 on bad usage
 * and 3 when an operation that must not fail fails.
 *
 *   open NAME OFLAG MODE VALUE   sem_open (numbers in C syntax) and sem_close
 *   post NAME [N]                N sem_post (default 1)
 *   wait NAME [N]                N sem_wait
 *   trywait NAME                 one sem_trywait
 *   timedwait NAME MS            one sem_timedwait, MS milliseconds from now
 *   timedwait-bad NAME           sem_timedwait with tv_nsec = 1000000000
 *   timedwait-past NAME          sem_timedwait with the deadline 1970-01-01
 *   value NAME                   sem_getvalue: "value V"
 *   unlink NAME                  sem_unlink
 *   openloop NAME                for every line "OFLAG VALUE" on stdin, one
 *                                sem_open(NAME, OFLAG, 0600, VALUE) and
 *                                sem_close: "ok" or "errno N" (a race's
 *                                start signal, with no exec in the way)
 *   mixed NAME OPS SEED          OPS operations: batches of k posts then k
 *                                takes (trywait, else wait or a timedwait
 *                                retried), k random in 1..8: no deadlock
 *                                among any number of such processes; prints
 *                                "posts P takes T"
 *   hold NAME                    sem_wait, print "held", sleep until killed
 *   transfer NAME TO             forever: sem_timedwait on NAME (1-8 ms),
 *                                and sem_post on TO for every unit taken
 *   postlog NAME FILE N          N sem_post, with random pauses, each
 *                                followed by an atomic add of 1 to the
 *                                64-bit counter at the start of FILE
 *   relay NAME TO N              N times: sem_wait on NAME (no timeout:
 *                                a lost wake-up hangs it), then sem_post
 *                                on TO; prints "ok S", S the voluntary
 *                                context switches (about the sleeps)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

typedef struct xsem xsem;
static xsem *x_open(const char *name, int oflag, mode_t mode, unsigned value);
static void x_close(xsem *);
static int x_post(xsem *);
static int x_wait(xsem *);
static int x_trywait(xsem *);
static int x_timedwait(xsem *, const struct timespec *);
static int x_getvalue(xsem *, int *);
static int x_unlink(const char *name);

static void
must(int ok, const char *what)
{
	if (!ok) {
		printf("%s: errno %d\n", what, errno);
		fflush(stdout);
		exit(3);
	}
}

static xsem *
open_existing(const char *name)
{
	xsem *s = x_open(name, 0, 0, 0);
	must(s != NULL, "sem_open");
	return s;
}

static struct timespec
after_ms(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static void
result(int r)
{
	if (r == 0)
		printf("ok\n");
	else
		printf("errno %d\n", errno);
}

static void
pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

int
main(int argc, char *argv[])
{
	xsem *s;
	const char *cmd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: %s CMD NAME ARGS...\n", argv[0]);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "open") == 0 && argc == 6) {
		s = x_open(argv[2], (int)strtol(argv[3], NULL, 0),
		    (mode_t)strtol(argv[4], NULL, 0),
		    (unsigned)strtoul(argv[5], NULL, 0));
		if (s == NULL) {
			printf("errno %d\n", errno);
			return 0;
		}
		x_close(s);
		printf("ok\n");
	} else if (strcmp(cmd, "openloop") == 0 && argc == 3) {
		int oflag;
		unsigned value;
		while (scanf("%i %u", &oflag, &value) == 2) {
			s = x_open(argv[2], oflag, 0600, value);
			if (s == NULL) {
				printf("errno %d\n", errno);
				continue;
			}
			x_close(s);
			printf("ok\n");
		}
	} else if (strcmp(cmd, "unlink") == 0 && argc == 3) {
		result(x_unlink(argv[2]));
	} else if ((strcmp(cmd, "post") == 0 || strcmp(cmd, "wait") == 0) &&
	    (argc == 3 || argc == 4)) {
		long n = argc == 4 ? strtol(argv[3], NULL, 0) : 1, i;
		int r = 0;
		s = open_existing(argv[2]);
		for (i = 0; i < n && r == 0; i++)
			r = cmd[0] == 'p' ? x_post(s) : x_wait(s);
		result(r);
	} else if (strcmp(cmd, "trywait") == 0 && argc == 3) {
		s = open_existing(argv[2]);
		result(x_trywait(s));
	} else if (strcmp(cmd, "timedwait") == 0 && argc == 4) {
		struct timespec ts;
		s = open_existing(argv[2]);
		ts = after_ms(strtol(argv[3], NULL, 0));
		result(x_timedwait(s, &ts));
	} else if (strcmp(cmd, "timedwait-bad") == 0 && argc == 3) {
		struct timespec ts = after_ms(1000);
		ts.tv_nsec = 1000000000L;
		s = open_existing(argv[2]);
		result(x_timedwait(s, &ts));
	} else if (strcmp(cmd, "timedwait-past") == 0 && argc == 3) {
		struct timespec ts = { 0, 0 };
		s = open_existing(argv[2]);
		result(x_timedwait(s, &ts));
	} else if (strcmp(cmd, "value") == 0 && argc == 3) {
		int v;
		s = open_existing(argv[2]);
		must(x_getvalue(s, &v) == 0, "sem_getvalue");
		printf("value %d\n", v);
	} else if (strcmp(cmd, "mixed") == 0 && argc == 5) {
		long ops = strtol(argv[3], NULL, 0), done = 0, posts = 0, takes = 0;
		int k, i;
		s = open_existing(argv[2]);
		srandom((unsigned)strtoul(argv[4], NULL, 0));
		while (done < ops) {
			k = 1 + random() % 8;
			for (i = 0; i < k; i++, done++, posts++)
				must(x_post(s) == 0, "sem_post");
			for (i = 0; i < k; i++, done++, takes++) {
				int v;
				switch (random() % 4) {
				case 0:
					must(x_getvalue(s, &v) == 0, "sem_getvalue");
					/* FALLTHROUGH */
				case 1:
					if (x_trywait(s) == 0)
						break;
					must(errno == EAGAIN, "sem_trywait");
					/* FALLTHROUGH */
				case 2:
					must(x_wait(s) == 0, "sem_wait");
					break;
				default:
					for (;;) {
						struct timespec ts = after_ms(1 + random() % 3);
						if (x_timedwait(s, &ts) == 0)
							break;
						must(errno == ETIMEDOUT, "sem_timedwait");
					}
				}
			}
		}
		printf("posts %ld takes %ld\n", posts, takes);
	} else if (strcmp(cmd, "hold") == 0 && argc == 3) {
		s = open_existing(argv[2]);
		must(x_wait(s) == 0, "sem_wait");
		printf("held\n");
		for (;;)
			pause();
	} else if (strcmp(cmd, "transfer") == 0 && argc == 4) {
		xsem *to;
		s = open_existing(argv[2]);
		to = open_existing(argv[3]);
		srandom((unsigned)getpid());
		printf("ready\n");
		for (;;) {
			struct timespec ts = after_ms(1 + random() % 8);
			if (x_timedwait(s, &ts) == 0)
				must(x_post(to) == 0, "sem_post");
			else
				must(errno == ETIMEDOUT, "sem_timedwait");
		}
	} else if (strcmp(cmd, "postlog") == 0 && argc == 5) {
		long n = strtol(argv[4], NULL, 0), i;
		uint64_t *count;
		int fd = open(argv[3], O_RDWR);
		must(fd >= 0, "open");
		count = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		must(count != MAP_FAILED, "mmap");
		s = open_existing(argv[2]);
		srandom((unsigned)getpid());
		printf("ready\n");
		for (i = 0; i < n; i++) {
			must(x_post(s) == 0, "sem_post");
			__atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
			if (random() % 4 == 0)
				pause_us(random() % 200);
		}
		printf("ok\n");
	} else if (strcmp(cmd, "relay") == 0 && argc == 5) {
		long n = strtol(argv[4], NULL, 0), i;
		struct rusage ru;
		xsem *to;
		s = open_existing(argv[2]);
		to = open_existing(argv[3]);
		for (i = 0; i < n; i++) {
			must(x_wait(s) == 0, "sem_wait");
			must(x_post(to) == 0, "sem_post");
		}
		getrusage(RUSAGE_SELF, &ru);
		printf("ok %ld\n", ru.ru_nvcsw);
	} else {
		fprintf(stderr, "%s: bad command line\n", argv[0]);
		return 2;
	}
	return 0;
}

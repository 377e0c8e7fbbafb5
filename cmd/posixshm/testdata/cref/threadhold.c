/*
 * threadhold: a C program whose use of a shared memory object the thread
 * group leader's /proc entries do not show (the gc --plain tests).
 *
 *   threadhold exitmain map NAME READY
 *       maps the object NAME (shm_open, created if need be, one page),
 *       closes the descriptor; a worker thread keeps running after the
 *       main thread has called pthread_exit.
 *   threadhold exitmain open NAME READY
 *       the same, holding the descriptor open instead of a mapping.
 *   threadhold unshare NAME READY
 *       a worker thread calls unshare(CLONE_FILES), then opens NAME and
 *       holds the descriptor in its own descriptor table; the main thread
 *       never has it.
 *
 * Once its use is in place (and, for exitmain, the main thread is a
 * zombie), the program writes its PID to the file READY and sleeps until
 * it is killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *name, *readyfile;
static int keepmap;
static pthread_t mainthread;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int openobj(void)
{
	int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		die("threadhold: shm_open");
	return fd;
}

/* ready writes the PID to readyfile atomically (a rename). */
static void ready(void)
{
	char tmp[4096], buf[32];
	snprintf(tmp, sizeof tmp, "%s.tmp", readyfile);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (fd < 0 || write(fd, buf, n) != n || close(fd) != 0 || rename(tmp, readyfile) != 0)
		die("threadhold: ready");
}

/* leaderzombie reports whether the thread group leader has exited. */
static int leaderzombie(void)
{
	char buf[512];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* "pid (comm) S ..." */
	return p && p[1] == ' ' && p[2] == 'Z';
}

static void *exitmainworker(void *arg)
{
	(void)arg;
	pthread_join(mainthread, NULL);
	while (!leaderzombie())
		usleep(1000);
	ready();
	for (;;)
		pause();
	return NULL;
}

static void *unshareworker(void *arg)
{
	(void)arg;
	if (unshare(CLONE_FILES) != 0)
		die("threadhold: unshare(CLONE_FILES)");
	openobj(); /* held in this thread's table only */
	ready();
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc == 5 && strcmp(argv[1], "exitmain") == 0 &&
	    (strcmp(argv[2], "map") == 0 || strcmp(argv[2], "open") == 0)) {
		keepmap = strcmp(argv[2], "map") == 0;
		name = argv[3], readyfile = argv[4];
		int fd = openobj();
		if (keepmap) {
			if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED)
				die("threadhold: mmap");
			close(fd); /* the mapping alone keeps it in use */
		}
		mainthread = pthread_self();
		if (pthread_create(&t, NULL, exitmainworker, NULL) != 0)
			die("threadhold: pthread_create");
		pthread_exit(NULL);
	}
	if (argc == 4 && strcmp(argv[1], "unshare") == 0) {
		name = argv[2], readyfile = argv[3];
		if (pthread_create(&t, NULL, unshareworker, NULL) != 0)
			die("threadhold: pthread_create");
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: threadhold exitmain map|open NAME READY | threadhold unshare NAME READY\n");
	return 2;
}

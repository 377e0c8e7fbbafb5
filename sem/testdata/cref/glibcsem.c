/*
 * glibcsem.c: glibc's own named semaphores (sem_open, sem_post, ...), for
 * package sem's interop tests: the commands of semmain.h over glibc.
 *
 * Build: gcc -O2 -pthread -o glibcsem glibcsem.c
 */
#include <semaphore.h>
#include "semmain.h"

struct xsem {
	sem_t *s;
};

static xsem *
x_open(const char *name, int oflag, mode_t mode, unsigned value)
{
	xsem *x;
	sem_t *s = sem_open(name, oflag, mode, value);

	if (s == SEM_FAILED)
		return NULL;
	x = malloc(sizeof(*x));
	x->s = s;
	return x;
}

static void x_close(xsem *x) { sem_close(x->s); free(x); }
static int x_post(xsem *x) { return sem_post(x->s); }
static int x_wait(xsem *x) { return sem_wait(x->s); }
static int x_trywait(xsem *x) { return sem_trywait(x->s); }
static int x_timedwait(xsem *x, const struct timespec *ts) { return sem_timedwait(x->s, ts); }
static int x_getvalue(xsem *x, int *v) { return sem_getvalue(x->s, v); }
static int x_unlink(const char *name) { return sem_unlink(name); }

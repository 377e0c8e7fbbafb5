/* Transaction baseline: what segment.Tx does, written by hand in C over a
 * robust process-shared pthread mutex, the strongest fair baseline for a
 * crash-atomic update of shared memory that we know of. The undo log has
 * segment.Tx's layout (segment/txlog.go): a head word, then entries of a
 * 16-byte header (data offset, length, link) and the old bytes; each entry
 * is written whole and then published with a release store of the head
 * (on x86 a plain store: the C compiler keeps the order and the CPU keeps
 * it too), the caller changes the range, and commit stores 0 into the head
 * (release) before unlocking. A recovery (not timed) would replay the
 * entries newest first, as Abort does.
 *
 *   txundo N [WHAT] prints, per operation over N operations (WHAT: one of
 *                  them, by the name after c_tx_; all four if absent):
 *                    c_tx_lock      lock, add 1 to an 8-byte account, unlock
 *                    c_tx_tx8       the same with one 8-byte snapshot and commit
 *                    c_tx_t16_lock  a transfer between 16 accounts under the lock
 *                    c_tx_t16_tx    the same transfer in a transaction
 *
 * The accounts (1,000 of 8 bytes) and the log live in a MAP_SHARED
 * mapping, as a segment's do. Build: gcc -O2 -pthread -o txundo txundo.c */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "bench.h"

#define ACCOUNTS 1000
#define LOGSIZE 4096

struct shared {
	pthread_mutex_t mu __attribute__((aligned(64)));
	uint32_t head __attribute__((aligned(64))); /* the log's control line */
	unsigned char log[LOGSIZE] __attribute__((aligned(64)));
	int64_t acct[ACCOUNTS] __attribute__((aligned(64)));
};

struct tx {
	struct shared *s;
	uint32_t end, last;
};

static void lockmu(pthread_mutex_t *mu)
{
	if (pthread_mutex_lock(mu) == EOWNERDEAD)
		pthread_mutex_consistent(mu); /* a real program would replay the log here */
}

static inline void tx_begin(struct tx *t, struct shared *s)
{
	lockmu(&s->mu);
	t->s = s;
	t->end = t->last = 0;
}

/* tx_snapshot records the n bytes at data offset off, as segment.Tx's
 * Snapshot does (without its checks of the range and the room, which the
 * caller of this baseline guarantees). */
static inline void tx_snapshot(struct tx *t, const void *p, uint32_t n)
{
	unsigned char *e = t->s->log + t->end;
	uint64_t off = (const unsigned char *)p - (const unsigned char *)t->s->acct;

	memcpy(e, &off, 8);
	memcpy(e + 8, &n, 4);
	memcpy(e + 12, &t->last, 4);
	memcpy(e + 16, p, n);
	t->last = t->end + 1;
	__atomic_store_n(&t->s->head, t->last, __ATOMIC_RELEASE);
	t->end += 16 + ((n + 7) & ~7u);
}

static inline void tx_commit(struct tx *t)
{
	__atomic_store_n(&t->s->head, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->s->mu);
}

static int account(long i, int k) { return (int)((i * 16 + k * 61) % ACCOUNTS); }

static void lock_one(struct shared *s, long i)
{
	(void)i;
	lockmu(&s->mu);
	s->acct[8]++;
	pthread_mutex_unlock(&s->mu);
}

static void tx_one(struct shared *s, long i)
{
	struct tx t;

	(void)i;
	tx_begin(&t, s);
	tx_snapshot(&t, &s->acct[8], 8);
	s->acct[8]++;
	tx_commit(&t);
}

static void lock_t16(struct shared *s, long i)
{
	int k;

	lockmu(&s->mu);
	for (k = 1; k < 16; k++)
		s->acct[account(i, k)]--;
	s->acct[account(i, 0)] += 15;
	pthread_mutex_unlock(&s->mu);
}

static void tx_t16(struct shared *s, long i)
{
	struct tx t;
	int64_t *p;
	int k;

	tx_begin(&t, s);
	for (k = 1; k < 16; k++) {
		p = &s->acct[account(i, k)];
		tx_snapshot(&t, p, 8);
		(*p)--;
	}
	p = &s->acct[account(i, 0)];
	tx_snapshot(&t, p, 8);
	*p += 15;
	tx_commit(&t);
}

static const struct {
	const char *name;
	void (*op)(struct shared *, long);
} ops[] = {
	{"lock", lock_one},
	{"tx8", tx_one},
	{"t16_lock", lock_t16},
	{"t16_tx", tx_t16},
};

int main(int argc, char **argv)
{
	struct shared *s;
	pthread_mutexattr_t a;
	long n, i;
	size_t j;
	double t0;

	if (argc < 2 || argc > 3 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: txundo N [lock|tx8|t16_lock|t16_tx]\n");
		return 2;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&s->mu, &a) != 0)
		die("pthread_mutex_init");
	for (j = 0; j < sizeof(ops) / sizeof(ops[0]); j++) {
		if (argc == 3 && strcmp(argv[2], ops[j].name) != 0)
			continue;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			ops[j].op(s, i);
		printf("c_tx_%s %.2f ns\n", ops[j].name, (now_ns() - t0) / n);
	}
	escape(s);
	return 0;
}

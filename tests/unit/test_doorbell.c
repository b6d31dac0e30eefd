/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the doorbells (src/shard/doorbell.h, B1-B4), in a
 * temporary directory:
 *  - two mappings of one board (what two processes have; here in one)
 *    are one memory (B3): a bell armed through one is rung through the
 *    other;
 *  - a ring reaches a sleeper once per sleep, however often it is rung
 *    (B2), and not at all while it is awake;
 *  - a sleeper that died (its socket file left behind) costs a failed
 *    ring, and one started again at the same path gets the next (B3);
 *  - a board of another size or header, a symlink, a board others may
 *    write, an over-long prefix and a bell off the board are refused by
 *    name (B4); a board of the right size whose header was never written
 *    (a crash between the two) is taken and written;
 *  - a wait on a doorbell is two calls (idle_wait.h I5): the first only
 *    arms it and returns at once, so the caller looks at its rings once
 *    more with the flag up (B1); the second blocks until a ring (one
 *    waiting already, or one from another thread during the block),
 *    which ends it long before its timeout; work found in between takes
 *    the flag down. (A qr_idle_wait that blocks right after arming fails the
 *    first check: an item put during the caller's last loop turn would
 *    wait for the timeout.)
 *  - no lost wake-up under threads (B1): a thread that waits the way a
 *    shard does (its loop turn, then qr_idle_wait on its doorbell)
 *    against a producer that puts one item at a random moment, rings,
 *    and waits for it to be taken, ~10,000 times in 0.4 s; an item not
 *    taken within 10 ms (the wait is 20 ms) was slept through. Where
 *    both threads get a core of their own this is the race B1 closes;
 *    on a busy machine they may take turns on one, and it checks less.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quorate/err.h"
#include "shard/doorbell.h"
#include "shard/idle_wait.h"
#include "unit.h"

static char g_dir[64];
static char g_prefix[96];

static void make_dir(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/qr-bell-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(g_dir) != NULL);
	snprintf(g_prefix, sizeof(g_prefix), "%s/bell", g_dir);
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	CU_ASSERT(system(cmd) == 0);
}

static void test_shared_board(void)
{
	make_dir();
	char why[160];
	struct qr_bell_board *a = NULL, *b = NULL;
	CU_ASSERT_FATAL(qr_bell_board_open(g_prefix, &a, why, sizeof(why)) ==
			0);
	CU_ASSERT_FATAL(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
			0);
	struct qr_bell bell;
	CU_ASSERT_FATAL(qr_bell_listen(a, 2, 1, &bell, why, sizeof(why)) == 0);
	int fd = qr_bell_ringer_socket();
	CU_ASSERT_FATAL(fd >= 0);
	struct qr_bell_target t, other;
	CU_ASSERT_FATAL(qr_bell_target_init(b, 2, 1, fd, &t, why,
					    sizeof(why)) == 0);
	CU_ASSERT_FATAL(qr_bell_target_init(b, 2, 0, fd, &other, why,
					    sizeof(why)) == 0);

	/* awake: nothing sent */
	qr_bell_ring(&t);
	CU_ASSERT(t.rung == 0);
	CU_ASSERT(qr_bell_drain(&bell) == 0);

	/* asleep (armed through board a), rung 100 times through board b:
	 * one datagram, and the flag is down for everyone (B2) */
	qr_bell_arm(&bell);
	qr_bell_ring(&other); /* another slot: not ours */
	CU_ASSERT(other.rung == 0);
	for (int i = 0; i < 100; i++)
		qr_bell_ring(&t);
	CU_ASSERT(t.rung == 1);
	CU_ASSERT(t.failed == 0);
	CU_ASSERT(atomic_load(&bell.slot->asleep) == 0);
	CU_ASSERT(qr_bell_drain(&bell) == 1);
	qr_bell_disarm(&bell);

	/* a second sleep, a second datagram */
	qr_bell_arm(&bell);
	qr_bell_ring(&t);
	CU_ASSERT(t.rung == 2);
	CU_ASSERT(qr_bell_drain(&bell) == 1);
	qr_bell_disarm(&bell);

	/* the sleeper dies with its flag up and its socket file left: one
	 * failed ring; started again at the same path, it is rung (B3) */
	qr_bell_arm(&bell);
	close(bell.fd);
	struct stat st;
	CU_ASSERT(stat(bell.path, &st) == 0); /* left behind */
	qr_bell_ring(&t);
	CU_ASSERT(t.failed == 1);
	CU_ASSERT(t.rung == 2);
	struct qr_bell again;
	CU_ASSERT_FATAL(qr_bell_listen(a, 2, 1, &again, why, sizeof(why)) ==
			0);
	qr_bell_arm(&again);
	qr_bell_ring(&t);
	CU_ASSERT(t.rung == 3);
	CU_ASSERT(qr_bell_drain(&again) == 1);
	qr_bell_unlisten(&again);
	CU_ASSERT(stat(again.path, &st) != 0); /* removed */
	close(fd);
	qr_bell_board_close(a);
	qr_bell_board_close(b);
	remove_dir();
}

static void test_refused(void)
{
	make_dir();
	char why[160] = "", path[128];
	struct qr_bell_board *b = NULL;
	/* another file at the board's path: refused, named, left alone */
	snprintf(path, sizeof(path), "%s.board", g_prefix);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("not a board\n", f);
	fclose(f);
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
		  QR_ECONFIG);
	CU_ASSERT(b == NULL);
	CU_ASSERT(strstr(why, "not a doorbell board") != NULL);
	struct stat st;
	CU_ASSERT(stat(path, &st) == 0 && st.st_size == 12);
	unlink(path);

	/* the right size, another header: refused; all zero: written */
	char zero[64] = { 0 };
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fclose(f);
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) == 0);
	off_t size = stat(path, &st) == 0 ? st.st_size : 0;
	qr_bell_board_close(b);
	CU_ASSERT(size > 64);
	int fd = open(path, O_RDWR);
	CU_ASSERT(pwrite(fd, "QRBELL99", 8, 0) == 8);
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
		  QR_ECONFIG);
	CU_ASSERT(pwrite(fd, zero, sizeof(zero), 0) == (ssize_t)sizeof(zero));
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) == 0);
	qr_bell_board_close(b);
	char head[8] = "";
	CU_ASSERT(pread(fd, head, 8, 0) == 8 && !memcmp(head, "QRBELL01", 8));
	/* writable by others: refused */
	CU_ASSERT(fchmod(fd, 0666) == 0);
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
		  QR_ECONFIG);
	CU_ASSERT(strstr(why, "writable by it alone") != NULL);
	close(fd);
	unlink(path);
	/* a symlink at the board's path is not followed */
	char target[128];
	snprintf(target, sizeof(target), "%s/elsewhere", g_dir);
	CU_ASSERT(symlink(target, path) == 0);
	CU_ASSERT(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
		  QR_EIO);
	CU_ASSERT(stat(target, &st) != 0); /* nothing created there */
	unlink(path);

	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	CU_ASSERT(qr_bell_board_open(longp, &b, why, sizeof(why)) ==
		  QR_EINVAL);
	CU_ASSERT(qr_bell_board_open("", &b, why, sizeof(why)) == QR_EINVAL);

	CU_ASSERT_FATAL(qr_bell_board_open(g_prefix, &b, why, sizeof(why)) ==
			0);
	struct qr_bell bell;
	struct qr_bell_target t;
	CU_ASSERT(qr_bell_listen(b, QR_BELL_ROWS, 0, &bell, why,
				 sizeof(why)) == QR_EINVAL);
	CU_ASSERT(strstr(why, "not on the board") != NULL);
	CU_ASSERT(qr_bell_target_init(b, 0, QR_BELL_SHARDS, -1, &t, why,
				      sizeof(why)) == QR_EINVAL);
	qr_bell_board_close(b);
	remove_dir();
}

static uint64_t now_ns(void);

/* A sleeper waiting the way a shard does (qr_idle_wait on its doorbell
 * alone, no DPDK queue) and a ringer addressing it: what the two wait
 * tests share. */
struct waiter {
	struct qr_bell_board *board;
	struct qr_bell bell;
	int fd; /* the ringer's socket */
	struct qr_bell_target t;
	struct qr_idle_wait *w;
};

static void waiter_open(struct waiter *x, unsigned row)
{
	char why[160];
	make_dir();
	CU_ASSERT_FATAL(qr_bell_board_open(g_prefix, &x->board, why,
					   sizeof(why)) == 0);
	CU_ASSERT_FATAL(qr_bell_listen(x->board, row, 0, &x->bell, why,
				       sizeof(why)) == 0);
	x->fd = qr_bell_ringer_socket();
	CU_ASSERT_FATAL(x->fd >= 0);
	CU_ASSERT_FATAL(qr_bell_target_init(x->board, row, 0, x->fd, &x->t,
					    why, sizeof(why)) == 0);
	x->w = NULL;
	CU_ASSERT_FATAL(qr_idle_wait_open(NULL, 0, -1, &x->bell, false, &x->w,
					  why, sizeof(why)) == 0);
}

static void waiter_close(struct waiter *x)
{
	qr_idle_wait_close(x->w);
	qr_bell_unlisten(&x->bell);
	close(x->fd);
	qr_bell_board_close(x->board);
	remove_dir();
}

/* Rings t 30 ms after it starts (a ring during the block). */
static void *late_ringer(void *arg)
{
	struct timespec ts = { 0, 30000000 };
	nanosleep(&ts, NULL);
	qr_bell_ring(arg);
	return NULL;
}

static void test_two_calls(void)
{
	struct waiter x;
	waiter_open(&x, 1);
	struct qr_idle_wait *w = x.w;
	struct qr_bell_target *t = &x.t;
	struct qr_bell *bell = &x.bell;
	for (int round = 0; round < 3; round++) {
		/* first call: arms, returns at once (no sleep) */
		uint64_t t0 = now_ns();
		CU_ASSERT(qr_idle_wait(w, 300000) == 0);
		CU_ASSERT(now_ns() - t0 < 100000000u);
		CU_ASSERT(atomic_load(&bell->slot->asleep) == 1);
		if (round == 2) { /* the caller's last look found work */
			qr_idle_wait_busy(w);
			CU_ASSERT(atomic_load(&bell->slot->asleep) == 0);
			qr_bell_ring(t); /* awake: not rung */
			CU_ASSERT(t->rung == 2);
			break;
		}
		/* an item put now is rung for; the second call wakes on it */
		qr_bell_ring(t);
		CU_ASSERT(t->rung == (uint64_t)round + 1);
		t0 = now_ns();
		CU_ASSERT(qr_idle_wait(w, 300000) == 1);
		CU_ASSERT(now_ns() - t0 < 100000000u); /* not the timeout */
		CU_ASSERT(atomic_load(&bell->slot->asleep) == 0);
		CU_ASSERT(qr_idle_wait_stats(w)->bell_wakes ==
			  (uint64_t)round + 1);
	}
	/* armed, rung by another thread during the block: it ends then,
	 * not at its 2 s timeout */
	CU_ASSERT(qr_idle_wait(w, 2000000) == 0);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, late_ringer, t) == 0);
	uint64_t t0 = now_ns();
	CU_ASSERT(qr_idle_wait(w, 2000000) == 1);
	uint64_t took = now_ns() - t0;
	CU_ASSERT(took >= 20000000u && took < 1000000000u);
	pthread_join(th, NULL);
	CU_ASSERT(qr_idle_wait_stats(w)->bell_wakes == 3);
	/* armed, nothing rings: the wait ends at its timeout */
	CU_ASSERT(qr_idle_wait(w, 20000) == 0);
	t0 = now_ns();
	CU_ASSERT(qr_idle_wait(w, 20000) == 1);
	CU_ASSERT(now_ns() - t0 >= 15000000u);
	CU_ASSERT(qr_idle_wait_stats(w)->bell_wakes == 3);
	waiter_close(&x);
}

/* ---- B1 under threads ------------------------------------------------ */

static _Atomic uint64_t g_produced; /* the "ring": items put */
static _Atomic uint64_t g_consumed;
static _Atomic int g_done;
static uint64_t g_sleeps;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void spin_ns(uint64_t ns)
{
	uint64_t t0 = now_ns();
	while (now_ns() - t0 < ns)
		;
}

/* A shard's loop, reduced: take what is there, else the rest of a loop
 * turn (WAL, timers, tx: items put meanwhile find the bell not armed),
 * then the idle path. */
static void *sleeper(void *arg)
{
	struct qr_idle_wait *w = arg;
	while (!atomic_load(&g_done)) {
		uint64_t p = atomic_load_explicit(&g_produced,
						  memory_order_acquire);
		if (p > atomic_load(&g_consumed)) {
			atomic_store(&g_consumed, p);
			qr_idle_wait_busy(w);
			continue;
		}
		spin_ns(10000);
		if (qr_idle_wait(w, 20000)) /* else I5: armed, look again */
			g_sleeps++;
	}
	return NULL;
}

static void test_no_lost_wakeup(void)
{
	struct waiter x;
	waiter_open(&x, 0);
	struct qr_idle_wait *w = x.w;
	struct qr_bell_target *t = &x.t;
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, sleeper, w) == 0);
	/* One item at a time, at a random moment of the sleeper's turn; an
	 * item not taken within 10 ms (the sleeper's wait is 20 ms) was
	 * slept through: a lost wake-up. */
	uint64_t end = now_ns() + 400000000u, items = 0, lost = 0;
	unsigned seed = 1;
	while (now_ns() < end) {
		spin_ns((uint64_t)(rand_r(&seed) % 30000));
		uint64_t id = atomic_fetch_add_explicit(
				      &g_produced, 1, memory_order_release) +
			      1;
		qr_bell_ring(t);
		items++;
		uint64_t t0 = now_ns();
		bool late = false;
		while (atomic_load(&g_consumed) < id) {
			if (!late && now_ns() - t0 > 10000000u) {
				late = true;
				lost++;
			}
			sched_yield();
		}
	}
	atomic_store(&g_done, 1);
	atomic_fetch_add(&g_produced, 1); /* wakes it to stop */
	qr_bell_ring(t);
	pthread_join(th, NULL);
	printf("\n  %" PRIu64 " items, %" PRIu64 " sleeps, %" PRIu64
	       " rings sent, %" PRIu64 " lost wake-ups\n",
	       items, g_sleeps, t->rung, lost);
	CU_ASSERT(lost == 0);
	CU_ASSERT(g_sleeps >= 100); /* the race was really run */
	/* B2: at most once per arming (a sleep, or a last look that found
	 * the item after all) */
	CU_ASSERT(t->rung <= qr_idle_wait_stats(w)->armed + 1);
	CU_ASSERT(t->failed == 0);
	CU_ASSERT(qr_idle_wait_stats(w)->bell_wakes > 0);
	waiter_close(&x);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{ "one board, shared; one ring per sleep; restarts",
		  test_shared_board },
		{ "wrong board, long prefix, off the board: refused",
		  test_refused },
		{ "a wait is two calls: arm, then block (I5)",
		  test_two_calls },
		{ "no lost wake-up under threads (B1)", test_no_lost_wakeup },
		{ NULL, NULL },
	};
	return qr_unit_main("doorbell", cases);
}

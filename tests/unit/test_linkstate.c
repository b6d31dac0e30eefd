/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a direct link's shared state (src/shard/linkstate.h):
 *  - a restart is quiescent only once every shard (shard 0 included) has
 *    seen RESTARTING, each counted once however many turns it sees it;
 *  - a shard's "link down" turns UP into DOWN, never RESTARTING into
 *    anything; shard 0's publish never overrides RESTARTING either;
 *  - a failed start leaves STOPPED, which neither changes, until the
 *    next restart;
 *  - 4 threads as shards (thread 0 restarting the "port" whenever the
 *    protocol allows): no shard is ever inside its "burst" while the port
 *    is being restarted, over 0.3 s of restarts (hundreds of them).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "shard/linkstate.h"
#include "unit.h"

static void test_acks(void)
{
	struct qr_link_state ls;
	uint32_t acked[3] = {0, 0, 0};
	qr_link_state_init(&ls, 3);
	CU_ASSERT(qr_link_seen(&ls, &acked[1]) == QR_LINK_DOWN);
	qr_link_publish(&ls, true);
	CU_ASSERT(qr_link_seen(&ls, &acked[1]) == QR_LINK_UP);
	for (int round = 0; round < 2; round++) {
		qr_link_request_restart(&ls);
		CU_ASSERT(!qr_link_quiescent(&ls));
		CU_ASSERT(qr_link_seen(&ls, &acked[1]) == QR_LINK_RESTARTING);
		CU_ASSERT(qr_link_seen(&ls, &acked[1]) == QR_LINK_RESTARTING);
		CU_ASSERT(!qr_link_quiescent(&ls)); /* one ack per shard */
		(void)qr_link_seen(&ls, &acked[2]);
		CU_ASSERT(!qr_link_quiescent(&ls));
		(void)qr_link_seen(&ls, &acked[0]);
		CU_ASSERT(qr_link_quiescent(&ls));
		qr_link_restarted(&ls, round == 0, false);
		CU_ASSERT(qr_link_seen(&ls, &acked[0]) ==
			  (round == 0 ? QR_LINK_UP : QR_LINK_DOWN));
	}
}

static void test_transitions(void)
{
	struct qr_link_state ls;
	uint32_t acked = 0;
	qr_link_state_init(&ls, 2);
	qr_link_publish(&ls, true);
	qr_link_mark_down(&ls);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_DOWN);
	qr_link_request_restart(&ls);
	qr_link_mark_down(&ls);
	qr_link_publish(&ls, true);
	qr_link_publish(&ls, false);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_RESTARTING);
	qr_link_restarted(&ls, true, false);
	qr_link_publish(&ls, true);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_UP);
}

/* A restart whose start failed leaves the port stopped: STOPPED, which no
 * shard's "link down" or shard 0's publish turns into UP or DOWN (a
 * burst there reaches DPDK's dummies), and which the next restart
 * leaves. */
static void test_stopped(void)
{
	struct qr_link_state ls;
	uint32_t acked = 0;
	qr_link_state_init(&ls, 1);
	qr_link_request_restart(&ls);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_RESTARTING);
	qr_link_restarted(&ls, false, true);
	qr_link_mark_down(&ls);
	qr_link_publish(&ls, true);
	qr_link_publish(&ls, false);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_STOPPED);
	qr_link_request_restart(&ls);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_RESTARTING);
	CU_ASSERT(qr_link_quiescent(&ls));
	qr_link_restarted(&ls, true, false);
	CU_ASSERT(qr_link_seen(&ls, &acked) == QR_LINK_UP);
}

#define SHARDS 4

static struct qr_link_state g_ls;
static atomic_int g_inside;	/* shards inside a "burst" */
static atomic_bool g_restart;	/* the "port" is being restarted */
static atomic_bool g_stop;
static atomic_int g_overlaps;
static atomic_long g_bursts;

static void spin(void)
{
	for (volatile int k = 0; k < 200; k++)
		;
}

static void burst(void)
{
	atomic_fetch_add(&g_inside, 1);
	if (atomic_load(&g_restart))
		atomic_fetch_add(&g_overlaps, 1);
	spin();
	atomic_fetch_sub(&g_inside, 1);
	atomic_fetch_add(&g_bursts, 1);
}

static void *shard_thread(void *arg)
{
	(void)arg;
	uint32_t acked = 0;
	while (!atomic_load(&g_stop))
		if (qr_link_seen(&g_ls, &acked) == QR_LINK_UP)
			burst();
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_threads(void)
{
	pthread_t t[SHARDS];
	qr_link_state_init(&g_ls, SHARDS);
	qr_link_publish(&g_ls, true);
	for (int i = 1; i < SHARDS; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, shard_thread,
					       NULL) == 0);
	uint32_t acked = 0;
	long restarts = 0;
	bool pending = false;
	uint64_t until = now_ms() + 300;
	while (now_ms() < until) { /* shard 0's loop turns */
		enum qr_link_st st = qr_link_seen(&g_ls, &acked);
		if (st == QR_LINK_UP)
			burst();
		if (!pending) {
			qr_link_request_restart(&g_ls);
			pending = true;
		} else if (st == QR_LINK_RESTARTING &&
			   qr_link_quiescent(&g_ls)) {
			atomic_store(&g_restart, true);
			for (int k = 0; k < 20; k++) {
				if (atomic_load(&g_inside))
					atomic_fetch_add(&g_overlaps, 1);
				spin();
			}
			atomic_store(&g_restart, false);
			qr_link_restarted(&g_ls, true, false);
			pending = false;
			restarts++;
		}
	}
	atomic_store(&g_stop, true);
	for (int i = 1; i < SHARDS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT(atomic_load(&g_overlaps) == 0);
	CU_ASSERT(restarts >= 10);
	CU_ASSERT(atomic_load(&g_bursts) >= 10);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"acks: every shard once per generation", test_acks},
		{"transitions: RESTARTING only left by shard 0",
		 test_transitions},
		{"stopped: a failed start stays STOPPED until restarted",
		 test_stopped},
		{"threads: no burst during a restart", test_threads},
		{NULL, NULL},
	};
	return qr_unit_main("linkstate", cases);
}

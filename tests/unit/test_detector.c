/* SPDX-License-Identifier: MIT */
/*
 * Heartbeat failure detector: peers start UP, go SUSPECT at exactly
 * suspect_after_us of silence and DOWN at exactly down_after_us, come back UP
 * the moment they are heard from; self is always UP; every state change is
 * counted; state names.
 */
#include <stdint.h>

#include "core/detector.h"
#include "unit.h"

#define SUSPECT_US 100
#define DOWN_US	   300
#define T0	   1000

static void test_init_all_up(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 5, 2, SUSPECT_US, DOWN_US, T0);
	CU_ASSERT_EQUAL(d.nodes, 5);
	CU_ASSERT_EQUAL(d.self, 2);
	for (uint16_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(qr_detector_state(&d, i), QR_PEER_UP);
		CU_ASSERT_EQUAL(d.peers[i].last_heard_us, T0);
		CU_ASSERT_EQUAL(d.peers[i].transitions, 0);
	}
}

static void test_exact_thresholds_and_recovery(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 3, 0, SUSPECT_US, DOWN_US, T0);
	qr_detector_tick(&d, T0 + SUSPECT_US - 1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	qr_detector_tick(&d, T0 + SUSPECT_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_SUSPECT);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 1);
	qr_detector_tick(&d, T0 + DOWN_US - 1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_SUSPECT);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 1); /* no change, no count */
	qr_detector_tick(&d, T0 + DOWN_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_DOWN);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 2);
	qr_detector_tick(&d, T0 + 10 * DOWN_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_DOWN);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 2);

	/* Heard: UP at once, without waiting for a tick. */
	const uint64_t t1 = T0 + 10 * DOWN_US + 7;
	qr_detector_heard(&d, 1, t1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	CU_ASSERT_EQUAL(d.peers[1].last_heard_us, t1);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 3);
	/* And the silence timer restarted from t1. */
	qr_detector_tick(&d, t1 + SUSPECT_US - 1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	qr_detector_tick(&d, t1 + SUSPECT_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_SUSPECT);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 4);
	/* SUSPECT -> UP by a heartbeat, counted. */
	qr_detector_heard(&d, 1, t1 + SUSPECT_US + 1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 5);
	/* Heard while UP: no transition. */
	qr_detector_heard(&d, 1, t1 + SUSPECT_US + 2);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 5);
}

/* A tick that jumps straight past down_after goes UP -> DOWN: one change. */
static void test_jump_straight_to_down(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 2, 0, SUSPECT_US, DOWN_US, T0);
	qr_detector_tick(&d, T0 + DOWN_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_DOWN);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 1);
}

static void test_peers_independent(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 4, 0, SUSPECT_US, DOWN_US, T0);
	qr_detector_heard(&d, 1, T0 + 250);
	qr_detector_heard(&d, 2, T0 + 150);
	qr_detector_tick(&d, T0 + 300);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);	    /* 50 */
	CU_ASSERT_EQUAL(qr_detector_state(&d, 2), QR_PEER_SUSPECT); /* 150 */
	CU_ASSERT_EQUAL(qr_detector_state(&d, 3), QR_PEER_DOWN);    /* 300 */
	CU_ASSERT_EQUAL(d.peers[1].transitions, 0);
	CU_ASSERT_EQUAL(d.peers[2].transitions, 1);
	CU_ASSERT_EQUAL(d.peers[3].transitions, 1);
}

static void test_self_always_up(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 3, 1, SUSPECT_US, DOWN_US, T0);
	for (uint64_t t = T0; t < T0 + 100 * DOWN_US; t += 37)
		qr_detector_tick(&d, t);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 0);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 0), QR_PEER_DOWN);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 2), QR_PEER_DOWN);
	qr_detector_heard(&d, 1, T0 + 100 * DOWN_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	CU_ASSERT_EQUAL(d.peers[1].transitions, 0);
}

/* A single-node cluster has no peers to lose. */
static void test_single_node(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 1, 0, SUSPECT_US, DOWN_US, T0);
	qr_detector_tick(&d, T0 + 1000 * DOWN_US);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 0), QR_PEER_UP);
	CU_ASSERT_EQUAL(d.peers[0].transitions, 0);
}

/* Times from a batch may be older than the last tick's: no wrap to DOWN, and
 * last_heard never goes back. */
static void test_now_older_than_last_heard(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 2, 0, SUSPECT_US, DOWN_US, T0);
	qr_detector_heard(&d, 1, T0 + 50);
	qr_detector_tick(&d, T0 + 40);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	qr_detector_heard(&d, 1, T0 + 20);
	CU_ASSERT_EQUAL(d.peers[1].last_heard_us, T0 + 50);
	qr_detector_tick(&d, T0 + 50 + SUSPECT_US - 1);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
}

/* If the thresholds cross, DOWN wins. */
static void test_down_wins_when_thresholds_cross(void)
{
	struct qr_detector d;

	qr_detector_init(&d, 2, 0, 500, 300, T0);
	qr_detector_tick(&d, T0 + 299);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_UP);
	qr_detector_tick(&d, T0 + 300);
	CU_ASSERT_EQUAL(qr_detector_state(&d, 1), QR_PEER_DOWN);
}

static void test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(qr_peer_state_name(QR_PEER_UP), "UP");
	CU_ASSERT_STRING_EQUAL(qr_peer_state_name(QR_PEER_SUSPECT), "SUSPECT");
	CU_ASSERT_STRING_EQUAL(qr_peer_state_name(QR_PEER_DOWN), "DOWN");
	CU_ASSERT_STRING_EQUAL(qr_peer_state_name((enum qr_peer_state)9),
			       "UNKNOWN");
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"init: every peer UP, heard now", test_init_all_up},
		{"UP -> SUSPECT -> DOWN -> UP at exact thresholds",
		 test_exact_thresholds_and_recovery},
		{"UP -> DOWN in one tick counts once",
		 test_jump_straight_to_down},
		{"peers are evaluated independently", test_peers_independent},
		{"self is always UP", test_self_always_up},
		{"single node cluster", test_single_node},
		{"now older than last_heard does not wrap",
		 test_now_older_than_last_heard},
		{"DOWN wins when thresholds cross",
		 test_down_wins_when_thresholds_cross},
		{"state names", test_state_names},
		{NULL, NULL},
	};
	return qr_unit_main("detector", cases);
}

/* SPDX-License-Identifier: MIT */
/*
 * src/core/paxos.c: the acceptor's votes (CASPaxos 2.2 with "accepted
 * ballot" = the entry's version), the promise table (a shared slot only
 * over-estimates), the recovered floor, and the change function.
 */
#include <stdio.h>
#include <string.h>

#include "core/paxos.h"
#include "core/wire.h"
#include "quorate/err.h"
#include "unit.h"

static const struct qr_version none = {0, 0};
static const struct qr_version b1 = {100, 1}, b2 = {100, 2}, b3 = {200, 0};

static void test_prepare_votes(void)
{
	struct qr_paxos_table t;
	struct qr_version beat;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 16) == 0);
	struct qr_paxos_slot *s = qr_paxos_slot_of(&t, "k", 1);
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b1, none, &beat),
			QR_PAXOS_GRANT);
	s->promised = b1;
	/* the same ballot again: a retransmission */
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b1, none, &beat),
			QR_PAXOS_AGAIN);
	/* higher node breaks the hlc tie: granted */
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b2, none, &beat),
			QR_PAXOS_GRANT);
	s->promised = b2;
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b1, none, &beat),
			QR_PAXOS_REJECT);
	CU_ASSERT_EQUAL(qr_version_cmp(beat, b2), 0);
	/* an accepted state (entry) at or above the ballot refuses it */
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b3, b3, &beat),
			QR_PAXOS_REJECT);
	CU_ASSERT_EQUAL(qr_version_cmp(beat, b3), 0);
	qr_paxos_table_fini(&t);
}

static void test_accept_votes(void)
{
	struct qr_paxos_table t;
	struct qr_version beat;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 16) == 0);
	struct qr_paxos_slot *s = qr_paxos_slot_of(&t, "k", 1);
	s->promised = b2;
	CU_ASSERT_EQUAL(qr_paxos_accept_vote(&t, s, b1, none, &beat),
			QR_PAXOS_REJECT); /* promised higher */
	CU_ASSERT_EQUAL(qr_paxos_accept_vote(&t, s, b2, none, &beat),
			QR_PAXOS_GRANT); /* the promised ballot itself */
	CU_ASSERT_EQUAL(qr_paxos_accept_vote(&t, s, b2, b2, &beat),
			QR_PAXOS_GRANT); /* the same accept again */
	CU_ASSERT_EQUAL(qr_paxos_accept_vote(&t, s, b2, b3, &beat),
			QR_PAXOS_REJECT); /* a newer plain write */
	CU_ASSERT_EQUAL(qr_version_cmp(beat, b3), 0);
	qr_paxos_table_fini(&t);
}

static void test_recover_and_floor(void)
{
	struct qr_paxos_table t;
	struct qr_version beat;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 16) == 0);
	qr_paxos_recover(&t, "k", 1, b2);
	qr_paxos_recover(&t, "k", 1, b1); /* lower: no change */
	struct qr_paxos_slot *s = qr_paxos_slot_of(&t, "k", 1);
	CU_ASSERT_EQUAL(qr_version_cmp(s->promised, b2), 0);
	CU_ASSERT_EQUAL(s->lsn, 0); /* recovered: durable */
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, s, b1, none, &beat),
			QR_PAXOS_REJECT);
	/* The floor binds every key, even one never seen. */
	qr_paxos_raise_floor(&t, b3);
	struct qr_paxos_slot *o = qr_paxos_slot_of(&t, "other", 5);
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, o, b2, none, &beat),
			QR_PAXOS_REJECT);
	CU_ASSERT_EQUAL(qr_version_cmp(beat, b3), 0);
	CU_ASSERT_EQUAL(qr_version_cmp(qr_paxos_promised(&t, o), b3), 0);
	qr_paxos_table_fini(&t);
}

/* Keys sharing a slot share the highest promise: conservative. */
static void test_shared_slot_only_refuses_more(void)
{
	struct qr_paxos_table t;
	struct qr_version beat;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 1) == 0); /* 1024 slots */
	CU_ASSERT_EQUAL(t.mask, 1023);
	char a[16] = "key-0", b[16];
	struct qr_paxos_slot *sa = qr_paxos_slot_of(&t, a, 5), *sb = NULL;
	for (int i = 1; i < 100000 && !sb; i++) {
		int n = snprintf(b, sizeof(b), "key-%d", i);
		if (qr_paxos_slot_of(&t, b, (uint8_t)n) == sa)
			sb = sa;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(sb);
	sa->promised = b3; /* promised for a */
	CU_ASSERT_EQUAL(qr_paxos_prepare_vote(&t, sb, b2, none, &beat),
			QR_PAXOS_REJECT); /* b's lower ballot: refused */
	qr_paxos_table_fini(&t);
}

/* A state installed below a promise (anti-entropy, read repair, a plain
 * write) is unsure; at or above it, or after an accept, it is not. */
static void test_install_below_promise_is_unsure(void)
{
	struct qr_paxos_table t;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 16) == 0);
	struct qr_paxos_slot *s = qr_paxos_slot_of(&t, "k", 1);
	s->promised = b2;
	qr_paxos_install(&t, s, b3); /* above the promise: fine */
	CU_ASSERT(!qr_paxos_unsure(&t, s, b3));
	qr_paxos_install(&t, s, b1); /* below: the promise is broken */
	CU_ASSERT(qr_paxos_unsure(&t, s, b1));
	CU_ASSERT(!qr_paxos_unsure(&t, s, b3)); /* a later accept is sure */
	/* After a restart every entry up to the recovered HLC is unsure. */
	struct qr_paxos_slot *o = qr_paxos_slot_of(&t, "other", 5);
	CU_ASSERT(!qr_paxos_unsure(&t, o, b2));
	qr_paxos_taint_all(&t, b2);
	CU_ASSERT(qr_paxos_unsure(&t, o, b2));
	CU_ASSERT(!qr_paxos_unsure(&t, o, b3));
	qr_paxos_table_fini(&t);
}

/* The replica's per-write install skips the table only for versions below
 * no promise: promises (granted or recovered) and the floor all count. */
static void test_install_key_marks_what_install_marks(void)
{
	struct qr_paxos_table t;
	CU_ASSERT_FATAL(qr_paxos_table_init(&t, 16) == 0);
	struct qr_paxos_slot *s = qr_paxos_slot_of(&t, "k", 1);
	qr_paxos_install_key(&t, "k", 1, b1); /* no promise anywhere */
	CU_ASSERT(!qr_paxos_unsure(&t, s, b1));
	qr_paxos_promise(&t, s, b2);
	qr_paxos_install_key(&t, "k", 1, b3); /* above it */
	CU_ASSERT(!qr_paxos_unsure(&t, s, b3));
	qr_paxos_install_key(&t, "k", 1, b1); /* below it: marked */
	CU_ASSERT(qr_paxos_unsure(&t, s, b1));
	/* A recovered promise and a raised floor count as well. */
	struct qr_paxos_table u;
	CU_ASSERT_FATAL(qr_paxos_table_init(&u, 16) == 0);
	qr_paxos_recover(&u, "k", 1, b2);
	qr_paxos_install_key(&u, "k", 1, b1);
	CU_ASSERT(qr_paxos_unsure(&u, qr_paxos_slot_of(&u, "k", 1), b1));
	struct qr_paxos_slot *o = qr_paxos_slot_of(&u, "other", 5);
	const struct qr_version b4 = {300, 0}, b5 = {400, 0};
	qr_paxos_raise_floor(&u, b5);
	qr_paxos_install_key(&u, "other", 5, b4);
	CU_ASSERT(qr_paxos_unsure(&u, o, b4));
	CU_ASSERT(!qr_paxos_unsure(&u, o, b5));
	qr_paxos_table_fini(&u);
	qr_paxos_table_fini(&t);
}

static void test_change_function(void)
{
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_LIN_GET, none, true, b1), 0);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_LIN_GET, none, false, b1),
			QR_ENOTFOUND);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_PUT_IF_ABSENT, none, false, b1),
			1); /* a tombstone is absent */
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_PUT_IF_ABSENT, none, true, b1),
			QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_PUT_IF_VERSION, b1, true, b1), 1);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_PUT_IF_VERSION, b1, true, b2),
			QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_PUT_IF_VERSION, b1, false, b1),
			QR_EPRECONDITION); /* deleted at b1: no value to swap */
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_DELETE_IF_VERSION, b2, true, b2),
			1);
	CU_ASSERT_EQUAL(qr_paxos_change(QR_OP_DELETE_IF_VERSION, b2, true, b3),
			QR_EPRECONDITION);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"prepare votes", test_prepare_votes},
		{"accept votes", test_accept_votes},
		{"recovered promises and the floor", test_recover_and_floor},
		{"a shared slot only refuses more",
		 test_shared_slot_only_refuses_more},
		{"installs below a promise are unsure",
		 test_install_below_promise_is_unsure},
		{"install_key marks what install marks",
		 test_install_key_marks_what_install_marks},
		{"change function", test_change_function},
		{NULL, NULL},
	};
	return qr_unit_main("paxos", cases);
}

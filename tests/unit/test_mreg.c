/* SPDX-License-Identifier: MIT */
/*
 * The membership register (src/core/mreg.h): the acceptor's rules (R1),
 * the proposer's majorities and refusals (R2), the value it builds on
 * (R3, ballot 0 included), and the register file's text: a round trip,
 * and every changed byte or non-canonical form refused. The register
 * under faults and racing proposers is the simulator's (checker (r)).
 */
#include <string.h>

#include "core/mreg.h"
#include "quorate/err.h"
#include "unit.h"

#define B(r, i) ((struct qr_mreg_ballot){(r), (i)})

static void test_acceptor_rules(void)
{
	struct qr_mreg_acceptor a = {.value = {1, 7, 0}};
	struct qr_mreg_value v = {2, 7, 0xf};
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(2, 5)), 0);
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(2, 5)), 0); /* resent */
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(2, 4)), QR_ESTALE);
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(1, 9)), QR_ESTALE);
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(1, 9), &v), QR_ESTALE);
	CU_ASSERT_EQUAL(a.value.epoch, 1); /* refused: nothing changed */
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(2, 5), &v), 0);
	CU_ASSERT(qr_mreg_value_eq(&a.value, &v));
	CU_ASSERT_EQUAL(qr_mreg_ballot_cmp(a.accepted, B(2, 5)), 0);
	/* An accept above the promise raises it (R1). */
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(3, 1), &v), 0);
	CU_ASSERT_EQUAL(qr_mreg_ballot_cmp(a.promised, B(3, 1)), 0);
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(2, 9)), QR_ESTALE);
}

static void test_one_value_per_ballot(void)
{
	struct qr_mreg_acceptor a = {0};
	struct qr_mreg_value v = {2, 7, 0xf}, w = {3, 0xf, 0};
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(1, 5), &v), 0);
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(1, 5), &v), 0); /* resent */
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(1, 5), &w), QR_ESTALE);
	CU_ASSERT(qr_mreg_value_eq(&a.value, &v));
}

static void test_lost_state_and_rejoin(void)
{
	struct qr_mreg_acceptor a = {0};
	struct qr_mreg_value v = {4, 0xf, 0}, old = {1, 7, 0};
	qr_mreg_lose(&a, &old);
	CU_ASSERT(qr_mreg_is_lost(&a));
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(9, 1)), QR_EUNAVAILABLE);
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(9, 1), &v), QR_EUNAVAILABLE);
	/* A learn of a chosen value: back, holding it, and promising far
	 * above its ballot (R5): a ballot it may have promised before is
	 * never granted below. */
	CU_ASSERT_EQUAL(qr_mreg_learn(&a, B(9, 1), &v), 0);
	CU_ASSERT_FALSE(qr_mreg_is_lost(&a));
	CU_ASSERT(qr_mreg_value_eq(&a.value, &v));
	CU_ASSERT_EQUAL(qr_mreg_ballot_cmp(a.accepted, B(9, 1)), 0);
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(10, 1)), QR_ESTALE);
	CU_ASSERT_EQUAL(qr_mreg_accept(&a, B(1000, 1), &v), QR_ESTALE);
	CU_ASSERT_EQUAL(qr_mreg_prepare(&a, B(9 + QR_MREG_REJOIN_ROUNDS, 3)),
			0);
	/* A learn on a live acceptor is an accept. */
	struct qr_mreg_acceptor b = {.promised = B(5, 1)};
	CU_ASSERT_EQUAL(qr_mreg_learn(&b, B(4, 1), &v), QR_ESTALE);
	CU_ASSERT_EQUAL(qr_mreg_learn(&b, B(6, 1), &v), 0);
	/* The lost promise survives the file (a restart stays lost). */
	char text[512];
	struct qr_mreg_acceptor c;
	qr_mreg_lose(&a, &old);
	int n = qr_mreg_encode(&a, text, sizeof(text));
	CU_ASSERT(qr_mreg_decode(text, (size_t)n, &c) && qr_mreg_is_lost(&c));
}

static void test_proposer_majority(void)
{
	struct qr_mreg_proposer p = {0};
	struct qr_mreg_value v0 = {1, 7, 0}, v1 = {4, 0xf, 0};
	qr_mreg_begin(&p, 5, 3, 11);
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 0, true, B(0, 0), &v0),
			QR_MREG_PREPARING);
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 0, true, B(0, 0), &v0),
			QR_MREG_PREPARING); /* a repeat counts once */
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 1, true, B(2, 8), &v1),
			QR_MREG_PREPARING);
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 2, true, B(0, 0), &v0),
			QR_MREG_READ); /* 3 of 5 */
	struct qr_mreg_value base = qr_mreg_base(&p);
	CU_ASSERT(qr_mreg_value_eq(&base, &v1)); /* the highest ballot */
	/* Promises after the majority still count until the proposal. */
	struct qr_mreg_value v2 = {5, 0x1f, 0};
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 3, true, B(2, 9), &v2),
			QR_MREG_READ);
	base = qr_mreg_base(&p);
	CU_ASSERT(qr_mreg_value_eq(&base, &v2));
	struct qr_mreg_value next = {5, 0xf, 0x1f};
	qr_mreg_propose(&p, &next);
	CU_ASSERT_EQUAL(qr_mreg_on_accepted(&p, 0, true, B(3, 11)),
			QR_MREG_ACCEPTING);
	CU_ASSERT_EQUAL(qr_mreg_on_accepted(&p, 1, false, B(7, 2)),
			QR_MREG_ACCEPTING);
	CU_ASSERT_EQUAL(qr_mreg_on_accepted(&p, 2, false, B(6, 2)),
			QR_MREG_ACCEPTING);
	/* A third refusal: 3 of 5 can no longer accept. */
	CU_ASSERT_EQUAL(qr_mreg_on_accepted(&p, 3, false, B(6, 3)),
			QR_MREG_RETRY);
	CU_ASSERT_EQUAL(qr_mreg_next_round(&p), 8); /* above 7.2 */
	qr_mreg_begin(&p, 5, 8, 11);
	CU_ASSERT_EQUAL(p.phase, QR_MREG_PREPARING);
	CU_ASSERT_EQUAL(qr_mreg_next_round(&p), 9);
}

static void test_base_from_before_the_register(void)
{
	/* Ballot 0 values are the nodes' topologies from before the
	 * register: the newest (epoch, owners, pending) is built on,
	 * whatever order they answer in. */
	struct qr_mreg_value old = {2, 7, 0}, newer = {3, 0xf, 0};
	struct qr_mreg_proposer p = {0};
	qr_mreg_begin(&p, 3, 1, 5);
	qr_mreg_on_promise(&p, 0, true, B(0, 0), &newer);
	CU_ASSERT_EQUAL(qr_mreg_on_promise(&p, 1, true, B(0, 0), &old),
			QR_MREG_READ);
	struct qr_mreg_value base = qr_mreg_base(&p);
	CU_ASSERT(qr_mreg_value_eq(&base, &newer));
	qr_mreg_begin(&p, 3, 1, 5);
	qr_mreg_on_promise(&p, 0, true, B(0, 0), &old);
	qr_mreg_on_promise(&p, 1, true, B(0, 0), &newer);
	base = qr_mreg_base(&p);
	CU_ASSERT(qr_mreg_value_eq(&base, &newer));
}

static void test_text_round_trip_and_corruption(void)
{
	struct qr_mreg_acceptor a = {B(7, 0xabc), B(6, 0x1234567890abcdefull),
				     {9, 0x3c, 0x7c}},
				b;
	char text[512], bad[512];
	int n = qr_mreg_encode(&a, text, sizeof(text));
	CU_ASSERT_FATAL(n > 0 && n < (int)sizeof(text));
	CU_ASSERT(qr_mreg_decode(text, (size_t)n, &b));
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	/* Every byte changed: refused, or (a digit for a digit) another
	 * canonical text that decodes to other values. */
	for (int i = 0; i < n; i++) {
		memcpy(bad, text, (size_t)n + 1);
		bad[i] = bad[i] == '1' ? '2' : '1';
		if (qr_mreg_decode(bad, (size_t)n, &b))
			CU_ASSERT(memcmp(&a, &b, sizeof(a)) != 0);
	}
	/* Cut short, a byte more, a NUL inside: refused. */
	CU_ASSERT_FALSE(qr_mreg_decode(text, (size_t)n - 1, &b));
	memcpy(bad, text, (size_t)n);
	memcpy(bad + n, "x", 2);
	CU_ASSERT_FALSE(qr_mreg_decode(bad, (size_t)n + 1, &b));
	memcpy(bad, text, (size_t)n + 1);
	bad[10] = '\0';
	CU_ASSERT_FALSE(qr_mreg_decode(bad, (size_t)n, &b));
	struct qr_mreg_ballot bb;
	CU_ASSERT(qr_mreg_ballot_parse("12.00000000000000ff", &bb));
	CU_ASSERT(bb.round == 12 && bb.id == 0xff);
	CU_ASSERT_FALSE(qr_mreg_ballot_parse("12.ff", &bb));
	CU_ASSERT_FALSE(qr_mreg_ballot_parse("-1.00000000000000ff", &bb));
	CU_ASSERT_FALSE(qr_mreg_ballot_parse("12.00000000000000ff ", &bb));
	CU_ASSERT_FALSE(qr_mreg_ballot_parse("012.00000000000000ff", &bb));
	CU_ASSERT_FALSE(qr_mreg_ballot_parse("", &bb));
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"an acceptor's promises and accepts (R1)",
		 test_acceptor_rules},
		{"one value per ballot (R1)", test_one_value_per_ballot},
		{"a lost state, and its way back by a learn (R5)",
		 test_lost_state_and_rejoin},
		{"a proposer's majorities and refusals (R2)",
		 test_proposer_majority},
		{"values from before the register: the newest (R3)",
		 test_base_from_before_the_register},
		{"the register file's text", test_text_round_trip_and_corruption},
		{NULL, NULL},
	};
	return qr_unit_main("mreg", cases);
}

/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's separable parts: the zipf generator draws ranks with the
 * Zipf probabilities (frequencies of the top ranks and a chi-square over
 * all ranks, for theta 0.5, 0.99, 1 and 1.5, n = 1000), stays in range for
 * huge n, and the request table matches replies by id (stale ids miss),
 * keeps its in-flight list in send order and never leaks a slot.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "reqtable.h"
#include "unit.h"
#include "zipf.h"

#define ZN     1000
#define ZDRAWS 2000000

static void check_zipf(double theta)
{
	static uint64_t seen[ZN];
	struct bench_zipf z;
	struct qr_rng r;
	CU_ASSERT_FATAL(bench_zipf_init(&z, ZN, theta) == 0);
	qr_rng_seed(&r, 99);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < ZDRAWS; i++) {
		uint64_t k = bench_zipf_next(&z, &r);
		CU_ASSERT_FATAL(k < ZN);
		seen[k]++;
	}
	double chi2 = 0;
	for (uint64_t k = 0; k < ZN; k++) {
		double want = bench_zipf_pmf(&z, k) * ZDRAWS;
		double d = (double)seen[k] - want;
		chi2 += d * d / want;
		if (k < 10) /* the hot keys: within 4.5 standard deviations */
			CU_ASSERT(fabs(d) < 4.5 * sqrt(want));
	}
	/* 999 degrees of freedom: mean 999, sd ~45; 1200 is > 4 sd. */
	CU_ASSERT(chi2 < 1200);
}

static void test_zipf_theta_0_5(void)
{
	check_zipf(0.5);
}

static void test_zipf_theta_0_99(void)
{
	check_zipf(0.99);
}

static void test_zipf_theta_1(void)
{
	check_zipf(1.0);
}

static void test_zipf_theta_1_5(void)
{
	check_zipf(1.5);
}

static void test_zipf_huge_n_in_range(void)
{
	struct bench_zipf z;
	struct qr_rng r;
	uint64_t n = 1000000000000ull, top = 0;
	CU_ASSERT_FATAL(bench_zipf_init(&z, n, 0.99) == 0);
	qr_rng_seed(&r, 5);
	for (int i = 0; i < 100000; i++) {
		uint64_t k = bench_zipf_next(&z, &r);
		CU_ASSERT(k < n);
		top += k == 0;
	}
	CU_ASSERT(top > 0);
	CU_ASSERT(bench_zipf_init(&z, 0, 0.99) != 0);
	CU_ASSERT(bench_zipf_init(&z, 10, 0) != 0);
}

static void test_reqtable_match_and_order(void)
{
	struct bench_reqtable t;
	CU_ASSERT_FATAL(bench_reqtable_init(&t, 5, 1234) == 0);
	CU_ASSERT_EQUAL(t.cap, 8);
	struct bench_req *r[8];
	uint64_t id[8];
	for (int i = 0; i < 8; i++) {
		r[i] = bench_reqtable_alloc(&t, 100 + (uint64_t)i);
		CU_ASSERT_FATAL(r[i] != NULL);
		id[i] = r[i]->req_id;
		CU_ASSERT(id[i] != 0);
	}
	CU_ASSERT(bench_reqtable_alloc(&t, 200) == NULL); /* full */
	CU_ASSERT_EQUAL(t.used, 8);
	for (int i = 0; i < 8; i++)
		CU_ASSERT(bench_reqtable_find(&t, id[i]) == r[i]);
	/* Done out of order: the oldest is the oldest still in flight. */
	bench_reqtable_release(&t, r[0]);
	bench_reqtable_release(&t, r[3]);
	CU_ASSERT(bench_reqtable_oldest(&t) == r[1]);
	bench_reqtable_release(&t, r[1]);
	CU_ASSERT(bench_reqtable_oldest(&t) == r[2]);
	/* A reply to a finished request misses, also after its slot is
	 * reused by a newer request. */
	CU_ASSERT(bench_reqtable_find(&t, id[0]) == NULL);
	struct bench_req *n = bench_reqtable_alloc(&t, 300);
	CU_ASSERT_FATAL(n != NULL);
	CU_ASSERT(bench_reqtable_find(&t, id[1]) == NULL);
	CU_ASSERT(bench_reqtable_find(&t, id[0]) == NULL);
	CU_ASSERT(bench_reqtable_find(&t, id[3]) == NULL);
	CU_ASSERT(bench_reqtable_find(&t, n->req_id) == n);
	CU_ASSERT(bench_reqtable_find(&t, 0) == NULL);
	/* The newest is the tail: drain oldest-first in send order. */
	uint64_t last = 0;
	int drained = 0;
	struct bench_req *o;
	while ((o = bench_reqtable_oldest(&t))) {
		CU_ASSERT(o->sent_ns >= last);
		last = o->sent_ns;
		bench_reqtable_release(&t, o);
		drained++;
	}
	CU_ASSERT_EQUAL(drained, 6);
	CU_ASSERT_EQUAL(t.used, 0);
	bench_reqtable_fini(&t);
}

/* Random alloc/release for a while: used matches, ids stay unique among
 * those in flight, and every slot comes back. */
static void test_reqtable_random_no_leak(void)
{
	struct bench_reqtable t;
	struct qr_rng r;
	CU_ASSERT_FATAL(bench_reqtable_init(&t, 64, 77) == 0);
	qr_rng_seed(&r, 8);
	uint64_t now = 0;
	for (int i = 0; i < 200000; i++) {
		now++;
		if (qr_rng_below(&r, 2) && t.used < t.cap) {
			CU_ASSERT_FATAL(bench_reqtable_alloc(&t, now) != NULL);
		} else if (t.used) {
			/* a random in-flight one */
			uint32_t s = (uint32_t)qr_rng_below(&r, t.cap);
			while (!t.req[s].req_id)
				s = (s + 1) & (t.cap - 1);
			bench_reqtable_release(&t, &t.req[s]);
		}
		CU_ASSERT_EQUAL_FATAL(t.used + t.free_top, t.cap);
	}
	unsigned in_list = 0;
	for (uint32_t s = t.head; s != BENCH_NIL; s = t.req[s].next)
		in_list++;
	CU_ASSERT_EQUAL(in_list, t.used);
	bench_reqtable_fini(&t);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"zipf theta 0.5 matches the pmf", test_zipf_theta_0_5},
		{"zipf theta 0.99 matches the pmf", test_zipf_theta_0_99},
		{"zipf theta 1 matches the pmf", test_zipf_theta_1},
		{"zipf theta 1.5 matches the pmf", test_zipf_theta_1_5},
		{"zipf n = 10^12 stays in range; bad args refused",
		 test_zipf_huge_n_in_range},
		{"reqtable: match by id, stale ids miss, send order",
		 test_reqtable_match_and_order},
		{"reqtable: random alloc/release, no leak",
		 test_reqtable_random_no_leak},
		{NULL, NULL},
	};
	return qr_unit_main("bench", cases);
}

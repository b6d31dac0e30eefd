/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's separable parts: the zipf generator draws ranks with the
 * Zipf probabilities (frequencies of the top ranks and a chi-square over
 * all ranks, for theta 0.5, 0.99, 1 and 1.5, n = 1000), stays in range for
 * huge n. (The request table is libquorate's: tests/unit/test_client.c.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
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

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"zipf theta 0.5 matches the pmf", test_zipf_theta_0_5},
		{"zipf theta 0.99 matches the pmf", test_zipf_theta_0_99},
		{"zipf theta 1 matches the pmf", test_zipf_theta_1},
		{"zipf theta 1.5 matches the pmf", test_zipf_theta_1_5},
		{"zipf n = 10^12 stays in range; bad args refused",
		 test_zipf_huge_n_in_range},
		{NULL, NULL},
	};
	return qr_unit_main("bench", cases);
}

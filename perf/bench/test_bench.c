/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's separable parts: the zipf generator draws ranks with the
 * Zipf probabilities (frequencies of the top ranks and a chi-square over
 * all ranks, for theta 0.5, 0.99, 1 and 1.5, n = 1000), stays in range for
 * huge n; --value-size specs parse (suffixes, weights, limits, every
 * malformed form refused) and draw each size in proportion to its weight.
 * (The request table is libquorate's: tests/unit/test_client.c.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "unit.h"
#include "vsize.h"
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

static void test_value_sizes(void)
{
	struct bench_vsizes v;
	char buf[160];
	CU_ASSERT_EQUAL(bench_vsizes_parse("64", 1u << 23, &v), 0);
	CU_ASSERT(v.n == 1 && v.size[0] == 64 && v.max == 64);
	bench_vsizes_format(&v, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "64");
	CU_ASSERT_EQUAL(bench_vsizes_parse("64@90,64K@9,1M@1", 1u << 23, &v),
			0);
	CU_ASSERT(v.n == 3 && v.size[1] == 65536 && v.size[2] == 1048576 &&
		  v.weight[0] == 90 && v.total == 100 && v.max == 1048576);
	bench_vsizes_format(&v, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "64@90,65536@9,1048576@1");
	CU_ASSERT(fabs(bench_vsizes_mean(&v) - (64 * 90 + 65536 * 9 +
						1048576.0) / 100) < 1e-6);
	CU_ASSERT_EQUAL(bench_vsizes_parse("0,8M", 1u << 23, &v), 0);
	static const char *const bad[] = {
		"", "x", "64,", ",64", "64@", "64@0", "64@x", "9M", "64k1",
		"-1", "64@1@2", "1,2,3,4,5,6,7,8,9", "64 ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(bench_vsizes_parse(bad[i], 1u << 23, &v), -1);
	/* Draws follow the weights: 90/9/1 over 200,000 draws. */
	struct qr_rng r;
	unsigned seen[3] = {0};
	qr_rng_seed(&r, 7);
	CU_ASSERT_FATAL(bench_vsizes_parse("1@90,2@9,3@1", 10, &v) == 0);
	for (int i = 0; i < 200000; i++) {
		uint32_t s = bench_vsizes_pick(&v, &r);
		CU_ASSERT_FATAL(s >= 1 && s <= 3);
		seen[s - 1]++;
	}
	CU_ASSERT(abs((int)seen[0] - 180000) < 1500);
	CU_ASSERT(abs((int)seen[1] - 18000) < 700);
	CU_ASSERT(abs((int)seen[2] - 2000) < 250);
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
		{"value sizes parse and draw by weight", test_value_sizes},
		{NULL, NULL},
	};
	return qr_unit_main("bench", cases);
}

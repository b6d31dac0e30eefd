/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram (src/common/histogram.h): at most 1% relative error
 * against exact sorted arrays from 100 ns to 60 s, merge == recording into
 * one, percentiles of known distributions, edge cases (empty, one value,
 * zero, values beyond the range clamp and are counted), and the
 * HdrHistogram percentile-distribution text and JSON outputs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/histogram.h"
#include "common/rng.h"
#include "unit.h"

#define N_RANDOM 200000
#define LO_NS	 100ull
#define HI_NS	 60000000000ull /* 60 s */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Log-uniform in [LO_NS, HI_NS]: every decade equally represented. */
static uint64_t log_uniform(struct qr_rng *r)
{
	double u = (double)(qr_rng_next(r) >> 11) / 9007199254740992.0;
	double v = exp(log((double)LO_NS) +
		       u * (log((double)HI_NS) - log((double)LO_NS)));
	return (uint64_t)v;
}

static const double pcts[] = {0,  0.1, 1,    10,    25,	    50, 75,
			      90, 99,  99.9, 99.99, 99.999, 100};

static void check_against_exact(const struct qr_hist *h, uint64_t *vals,
				size_t n)
{
	qsort(vals, n, sizeof(*vals), cmp_u64);
	for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		uint64_t exact = vals[qr_hist_rank(pcts[i], n) - 1];
		uint64_t got = qr_hist_value_at_percentile(h, pcts[i]);
		CU_ASSERT(got >= exact);
		CU_ASSERT((double)(got - exact) <= 0.01 * (double)exact);
	}
	CU_ASSERT_EQUAL(qr_hist_min(h), vals[0]);
	CU_ASSERT_EQUAL(qr_hist_max(h), vals[n - 1]);
}

static void test_relative_error_100ns_to_60s(void)
{
	static uint64_t vals[N_RANDOM];
	static struct qr_hist h;
	struct qr_rng r;
	qr_rng_seed(&r, 42);
	qr_hist_init(&h);
	double sum = 0;
	for (size_t i = 0; i < N_RANDOM; i++) {
		vals[i] = log_uniform(&r);
		qr_hist_record(&h, vals[i]);
		sum += (double)vals[i];
		/* Every value's bucket brackets it within 1/128. */
		unsigned idx = qr_hist_index(vals[i]);
		uint64_t lo = qr_hist_lowest_equivalent(idx);
		uint64_t hi = qr_hist_highest_equivalent(idx);
		CU_ASSERT(lo <= vals[i] && vals[i] <= hi);
		CU_ASSERT((double)(hi - lo) <= (double)vals[i] / 128.0);
	}
	CU_ASSERT_EQUAL(h.count, N_RANDOM);
	CU_ASSERT_EQUAL(h.overflow, 0);
	CU_ASSERT(fabs(qr_hist_mean(&h) - sum / N_RANDOM) <=
		  1e-9 * sum / N_RANDOM);
	check_against_exact(&h, vals, N_RANDOM);
}

/* Every power of two and its neighbours up to the maximum: the bound holds
 * at bucket edges, and indices are contiguous and in range. */
static void test_bucket_edges(void)
{
	for (unsigned b = 0; b < QR_HIST_VALUE_BITS; b++) {
		uint64_t p = 1ull << b;
		uint64_t cand[] = {p - 1, p, p + 1};
		for (unsigned i = 0; i < 3; i++) {
			uint64_t v = cand[i];
			unsigned idx = qr_hist_index(v);
			CU_ASSERT(idx < QR_HIST_COUNTS);
			CU_ASSERT(idx <= qr_hist_index(v + 1)); /* monotonic */
			CU_ASSERT(qr_hist_lowest_equivalent(idx) <= v);
			CU_ASSERT(qr_hist_highest_equivalent(idx) >= v);
			uint64_t width = qr_hist_highest_equivalent(idx) -
					 qr_hist_lowest_equivalent(idx) + 1;
			CU_ASSERT(v < 256 ? width == 1 : width <= v / 128);
		}
	}
	CU_ASSERT_EQUAL(qr_hist_index(QR_HIST_VALUE_MAX), QR_HIST_COUNTS - 1);
	CU_ASSERT_EQUAL(qr_hist_highest_equivalent(QR_HIST_COUNTS - 1),
			QR_HIST_VALUE_MAX);
	/* Consecutive counters cover consecutive value ranges. */
	for (unsigned i = 1; i < QR_HIST_COUNTS; i++)
		CU_ASSERT_EQUAL(qr_hist_lowest_equivalent(i),
				qr_hist_highest_equivalent(i - 1) + 1);
}

static void test_merge_equals_recording_into_one(void)
{
	static struct qr_hist part[4], one, merged;
	struct qr_rng r;
	qr_rng_seed(&r, 7);
	qr_hist_init(&one);
	qr_hist_init(&merged);
	for (int i = 0; i < 4; i++)
		qr_hist_init(&part[i]);
	for (int i = 0; i < 100000; i++) {
		uint64_t v = log_uniform(&r);
		if (i % 1000 == 0)
			v = 1000 * HI_NS; /* a few overflows too */
		qr_hist_record(&one, v);
		qr_hist_record(&part[qr_rng_below(&r, 3)], v); /* 3 stays 0 */
	}
	for (int i = 0; i < 4; i++)
		qr_hist_merge(&merged, &part[i]);
	CU_ASSERT_EQUAL(memcmp(&one, &merged, sizeof(one)), 0);
	CU_ASSERT_EQUAL(merged.overflow, 100);
	/* Merging an empty one changes nothing, min included. */
	qr_hist_merge(&merged, &part[3]);
	CU_ASSERT_EQUAL(memcmp(&one, &merged, sizeof(one)), 0);
}

static void test_known_distributions(void)
{
	static struct qr_hist h;
	/* 1..100 ns: exact below 256 ns. */
	qr_hist_init(&h);
	for (uint64_t v = 1; v <= 100; v++)
		qr_hist_record(&h, v);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 50), 50);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 90), 90);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 99), 99);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 99.9), 100);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 0), 1);
	CU_ASSERT_EQUAL(qr_hist_min(&h), 1);
	CU_ASSERT_EQUAL(qr_hist_max(&h), 100);
	CU_ASSERT_DOUBLE_EQUAL(qr_hist_mean(&h), 50.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(qr_hist_stddev(&h), sqrt((100.0 * 100 - 1) / 12),
			       1e-6);

	/* 99% at 1 us, 1% at 1 s: the tail sits exactly at the 99th. */
	qr_hist_init(&h);
	for (int i = 0; i < 9900; i++)
		qr_hist_record(&h, 1000);
	for (int i = 0; i < 100; i++)
		qr_hist_record(&h, 1000000000);
	uint64_t p99 = qr_hist_value_at_percentile(&h, 99);
	uint64_t p991 = qr_hist_value_at_percentile(&h, 99.01);
	CU_ASSERT(p99 >= 1000 && p99 <= 1008);
	CU_ASSERT_EQUAL(p991, 1000000000); /* clamped to the max seen */

	/* Exponential, mean 100 us: p50 = ln 2 * mean, p99 = ln 100 * mean,
	 * within sampling noise (1e6 samples) plus the 1% bound. */
	struct qr_rng r;
	qr_rng_seed(&r, 3);
	qr_hist_init(&h);
	for (int i = 0; i < 1000000; i++) {
		double u = ((double)(qr_rng_next(&r) >> 11) + 1) /
			   9007199254740993.0;
		qr_hist_record(&h, (uint64_t)(-log(u) * 100000.0));
	}
	double p50 = (double)qr_hist_value_at_percentile(&h, 50);
	double p99e = (double)qr_hist_value_at_percentile(&h, 99);
	CU_ASSERT(fabs(p50 / (log(2.0) * 100000.0) - 1) < 0.02);
	CU_ASSERT(fabs(p99e / (log(100.0) * 100000.0) - 1) < 0.03);
	CU_ASSERT(fabs(qr_hist_mean(&h) / 100000.0 - 1) < 0.01);
	CU_ASSERT(fabs(qr_hist_stddev(&h) / 100000.0 - 1) < 0.02);
}

static void test_empty(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	CU_ASSERT_EQUAL(h.count, 0);
	CU_ASSERT_EQUAL(qr_hist_min(&h), 0);
	CU_ASSERT_EQUAL(qr_hist_max(&h), 0);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 50), 0);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 100), 0);
	CU_ASSERT_DOUBLE_EQUAL(qr_hist_mean(&h), 0, 0);
	CU_ASSERT_DOUBLE_EQUAL(qr_hist_stddev(&h), 0, 0);
	struct qr_hist_percentile_iter it;
	qr_hist_percentile_iter_init(&it, &h, 5);
	CU_ASSERT_EQUAL(qr_hist_percentile_iter_next(&it), 0);
}

static void test_one_value_and_zero(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	qr_hist_record(&h, 123456789);
	for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, pcts[i]),
				123456789);
	CU_ASSERT_DOUBLE_EQUAL(qr_hist_stddev(&h), 0, 0);
	qr_hist_init(&h);
	qr_hist_record(&h, 0);
	CU_ASSERT_EQUAL(h.count, 1);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 100), 0);
	CU_ASSERT_EQUAL(qr_hist_min(&h), 0);
}

static void test_beyond_range_clamps_and_counts(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	qr_hist_record(&h, 1000);
	qr_hist_record(&h, QR_HIST_VALUE_MAX);	   /* in range */
	qr_hist_record(&h, QR_HIST_VALUE_MAX + 1); /* beyond */
	qr_hist_record(&h, UINT64_MAX);		   /* far beyond */
	CU_ASSERT_EQUAL(h.count, 4);
	CU_ASSERT_EQUAL(h.overflow, 2);
	CU_ASSERT_EQUAL(qr_hist_max(&h), QR_HIST_VALUE_MAX);
	CU_ASSERT_EQUAL(h.counts[QR_HIST_COUNTS - 1], 3);
	CU_ASSERT_EQUAL(qr_hist_value_at_percentile(&h, 100),
			QR_HIST_VALUE_MAX);
	uint64_t p25 = qr_hist_value_at_percentile(&h, 25);
	CU_ASSERT(p25 >= 1000 && p25 <= 1007); /* its bucket's highest */
	CU_ASSERT_EQUAL(h.sum_ns, 1000 + 3 * QR_HIST_VALUE_MAX);
}

/* The Java HdrHistogram text layout: header, lines with 4 columns and
 * non-decreasing values and percentiles, a last line at 1.0 with 3
 * columns, the 3-line footer. */
static void test_hdr_text_format(void)
{
	static struct qr_hist h;
	struct qr_rng r;
	qr_rng_seed(&r, 11);
	qr_hist_init(&h);
	for (int i = 0; i < 10000; i++)
		qr_hist_record(&h, 1000 + qr_rng_below(&r, 1000000));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(qr_hist_write_hdr(&h, f, 1000.0, 5, 3), 0);
	fclose(f);
	const char *head = "       Value     Percentile TotalCount "
			   "1/(1-Percentile)\n\n";
	CU_ASSERT_EQUAL(strncmp(buf, head, strlen(head)), 0);
	char *line = buf + strlen(head), *next;
	double last_v = -1, last_p = -1;
	int lines = 0, last_line_cols = 0;
	uint64_t last_count = 0;
	for (; *line && *line != '#'; line = next + 1) {
		next = strchr(line, '\n');
		CU_ASSERT_FATAL(next != NULL);
		*next = 0;
		double v, p, inv;
		unsigned long long c;
		int cols = sscanf(line, "%lf %lf %llu %lf", &v, &p, &c, &inv);
		CU_ASSERT(cols == 4 || cols == 3);
		CU_ASSERT(v >= last_v && p >= last_p);
		if (cols == 4)
			CU_ASSERT(fabs(inv - 1 / (1 - p)) <= 0.01 * inv + 0.01);
		last_v = v;
		last_p = p;
		last_count = c;
		last_line_cols = cols;
		lines++;
	}
	CU_ASSERT(lines > 40);
	CU_ASSERT_EQUAL(last_line_cols, 3);
	CU_ASSERT_DOUBLE_EQUAL(last_p, 1.0, 0);
	CU_ASSERT_EQUAL(last_count, 10000);
	CU_ASSERT_DOUBLE_EQUAL(last_v, (double)qr_hist_max(&h) / 1000.0, 1e-3);
	CU_ASSERT(strncmp(line, "#[Mean    = ", 12) == 0);
	CU_ASSERT(strstr(line, ", StdDeviation   = ") != NULL);
	CU_ASSERT(strstr(line, "#[Max     = ") != NULL);
	CU_ASSERT(strstr(line, "Total count    =        10000]") != NULL);
	CU_ASSERT(strstr(line, "#[Buckets = ") != NULL);
	free(buf);
}

static void test_json_summary(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	for (uint64_t v = 1; v <= 100; v++)
		qr_hist_record(&h, v);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_FATAL(f != NULL);
	qr_hist_write_json(&h, f);
	fclose(f);
	CU_ASSERT(strstr(buf, "{\"count\":100,\"overflow\":0,\"min_ns\":1,") ==
		  buf);
	CU_ASSERT(strstr(buf, "\"p50_ns\":50,\"p90_ns\":90,\"p99_ns\":99,"
			      "\"p99_9_ns\":100,\"p99_99_ns\":100,"
			      "\"max_ns\":100}") != NULL);
	free(buf);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"relative error <= 1% from 100 ns to 60 s",
		 test_relative_error_100ns_to_60s},
		{"bucket edges: contiguous, bounded", test_bucket_edges},
		{"merge == recording into one",
		 test_merge_equals_recording_into_one},
		{"percentiles of known distributions",
		 test_known_distributions},
		{"empty histogram", test_empty},
		{"one value, and zero", test_one_value_and_zero},
		{"beyond the range: clamped and counted",
		 test_beyond_range_clamps_and_counts},
		{"HdrHistogram percentile distribution text",
		 test_hdr_text_format},
		{"JSON summary", test_json_summary},
		{NULL, NULL},
	};
	return qr_unit_main("histogram", cases);
}

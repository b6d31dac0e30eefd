/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text writer (src/common/prom.h): exact lines for counters and
 * gauges with labels, escaping of label values and HELP text, name checks,
 * special floats, histograms as cumulative buckets (+Inf == _count, _sum in
 * seconds, a value on a bound counted under it), and bounds: at every
 * buffer size the output is a whole-line prefix of the full output and the
 * error is NO_SPACE.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"
#include "quorate/err.h"
#include "unit.h"

static char buf[65536];

static void test_counter_and_gauge_lines(void)
{
	struct qr_prom w;
	qr_prom_init(&w, buf, sizeof(buf));
	struct qr_prom_label l[] = {{"op", "put"}, {"result", "ok"}};
	CU_ASSERT_EQUAL(qr_prom_family(&w, "quorate_ops_total",
				       "Client operations.", QR_PROM_COUNTER),
			0);
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "quorate_ops_total", l, 2, 42), 0);
	CU_ASSERT_EQUAL(qr_prom_family(&w, "quorate_up", NULL, QR_PROM_GAUGE),
			0);
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "quorate_up", NULL, 0, 1), 0);
	const char *want = "# HELP quorate_ops_total Client operations.\n"
			   "# TYPE quorate_ops_total counter\n"
			   "quorate_ops_total{op=\"put\",result=\"ok\"} 42\n"
			   "# TYPE quorate_up gauge\n"
			   "quorate_up 1\n";
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(qr_prom_finish(&w), (long)strlen(want));
}

static void test_escaping(void)
{
	struct qr_prom w;
	qr_prom_init(&w, buf, sizeof(buf));
	struct qr_prom_label l[] = {{"profile", "a\\b\"c\nd"}};
	qr_prom_family(&w, "x", "help with \\ and\nnewline", QR_PROM_GAUGE);
	qr_prom_u64(&w, "x", l, 1, 7);
	CU_ASSERT_STRING_EQUAL(buf, "# HELP x help with \\\\ and\\nnewline\n"
				    "# TYPE x gauge\n"
				    "x{profile=\"a\\\\b\\\"c\\nd\"} 7\n");
	CU_ASSERT(qr_prom_finish(&w) > 0);
}

static void test_bad_names_are_einval(void)
{
	struct qr_prom w;
	const char *bad[] = {"", "1abc", "a-b", "a b", "é"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		qr_prom_init(&w, buf, sizeof(buf));
		CU_ASSERT_EQUAL(qr_prom_u64(&w, bad[i], NULL, 0, 1), QR_EINVAL);
		CU_ASSERT_EQUAL(buf[0], '\0');
		CU_ASSERT_EQUAL(qr_prom_finish(&w), QR_EINVAL);
	}
	struct qr_prom_label colon[] = {{"a:b", "v"}};
	struct qr_prom_label le[] = {{"le", "1"}};
	struct qr_prom_label nullv[] = {{"a", NULL}};
	qr_prom_init(&w, buf, sizeof(buf));
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "ok:name_1", NULL, 0, 1), 0);
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "m", colon, 1, 1), QR_EINVAL);
	CU_ASSERT_STRING_EQUAL(buf, "ok:name_1 1\n"); /* the bad line cut */
	qr_prom_init(&w, buf, sizeof(buf));
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "m", le, 1, 1), QR_EINVAL);
	qr_prom_init(&w, buf, sizeof(buf));
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "m", nullv, 1, 1), QR_EINVAL);
	qr_prom_init(&w, buf, sizeof(buf));
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "m", NULL, 2, 1), QR_EINVAL);
	/* Sticky: nothing is written after the first error. */
	CU_ASSERT_EQUAL(qr_prom_u64(&w, "fine", NULL, 0, 1), QR_EINVAL);
	CU_ASSERT_EQUAL(buf[0], '\0');
}

static void test_special_doubles(void)
{
	struct qr_prom w;
	qr_prom_init(&w, buf, sizeof(buf));
	qr_prom_double(&w, "a", NULL, 0, NAN);
	qr_prom_double(&w, "b", NULL, 0, INFINITY);
	qr_prom_double(&w, "c", NULL, 0, -INFINITY);
	qr_prom_double(&w, "d", NULL, 0, 0.25);
	CU_ASSERT_STRING_EQUAL(buf, "a NaN\nb +Inf\nc -Inf\nd 0.25\n");
}

/* Find the value on the line that starts with `prefix`; -1 if absent. */
static double line_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static void test_histogram_buckets(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	qr_hist_record(&h, 500);	 /* 0.5 us */
	qr_hist_record(&h, 1000);	 /* exactly on the 1 us bound */
	qr_hist_record(&h, 1500);	 /* 1.5 us */
	qr_hist_record(&h, 3000000);	 /* 3 ms */
	qr_hist_record(&h, 20000000000); /* 20 s: above every bound */
	struct qr_prom w;
	qr_prom_init(&w, buf, sizeof(buf));
	struct qr_prom_label l[] = {{"op", "get"}};
	qr_prom_family(&w, "lat_seconds", "Latency.", QR_PROM_HISTOGRAM);
	CU_ASSERT_EQUAL(qr_prom_hist(&w, "lat_seconds", l, 1, &h, NULL, 0), 0);
	CU_ASSERT(qr_prom_finish(&w) > 0);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"1e-06\"}"),
		2);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"2e-06\"}"),
		3);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"0.002\"}"),
		3);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"0.005\"}"),
		4);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"10\"}"), 4);
	CU_ASSERT_EQUAL(
		line_value(buf, "lat_seconds_bucket{op=\"get\",le=\"+Inf\"}"),
		5);
	CU_ASSERT_EQUAL(line_value(buf, "lat_seconds_count{op=\"get\"}"), 5);
	double sum = line_value(buf, "lat_seconds_sum{op=\"get\"}");
	CU_ASSERT(fabs(sum - 20.003003) < 1e-9);
	/* One bucket line per bound plus +Inf, and cumulative counts. */
	unsigned lines = 0;
	double prev = 0;
	for (const char *p = strstr(buf, "_bucket"); p;
	     p = strstr(p + 1, "_bucket")) {
		double v = strtod(strchr(p, ' ') + 1, NULL);
		CU_ASSERT(v >= prev);
		prev = v;
		lines++;
	}
	CU_ASSERT_EQUAL(lines, qr_prom_latency_bounds_n + 1);
}

static void test_histogram_bounds_must_ascend(void)
{
	static struct qr_hist h;
	qr_hist_init(&h);
	const uint64_t bounds[] = {1000, 1000};
	struct qr_prom w;
	qr_prom_init(&w, buf, sizeof(buf));
	CU_ASSERT_EQUAL(qr_prom_hist(&w, "h", NULL, 0, &h, bounds, 2),
			QR_EINVAL);
	CU_ASSERT_EQUAL(buf[0], '\0');
}

/* Every capacity: a whole-line prefix of the full text, and NO_SPACE. */
static void test_bounds_every_capacity(void)
{
	static struct qr_hist h;
	static char full[8192], small[8192];
	qr_hist_init(&h);
	qr_hist_record(&h, 12345);
	struct qr_prom_label l[] = {{"peer", "2"}};
	struct qr_prom w;
	size_t cap = sizeof(full); /* pass 0 measures, pass 1 tries all */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t c = pass ? 1 : cap; c <= cap; c++) {
			char *b = pass ? small : full;
			qr_prom_init(&w, b, c);
			qr_prom_family(&w, "g", "G.", QR_PROM_GAUGE);
			qr_prom_u64(&w, "g", l, 1, 99);
			qr_prom_family(&w, "h", "H.", QR_PROM_HISTOGRAM);
			qr_prom_hist(&w, "h", l, 1, &h, NULL, 0);
			long n = qr_prom_finish(&w);
			if (!pass) {
				CU_ASSERT(n > 0);
				cap = (size_t)n + 1;
				break;
			}
			if (c == cap) {
				CU_ASSERT_STRING_EQUAL(small, full);
				CU_ASSERT_EQUAL(n, (long)cap - 1);
				continue;
			}
			CU_ASSERT_EQUAL(n, QR_ENOSPC);
			size_t got = strlen(small);
			CU_ASSERT(got < c);
			CU_ASSERT(strncmp(small, full, got) == 0);
			CU_ASSERT(got == 0 || small[got - 1] == '\n');
		}
	}
	qr_prom_init(&w, NULL, 0);
	CU_ASSERT_EQUAL(qr_prom_finish(&w), QR_ENOSPC);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"counter_and_gauge_lines", test_counter_and_gauge_lines},
		{"escaping", test_escaping},
		{"bad_names_are_einval", test_bad_names_are_einval},
		{"special_doubles", test_special_doubles},
		{"histogram_buckets", test_histogram_buckets},
		{"histogram_bounds_must_ascend",
		 test_histogram_bounds_must_ascend},
		{"bounds_every_capacity", test_bounds_every_capacity},
		{NULL, NULL},
	};
	return qr_unit_main("prom", cases);
}

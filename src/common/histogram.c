/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram (histogram.h has the layout and the error
 * bound). Invariants: count == sum of counts[] (overflowed values sit in the
 * last bucket); min_ns <= max_ns when count > 0; every reported value lies
 * in [min_ns, max_ns].
 */
#include "common/histogram.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "common/compiler.h"

_Static_assert(QR_HIST_COUNTS == 3840, "30 KiB of counters");
_Static_assert(QR_HIST_VALUE_BITS <= 36, "sum_ns holds 2^28 maximal values");

void qr_hist_init(struct qr_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

void qr_hist_reset(struct qr_hist *h)
{
	qr_hist_init(h);
}

void qr_hist_merge(struct qr_hist *dst, const struct qr_hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < QR_HIST_COUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->overflow += src->overflow;
	dst->sum_ns += src->sum_ns;
	dst->min_ns = QR_MIN(dst->min_ns, src->min_ns);
	dst->max_ns = QR_MAX(dst->max_ns, src->max_ns);
}

static unsigned index_shift(unsigned index)
{
	unsigned b = index >> QR_HIST_SUB_BITS;
	return b ? b - 1 : 0;
}

uint64_t qr_hist_lowest_equivalent(unsigned index)
{
	QR_ASSERT(index < QR_HIST_COUNTS);
	unsigned shift = index_shift(index);
	uint64_t sub = index - (shift << QR_HIST_SUB_BITS);
	return sub << shift;
}

uint64_t qr_hist_highest_equivalent(unsigned index)
{
	return qr_hist_lowest_equivalent(index) +
	       ((uint64_t)1 << index_shift(index)) - 1;
}

uint64_t qr_hist_min(const struct qr_hist *h)
{
	return h->count ? h->min_ns : 0;
}

uint64_t qr_hist_max(const struct qr_hist *h)
{
	return h->count ? h->max_ns : 0;
}

double qr_hist_mean(const struct qr_hist *h)
{
	return h->count ? (double)h->sum_ns / (double)h->count : 0.0;
}

static uint64_t clamp_seen(const struct qr_hist *h, uint64_t v)
{
	return QR_MAX(QR_MIN(v, h->max_ns), h->min_ns);
}

double qr_hist_stddev(const struct qr_hist *h)
{
	if (!h->count)
		return 0.0;
	double mean = qr_hist_mean(h), acc = 0.0;
	for (unsigned i = 0; i < QR_HIST_COUNTS; i++) {
		if (!h->counts[i])
			continue;
		uint64_t lo = qr_hist_lowest_equivalent(i);
		uint64_t mid =
			lo + ((qr_hist_highest_equivalent(i) - lo + 1) >> 1);
		double d = (double)clamp_seen(h, mid) - mean;
		acc += d * d * (double)h->counts[i];
	}
	return sqrt(acc / (double)h->count);
}

uint64_t qr_hist_rank(double p, uint64_t count)
{
	if (!count)
		return 0;
	if (!(p > 0.0))
		return 1;
	if (p >= 100.0)
		return count;
	double x = p / 100.0 * (double)count;
	uint64_t r = (uint64_t)x;
	/* ceil(x), but 999.0000000001 (rounding of 99.9% of 1000) is 999. */
	if ((double)r < x - 1e-7 * QR_MAX(1.0, x))
		r++;
	return QR_MAX(QR_MIN(r, count), (uint64_t)1);
}

uint64_t qr_hist_value_at_percentile(const struct qr_hist *h, double p)
{
	uint64_t rank = qr_hist_rank(p, h->count), seen = 0;
	if (!rank)
		return 0;
	for (unsigned i = 0; i < QR_HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			return clamp_seen(h, qr_hist_highest_equivalent(i));
	}
	QR_ASSERT(0); /* count == sum of counts[] */
	return 0;
}

void qr_hist_percentile_iter_init(struct qr_hist_percentile_iter *it,
				  const struct qr_hist *h,
				  unsigned ticks_per_half)
{
	memset(it, 0, sizeof(*it));
	it->h = h;
	it->index = -1;
	it->ticks_per_half = ticks_per_half ? ticks_per_half : 5;
}

/* Move to the next counter: 0 at the end of the data. */
static int iter_step(struct qr_hist_percentile_iter *it)
{
	if (it->cumulative >= it->h->count ||
	    it->index + 1 >= (int)QR_HIST_COUNTS)
		return 0;
	it->index++;
	it->cumulative += it->h->counts[it->index];
	return 1;
}

/*
 * HdrHistogram's PercentileIterator: report the first counter whose
 * cumulative percentile reaches the level, then move the level on by
 * 100 / (ticks_per_half * 2^(floor(log2(100 / (100 - level))) + 1)): the
 * steps halve each time the distance to 100% halves.
 */
int qr_hist_percentile_iter_next(struct qr_hist_percentile_iter *it)
{
	const struct qr_hist *h = it->h;
	if (!h->count || it->seen_last)
		return 0;
	if (it->cumulative >= h->count && it->index >= 0) {
		it->seen_last = true;
		it->percentile = 100.0;
		it->total_count = it->cumulative;
		return 1; /* value_ns stays: the last counter's */
	}
	if (it->index < 0 && !iter_step(it))
		return 0;
	do {
		double cur = 100.0 * (double)it->cumulative / (double)h->count;
		if (h->counts[it->index] && it->next_percentile <= cur) {
			it->value_ns =
				clamp_seen(h, qr_hist_highest_equivalent(
						      (unsigned)it->index));
			it->percentile = it->next_percentile;
			it->total_count = it->cumulative;
			double left = 100.0 - it->next_percentile;
			int halvings =
				left > 0 ? (int)(log2(100.0 / left)) + 1 : 62;
			if (halvings > 62)
				halvings = 62;
			double ticks = (double)it->ticks_per_half *
				       ldexp(1.0, halvings);
			it->next_percentile += 100.0 / ticks;
			return 1;
		}
	} while (iter_step(it));
	return 1;
}

int qr_hist_write_hdr(const struct qr_hist *h, FILE *f, double unit_ns,
		      unsigned ticks_per_half, unsigned decimals)
{
	struct qr_hist_percentile_iter it;
	int d = (int)QR_MIN(decimals, 9u);
	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile",
		"TotalCount", "1/(1-Percentile)");
	qr_hist_percentile_iter_init(&it, h, ticks_per_half);
	while (qr_hist_percentile_iter_next(&it)) {
		double v = (double)it.value_ns / unit_ns;
		double q = it.percentile / 100.0;
		if (it.percentile < 100.0)
			fprintf(f, "%12.*f %2.12f %10" PRIu64 " %14.2f\n", d, v,
				q, it.total_count, 1.0 / (1.0 - q));
		else
			fprintf(f, "%12.*f %2.12f %10" PRIu64 "\n", d, v, q,
				it.total_count);
	}
	fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", d,
		qr_hist_mean(h) / unit_ns, d, qr_hist_stddev(h) / unit_ns);
	fprintf(f, "#[Max     = %12.*f, Total count    = %12" PRIu64 "]\n", d,
		(double)qr_hist_max(h) / unit_ns, h->count);
	fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n",
		QR_HIST_BUCKETS, 2 * QR_HIST_SUB_HALF);
	if (fflush(f) || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

void qr_hist_write_json(const struct qr_hist *h, FILE *f)
{
	fprintf(f,
		"{\"count\":%" PRIu64 ",\"overflow\":%" PRIu64
		",\"min_ns\":%" PRIu64 ",\"mean_ns\":%.1f,\"stddev_ns\":%.1f",
		h->count, h->overflow, qr_hist_min(h), qr_hist_mean(h),
		qr_hist_stddev(h));
	static const struct {
		const char *name;
		double p;
	} pct[] = {{"p50_ns", 50},
		   {"p90_ns", 90},
		   {"p99_ns", 99},
		   {"p99_9_ns", 99.9},
		   {"p99_99_ns", 99.99}};
	for (unsigned i = 0; i < QR_ARRAY_LEN(pct); i++)
		fprintf(f, ",\"%s\":%" PRIu64, pct[i].name,
			qr_hist_value_at_percentile(h, pct[i].p));
	fprintf(f, ",\"max_ns\":%" PRIu64 "}", qr_hist_max(h));
}

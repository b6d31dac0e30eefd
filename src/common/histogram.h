/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram: log-linear buckets over nanoseconds, HdrHistogram's
 * layout with 256 sub-buckets per power of two (the lower half shared with
 * the power below), so:
 *
 *   value v < 256 ns          counted exactly (bucket width 1 ns);
 *   v in [2^k * 128, 2^k*256) bucket width 2^k: relative error < 1/128
 *                             (0.78%) for every v >= 128 ns;
 *   v > QR_HIST_VALUE_MAX     (2^36 - 1 ns, 68.7 s) clamped to it and
 *                             counted in `overflow` as well as in `count`.
 *
 * Every array is fixed size (QR_HIST_COUNTS counters, 30 KiB): no
 * allocation, ever; a histogram is a plain struct the caller owns.
 * Recording is a clz, a shift and an add. Histograms of different threads
 * merge exactly (merge == recording everything into one).
 *
 * Percentiles use the nearest-rank definition: value_at_percentile(p) is the
 * highest value equivalent to the rank-ceil(p/100 * count) sample, clamped
 * to [min, max]; so it is within 1/128 of the exact sorted-array answer
 * (never below it). The HDR text output is the format HdrHistogram's
 * outputPercentileDistribution() writes (the Java layout: "Value Percentile
 * TotalCount 1/(1-Percentile)" lines, a `#[Mean = ..., StdDeviation = ...]`
 * footer), so HdrHistogram's plotting tools read it.
 *
 * Not thread-safe: one histogram per thread, merged at the end.
 */
#ifndef QR_COMMON_HISTOGRAM_H
#define QR_COMMON_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define QR_HIST_SUB_BITS   7 /* 128 linear steps per half power of two */
#define QR_HIST_SUB_HALF   (1u << QR_HIST_SUB_BITS)
#define QR_HIST_VALUE_BITS 36 /* values up to 2^36 - 1 ns (68.7 s) */
#define QR_HIST_VALUE_MAX  ((1ull << QR_HIST_VALUE_BITS) - 1)
#define QR_HIST_BUCKETS	   (QR_HIST_VALUE_BITS - QR_HIST_SUB_BITS)    /* 29 */
#define QR_HIST_COUNTS	   ((QR_HIST_BUCKETS + 1) * QR_HIST_SUB_HALF) /* 3840 */

struct qr_hist {
	uint64_t count;	   /* values recorded (overflowed ones included) */
	uint64_t overflow; /* of which were > QR_HIST_VALUE_MAX (clamped) */
	uint64_t sum_ns;   /* exact sum of the (clamped) values */
	uint64_t min_ns;   /* UINT64_MAX while empty */
	uint64_t max_ns;   /* 0 while empty */
	uint64_t counts[QR_HIST_COUNTS];
};

/* Counter index of a value (already clamped to QR_HIST_VALUE_MAX). */
static inline unsigned qr_hist_index(uint64_t v)
{
	if (v < 2 * QR_HIST_SUB_HALF)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
	unsigned shift = msb - QR_HIST_SUB_BITS;	   /* >= 1 */
	return (shift << QR_HIST_SUB_BITS) + (unsigned)(v >> shift);
}

/* Record one value in ns. Cost: ~2 ns (clz, shift, 5 updates). */
static inline void qr_hist_record(struct qr_hist *h, uint64_t v_ns)
{
	if (__builtin_expect(v_ns > QR_HIST_VALUE_MAX, 0)) {
		v_ns = QR_HIST_VALUE_MAX;
		h->overflow++;
	}
	h->counts[qr_hist_index(v_ns)]++;
	h->count++;
	h->sum_ns += v_ns;
	if (v_ns < h->min_ns)
		h->min_ns = v_ns;
	if (v_ns > h->max_ns)
		h->max_ns = v_ns;
}

/* Empty the histogram (a 30 KiB memset). */
void qr_hist_init(struct qr_hist *h);
void qr_hist_reset(struct qr_hist *h);
/* dst += src: afterwards dst is what recording both would have given. */
void qr_hist_merge(struct qr_hist *dst, const struct qr_hist *src);

/* Lowest and highest value counted at a counter index. */
uint64_t qr_hist_lowest_equivalent(unsigned index);
uint64_t qr_hist_highest_equivalent(unsigned index);

/* 0 for an empty histogram. */
uint64_t qr_hist_min(const struct qr_hist *h);
uint64_t qr_hist_max(const struct qr_hist *h);
double qr_hist_mean(const struct qr_hist *h);
/* Standard deviation from the bucket midpoints (as HdrHistogram does). */
double qr_hist_stddev(const struct qr_hist *h);
/* p in [0, 100]; 0 for an empty histogram (see the top for the rule). */
uint64_t qr_hist_value_at_percentile(const struct qr_hist *h, double p);
/* The nearest rank, 1..count, of percentile p among count values. */
uint64_t qr_hist_rank(double p, uint64_t count);

/*
 * HdrHistogram's percentile iteration: steps of 1/(2 * ticks_per_half) of
 * the distance left to 100% (ticks_per_half 5 gives HdrHistogram's usual
 * output), then a last line at 100%.
 */
struct qr_hist_percentile_iter {
	const struct qr_hist *h;
	int index;		/* counter index, -1 before the first */
	uint64_t cumulative;	/* values up to and including index */
	double next_percentile; /* the level to report next */
	unsigned ticks_per_half;
	bool seen_last;
	/* out */
	uint64_t value_ns;    /* highest equivalent value, clamped to max */
	double percentile;    /* 0..100 */
	uint64_t total_count; /* cumulative count at value */
};
void qr_hist_percentile_iter_init(struct qr_hist_percentile_iter *it,
				  const struct qr_hist *h,
				  unsigned ticks_per_half);
/* 1 with the next line in it->value_ns/percentile/total_count, 0 at end. */
int qr_hist_percentile_iter_next(struct qr_hist_percentile_iter *it);

/*
 * Write the HdrHistogram percentile distribution text: values divided by
 * unit_ns (1000: microseconds), `decimals` digits after the point
 * (HdrHistogram prints its significant-digit count here, usually 3).
 * 0, or -errno of the write.
 */
int qr_hist_write_hdr(const struct qr_hist *h, FILE *f, double unit_ns,
		      unsigned ticks_per_half, unsigned decimals);

/*
 * Write a JSON object (no trailing newline):
 * {"count":N,"overflow":N,"min_ns":N,"mean_ns":F,"stddev_ns":F,
 *  "p50_ns":N,"p90_ns":N,"p99_ns":N,"p99_9_ns":N,"p99_99_ns":N,"max_ns":N}
 */
void qr_hist_write_json(const struct qr_hist *h, FILE *f);

#endif

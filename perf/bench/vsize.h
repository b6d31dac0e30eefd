/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's value sizes (--value-size): one size, or a few sizes
 * with weights, drawn per PUT.
 *
 *   SPEC := ITEM[,ITEM]...   ITEM := SIZE[@WEIGHT]
 *   SIZE := bytes, with an optional K (x1024) or M (x1048576) suffix
 *   WEIGHT := 1..1000000, default 1 (relative: 90 and 10 are 90% / 10%)
 * e.g. "64", "4K", "64@90,64K@9,1M@1".
 *
 * Invariants: a parsed spec has 1..BENCH_VSIZES_MAX items, every size <=
 * the limit given, every weight >= 1; pick() returns one of the sizes,
 * item i with probability weight[i] / total.
 */
#ifndef QR_BENCH_VSIZE_H
#define QR_BENCH_VSIZE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

#define BENCH_VSIZES_MAX 8

struct bench_vsizes {
	unsigned n;
	uint32_t size[BENCH_VSIZES_MAX];
	uint32_t weight[BENCH_VSIZES_MAX];
	uint64_t total; /* sum of the weights */
	uint32_t max;	/* the largest size */
};

/* 0, or -1 (a malformed spec, a size over limit, too many items). */
int bench_vsizes_parse(const char *s, uint32_t limit, struct bench_vsizes *v);
/* One size, drawn by weight. */
uint32_t bench_vsizes_pick(const struct bench_vsizes *v, struct qr_rng *rng);
/* The weighted mean size (bytes). */
double bench_vsizes_mean(const struct bench_vsizes *v);
/* "64" or "64@90,65536@9,1048576@1", for the summary and JSON. */
void bench_vsizes_format(const struct bench_vsizes *v, char *buf, size_t len);

#endif

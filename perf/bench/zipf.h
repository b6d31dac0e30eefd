/* SPDX-License-Identifier: MIT */
/*
 * Zipfian ranks for quorate-bench: P(rank k) proportional to 1 / k^theta,
 * k = 1..n, drawn by rejection-inversion (W. Hormann and G. Derflinger,
 * "Rejection-inversion to generate variates from monotone discrete
 * distributions", ACM TOMACS 6(3), 1996). Set-up is O(1) (no zeta(n) sum,
 * so n may be 10^9), any theta > 0 works (theta = 1 included), and a draw
 * costs one uniform, an exp and a log, with fewer than 1.1 tries on average.
 */
#ifndef QR_BENCH_ZIPF_H
#define QR_BENCH_ZIPF_H

#include <stdint.h>

#include "common/rng.h"

struct bench_zipf {
	uint64_t n;   /* ranks 1..n */
	double theta; /* exponent, > 0 */
	double h_x1;  /* H(1.5) - 1 */
	double h_n;   /* H(n + 0.5) */
	double s;     /* squeeze: accept at once when k - x <= s */
};

/* 0, or -1 if n == 0 or theta is not in (0, 100]. */
int bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta);
/* A rank in 0..n-1 (0 the most frequent). */
uint64_t bench_zipf_next(const struct bench_zipf *z, struct qr_rng *r);
/* The exact probability of rank k (0-based), for tests: O(n). */
double bench_zipf_pmf(const struct bench_zipf *z, uint64_t k);

#endif

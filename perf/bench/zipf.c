/* SPDX-License-Identifier: MIT */
/*
 * Rejection-inversion sampling of a Zipf distribution (zipf.h). With
 * h(x) = x^-theta and H an antiderivative of h, a point u uniform in
 * [H(n + 1/2), H(3/2) - 1] is inverted to x = H^-1(u) and rounded to the
 * rank k; k is accepted when u lies under the step of height h(k), i.e.
 * u >= H(k + 1/2) - h(k) (the squeeze k - x <= s accepts most draws
 * without evaluating H). H and H^-1 are written with expm1/log1p helpers so
 * that theta near 1 (where H -> log) keeps its precision.
 */
#include "zipf.h"

#include <math.h>

/* log1p(x) / x, 1 at 0. */
static double helper1(double x)
{
	if (fabs(x) > 1e-8)
		return log1p(x) / x;
	return 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

/* expm1(x) / x, 1 at 0. */
static double helper2(double x)
{
	if (fabs(x) > 1e-8)
		return expm1(x) / x;
	return 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}

static double h(const struct bench_zipf *z, double x)
{
	return exp(-z->theta * log(x));
}

/* H(x) = (x^(1-theta) - 1) / (1 - theta), or log(x) at theta = 1. */
static double h_integral(const struct bench_zipf *z, double x)
{
	double lx = log(x);
	return helper2((1 - z->theta) * lx) * lx;
}

static double h_integral_inverse(const struct bench_zipf *z, double x)
{
	double t = x * (1 - z->theta);
	if (t < -1)
		t = -1; /* rounding near the lower end of the range */
	return exp(helper1(t) * x);
}

int bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta)
{
	if (!n || !(theta > 0) || theta > 100)
		return -1;
	z->n = n;
	z->theta = theta;
	z->h_x1 = h_integral(z, 1.5) - 1;
	z->h_n = h_integral(z, (double)n + 0.5);
	z->s = 2 - h_integral_inverse(z, h_integral(z, 2.5) - h(z, 2));
	return 0;
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct qr_rng *r)
{
	for (;;) {
		double u01 = (double)(qr_rng_next(r) >> 11) * 0x1p-53;
		double u = z->h_n + u01 * (z->h_x1 - z->h_n);
		double x = h_integral_inverse(z, u);
		double kd = floor(x + 0.5);
		uint64_t k = kd < 1		 ? 1
			     : kd > (double)z->n ? z->n
						 : (uint64_t)kd;
		if ((double)k - x <= z->s ||
		    u >= h_integral(z, (double)k + 0.5) - h(z, (double)k))
			return k - 1;
	}
}

double bench_zipf_pmf(const struct bench_zipf *z, uint64_t k)
{
	double sum = 0;
	for (uint64_t i = z->n; i >= 1; i--)
		sum += h(z, (double)i);
	return h(z, (double)(k + 1)) / sum;
}

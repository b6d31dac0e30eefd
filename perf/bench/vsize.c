/* SPDX-License-Identifier: MIT */
/* quorate-bench's value sizes (vsize.h). */
#include "vsize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number with an optional K/M suffix at *s, up to max: 0 or -1; *s
 * moves past it. */
static int num(const char **s, uint64_t max, uint64_t *out)
{
	char *end;
	if (**s < '0' || **s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(*s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (v > max)
		return -1;
	*s = end;
	*out = v;
	return 0;
}

int bench_vsizes_parse(const char *s, uint32_t limit, struct bench_vsizes *v)
{
	memset(v, 0, sizeof(*v));
	for (;;) {
		uint64_t size, weight = 1;
		if (v->n == BENCH_VSIZES_MAX || num(&s, limit, &size))
			return -1;
		if (*s == '@' && (s++, num(&s, 1000000, &weight) || !weight))
			return -1;
		v->size[v->n] = (uint32_t)size;
		v->weight[v->n++] = (uint32_t)weight;
		v->total += weight;
		if (size > v->max)
			v->max = (uint32_t)size;
		if (!*s)
			return 0;
		if (*s++ != ',')
			return -1;
	}
}

uint32_t bench_vsizes_pick(const struct bench_vsizes *v, struct qr_rng *rng)
{
	if (v->n == 1)
		return v->size[0];
	uint64_t x = qr_rng_below(rng, v->total);
	for (unsigned i = 0; i + 1 < v->n; i++) {
		if (x < v->weight[i])
			return v->size[i];
		x -= v->weight[i];
	}
	return v->size[v->n - 1];
}

double bench_vsizes_mean(const struct bench_vsizes *v)
{
	double sum = 0;
	for (unsigned i = 0; i < v->n; i++)
		sum += (double)v->size[i] * v->weight[i];
	return v->total ? sum / (double)v->total : 0;
}

void bench_vsizes_format(const struct bench_vsizes *v, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < v->n && off < len; i++) {
		int n = v->n == 1 ? snprintf(buf, len, "%u", v->size[0])
				  : snprintf(buf + off, len - off, "%s%u@%u",
					     i ? "," : "", v->size[i],
					     v->weight[i]);
		if (n < 0)
			return;
		off += (size_t)n;
	}
}

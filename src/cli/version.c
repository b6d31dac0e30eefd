/* SPDX-License-Identifier: MIT */
/* Versions printed and parsed in both forms: see version.h. */
#include "cli/version.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HLC_LOGICAL_BITS 16 /* src/core/hlc.h QR_HLC_LOGICAL_BITS */
#define HLC_LOGICAL_MAX	 0xffffu

int qr_cli_version_readable(uint64_t hlc, int node, char *buf, size_t cap)
{
	uint64_t ms = hlc >> HLC_LOGICAL_BITS;
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&s, &tm))
		return snprintf(buf, cap, "?");
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (node < 0)
		return snprintf(buf, cap, "%s.%03uZ+%u", when,
				(unsigned)(ms % 1000),
				(unsigned)(hlc & HLC_LOGICAL_MAX));
	return snprintf(buf, cap, "%s.%03uZ+%u.%d", when, (unsigned)(ms % 1000),
			(unsigned)(hlc & HLC_LOGICAL_MAX), node);
}

/* Decimal digits, whole string, <= max. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	char buf[24];
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
	errno = 0;
	unsigned long long v = strtoull(buf, NULL, 10);
	if (errno || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" at s: milliseconds since the epoch and the
 * length used, or -1. */
static int parse_time(const char *s, uint64_t *ms, size_t *used)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	uint64_t frac = 0;
	if (!end || *end != '.' || parse_dec(end + 1, 3, 999, &frac) ||
	    end[4] != 'Z')
		return -1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*ms = (uint64_t)t * 1000 + frac;
	*used = (size_t)(end + 5 - s);
	return 0;
}

int qr_cli_version_parse(const char *s, uint64_t *hlc, uint16_t *node,
			 bool *has_node)
{
	uint64_t ms, logical = 0, v;
	size_t used;
	const char *rest;
	*has_node = false;
	if (strchr(s, 'T') && strchr(s, 'Z')) {
		if (parse_time(s, &ms, &used) ||
		    ms > (UINT64_MAX >> HLC_LOGICAL_BITS))
			return -1;
		rest = s + used;
		if (*rest == '+') {
			size_t n = strcspn(rest + 1, ".");
			if (parse_dec(rest + 1, n, HLC_LOGICAL_MAX, &logical))
				return -1;
			rest += 1 + n;
		}
		*hlc = ms << HLC_LOGICAL_BITS | logical;
	} else {
		size_t n = strcspn(s, ".");
		if (parse_dec(s, n, UINT64_MAX, hlc))
			return -1;
		rest = s + n;
	}
	if (*rest == '\0')
		return 0;
	if (*rest != '.' || parse_dec(rest + 1, strlen(rest + 1), 0xffff, &v))
		return -1;
	*node = (uint16_t)v;
	*has_node = true;
	return 0;
}

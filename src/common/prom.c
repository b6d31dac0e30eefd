/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text format writer (see prom.h for the contract). Each public
 * call writes whole lines: it remembers where its line started and, if any
 * piece does not fit, cuts the buffer back there and records QR_ENOSPC, so
 * a scraper never sees a half-written sample. Cost: a histogram is one walk
 * over its 3840 counters plus one line per bound.
 */
#include "common/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quorate/err.h"

const uint64_t qr_prom_latency_bounds_ns[] = {
	1000ull,       2000ull,	       5000ull,	      10000ull,
	20000ull,      50000ull,       100000ull,     200000ull,
	500000ull,     1000000ull,     2000000ull,    5000000ull,
	10000000ull,   20000000ull,    50000000ull,   100000000ull,
	200000000ull,  500000000ull,   1000000000ull, 2000000000ull,
	5000000000ull, 10000000000ull,
};
const unsigned qr_prom_latency_bounds_n = sizeof(qr_prom_latency_bounds_ns) /
					  sizeof(qr_prom_latency_bounds_ns[0]);

void qr_prom_init(struct qr_prom *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = (buf && cap) ? 0 : QR_ENOSPC;
	if (buf && cap)
		buf[0] = '\0';
}

static void fail(struct qr_prom *w, size_t line_start, int err)
{
	if (!w->err)
		w->err = err;
	if (w->buf && w->cap) {
		w->len = line_start;
		w->buf[line_start] = '\0';
	}
}

/* Append n bytes: 0, or QR_ENOSPC (the caller cuts the line back). */
static int put(struct qr_prom *w, const char *s, size_t n)
{
	if (w->err)
		return w->err;
	if (n >= w->cap - w->len) /* keep one byte for the NUL */
		return QR_ENOSPC;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
	return 0;
}

static int puts_(struct qr_prom *w, const char *s)
{
	return put(w, s, strlen(s));
}

static int putf(struct qr_prom *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int putf(struct qr_prom *w, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return QR_EINVAL;
	return put(w, tmp, (size_t)n);
}

static int name_ok(const char *s, int colon_ok)
{
	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_' || (colon_ok && c == ':');
		int digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && p != s))
			return 0;
	}
	return 1;
}

/* Escape `\` and newline always, `"` when in a label value. */
static int put_escaped(struct qr_prom *w, const char *s, int quote)
{
	const char *run = s;
	int rc = 0;
	for (const char *p = s; *p && !rc; p++) {
		const char *esc = NULL;
		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (quote && *p == '"')
			esc = "\\\"";
		if (!esc)
			continue;
		rc = put(w, run, (size_t)(p - run));
		if (!rc)
			rc = puts_(w, esc);
		run = p + 1;
	}
	if (!rc)
		rc = puts_(w, run);
	return rc;
}

static const char *type_name(enum qr_prom_type t)
{
	switch (t) {
	case QR_PROM_COUNTER:
		return "counter";
	case QR_PROM_GAUGE:
		return "gauge";
	case QR_PROM_HISTOGRAM:
		return "histogram";
	case QR_PROM_UNTYPED:
		return "untyped";
	}
	return NULL;
}

int qr_prom_family(struct qr_prom *w, const char *name, const char *help,
		   enum qr_prom_type type)
{
	if (w->err)
		return w->err;
	size_t start = w->len;
	const char *tn = type_name(type);
	if (!name_ok(name, 1) || !tn) {
		fail(w, start, QR_EINVAL);
		return w->err;
	}
	int rc = 0;
	if (help) {
		rc = putf(w, "# HELP ");
		rc = rc ? rc : puts_(w, name);
		rc = rc ? rc : puts_(w, " ");
		rc = rc ? rc : put_escaped(w, help, 0);
		rc = rc ? rc : puts_(w, "\n");
	}
	rc = rc ? rc : puts_(w, "# TYPE ");
	rc = rc ? rc : puts_(w, name);
	rc = rc ? rc : puts_(w, " ");
	rc = rc ? rc : puts_(w, tn);
	rc = rc ? rc : puts_(w, "\n");
	if (rc)
		fail(w, start, rc);
	return w->err;
}

/* `name{a="x",b="y"` + extra label (le) + `}`; no braces when none. */
static int put_name_labels(struct qr_prom *w, const char *name,
			   const char *suffix,
			   const struct qr_prom_label *labels,
			   unsigned n_labels, const char *le)
{
	int rc = puts_(w, name);
	rc = rc ? rc : puts_(w, suffix);
	if (rc || (n_labels == 0 && !le))
		return rc;
	rc = puts_(w, "{");
	for (unsigned i = 0; i < n_labels && !rc; i++) {
		if (!name_ok(labels[i].name, 0) || !labels[i].value ||
		    strcmp(labels[i].name, "le") == 0)
			return QR_EINVAL;
		rc = i ? puts_(w, ",") : 0;
		rc = rc ? rc : puts_(w, labels[i].name);
		rc = rc ? rc : puts_(w, "=\"");
		rc = rc ? rc : put_escaped(w, labels[i].value, 1);
		rc = rc ? rc : puts_(w, "\"");
	}
	if (!rc && le) {
		rc = n_labels ? puts_(w, ",") : 0;
		rc = rc ? rc : puts_(w, "le=\"");
		rc = rc ? rc : puts_(w, le);
		rc = rc ? rc : puts_(w, "\"");
	}
	return rc ? rc : puts_(w, "}");
}

static int check_labels(const struct qr_prom_label *labels, unsigned n)
{
	return n == 0 || labels != NULL;
}

/* One sample line "name{labels} value": the checks both types share. */
static int sample(struct qr_prom *w, const char *name,
		  const struct qr_prom_label *labels, unsigned n_labels,
		  const char *value)
{
	if (w->err)
		return w->err;
	size_t start = w->len;
	if (!name_ok(name, 1) || !check_labels(labels, n_labels)) {
		fail(w, start, QR_EINVAL);
		return w->err;
	}
	int rc = put_name_labels(w, name, "", labels, n_labels, NULL);
	rc = rc ? rc : putf(w, " %s\n", value);
	if (rc)
		fail(w, start, rc);
	return w->err;
}

int qr_prom_u64(struct qr_prom *w, const char *name,
		const struct qr_prom_label *labels, unsigned n_labels,
		uint64_t value)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, value);
	return sample(w, name, labels, n_labels, num);
}

/* The format's spelling of a float: Go's ParseFloat reads %.17g exactly. */
static void fmt_double(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(out, n, "%.17g", v);
}

int qr_prom_double(struct qr_prom *w, const char *name,
		   const struct qr_prom_label *labels, unsigned n_labels,
		   double value)
{
	char num[40];
	fmt_double(num, sizeof(num), value);
	return sample(w, name, labels, n_labels, num);
}

/* ns as seconds, shortest exact-enough text: 1000 ns -> "1e-06". */
static void fmt_seconds(char *out, size_t n, uint64_t ns)
{
	snprintf(out, n, "%.9g", (double)ns / 1e9);
}

static int bucket_line(struct qr_prom *w, const char *name,
		       const struct qr_prom_label *labels, unsigned n_labels,
		       const char *le, uint64_t cumulative)
{
	int rc = put_name_labels(w, name, "_bucket", labels, n_labels, le);
	return rc ? rc : putf(w, " %" PRIu64 "\n", cumulative);
}

static int hist_lines(struct qr_prom *w, const char *name,
		      const struct qr_prom_label *labels, unsigned n_labels,
		      const struct qr_hist *h, const uint64_t *bounds_ns,
		      unsigned n_bounds)
{
	uint64_t cumulative = 0;
	unsigned idx = 0;
	int rc = 0;
	for (unsigned b = 0; b < n_bounds && !rc; b++) {
		if (b && bounds_ns[b] <= bounds_ns[b - 1])
			return QR_EINVAL; /* bounds must ascend */
		/* Every counter whose bucket starts at or below the bound. */
		while (idx < QR_HIST_COUNTS &&
		       qr_hist_lowest_equivalent(idx) <= bounds_ns[b])
			cumulative += h->counts[idx++];
		char le[32];
		fmt_seconds(le, sizeof(le), bounds_ns[b]);
		rc = bucket_line(w, name, labels, n_labels, le, cumulative);
	}
	rc = rc ? rc : bucket_line(w, name, labels, n_labels, "+Inf", h->count);
	char sum[40];
	fmt_double(sum, sizeof(sum), (double)h->sum_ns / 1e9);
	rc = rc ? rc : put_name_labels(w, name, "_sum", labels, n_labels, NULL);
	rc = rc ? rc : putf(w, " %s\n", sum);
	rc = rc ? rc
		: put_name_labels(w, name, "_count", labels, n_labels, NULL);
	rc = rc ? rc : putf(w, " %" PRIu64 "\n", h->count);
	return rc;
}

int qr_prom_hist(struct qr_prom *w, const char *name,
		 const struct qr_prom_label *labels, unsigned n_labels,
		 const struct qr_hist *h, const uint64_t *bounds_ns,
		 unsigned n_bounds)
{
	if (w->err)
		return w->err;
	size_t start = w->len;
	if (!bounds_ns) {
		bounds_ns = qr_prom_latency_bounds_ns;
		n_bounds = qr_prom_latency_bounds_n;
	}
	if (!name_ok(name, 1) || !h || !check_labels(labels, n_labels)) {
		fail(w, start, QR_EINVAL);
		return w->err;
	}
	int rc = hist_lines(w, name, labels, n_labels, h, bounds_ns, n_bounds);
	if (rc)
		fail(w, start, rc);
	return w->err;
}

long qr_prom_finish(const struct qr_prom *w)
{
	return w->err ? (long)w->err : (long)w->len;
}

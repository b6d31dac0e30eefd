/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format (version 0.0.4) written into a buffer
 * the caller owns: no allocation, no I/O, so the management thread and the
 * gateway can render /metrics without a library.
 *
 * Invariants:
 *   - every write is bounds-checked; the first failure is sticky
 *     (w->err), nothing more is written after it and qr_prom_finish()
 *     returns it, so a caller checks once at the end;
 *   - the buffer always holds a NUL-terminated prefix of whole lines
 *     (a line that does not fit is cut back), never half a sample;
 *   - metric and label names are checked against the format's grammar
 *     ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*): a bad one is
 *     QR_EINVAL, not a line a scraper rejects; label values are escaped
 *     (\\, \", \n) and HELP text too (\\, \n);
 *   - histograms (src/common/histogram.h) are exported as cumulative
 *     `_bucket{le="..."}` lines in seconds, then `_sum` and `_count`; a
 *     value is counted under `le` when its histogram bucket starts at or
 *     below it, so a bucket may hold values up to le * (1 + 1/128): the
 *     histogram's own resolution. `+Inf` always equals `_count`.
 */
#ifndef QR_COMMON_PROM_H
#define QR_COMMON_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"

enum qr_prom_type {
	QR_PROM_COUNTER,
	QR_PROM_GAUGE,
	QR_PROM_HISTOGRAM,
	QR_PROM_UNTYPED,
};

struct qr_prom_label {
	const char *name;  /* checked: [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value; /* any bytes; escaped on output */
};

struct qr_prom {
	char *buf;  /* caller's buffer, NUL-terminated at len */
	size_t cap; /* bytes in buf, the NUL included */
	size_t len; /* bytes written, the NUL excluded */
	int err;    /* 0, or the first error (sticky) */
};

/* The Content-Type an HTTP server sends with this output. */
#define QR_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Default latency bucket bounds in ns: 1 us .. 10 s, 1-2-5 steps. */
extern const uint64_t qr_prom_latency_bounds_ns[];
extern const unsigned qr_prom_latency_bounds_n;

/* cap must be >= 1; an empty buffer is QR_ENOSPC at finish. */
void qr_prom_init(struct qr_prom *w, char *buf, size_t cap);

/* `# HELP name help` and `# TYPE name type`; 0 or a negative QR_E*. */
int qr_prom_family(struct qr_prom *w, const char *name, const char *help,
		   enum qr_prom_type type);

/* One sample line `name{labels} value`; n_labels may be 0 (labels NULL). */
int qr_prom_u64(struct qr_prom *w, const char *name,
		const struct qr_prom_label *labels, unsigned n_labels,
		uint64_t value);
/* NaN, +Inf and -Inf are written as the format spells them. */
int qr_prom_double(struct qr_prom *w, const char *name,
		   const struct qr_prom_label *labels, unsigned n_labels,
		   double value);

/*
 * A histogram's sample lines (after a QR_PROM_HISTOGRAM family of the same
 * name): one `name_bucket` per bound (ascending ns, converted to seconds),
 * `+Inf`, `name_sum` (seconds) and `name_count`. bounds NULL: the default
 * latency bounds. Labels are repeated on every line, `le` last.
 */
int qr_prom_hist(struct qr_prom *w, const char *name,
		 const struct qr_prom_label *labels, unsigned n_labels,
		 const struct qr_hist *h, const uint64_t *bounds_ns,
		 unsigned n_bounds);

/* Bytes written (>= 0, excluding the NUL), or the sticky error. */
long qr_prom_finish(const struct qr_prom *w);

#endif

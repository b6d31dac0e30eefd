/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's /metrics: per loop, requests by method and status code and
 * a latency histogram per method (src/common/histogram.h), under the
 * loop's mutex (taken once per answered request: uncontended, ~20 ns);
 * a scrape sums every loop's copy and writes Prometheus text through
 * src/common/prom.h.
 *
 * Invariants: M1. Every answered request is counted once, with the status
 * sent (http.c counts in its one place that queues responses); answers
 * libmicrohttpd makes itself (a request line or headers over the
 * connection memory limit, a malformed request) are not seen here.
 * M2. A scrape never blocks a loop for longer than one copy of its
 * counters (a few KiB memcpy per histogram).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"
#include "gw/gw.h"

static const unsigned codes[GW_CODES_N - 1] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412,
	413, 414, 429, 431, 500, 502, 503, 504, 507, 501,
};

static unsigned code_index(unsigned status)
{
	for (unsigned i = 0; i < GW_CODES_N - 1; i++)
		if (codes[i] == status)
			return i;
	return GW_CODES_N - 1; /* "other" */
}

int gw_metrics_init(struct gw_metrics *m)
{
	memset(m->requests, 0, sizeof(m->requests));
	m->backend_busy = 0;
	m->backend_requests = 0;
	for (int i = 0; i < GW_M_COUNT; i++)
		qr_hist_init(&m->latency[i]);
	return pthread_mutex_init(&m->mu, NULL) ? -1 : 0;
}

void gw_metrics_destroy(struct gw_metrics *m)
{
	pthread_mutex_destroy(&m->mu);
}

void gw_metrics_count(struct gw_metrics *m, enum gw_method method,
		      unsigned status, bool kv, uint64_t ns)
{
	pthread_mutex_lock(&m->mu);
	m->requests[method][code_index(status)]++;
	if (kv)
		qr_hist_record(&m->latency[method], ns);
	pthread_mutex_unlock(&m->mu);
}

struct sums {
	uint64_t requests[GW_M_COUNT][GW_CODES_N];
	uint64_t busy;
	uint64_t sent;
	uint64_t inflight;
	struct qr_hist latency[GW_M_COUNT];
};

static void sum_loops(struct gw_loop *loops, unsigned n, struct sums *s)
{
	memset(s->requests, 0, sizeof(s->requests));
	s->busy = s->inflight = s->sent = 0;
	for (int i = 0; i < GW_M_COUNT; i++)
		qr_hist_init(&s->latency[i]);
	for (unsigned l = 0; l < n; l++) {
		struct gw_metrics *m = &loops[l].m;
		s->inflight +=
			__atomic_load_n(&loops[l].waiting, __ATOMIC_RELAXED);
		pthread_mutex_lock(&m->mu);
		for (int i = 0; i < GW_M_COUNT; i++) {
			for (int c = 0; c < GW_CODES_N; c++)
				s->requests[i][c] += m->requests[i][c];
			qr_hist_merge(&s->latency[i], &m->latency[i]);
		}
		s->busy += m->backend_busy;
		s->sent += m->backend_requests;
		pthread_mutex_unlock(&m->mu);
	}
}

static void render_requests(struct qr_prom *w, const struct sums *s)
{
	qr_prom_family(w, "quorate_gw_requests_total",
		       "HTTP requests answered, by method and status code",
		       QR_PROM_COUNTER);
	for (int i = 0; i < GW_M_COUNT; i++)
		for (int c = 0; c < GW_CODES_N; c++) {
			if (!s->requests[i][c])
				continue;
			char code[16];
			if (c < GW_CODES_N - 1)
				snprintf(code, sizeof(code), "%u", codes[c]);
			else
				snprintf(code, sizeof(code), "other");
			struct qr_prom_label lb[2] = {
				{"method", gw_method_name((enum gw_method)i)},
				{"code", code},
			};
			qr_prom_u64(w, "quorate_gw_requests_total", lb, 2,
				    s->requests[i][c]);
		}
}

long gw_metrics_render(struct gw_loop *loops, unsigned n, char *buf, size_t cap)
{
	struct sums *s = malloc(sizeof(*s));
	if (!s)
		return QR_ENOMEM;
	sum_loops(loops, n, s);
	struct qr_prom w;
	qr_prom_init(&w, buf, cap);
	render_requests(&w, s);
	qr_prom_family(&w, "quorate_gw_request_duration_seconds",
		       "Latency of /v1/kv requests, from the first byte "
		       "parsed to the answer queued, by method",
		       QR_PROM_HISTOGRAM);
	for (int i = 0; i < GW_M_OTHER; i++) {
		struct qr_prom_label lb = {"method",
					   gw_method_name((enum gw_method)i)};
		qr_prom_hist(&w, "quorate_gw_request_duration_seconds", &lb, 1,
			     &s->latency[i], NULL, 0);
	}
	qr_prom_family(&w, "quorate_gw_inflight_requests",
		       "Requests waiting for the cluster (connections "
		       "suspended)",
		       QR_PROM_GAUGE);
	qr_prom_u64(&w, "quorate_gw_inflight_requests", NULL, 0, s->inflight);
	qr_prom_family(&w, "quorate_gw_backend_busy_total",
		       "Requests answered 429 because the client handle had "
		       "max-inflight requests in flight",
		       QR_PROM_COUNTER);
	qr_prom_u64(&w, "quorate_gw_backend_busy_total", NULL, 0, s->busy);
	qr_prom_family(&w, "quorate_gw_backend_requests_total",
		       "Requests handed to the cluster (a 4xx refused by the "
		       "gateway itself is not one)",
		       QR_PROM_COUNTER);
	qr_prom_u64(&w, "quorate_gw_backend_requests_total", NULL, 0, s->sent);
	qr_prom_family(&w, "quorate_gw_loops", "Event-loop threads",
		       QR_PROM_GAUGE);
	qr_prom_u64(&w, "quorate_gw_loops", NULL, 0, n);
	free(s);
	return qr_prom_finish(&w);
}

/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw internals shared by its files: options, the backend (the
 * asynchronous client, or a fake in tests), one event loop per thread,
 * per-request contexts and the metrics each loop keeps.
 *
 * Invariants:
 *  G1. A loop's MHD daemon, backend handle and request contexts are
 *      touched only by that loop's thread (the client handle is not
 *      thread-safe); the only state other threads read is the metrics,
 *      under the loop's metrics mutex, and the status cache (status.h).
 *  G2. A context (struct gw_req) belongs to one connection from the first
 *      call of the access handler until MHD's request-completed callback;
 *      while its connection is suspended exactly one backend request holds
 *      it (as qr_request.user), and the connection is resumed exactly once,
 *      by that request's completion. Contexts come from a fixed pool sized
 *      by the connection limit: nothing is allocated per request. A
 *      value over QR_VALUE_INLINE_MAX (a PUT's body, a GET's answer)
 *      borrows one of the loop's large_bodies buffers until the context
 *      goes back to the pool; none free: 429, never a partial value.
 *  G3. No thread per request, no blocking call in a loop: the loop sleeps
 *      only in epoll_wait, bounded by MHD's and the client's timeouts.
 */
#ifndef QR_GW_GW_H
#define QR_GW_GW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/histogram.h"
#include "common/secret.h"
#include "gw/map.h"
#include "quorate/client.h"

struct MHD_Daemon;
struct MHD_Connection;
struct gw_status;

struct gw_options {
	const char *cluster_file;
	const char *listen_addr; /* IPv4 address; default 0.0.0.0 */
	uint16_t port;		 /* default 8080 */
	unsigned loops;		 /* event-loop threads (default 1) */
	unsigned connections;	 /* per loop (default 1024) */
	unsigned conn_timeout_s; /* idle connection timeout (default 30) */
	unsigned conn_memory;	 /* bytes per connection for headers (16 KiB) */
	unsigned max_inflight;	 /* backend requests per loop (default 1024) */
	uint32_t deadline_ms;	 /* default request deadline (1000) */
	uint32_t retries;
	enum qr_client_coordinator coordinator;
	bool batch;	      /* pack datagrams (qr_client_options.batch) */
	const char *key_file; /* client key; NULL: as libquorate finds it */
	const char *zone; /* our zone (LOCAL_* levels); NULL: $QUORATE_ZONE */
	uint16_t client_id;
	/* --http-keys: the file, and its keys once main loaded them; NULL:
	 * HTTP clients are not authenticated (the network is trusted) */
	const char *http_keys_file;
	const struct qr_client_keys *http_keys;
	unsigned status_interval_ms; /* management poll period (1000) */
	uint32_t value_bytes_max; /* longest value (0: the cluster file's) */
	unsigned large_bodies;	  /* buffers of value_bytes_max per loop for
				   * values over QR_VALUE_INLINE_MAX (16) */
	bool quiet;
};

#define GW_LOOPS_MAX 64

void gw_options_default(struct gw_options *o);
/* 0, 1 (--help / --version printed: exit 0) or -1 (refused, reported). */
int gw_options_parse(int argc, char **argv, struct gw_options *o);

/* The asynchronous client's calls, so tests can put a fake behind them. */
struct gw_backend_ops {
	int (*submit)(void *h, const struct qr_request *rq);
	int (*flush)(void *h);
	int (*poll)(void *h, struct qr_completion *out, unsigned max,
		    int timeout_ms);
	int (*fd)(const void *h);
	int (*timeout_ms)(const void *h);
	unsigned (*inflight)(const void *h);
	/* replicas of a key (RF), or a negative QR_E* */
	int (*replicas)(const void *h, const void *key, size_t key_len);
	void (*close)(void *h);
};

extern const struct gw_backend_ops gw_client_ops; /* libquorate */

enum gw_route {
	GW_R_KV,
	GW_R_READY,
	GW_R_METRICS,
	GW_R_REPL,
	GW_R_PAGE,
	GW_R_NOTFOUND,
};

enum gw_req_state {
	GW_RQ_BODY,	/* reading the body */
	GW_RQ_WAIT,	/* submitted, connection suspended */
	GW_RQ_DONE,	/* completion in result, connection resumed */
	GW_RQ_ANSWERED, /* a response is queued */
};

struct gw_loop;

struct gw_req {
	struct gw_loop *loop;
	struct MHD_Connection *conn;
	struct gw_req *next_free;
	enum gw_route route;
	enum gw_req_state state;
	enum gw_method method;
	bool too_large;
	bool busy; /* a large body and no large buffer free: 429 */
	unsigned status; /* HTTP status answered (metrics) */
	uint64_t start_ns;
	struct gw_kv kv;
	size_t key_len;
	size_t body_len;
	uint8_t *body;	  /* small, or large once borrowed */
	size_t body_cap;
	uint8_t *large;	  /* the loop's large buffer held (G2), or NULL */
	struct qr_result result;
	uint8_t key[QR_CLIENT_KEY_BYTES_MAX];
	uint8_t small[QR_VALUE_INLINE_MAX];
};

/* Status codes the metrics count one by one; others count as "other". */
#define GW_CODES_N 22

struct gw_metrics {
	pthread_mutex_t mu;
	uint64_t requests[GW_M_COUNT][GW_CODES_N];
	uint64_t backend_busy;	   /* submits refused with QR_EBUSY */
	uint64_t backend_requests; /* submits accepted (sent to the cluster) */
	struct qr_hist latency[GW_M_COUNT]; /* KV requests, ns */
};

struct gw_loop {
	unsigned id;
	const struct gw_options *opt;
	struct gw_status *status;
	struct gw_loop *all; /* every loop (metrics are summed over them) */
	unsigned nloops;
	const struct gw_backend_ops *be;
	void *bh;
	struct MHD_Daemon *d;
	int ep;	      /* epoll: MHD's epoll fd, the backend fd, stop_fd */
	int stop_fd;  /* eventfd: written to stop the loop */
	int stopping; /* atomic: set by gw_loop_stop */
	pthread_t thread;
	struct gw_req *pool;
	struct gw_req *free_list;
	uint8_t *large_mem;   /* large_bodies x value_bytes_max */
	uint8_t **large_free; /* free large buffers: [0, large_top) */
	unsigned large_top;
	unsigned waiting; /* suspended connections (atomic: metrics read it) */
	struct gw_metrics m;
};

/* loop.c */
int gw_loop_init(struct gw_loop *l, unsigned id, const struct gw_options *o,
		 const struct gw_backend_ops *be, void *bh, char *err,
		 size_t err_len);
int gw_loop_start(struct gw_loop *l);
void gw_loop_stop(struct gw_loop *l); /* signal, join, free */
int gw_loop_submit(struct gw_loop *l, struct gw_req *rq,
		   const struct qr_request *q);
/* the port the daemon listens on (after init; for --port 0) */
uint16_t gw_loop_port(const struct gw_loop *l);

/* http.c: the access handler and request-completed callback (MHD's) */
struct gw_req *gw_req_get(struct gw_loop *l);
void gw_req_put(struct gw_loop *l, struct gw_req *rq);
void gw_http_completed(struct gw_req *rq, const struct qr_completion *c);

/* metrics.c */
int gw_metrics_init(struct gw_metrics *m);
void gw_metrics_destroy(struct gw_metrics *m);
void gw_metrics_count(struct gw_metrics *m, enum gw_method method,
		      unsigned status, bool kv, uint64_t ns);
/* Prometheus text of every loop into buf: length, or a negative QR_E*. */
long gw_metrics_render(struct gw_loop *loops, unsigned n, char *buf,
		       size_t cap);

#endif

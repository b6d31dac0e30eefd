/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's per-thread load loop over libquorate's public
 * asynchronous API (one request engine for the library and the bench:
 * request table, timers, reply checks, batching). Each turn of the loop:
 *
 *   1. poll (never blocking): completions; each one's latency (now -
 *      start) is recorded, or its status counted as an error by kind
 *      (QR_ETIMEOUT: no answer within the timeout);
 *   2. issue: closed loop, until `outstanding` are in flight; open loop,
 *      every arrival whose intended time has come (Poisson: exponential
 *      gaps). Latency starts at the intended time, so a sender that falls
 *      behind (a full table, a slow syscall) shows up in the latency
 *      instead of silently lowering the offered load: no coordinated
 *      omission. The handle batches: requests go straight to a replica of
 *      their key (smart routing) in one frame per (node, shard) per turn,
 *      sent by qr_client_flush() (sendmmsg);
 *   3. idle: when nothing happened, sleep until the next arrival, the
 *      handle's next timer (qr_client_timeout_ms) or a datagram (at most
 *      1 ms): ppoll on qr_client_fd(), or the DPDK transport's wait.
 *
 * The handle runs with retries = 0: a lost datagram is a TIMEOUT (the
 * bench measures the cluster, not a retry policy), and without a session
 * token (no min_version). A request is measured when its start time lies
 * in [start + warm-up, start + warm-up + duration); after that window the
 * loop stops issuing and waits for what is in flight (at most one
 * timeout). Per-request state (start time, op, measured) lives in a table
 * of `outstanding` contexts made at start: nothing allocates per request.
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "client/client_transport.h"
#include "common/clock.h"
#include "common/compiler.h"
#include "quorate/client.h"
#include "quorate/err.h"

#define IDLE_WAIT_NS_MAX 1000000ull   /* 1 ms */
#define PUBLISH_NS	 200000000ull /* progress snapshot period */

/* "udp": the public client's own socket (qr_client_open). */
const struct bench_transport_ops bench_transport_udp = {.name = "udp"};

struct bctx {
	uint64_t start_ns; /* latency origin: intended (open loop) or issue
			    * (closed loop) time */
	uint32_t next_free;
	uint32_t bytes;	  /* PUT: the value's size */
	uint8_t op;	  /* 0 get, 1 put, 2 del */
	uint8_t measured; /* started inside the measured window */
};

/* A DPDK endpoint seen as a libquorate transport. */
struct dpdk_link {
	const struct bench_transport_ops *tp;
	void *ep;
};

struct engine {
	const struct bench_config *cfg;
	struct bench_worker *w;
	struct bench_stats *st;
	struct qr_client *c;
	struct dpdk_link link; /* dpdk: link.ep != NULL */
	struct qr_rng rng;
	uint64_t measure_ns, end_ns; /* measured window */
	uint64_t next_arrival_ns;    /* open loop: intended time of the next */
	double gap_mean_ns;	     /* open loop: 1 / per-thread rate */
	uint64_t populate_next;	     /* populate: next key number */
	uint64_t done, errors;	     /* for progress */
	uint32_t free_head;	     /* free contexts */
	struct bctx *ctx;
	struct qr_req_opts get_o, put_o;
	struct qr_completion comp[BENCH_BURST];
	/* PUT values are cut from value (the largest size); every GET's value
	 * is copied into got, one scratch buffer for the thread: the bench
	 * never reads values, only counts their bytes. */
	uint8_t *value, *got;
	size_t got_cap;
};

void bench_key(char *buf, unsigned key_bytes, uint64_t k)
{
	buf[0] = 'k';
	for (unsigned i = key_bytes - 1; i >= 1; i--) {
		buf[i] = (char)('0' + k % 10);
		k /= 10;
	}
}

void bench_stats_init(struct bench_stats *s)
{
	memset(s, 0, sizeof(*s));
	qr_hist_init(&s->all);
	for (int i = 0; i < 3; i++)
		qr_hist_init(&s->by_op[i]);
}

void bench_stats_merge(struct bench_stats *acc, const struct bench_stats *a)
{
	qr_hist_merge(&acc->all, &a->all);
	for (int i = 0; i < 3; i++) {
		qr_hist_merge(&acc->by_op[i], &a->by_op[i]);
		acc->ok_by_op[i] += a->ok_by_op[i];
		acc->bytes_by_op[i] += a->bytes_by_op[i];
	}
	acc->ok += a->ok;
	acc->bytes += a->bytes;
	acc->not_found += a->not_found;
	for (int i = 0; i < BENCH_ERR_SLOTS; i++)
		acc->err[i] += a->err[i];
	for (int i = 0; i < BENCH_LOCAL_ERRS; i++)
		acc->local[i] += a->local[i];
	acc->issued += a->issued;
	acc->frames += a->frames;
	acc->msgs += a->msgs;
	acc->table_full += a->table_full;
	if (a->lag_max_ns > acc->lag_max_ns)
		acc->lag_max_ns = a->lag_max_ns;
}

/* ---- DPDK link (client_transport.h over transport.h) ----------------- */

static unsigned link_tx(void *p, const struct qr_client_pkt *pkts, unsigned n)
{
	struct dpdk_link *l = p;
	return l->tp->tx_burst(l->ep, pkts, n);
}

static int link_rx(void *p, struct qr_client_pkt *pkts, unsigned n)
{
	struct dpdk_link *l = p;
	return (int)l->tp->rx_burst(l->ep, pkts, n);
}

static void link_wait(void *p, uint64_t timeout_ns)
{
	struct dpdk_link *l = p;
	l->tp->wait(l->ep, timeout_ns);
}

static int link_fd(void *p)
{
	(void)p;
	return -1;
}

static const struct qr_client_transport link_ops = {
	.tx_burst = link_tx,
	.rx_burst = link_rx,
	.wait = link_wait,
	.fd = link_fd,
	.close = NULL, /* the engine closes the endpoint */
};

/* ---- requests ---------------------------------------------------------- */

/* Issue one request whose latency counts from start_ns. The caller has
 * checked that a context is free. */
static void issue(struct engine *e, uint64_t start_ns)
{
	const struct bench_config *c = e->cfg;
	uint8_t op; /* 0 get, 1 put, 2 del */
	uint64_t k;
	if (c->populate) {
		op = 1;
		k = e->populate_next;
		e->populate_next += c->threads;
	} else {
		uint64_t pick = qr_rng_below(&e->rng, 100);
		op = pick < c->mix[0] ? 0 : pick < c->mix[0] + c->mix[1] ? 1 : 2;
		k = c->zipf ? bench_zipf_next(&c->zipf_gen, &e->rng)
			    : qr_rng_below(&e->rng, c->keys);
	}
	char key[QR_KEY_BYTES_MAX];
	bench_key(key, c->key_bytes, k);
	QR_ASSERT(e->free_head != UINT32_MAX);
	struct bctx *x = &e->ctx[e->free_head];
	x->start_ns = start_ns;
	x->op = op;
	x->measured = !c->populate && start_ns >= e->measure_ns &&
		      start_ns < e->end_ns;
	x->bytes = op == 1 ? bench_vsizes_pick(&c->vsize, &e->rng) : 0;
	static const enum qr_client_op ops[3] = {QR_CLIENT_GET, QR_CLIENT_PUT,
						 QR_CLIENT_DEL};
	struct qr_request rq = {
		.op = ops[op],
		.key = key,
		.key_len = c->key_bytes,
		.value = op == 1 ? e->value : NULL,
		.value_len = x->bytes,
		.opts = op == 0 ? &e->get_o : &e->put_o,
		.user = x,
		.buf = op == 0 ? e->got : NULL,
		.buf_cap = op == 0 ? e->got_cap : 0,
	};
	int rc = qr_client_submit(e->c, &rq);
	QR_ASSERT(rc == 0); /* checked at start: levels, sizes, room */
	e->free_head = x->next_free;
	e->st->issued += x->measured;
}

static void finish(struct engine *e, const struct qr_completion *d,
		   uint64_t now)
{
	struct bctx *x = d->user;
	int status = d->result.status;
	e->done++;
	if (status != 0 && status != QR_ENOTFOUND)
		e->errors++;
	if (x->measured) {
		struct bench_stats *st = e->st;
		if (status == 0 || status == QR_ENOTFOUND) {
			uint64_t lat = now - x->start_ns;
			qr_hist_record(&st->all, lat);
			qr_hist_record(&st->by_op[x->op], lat);
			st->ok++;
			st->ok_by_op[x->op]++;
			uint64_t b = x->op == 1 ? x->bytes
				     : x->op == 0 && !status
					     ? d->result.value_len
					     : 0;
			st->bytes += b;
			st->bytes_by_op[x->op] += b;
			st->not_found += status == QR_ENOTFOUND;
		} else {
			unsigned slot = (unsigned)-status;
			st->err[slot < BENCH_ERR_SLOTS ? slot : 0]++;
		}
	}
	x->next_free = e->free_head;
	e->free_head = (uint32_t)(x - e->ctx);
}

/* Every completion ready now: true if there was one. */
static bool reap(struct engine *e)
{
	bool any = false;
	int n;
	do {
		n = qr_client_poll(e->c, e->comp, BENCH_BURST, 0);
		uint64_t now = qr_clock_mono_ns();
		for (int i = 0; i < n; i++)
			finish(e, &e->comp[i], now);
		any |= n > 0;
	} while (n == BENCH_BURST);
	return any;
}

static void publish(struct engine *e)
{
	struct bench_progress *pub = &e->w->pub;
	pthread_mutex_lock(&pub->lock);
	pub->done = e->done;
	pub->errors = e->errors;
	memcpy(&pub->all, &e->st->all, sizeof(pub->all));
	pthread_mutex_unlock(&pub->lock);
}

static double exp_gap_ns(struct engine *e)
{
	double u = ((double)(qr_rng_next(&e->rng) >> 11) + 1) * 0x1p-53;
	return -log(u) * e->gap_mean_ns; /* u in (0, 1] */
}

/* Step 2 of a turn: requests issued. */
static unsigned issue_due(struct engine *e, bool issuing, uint64_t now,
			  double *t_arrival)
{
	const struct bench_config *c = e->cfg;
	unsigned burst = 0;
	if (c->rate <= 0 || c->populate) {
		while (issuing && qr_client_inflight(e->c) < c->outstanding &&
		       burst < 4 * BENCH_BURST &&
		       (!c->populate || e->populate_next < c->keys)) {
			issue(e, now);
			burst++;
		}
		return burst;
	}
	while (e->next_arrival_ns <= now && e->next_arrival_ns < e->end_ns &&
	       burst < 4 * BENCH_BURST) {
		if (qr_client_inflight(e->c) == c->outstanding) {
			e->st->table_full++;
			break; /* intended times are kept */
		}
		uint64_t lag = now - e->next_arrival_ns;
		if (lag > e->st->lag_max_ns && e->next_arrival_ns >= e->measure_ns)
			e->st->lag_max_ns = lag;
		issue(e, e->next_arrival_ns);
		*t_arrival += exp_gap_ns(e);
		e->next_arrival_ns = (uint64_t)*t_arrival;
		burst++;
	}
	return burst;
}

/* Step 3: nothing to do; sleep until the next event. */
static void idle(struct engine *e, bool open_loop, uint64_t now)
{
	uint64_t until = now + IDLE_WAIT_NS_MAX;
	if (open_loop && e->next_arrival_ns < until)
		until = e->next_arrival_ns;
	int t = qr_client_timeout_ms(e->c);
	if (t >= 0 && now + (uint64_t)t * 1000000 < until)
		until = now + (uint64_t)t * 1000000;
	if (until <= now)
		return;
	if (e->link.ep) {
		e->cfg->tp->wait(e->link.ep, until - now);
		return;
	}
	struct pollfd pfd = {.fd = qr_client_fd(e->c), .events = POLLIN};
	struct timespec ts = {
		.tv_sec = (time_t)((until - now) / 1000000000u),
		.tv_nsec = (long)((until - now) % 1000000000u),
	};
	(void)ppoll(&pfd, 1, &ts, NULL);
}

/* The handle's counters into the bench's (frames, requests per frame,
 * local errors). */
static void take_client_stats(struct engine *e)
{
	const struct qr_client_stats *s = qr_client_stats(e->c);
	e->st->frames += s->datagrams;
	e->st->msgs += s->sends;
	e->st->local[BENCH_SEND_FAILED] += s->send_failed;
	e->st->local[BENCH_LATE_REPLY] += s->late;
	e->st->local[BENCH_BAD_REPLY] += s->ignored - s->late;
	e->st->local[BENCH_REASM_DROP] += s->reasm_dropped + s->reasm_expired;
}

static void run(struct engine *e)
{
	const struct bench_config *c = e->cfg;
	uint64_t timeout_ns = (uint64_t)c->timeout_us * 1000;
	bool open_loop = c->rate > 0 && !c->populate;
	uint64_t start = e->w->start_ns;
	uint64_t next_pub = start + PUBLISH_NS;
	e->measure_ns = start + (uint64_t)(c->warmup_s * 1e9);
	e->end_ns = e->measure_ns + (uint64_t)(c->duration_s * 1e9);
	if (c->populate)
		e->end_ns = UINT64_MAX;
	/* In-flight requests after the window: answered or timed out by
	 * then (populate: the loop ends when the last one is done). */
	uint64_t drain_end = c->populate ? UINT64_MAX : e->end_ns + timeout_ns;
	double t_arrival = (double)start;
	if (open_loop) {
		e->gap_mean_ns = 1e9 * c->threads / c->rate;
		t_arrival += exp_gap_ns(e);
		e->next_arrival_ns = (uint64_t)t_arrival;
	}
	for (;;) {
		uint64_t now = qr_clock_mono_ns();
		bool issuing = c->populate ? e->populate_next < c->keys
					   : now < e->end_ns;
		if (!issuing &&
		    (!qr_client_inflight(e->c) || now >= drain_end))
			break;
		bool busy = reap(e);
		busy |= issue_due(e, issuing, now, &t_arrival) > 0;
		qr_client_flush(e->c);
		if (now >= next_pub) {
			publish(e);
			next_pub = now + PUBLISH_NS;
		}
		if (!busy && !c->busy_poll)
			idle(e, open_loop, now);
	}
	/* Open loop: arrivals due in the window the sender never reached
	 * (it fell behind by more than the drain time) are offered load
	 * that was not sent; count them rather than forget them. */
	while (open_loop && e->next_arrival_ns < e->end_ns) {
		if (e->next_arrival_ns >= e->measure_ns)
			e->st->local[BENCH_NOT_SENT]++;
		t_arrival += exp_gap_ns(e);
		e->next_arrival_ns = (uint64_t)t_arrival;
	}
	take_client_stats(e);
	publish(e);
}

static void set_opts(struct qr_req_opts *o, const struct bench_level *lv,
		     uint32_t timeout_us)
{
	*o = (struct qr_req_opts){
		.consistency = (enum qr_consistency)lv->level,
		.r = lv->r,
		.w = lv->w,
		.deadline_ms = (timeout_us + 999) / 1000,
	};
}

/* The handle: the public one over kernel UDP, or one over this thread's
 * DPDK queue. 0, or -1 with w->err set. */
static int open_client(struct engine *e)
{
	const struct bench_config *c = e->cfg;
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.deadline_ms = (c->timeout_us + 999) / 1000;
	o.retries = 0;
	o.coordinator = c->coord_random ? QR_COORD_RANDOM : QR_COORD_FIRST;
	o.session = false;
	o.seed = qr_rng_next(&e->rng) | 1;
	o.max_inflight = c->outstanding;
	o.batch = true;
	/* Large values: every request in flight may be a large GET reply. */
	if (c->vsize.max > QR_VALUE_BYTES_DEFAULT)
		o.value_bytes_max = c->vsize.max;
	if (c->vsize.max > QR_VALUE_INLINE_MAX)
		o.large_replies = c->outstanding < QR_CLIENT_LARGE_REPLIES_MAX
					  ? c->outstanding
					  : QR_CLIENT_LARGE_REPLIES_MAX;
	struct bench_worker *w = e->w;
	if (!c->tp->open) {
		e->c = qr_client_open(c->cluster.path, &o, w->err,
				      sizeof(w->err));
		return e->c ? 0 : -1;
	}
	e->link.tp = c->tp;
	e->link.ep = c->tp->open(w->id, w->err, sizeof(w->err));
	if (!e->link.ep)
		return -1;
	e->c = qr_client_open_on(&c->cluster, &o, &link_ops, &e->link, w->err,
				 sizeof(w->err));
	return e->c ? 0 : -1;
}

static struct engine *engine_new(struct bench_worker *w)
{
	const struct bench_config *c = w->cfg;
	struct engine *e = calloc(1, sizeof(*e));
	size_t vbytes = c->vsize.max ? c->vsize.max : 1;
	/* A GET may find any value the cluster allows (an earlier run's). */
	size_t gbytes = c->cluster.value_bytes_max > vbytes
				? c->cluster.value_bytes_max
				: vbytes;
	if (e) {
		e->ctx = calloc(c->outstanding, sizeof(*e->ctx));
		e->value = malloc(vbytes);
		e->got = malloc(gbytes);
	}
	if (!e || !e->ctx || !e->value || !e->got) {
		if (e) {
			free(e->ctx);
			free(e->value);
			free(e->got);
		}
		free(e);
		snprintf(w->err, sizeof(w->err), "out of memory");
		return NULL;
	}
	e->cfg = c;
	e->w = w;
	e->st = &w->st;
	e->populate_next = w->id;
	qr_rng_seed(&e->rng, c->seed * 1000003u + w->id + 1);
	memset(e->value, 'a' + (int)(w->id % 26), vbytes);
	e->got_cap = gbytes;
	for (uint32_t i = 0; i < c->outstanding; i++)
		e->ctx[i].next_free = i + 1 < c->outstanding ? i + 1 : UINT32_MAX;
	set_opts(&e->get_o, &c->get, c->timeout_us);
	set_opts(&e->put_o, &c->put, c->timeout_us);
	return e;
}

void *bench_worker_main(void *arg)
{
	struct bench_worker *w = arg;
	struct engine *e = engine_new(w);
	if (!e || open_client(e)) {
		w->rc = -1;
	} else {
		run(e);
	}
	if (e) {
		qr_client_close(e->c);
		if (e->link.ep)
			w->cfg->tp->close(e->link.ep);
		free(e->ctx);
		free(e->value);
		free(e->got);
		free(e);
	}
	atomic_store(&w->finished, 1);
	return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's engine: one per thread, asynchronous, over a transport
 * (transport.h). Each turn of the loop:
 *
 *   1. rx: a burst of datagrams; each CLIENT_REPLY is matched to its
 *      request by req_id in the table of outstanding requests (reqtable.h),
 *      checked against the node it was sent to, and its latency (now -
 *      start) recorded, or its status counted as an error by kind;
 *   2. expire: requests older than the timeout, oldest first (the table
 *      keeps them in send order), count as TIMEOUT;
 *   3. issue: closed loop, until `outstanding` are in flight; open loop,
 *      every arrival whose intended time has come (Poisson: exponential
 *      gaps). Latency starts at the intended time, so a sender that falls
 *      behind (a full table, a slow syscall) shows up in the latency
 *      instead of silently lowering the offered load: no coordinated
 *      omission. Requests go straight to a replica of their key (smart
 *      routing, qr_placement) and are batched into one frame per (node,
 *      shard) per turn, up to BENCH_BURST frames per send burst;
 *   4. idle: when nothing happened, sleep in the transport until the next
 *      arrival, the next timeout or a datagram (at most 1 ms).
 *
 * There are no resends: a lost datagram is a TIMEOUT (the bench measures
 * the cluster, not a retry policy). A request is measured when its start
 * time lies in [start + warm-up, start + warm-up + duration); after that
 * window the engine stops issuing and waits for what is in flight (at most
 * one timeout). Nothing allocates after the table is made.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "bench.h"
#include "core/wire.h"
#include "quorate/err.h"
#include "reqtable.h"

#define IDLE_WAIT_NS_MAX 1000000ull   /* 1 ms */
#define PUBLISH_NS	 200000000ull /* progress snapshot period */

struct engine {
	const struct bench_config *cfg;
	struct bench_worker *w;
	struct bench_stats *st;
	void *ep;
	struct bench_reqtable t;
	struct qr_rng rng;
	uint64_t measure_ns, end_ns; /* measured window */
	uint64_t next_arrival_ns;    /* open loop: intended time of the next */
	double gap_mean_ns;	     /* open loop: 1 / per-thread rate */
	uint64_t populate_next;	     /* populate: next key number */
	uint64_t done, errors;	     /* for progress */
	/* frames being filled this turn, one per (node, shard) */
	unsigned nframes;
	struct qr_frame_writer fw[BENCH_BURST];
	uint16_t fnode[BENCH_BURST], fshard[BENCH_BURST];
	struct bench_pkt pkt[BENCH_BURST];
	uint8_t frame[BENCH_BURST][QR_FRAME_BYTES_MAX];
	uint8_t value[QR_VALUE_BYTES_MAX];
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
	}
	acc->ok += a->ok;
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

static void flush(struct engine *e)
{
	if (!e->nframes)
		return;
	const struct qr_cluster *cl = &e->cfg->cluster;
	for (unsigned i = 0; i < e->nframes; i++) {
		e->pkt[i] = (struct bench_pkt){
			.ip = cl->node[e->fnode[i]].ip,
			.port = (uint16_t)(cl->base_port + e->fshard[i]),
			.len = (uint16_t)qr_wire_frame_end(&e->fw[i]),
			.data = e->frame[i],
		};
	}
	unsigned sent = e->cfg->tp->tx_burst(e->ep, e->pkt, e->nframes);
	e->st->frames += sent;
	e->st->local[BENCH_SEND_FAILED] += e->nframes - sent;
	e->nframes = 0;
}

/* Append m to this turn's frame for (node, shard), opening one if needed. */
static void enqueue(struct engine *e, uint16_t node, uint16_t shard,
		    const struct qr_msg *m)
{
	for (unsigned i = 0; i < e->nframes; i++)
		if (e->fnode[i] == node && e->fshard[i] == shard &&
		    qr_wire_put(&e->fw[i], m) == 0)
			return;
	if (e->nframes == BENCH_BURST)
		flush(e);
	unsigned i = e->nframes++;
	struct qr_frame_hdr h = {
		.cluster_id = e->cfg->cluster.id,
		.src_node = QR_NODE_CLIENT,
		.dst_node = node,
		.shard = shard,
	};
	qr_wire_frame_begin(&e->fw[i], e->frame[i], sizeof(e->frame[i]), &h);
	e->fnode[i] = node;
	e->fshard[i] = shard;
	int rc = qr_wire_put(&e->fw[i], m);
	QR_ASSERT(rc == 0); /* a max key + value fits an empty frame */
}

/* Issue one request whose latency counts from start_ns. The caller has
 * checked that the table has a free slot. */
static void issue(struct engine *e, uint64_t start_ns, uint64_t now)
{
	const struct bench_config *c = e->cfg;
	uint8_t op;
	uint64_t k;
	if (c->populate) {
		op = QR_OP_PUT;
		k = e->populate_next;
		e->populate_next += c->threads;
	} else {
		uint64_t pick = qr_rng_below(&e->rng, 100);
		op = pick < c->mix[0]		    ? QR_OP_GET
		     : pick < c->mix[0] + c->mix[1] ? QR_OP_PUT
						    : QR_OP_DELETE;
		k = c->zipf ? bench_zipf_next(&c->zipf_gen, &e->rng)
			    : qr_rng_below(&e->rng, c->keys);
	}
	char key[QR_KEY_BYTES_MAX];
	bench_key(key, c->key_bytes, k);
	uint32_t part = qr_placement_partition(&c->pl, key, c->key_bytes);
	const uint8_t *rep = qr_placement_replicas(&c->pl, part);
	uint16_t node =
		rep[c->coord_random ? qr_rng_below(&e->rng, c->pl.rf) : 0];
	struct bench_req *r = bench_reqtable_alloc(&e->t, now);
	QR_ASSERT(r != NULL);
	r->start_ns = start_ns;
	r->node = node;
	r->op = op;
	r->measured = !c->populate && start_ns >= e->measure_ns &&
		      start_ns < e->end_ns;
	e->st->issued += r->measured;
	const struct bench_level *lv = op == QR_OP_GET ? &c->get : &c->put;
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = r->req_id,
		.op = op,
		.level = lv->level,
		.r = lv->r,
		.w = lv->w,
		.deadline_us = c->timeout_us - c->timeout_us / 10,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)c->key_bytes,
		.value = op == QR_OP_PUT ? e->value : NULL,
		.value_len = op == QR_OP_PUT ? (uint16_t)c->value_bytes : 0,
	};
	e->st->msgs++;
	enqueue(e, node, qr_placement_shard(&c->pl, part), &m);
}

static void finish(struct engine *e, struct bench_req *r, int status,
		   uint64_t now)
{
	e->done++;
	if (status != 0 && status != QR_ENOTFOUND)
		e->errors++;
	if (r->measured) {
		struct bench_stats *st = e->st;
		if (status == 0 || status == QR_ENOTFOUND) {
			uint64_t lat = now - r->start_ns;
			qr_hist_record(&st->all, lat);
			qr_hist_record(&st->by_op[r->op - 1], lat);
			st->ok++;
			st->ok_by_op[r->op - 1]++;
			st->not_found += status == QR_ENOTFOUND;
		} else {
			unsigned slot = (unsigned)-status;
			st->err[slot < BENCH_ERR_SLOTS ? slot : 0]++;
		}
	}
	bench_reqtable_release(&e->t, r);
}

/* One datagram: every CLIENT_REPLY in it that answers a request of ours. */
static void on_datagram(struct engine *e, const struct bench_pkt *p,
			uint64_t now)
{
	const struct qr_cluster *cl = &e->cfg->cluster;
	struct qr_frame_reader rd;
	struct qr_frame_hdr h;
	if (qr_wire_frame_open(&rd, p->data, p->len, cl->id, &h) ||
	    h.dst_node != QR_NODE_CLIENT || h.src_node >= cl->nodes ||
	    cl->node[h.src_node].ip != p->ip) {
		e->st->local[BENCH_BAD_REPLY]++;
		return;
	}
	struct qr_msg m;
	while (qr_wire_next(&rd, &m) > 0) {
		if (m.type != QR_MSG_CLIENT_REPLY)
			continue;
		struct bench_req *r = bench_reqtable_find(&e->t, m.req_id);
		if (!r) {
			e->st->local[BENCH_LATE_REPLY]++;
			continue;
		}
		if (r->node != h.src_node) {
			e->st->local[BENCH_BAD_REPLY]++;
			continue;
		}
		finish(e, r, m.status, now);
	}
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

static void run(struct engine *e)
{
	const struct bench_config *c = e->cfg;
	const struct bench_transport_ops *tp = c->tp;
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
	struct bench_pkt rx[BENCH_BURST];
	for (;;) {
		uint64_t now = qr_clock_mono_ns();
		bool issuing = c->populate ? e->populate_next < c->keys
					   : now < e->end_ns;
		if (!issuing && (!e->t.used || now >= drain_end))
			break;
		bool busy = false;
		/* 1. replies (cost: one recvmmsg per burst of 32) */
		unsigned n;
		while ((n = tp->rx_burst(e->ep, rx, BENCH_BURST)) > 0) {
			busy = true;
			for (unsigned i = 0; i < n; i++)
				on_datagram(e, &rx[i], now);
			if (n < BENCH_BURST)
				break;
			now = qr_clock_mono_ns();
		}
		/* 2. timeouts, oldest first */
		struct bench_req *old;
		while ((old = bench_reqtable_oldest(&e->t)) &&
		       now - old->sent_ns >= timeout_ns)
			finish(e, old, QR_ETIMEOUT, now);
		/* 3. new requests */
		unsigned burst = 0;
		if (!open_loop) {
			unsigned want = c->outstanding;
			while (issuing && e->t.used < want &&
			       burst < 4 * BENCH_BURST &&
			       (!c->populate || e->populate_next < c->keys)) {
				issue(e, now, now);
				burst++;
			}
		} else {
			while (e->next_arrival_ns <= now &&
			       e->next_arrival_ns < e->end_ns &&
			       burst < 4 * BENCH_BURST) {
				if (e->t.used == e->t.cap) {
					e->st->table_full++;
					break; /* intended times are kept */
				}
				uint64_t lag = now - e->next_arrival_ns;
				if (lag > e->st->lag_max_ns &&
				    e->next_arrival_ns >= e->measure_ns)
					e->st->lag_max_ns = lag;
				issue(e, e->next_arrival_ns, now);
				t_arrival += exp_gap_ns(e);
				e->next_arrival_ns = (uint64_t)t_arrival;
				burst++;
			}
		}
		flush(e);
		busy |= burst > 0;
		if (now >= next_pub) {
			publish(e);
			next_pub = now + PUBLISH_NS;
		}
		if (busy || c->busy_poll)
			continue;
		/* 4. nothing to do: sleep until the next event */
		uint64_t until = now + IDLE_WAIT_NS_MAX;
		if (open_loop && e->next_arrival_ns < until)
			until = e->next_arrival_ns;
		if ((old = bench_reqtable_oldest(&e->t)) &&
		    old->sent_ns + timeout_ns < until)
			until = old->sent_ns + timeout_ns;
		if (until > now)
			tp->wait(e->ep, until - now);
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
	publish(e);
}

void *bench_worker_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct bench_config *c = w->cfg;
	struct engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		w->rc = -1;
		atomic_store(&w->finished, 1);
		return NULL;
	}
	e->cfg = c;
	e->w = w;
	e->st = &w->st;
	e->populate_next = w->id;
	qr_rng_seed(&e->rng, c->seed * 1000003u + w->id + 1);
	memset(e->value, 'a' + (int)(w->id % 26), sizeof(e->value));
	uint32_t cap = c->outstanding;
	if (bench_reqtable_init(&e->t, cap, qr_rng_next(&e->rng))) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		w->rc = -1;
		free(e);
		atomic_store(&w->finished, 1);
		return NULL;
	}
	e->ep = c->tp->open(w->id, w->err, sizeof(w->err));
	if (!e->ep) {
		w->rc = -1;
	} else {
		run(e);
		c->tp->close(e->ep);
	}
	atomic_store(&w->finished, 1);
	bench_reqtable_fini(&e->t);
	free(e);
	return NULL;
}

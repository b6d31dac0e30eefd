/* SPDX-License-Identifier: MIT */
/*
 * libquorate's request engine: the table of requests in flight (layout and
 * invariants in client_pvt.h), their timers, and reply matching.
 *
 * A request's life:
 *   submit  route it (partition = crc32c(key) & (P-1); replicas from the
 *           placement table; shard = partition % shards), take a slot and
 *           a req_id, send attempt 0 (queued in a frame for its (node,
 *           shard); sent at once unless the handle batches).
 *   resend  attempt k (k = 1..retries) at t0 + k * deadline/(retries+1),
 *           with the same req_id, to schedule(k): writes go twice to the
 *           first coordinator before moving on (a resend to the same node
 *           is deduplicated there; one to another node is not), CAS writes
 *           stay on it, reads move to the next replica at once.
 *   reply   the first CLIENT_REPLY with the request's req_id whose source
 *           address is ip(node):base_port+shard of a node it was sent to,
 *           with that node as src_node, ends it (OK or any status the node
 *           sends). Everything else is counted in stats.ignored.
 *   expire  at its deadline, with QR_ETIMEOUT.
 *   long    a request with a value over QR_VALUE_INLINE_MAX is sent as
 *           FRAGs of its long form (client_pvt.h), every send; a reply
 *           that comes as FRAGs is assembled (c->reasm), then matched; a
 *           node's FRAG_NACK for the request gets the chunks it names.
 * Timers are a binary min-heap of the LIVE slots by next_us: O(log n) per
 * send, reply or expiry; a reply finds its slot in O(1) (req_id & mask).
 *
 * Invariants: at most retries + 1 sends per request; a request ends once
 * (its slot leaves the heap and its req_id is cleared at that moment, so
 * a duplicate or late reply is ignored); completions are handed back in
 * the order requests ended; nothing allocates after qr_cl_table_init().
 */
#include "client/client_pvt.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/crc32c.h"
#include "common/le.h"
#include "core/hlc.h"
#include "core/wire_long.h"

int qr_cl_table_init(struct qr_client *c)
{
	uint32_t bits = 0;
	while ((1u << bits) < c->opt.max_inflight)
		bits++;
	c->bits = bits;
	c->cap = 1u << bits;
	c->max = c->opt.max_inflight;
	c->done_head = c->done_tail = QR_CLIENT_NIL;
	c->req = calloc(c->cap, sizeof(*c->req));
	c->free_slot = calloc(c->cap, sizeof(*c->free_slot));
	c->heap = calloc(c->cap, sizeof(*c->heap));
	if (!c->req || !c->free_slot || !c->heap)
		return -1;
	for (uint32_t i = 0; i < c->cap; i++)
		c->free_slot[i] = c->cap - 1 - i; /* slot 0 on top */
	c->free_top = c->cap;
	return 0;
}

void qr_cl_table_fini(struct qr_client *c)
{
	free(c->req);
	free(c->free_slot);
	free(c->heap);
}

/* ---- timer heap (by next_us) ------------------------------------------ */

static void heap_set(struct qr_client *c, uint32_t i, uint32_t slot)
{
	c->heap[i] = slot;
	c->req[slot].heap = i;
}

static void heap_up(struct qr_client *c, uint32_t i)
{
	uint32_t slot = c->heap[i];
	uint64_t t = c->req[slot].next_us;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (c->req[c->heap[parent]].next_us <= t)
			break;
		heap_set(c, i, c->heap[parent]);
		i = parent;
	}
	heap_set(c, i, slot);
}

static void heap_down(struct qr_client *c, uint32_t i)
{
	uint32_t slot = c->heap[i];
	uint64_t t = c->req[slot].next_us;
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		uint64_t tm = t;
		if (l < c->live && c->req[c->heap[l]].next_us < tm)
			m = l, tm = c->req[c->heap[l]].next_us;
		if (l + 1 < c->live && c->req[c->heap[l + 1]].next_us < tm)
			m = l + 1;
		if (m == i)
			break;
		heap_set(c, i, c->heap[m]);
		i = m;
	}
	heap_set(c, i, slot);
}

static void heap_remove(struct qr_client *c, uint32_t i)
{
	QR_DASSERT(i < c->live);
	uint32_t last = c->heap[--c->live];
	if (i == c->live)
		return;
	heap_set(c, i, last);
	heap_up(c, i);
	heap_down(c, c->req[last].heap);
}

/* ---- sends ------------------------------------------------------------- */

static bool is_write_op(uint8_t wop)
{
	return wop != QR_OP_GET && wop != QR_OP_LIN_GET;
}

/* Replica index (into the replica set) of attempt k. */
static unsigned attempt_replica(const struct qr_client *c,
				const struct qr_creq *q, unsigned k)
{
	unsigned step;
	if (!is_write_op(q->wop))
		step = k;
	else if (qr_op_is_cas(q->wop) || !c->opt.write_failover)
		step = 0; /* CAS: a resend elsewhere is a new execution */
	else
		step = k == 0 ? 0 : k - 1; /* first coordinator twice */
	return (q->start + step) % c->pl.rf;
}

/* q's CLIENT_REQ, asking the node to answer within left_us less a margin,
 * so that its UNAVAILABLE reaches us before we give up. */
static void req_msg(const struct qr_creq *q, uint64_t left_us,
		    struct qr_msg *m)
{
	*m = (struct qr_msg){
		.type = QR_MSG_CLIENT_REQ,
		.req_id = q->req_id,
		.op = q->wop,
		.level = q->level,
		.r = q->r,
		.w = q->w,
		.flags = q->flags,
		.key = q->key,
		.key_len = q->key_len,
		.value = q->big ? q->big : q->value_len ? q->value : NULL,
		.value_len = q->value_len,
		.min_version = q->min_version,
		.expected = q->expected,
		.deadline_us = (uint32_t)QR_MIN(left_us - left_us / 10,
						(uint64_t)UINT32_MAX),
	};
	if (!m->deadline_us)
		m->deadline_us = 1;
}

/* The long form's head: value_len u32 and the value-less message, as
 * qr_wire_long_encode() writes them (tested byte for byte). Its deadline
 * is the first send's: every send repeats the same bytes. */
int qr_cl_long_head(struct qr_client *c, struct qr_creq *q, uint64_t now)
{
	struct qr_msg m;
	req_msg(q, q->deadline_us - now, &m);
	if (!qr_wire_long_fields_ok(&m))
		return QR_EINVAL;
	m.value = NULL;
	m.value_len = 0;
	struct qr_frame_writer w = {
		.buf = q->value + 4,
		.cap = (uint16_t)(sizeof(q->value) - 4),
	};
	if (qr_wire_put(&w, &m))
		return QR_EINVAL;
	qr_st32(q->value, q->value_len);
	q->head_len = 4u + w.len;
	q->crc = qr_crc32c(qr_crc32c(0, q->value, q->head_len), q->big,
			   q->value_len);
	(void)c;
	return 0;
}

/* FRAG i of q's long form to node: fragment 0 (the head and the value's
 * first bytes) from the handle's scratch, the rest straight from the
 * caller's value. */
static void send_chunk(struct qr_client *c, const struct qr_creq *q,
		       uint16_t node, uint32_t i)
{
	uint32_t total = q->head_len + q->value_len, chunk = c->chunk;
	uint32_t off = i * chunk;
	QR_ASSERT(q->head_len < chunk && off < total);
	if (i == 0) {
		memcpy(c->frag0, q->value, q->head_len);
		memcpy(c->frag0 + q->head_len, q->big,
		       QR_MIN(chunk, total) - q->head_len);
	}
	struct qr_msg m = {
		.type = QR_MSG_FRAG,
		.op_id = q->req_id,
		.incarnation = c->incarnation,
		.frag = {total, chunk, q->crc, off},
		.value = off ? q->big + (off - q->head_len) : c->frag0,
		.value_len = QR_MIN(chunk, total - off),
	};
	qr_cl_enqueue(c, node, q->shard, &m);
	c->stats.frags_sent++;
}

/* Every FRAG of q's long form to node. */
static void send_long(struct qr_client *c, const struct qr_creq *q,
		      uint16_t node)
{
	uint32_t total = q->head_len + q->value_len;
	for (uint32_t i = 0; (uint64_t)i * c->chunk < total; i++)
		send_chunk(c, q, node, i);
}

/* Queue attempt q->sent at now (< deadline), then set the time of the
 * next one. */
static void attempt_send(struct qr_client *c, struct qr_creq *q, uint64_t now)
{
	QR_ASSERT(now < q->deadline_us && q->sent < q->attempts);
	uint16_t node = q->replicas[attempt_replica(c, q, q->sent)];
	if (q->big) {
		send_long(c, q, node);
	} else {
		struct qr_msg m;
		req_msg(q, q->deadline_us - now, &m);
		qr_cl_enqueue(c, node, q->shard, &m);
	}
	q->tried_mask |= 1ull << node;
	c->stats.sends++;
	c->stats.resends += q->sent > 0;
	q->res.attempts++;
	q->sent++;
	q->next_us = q->sent < q->attempts
			     ? QR_MIN(q->t0_us + q->sent * q->interval_us,
				      q->deadline_us)
			     : q->deadline_us;
}

/* ---- endings ----------------------------------------------------------- */

static void complete(struct qr_client *c, struct qr_creq *q, int status)
{
	heap_remove(c, q->heap);
	q->req_id = 0;
	q->res.status = status;
	uint32_t slot = (uint32_t)(q - c->req);
	q->next_done = QR_CLIENT_NIL;
	if (c->done_tail == QR_CLIENT_NIL)
		c->done_head = slot;
	else
		c->req[c->done_tail].next_done = slot;
	c->done_tail = slot;
}

static void on_reply(struct qr_client *c, struct qr_creq *q,
		     const struct qr_frame_hdr *h, const struct qr_msg *m)
{
	struct qr_result *o = &q->res;
	o->hlc = m->version.hlc;
	o->node = m->version.node;
	o->coordinator = h->src_node;
	o->answered = m->answered;
	o->replica_mask = m->replica_mask;
	o->tombstone = m->flags & QR_MSGF_TOMBSTONE;
	o->closed_ts = m->closed_ts;
	o->lag_ms = m->closed_ts ? 0 : UINT32_MAX; /* MAX: unknown */
	if (m->closed_ts && QR_HLC_MS(h->hlc) > QR_HLC_MS(m->closed_ts))
		o->lag_ms = (uint32_t)QR_MIN(QR_HLC_MS(h->hlc) -
						     QR_HLC_MS(m->closed_ts),
					     (uint64_t)UINT32_MAX);
	/* The value goes whole into the caller's buffer, or not at all. */
	int status = m->status;
	o->value_len = m->value_len;
	o->value = NULL;
	if (m->value_len && m->value_len <= q->out_cap) {
		memcpy(q->out, m->value, m->value_len);
		o->value = q->out;
	} else if (m->value_len && !status) {
		status = QR_ETOOLARGE;
	}
	/* The token is kept even when not sent: qr_client_session(). */
	if (o->hlc > c->session)
		c->session = o->hlc;
	if (q->weak && o->hlc > c->session_weak)
		c->session_weak = o->hlc;
	c->stats.replies++;
	complete(c, q, status);
}

/* One CLIENT_REPLY: the LIVE request it answers, or NULL. */
static struct qr_creq *match(struct qr_client *c, const struct qr_client_pkt *p,
			     const struct qr_frame_hdr *h, uint64_t req_id)
{
	struct qr_creq *q = &c->req[req_id & (c->cap - 1)];
	if (!req_id || q->req_id != req_id) {
		c->stats.late++;
		return NULL;
	}
	if (!(q->tried_mask & (1ull << h->src_node)) ||
	    p->port != c->cluster.base_port + q->shard)
		return NULL;
	return q;
}

/* One message of a reply frame (or assembled from fragments). */
static void on_msg(struct qr_client *c, const struct qr_client_pkt *p,
		   const struct qr_frame_hdr *h, const struct qr_msg *m)
{
	struct qr_creq *q = m->type == QR_MSG_CLIENT_REPLY
				    ? match(c, p, h, m->req_id)
				    : NULL;
	if (q)
		on_reply(c, q, h, m);
	else
		c->stats.ignored++;
}

/* A fragment of a long reply: assembled per (node, port), the message
 * handled like one from a frame once whole, its slot freed at once (the
 * value was copied out). */
static void on_frag(struct qr_client *c, const struct qr_client_pkt *p,
		    const struct qr_frame_hdr *h, const struct qr_msg *m)
{
	struct qr_frag f;
	struct qr_reasm_msg done;
	struct qr_msg lm;
	c->stats.frags_received++;
	qr_wire_frag_of(m, (uint64_t)h->src_node << 16 | p->port, &f);
	int rc = qr_reasm_add(&c->reasm, &f, c->rx_now_ns, &done);
	if (rc < 0)
		c->stats.reasm_dropped++;
	if (rc != 1)
		return;
	if (qr_wire_long_decode(done.data, done.len, &lm) == 0)
		on_msg(c, p, h, &lm);
	else
		c->stats.ignored++;
	qr_reasm_release(&c->reasm, &done);
}

/* A node's FRAG_NACK: it lacks the chunks named of a long request of ours
 * (docs/large-values.md, selective resend). They go again to that node,
 * if the NACK names the request in flight exactly (id, incarnation, total,
 * chunk, CRC) and comes from a node it was sent to. */
static void on_nack(struct qr_client *c, const struct qr_client_pkt *p,
		    const struct qr_frame_hdr *h, const struct qr_msg *m)
{
	struct qr_creq *q = match(c, p, h, m->op_id);
	uint32_t total = q ? q->head_len + q->value_len : 0;
	if (!q || !q->big || m->incarnation != c->incarnation ||
	    m->frag.total != total || m->frag.chunk != c->chunk ||
	    m->frag.crc != q->crc) {
		c->stats.ignored++;
		return;
	}
	c->stats.nacks_received++;
	uint32_t first = m->frag.offset / m->frag.chunk;
	for (uint32_t b = 0; b < m->value_len * 8u; b++) {
		if ((uint64_t)(first + b) * c->chunk >= total)
			break;
		if (m->value[b / 8] & (1u << (b % 8))) {
			send_chunk(c, q, h->src_node, first + b);
			c->stats.frags_resent++;
		}
	}
}

void qr_cl_on_datagram(struct qr_client *c, const struct qr_client_pkt *p)
{
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	if (p->len > QR_FRAME_BYTES_MAX ||
	    qr_wire_frame_open(&r, p->data, p->len, c->cluster.id, &h) ||
	    h.src_node >= c->cluster.nodes || h.dst_node != QR_NODE_CLIENT ||
	    p->ip != c->cluster.node[h.src_node].ip) {
		c->stats.ignored++;
		return;
	}
	/* A node at a newer epoch than our placement's (mod 2^16, as the
	 * header carries it): refresh (qr_client_refresh). */
	if ((int16_t)(uint16_t)(h.epoch - (uint16_t)c->epoch) > 0)
		c->epoch_newer = true;
	struct qr_msg m;
	while (qr_wire_next(&r, &m) > 0) {
		if (m.type == QR_MSG_FRAG)
			on_frag(c, p, &h, &m);
		else if (m.type == QR_MSG_FRAG_NACK)
			on_nack(c, p, &h, &m);
		else
			on_msg(c, p, &h, &m);
	}
}

/* ---- the table's interface to client_async.c -------------------------- */

struct qr_creq *qr_cl_take(struct qr_client *c)
{
	if (c->used == c->max)
		return NULL;
	uint32_t slot = c->free_slot[--c->free_top];
	c->used++;
	struct qr_creq *q = &c->req[slot];
	uint64_t seq = c->seq++;
	if (!(seq << c->bits))
		seq = c->seq++; /* wrapped to 0: skip it (req_id 0 is none) */
	memset(q, 0, offsetof(struct qr_creq, key));
	q->res.coordinator = 0xffff;
	q->req_id = (seq << c->bits) | slot;
	return q;
}

void qr_cl_give(struct qr_client *c, struct qr_creq *q)
{
	q->req_id = 0;
	c->free_slot[c->free_top++] = (uint32_t)(q - c->req);
	c->used--;
}

void qr_cl_start(struct qr_client *c, struct qr_creq *q, uint64_t now)
{
	q->t0_us = now;
	attempt_send(c, q, now);
	heap_set(c, c->live++, (uint32_t)(q - c->req));
	heap_up(c, q->heap);
}

void qr_cl_timers(struct qr_client *c, uint64_t now)
{
	if (c->reasm.open_n)
		c->stats.reasm_expired +=
			qr_reasm_expire(&c->reasm, now * 1000);
	while (c->live) {
		struct qr_creq *q = &c->req[c->heap[0]];
		if (q->next_us > now)
			return;
		if (now >= q->deadline_us) {
			c->stats.timeouts++;
			complete(c, q, QR_ETIMEOUT);
			continue;
		}
		attempt_send(c, q, now);
		heap_down(c, 0);
	}
}

uint64_t qr_cl_next_due(const struct qr_client *c)
{
	return c->live ? c->req[c->heap[0]].next_us : UINT64_MAX;
}

unsigned qr_cl_deliver(struct qr_client *c, struct qr_completion *out,
		       unsigned max)
{
	unsigned n = 0;
	while (n < max && c->done_head != QR_CLIENT_NIL) {
		struct qr_creq *q = &c->req[c->done_head];
		c->done_head = q->next_done;
		if (c->done_head == QR_CLIENT_NIL)
			c->done_tail = QR_CLIENT_NIL;
		out[n].user = q->user;
		out[n].op = (enum qr_client_op)q->client_op;
		out[n].result = q->res;
		n++;
		qr_cl_give(c, q);
	}
	return n;
}

void qr_cl_drop_all(struct qr_client *c)
{
	while (c->live)
		complete(c, &c->req[c->heap[0]], QR_EIO);
	while (c->done_head != QR_CLIENT_NIL) {
		struct qr_creq *q = &c->req[c->done_head];
		c->done_head = q->next_done;
		qr_cl_give(c, q);
	}
	c->done_tail = QR_CLIENT_NIL;
	c->nframes = 0;
}

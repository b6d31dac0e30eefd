/* SPDX-License-Identifier: MIT */
/*
 * Long messages and the large-value pool (long.h V1..V4).
 *
 * Why a pool of whole-value buffers and not chained frames: a request's
 * value is re-sent (retransmission, hints, read repair) and handed to the
 * store and the WAL as one contiguous string; a contiguous buffer keeps
 * every one of those paths the same code as for an inline value. The pool
 * is calloc'd, so a buffer costs memory only once a value has used it.
 */
#include "core/core_pvt.h"

#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "core/wire_long.h"

#define VALUES_DEFAULT 64	    /* pool buffers when the config says 0 */
#define REASM_SLOTS_DEFAULT 8	    /* messages assembled at once */
#define REASM_TIMEOUT_US 2000000ull /* a long message's time to arrive */
#define REASM_IDLE_DIV 20	    /* ... and a gap in it: 1/20 of that */
#define NACKS_PER_MSG 3		    /* A8 reports per message, then A4 */
#define NACKS_PER_TICK 4	    /* A8 reports per call */
#define KEEP_LONGEST 4		    /* V5: the longest messages kept ... */
#define KEEP_BYTES_MIN (1u << 20)   /* ... or at least this many bytes */

static uint32_t value_bytes_max(const struct qr_core *c)
{
	return c->cfg.value_bytes_max ? c->cfg.value_bytes_max
				      : QR_VALUE_BYTES_DEFAULT;
}

int qc_long_init(struct qr_core *c)
{
	uint32_t vmax = value_bytes_max(c);
	uint32_t n = c->cfg.values_max ? c->cfg.values_max : VALUES_DEFAULT;
	struct qr_reasm_config rc = {
		/* default: room for two messages from every peer */
		.slots = c->cfg.reasm_slots
				 ? c->cfg.reasm_slots
				 : QR_MAX(REASM_SLOTS_DEFAULT, 2u * c->nodes),
		.bytes_max = 4u + QR_FRAME_BYTES_MAX + vmax,
		.timeout_ns = (c->cfg.reasm_timeout_us ? c->cfg.reasm_timeout_us
						       : REASM_TIMEOUT_US) *
			      1000,
	};
	rc.idle_ns = c->cfg.reasm_idle_us ? c->cfg.reasm_idle_us * 1000
					  : rc.timeout_ns / REASM_IDLE_DIV; /* A4 */
	/* One sender may hold half the slots: a client streaming large
	 * writes cannot starve the peers' replication (reasm.h A3). */
	rc.per_src_max = rc.slots > 1 ? rc.slots / 2 : 1;
	c->values_max = n;
	c->values = calloc(n, vmax);
	c->values_free = calloc(n, sizeof(*c->values_free));
	c->long_cap = rc.bytes_max;
	/* V5: room for KEEP_LONGEST of the longest messages, or
	 * KEEP_BYTES_MIN: many more of the usual few-KiB ones. malloc, not
	 * calloc: a kept message is written before it is read, and pages
	 * never used cost nothing. */
	c->long_ring_cap = c->cfg.long_keep_bytes
				   ? QR_MAX(c->cfg.long_keep_bytes, c->long_cap)
				   : QR_MAX((size_t)KEEP_LONGEST * c->long_cap,
					    (size_t)KEEP_BYTES_MIN);
	c->long_ring = malloc(c->long_ring_cap);
	c->long_scratch = malloc(c->long_cap);
	if (!c->values || !c->values_free || !c->long_ring ||
	    !c->long_scratch)
		return QR_ENOMEM;
	/* A8: a sender sends a message's chunks in one burst; a quarter of
	 * the idle bound without one means some were lost. */
	c->long_nack_gap_ns = rc.idle_ns / 4;
	for (uint32_t i = 0; i < n; i++)
		c->values_free[i] = n - i; /* refs, 1-based */
	c->values_free_n = n;
	return qr_reasm_init(&c->reasm, &rc);
}

void qc_long_fini(struct qr_core *c)
{
	qr_reasm_fini(&c->reasm);
	free(c->values);
	free(c->values_free);
	free(c->long_ring);
	free(c->long_scratch);
}

static uint8_t *value_buf(struct qr_core *c, uint32_t ref)
{
	QR_DASSERT(ref >= 1 && ref <= c->values_max);
	return c->values + (size_t)(ref - 1) * value_bytes_max(c);
}

bool qc_value_copy(struct qr_core *c, uint8_t **dst, uint32_t *ref,
		   uint8_t *inline_buf, const uint8_t *src, uint32_t len)
{
	uint8_t *to;

	if (len <= QR_VALUE_INLINE_MAX) {
		qc_value_release(c, ref);
		to = inline_buf;
	} else {
		if (len > value_bytes_max(c))
			return false;
		if (*ref == 0) {
			if (c->values_free_n == 0)
				return false; /* V2 */
			*ref = c->values_free[--c->values_free_n];
		}
		to = value_buf(c, *ref);
	}
	if (len && to != src)
		memmove(to, src, len); /* src may be our own buffer */
	*dst = to;
	return true;
}

void qc_value_release(struct qr_core *c, uint32_t *ref)
{
	if (*ref == 0)
		return;
	QR_ASSERT(c->values_free_n < c->values_max); /* V1 */
	c->values_free[c->values_free_n++] = *ref;
	*ref = 0;
}

uint32_t qc_values_in_use(const struct qr_core *c)
{
	return c->values_max - c->values_free_n;
}

/* Mark ref in seen; false if it is out of range or marked already. */
static bool audit_mark(uint8_t *seen, uint32_t max, uint32_t ref)
{
	if (ref == 0)
		return true;
	if (ref > max || seen[ref - 1])
		return false;
	seen[ref - 1] = 1;
	return true;
}

int qr_core_values_audit(const struct qr_core *c)
{
	uint8_t *seen = calloc(c->values_max, 1);
	uint32_t held = 0;
	bool ok = seen != NULL;
	for (uint32_t k = 0; ok && k < c->cfg.requests_max; k++) {
		const struct req *q = &c->reqs[k];
		if (q->kind == REQ_FREE) {
			ok = !q->value_ref && !q->st_value_ref;
			continue;
		}
		ok = audit_mark(seen, c->values_max, q->value_ref) &&
		     audit_mark(seen, c->values_max, q->st_value_ref);
		held += (q->value_ref != 0) + (q->st_value_ref != 0);
	}
	for (uint32_t k = 0; ok && k < c->cfg.hints_max; k++) {
		const struct hint *h = &c->hints[k];
		ok = h->used ? audit_mark(seen, c->values_max, h->value_ref)
			     : h->value_ref == 0;
		held += h->value_ref != 0;
	}
	for (uint32_t k = 0; ok && k < LOOP_SLOTS; k++)
		ok = c->loop[k].value_ref == 0; /* L4: empty between events */
	for (uint32_t k = 0; ok && k < c->values_free_n; k++)
		ok = audit_mark(seen, c->values_max, c->values_free[k]);
	free(seen);
	return ok && held == qc_values_in_use(c) ? 0 : QR_ECORRUPT;
}

/* The next kept slot, placed where the ring has long_cap bytes free: the
 * oldest slot is reused, and every kept message those bytes overlap is
 * forgotten (V5). Encoding there costs no copy. */
static struct long_kept *kept_take(struct qr_core *c)
{
	size_t at = c->long_ring_head;
	if (at + c->long_cap > c->long_ring_cap)
		at = 0;
	for (uint32_t i = 0; i < LONG_KEEP; i++) {
		struct long_kept *o = &c->long_kept[i];
		if (o->whole && o->at < at + c->long_cap &&
		    at < o->at + o->total)
			o->whole = false;
	}
	struct long_kept *k = &c->long_kept[c->long_kept_next];
	c->long_kept_next = (c->long_kept_next + 1) % LONG_KEEP;
	*k = (struct long_kept){.at = at};
	return k;
}

void qc_long_send(struct qr_core *c, uint16_t node, uint64_t client,
		  const struct qr_msg *m)
{
	/* To a peer: encoded into the ring of kept messages (V5), which a
	 * NACK may ask from. To a client: into the scratch buffer, since a
	 * client never NACKs and must not push peers' messages out. */
	struct long_kept scratch = {.node = QR_NODE_CLIENT};
	struct long_kept *k = node == QR_NODE_CLIENT ? &scratch : kept_take(c);
	uint8_t *bytes = node == QR_NODE_CLIENT ? c->long_scratch
						: c->long_ring + k->at;
	long n = qr_wire_long_encode(m, bytes, c->long_cap);
	QR_ASSERT(n > 0); /* every value we hold is within value_bytes_max */
	uint32_t total = (uint32_t)n;
	uint32_t crc = qr_crc32c(0, bytes, total);
	uint64_t id = ++c->long_seq;
	/* The peer frame keeps room for the MAC trailer (out.c): cut chunks
	 * to what an empty frame holds after it. Peer frames are
	 * peer_frame_bytes (jumbo where the cluster sets it), client frames
	 * QR_FRAME_BYTES_MAX (out.c O5). */
	size_t frame = node == QR_NODE_CLIENT ? QR_FRAME_BYTES_MAX
					      : qc_peer_frame(c);
	size_t cap = frame -
		     (node != QR_NODE_CLIENT && c->cfg.auth == QR_AUTH_MAC
			      ? QR_AUTH_TRAILER_BYTES
			      : 0);
	uint32_t chunk = qr_wire_frag_chunk(cap);
	struct qr_msg f;
	if (node != QR_NODE_CLIENT) {
		*k = (struct long_kept){.id = id, .total = total,
					.chunk = chunk, .crc = crc,
					.node = node, .whole = true,
					.at = k->at};
		c->long_ring_head = k->at + ((total + 7u) & ~7u);
	}

	c->stats.long_out++;
	for (uint32_t i = 0; qr_wire_frag_msg(&f, bytes, total, crc, chunk,
					      id, c->cfg.incarnation, i);
	     i++) {
		c->stats.frags_out++;
		if (node == QR_NODE_CLIENT)
			qc_send_client_msg(c, client, &f);
		else
			qc_send_peer(c, node, &f);
	}
}

void qc_long_on_frag(struct qr_core *c, uint16_t src_node, uint64_t client,
		     uint16_t shard, const struct qr_client_key *who,
		     const struct qr_msg *m)
{
	struct qr_frag f;
	struct qr_reasm_msg done;
	struct qr_msg lm;
	bool from_client = src_node == QR_NODE_CLIENT;

	c->stats.frags_in++;
	/* A client's messages are told apart by the driver's handle of its
	 * address; a node's by its id, above every handle's range would be
	 * ambiguous, so tag them. */
	qr_wire_frag_of(m, from_client ? client : (1ull << 63) | src_node,
			&f);
	int rc = qr_reasm_add(&c->reasm, &f, qc_now_us(c) * 1000, &done);
	if (rc == QR_ECORRUPT)
		c->stats.long_corrupt++; /* A1: checker (w) in the simulator */
	if (rc < 0) {
		qc_drop(c, QR_DROP_LONG);
		return;
	}
	if (rc == 0)
		return;
	rc = qr_wire_long_decode(done.data, done.len, &lm);
	if (rc == 0 && lm.type != QR_MSG_FRAG) {
		c->stats.long_in++;
		if (from_client)
			qc_on_client_msg(c, client, shard, who, &lm);
		else
			qc_dispatch_peer_msg(c, src_node, &lm);
	} else {
		qc_drop(c, QR_DROP_LONG);
	}
	qr_reasm_release(&c->reasm, &done); /* V4: after the handler */
}

void qc_long_expire(struct qr_core *c)
{
	uint64_t now_ns = qc_now_us(c) * 1000;
	unsigned n = qr_reasm_expire(&c->reasm, now_ns);
	c->stats.drops[QR_DROP_LONG] += n;
	/* A8: ask the sender (a peer, or a client: libquorate answers
	 * too) for what a stalled message lacks. */
	struct qr_reasm_gap g[NACKS_PER_TICK];
	uint32_t k = qr_reasm_stalled(&c->reasm, now_ns, c->long_nack_gap_ns,
				      NACKS_PER_MSG, g, NACKS_PER_TICK);
	for (uint32_t i = 0; i < k; i++) {
		struct qr_msg m = {
			.type = QR_MSG_FRAG_NACK,
			.op_id = g[i].msg_id,
			.incarnation = g[i].incarnation,
			.frag = {.total = g[i].total,
				 .chunk = g[i].chunk,
				 .crc = g[i].crc,
				 .offset = g[i].first * g[i].chunk},
			.value = g[i].missing,
			.value_len = g[i].nbytes,
		};
		c->stats.nacks_out++;
		if (g[i].src >> 63) /* a node's tag (qc_long_on_frag) */
			qc_send_peer(c, (uint16_t)g[i].src, &m);
		else
			qc_send_client_msg(c, g[i].src, &m);
	}
}

/* The kept message a NACK from node names, or NULL (A8). */
static const struct long_kept *kept_find(const struct qr_core *c,
					 uint16_t node, const struct qr_msg *m)
{
	for (uint32_t i = 0; i < LONG_KEEP; i++) {
		const struct long_kept *k = &c->long_kept[i];
		if ((k->whole || QR_BUG(NACK_KEPT_OVERWRITTEN)) &&
		    k->id == m->op_id && k->node == node &&
		    k->total == m->frag.total && k->chunk == m->frag.chunk &&
		    k->crc == m->frag.crc)
			return k;
	}
	return NULL;
}

void qc_long_on_nack(struct qr_core *c, uint16_t from, const struct qr_msg *m)
{
	c->stats.nacks_in++;
	const struct long_kept *k =
		m->incarnation == c->cfg.incarnation ? kept_find(c, from, m)
						     : NULL;
	if (!k) {
		c->stats.nacks_unknown++; /* sent whole again by its owner */
		return;
	}
	uint32_t first = m->frag.offset / m->frag.chunk;
	struct qr_msg f;
	for (uint32_t b = 0; b < m->value_len * 8u; b++) {
		if (!(m->value[b / 8] & (1u << (b % 8))))
			continue;
		if (!qr_wire_frag_msg(&f, c->long_ring + k->at, k->total,
				      k->crc, k->chunk, k->id,
				      c->cfg.incarnation, first + b))
			break; /* past the last chunk */
		c->stats.frags_resent++;
		qc_send_peer(c, from, &f);
	}
}

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
	c->long_buf = malloc(c->long_cap);
	if (!c->values || !c->values_free || !c->long_buf)
		return QR_ENOMEM;
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
	free(c->long_buf);
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

void qc_long_send(struct qr_core *c, uint16_t node, uint64_t client,
		  const struct qr_msg *m)
{
	long n = qr_wire_long_encode(m, c->long_buf, c->long_cap);
	QR_ASSERT(n > 0); /* every value we hold is within value_bytes_max */
	uint32_t total = (uint32_t)n;
	uint32_t crc = qr_crc32c(0, c->long_buf, total);
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

	c->stats.long_out++;
	for (uint32_t i = 0; qr_wire_frag_msg(&f, c->long_buf, total, crc, chunk,
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
	unsigned n = qr_reasm_expire(&c->reasm, qc_now_us(c) * 1000);
	c->stats.drops[QR_DROP_LONG] += n;
}

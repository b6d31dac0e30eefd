/* SPDX-License-Identifier: MIT */
/*
 * A client request arrives: check it, suppress duplicates, fail fast when
 * too few replicas are up, take a slot, and start the write, read or CAS.
 *
 * Invariants:
 *  I1. A request that gets no slot is answered at once with a named error
 *      (WRONG_SHARD, INVALID_ARGUMENT, UNAVAILABLE, BUSY), never dropped.
 *  I3. A write (or CAS op) is taken only if W replicas take writes
 *      (qc_writable: our WAL, peers' NO_WRITES heartbeats); else it is
 *      answered our WAL's error or NO_SPACE at once.
 *  I2. A request's deadline is at most half the tombstone grace
 *      (qc_ae_gc_life_us): its repairs and retransmissions end before a
 *      tombstone above it can be collected.
 */
#include "core/core_pvt.h"

#include <string.h>

/* R or W the request needs (0: invalid for its op and level). */
static uint8_t need_of(const struct qr_msg *m, bool is_read, bool is_cas,
		       uint8_t rf)
{
	uint8_t need =
		is_cas ? qc_quorum_of(rf)
		       : qc_level_count(m->level, is_read ? m->r : m->w, rf);
	if (is_read && m->level == QR_LEVEL_ANY)
		need = 0; /* ANY is for writes */
	/* A token read no replica is current for may become a quorum read. */
	if (is_read && m->min_version && (m->flags & QR_MSGF_STALE_QUORUM) &&
	    need && need < qc_quorum_of(rf))
		need = qc_quorum_of(rf);
	if (m->op != QR_OP_PUT && m->op != QR_OP_PUT_IF_ABSENT &&
	    m->op != QR_OP_PUT_IF_VERSION && m->value_len)
		need = 0; /* a value only goes with a put */
	return need;
}

/*
 * A write the dedupe table knows (T5): true if it was answered here (a
 * duplicate: the same answer again if done, nothing while in flight).
 * *retry: the entry of a write answered UNAVAILABLE and asked again, which
 * the new request completes.
 */
static bool dedup_handled(struct qr_core *c, uint64_t client,
			  const struct qr_msg *m, struct dedup **retry)
{
	*retry = NULL;
	struct dedup *d = qc_dedup_find(c, client, m->req_id);
	if (d && d->op_id == 0 && d->status == QR_EUNAVAILABLE) {
		*retry = d;
		return false;
	}
	if (!d)
		return false;
	c->stats.client_duplicates++;
	if (d->op_id == 0) {
		/* Done: the same answer again. */
		struct req tmp;
		memset(&tmp, 0, offsetof(struct req, key));
		tmp.kind = REQ_WRITE;
		tmp.client = client;
		tmp.req_id = m->req_id;
		tmp.version = d->version;
		qc_send_client_reply(c, &tmp, d->status);
	}
	return true;
}

/* The fields every kind of request takes from the client's message. */
static void req_fill(struct qr_core *c, struct req *q, uint64_t client,
		     uint16_t shard, const struct qr_msg *m, uint32_t part,
		     uint8_t need)
{
	uint64_t now = qc_now_us(c);
	uint8_t rf = (uint8_t)c->pl->rf;
	c->stats.client_ops[m->op]++;
	q->kind = m->op == QR_OP_GET	? REQ_READ
		  : qr_op_is_cas(m->op) ? REQ_CAS
					: REQ_WRITE;
	q->op = m->op;
	q->need = need;
	q->rf = rf;
	memcpy(q->replicas, qr_placement_replicas(c->pl, part), rf);
	q->partition = part;
	q->client = client;
	q->client_shard = shard;
	q->req_id = m->req_id;
	/* I2 */
	q->deadline_us =
		now + qc_ae_gc_life_us(c, m->deadline_us
						  ? m->deadline_us
						  : c->cfg.deadline_us_default);
	QR_ASSERT(!c->cfg.tombstone_grace_ms ||
		  q->deadline_us - now <= c->cfg.tombstone_grace_ms * 1000 / 2);
	q->rto_us = qc_rto_initial(c);
	q->sent_us = now;
	q->key_len = m->key_len;
	memcpy(q->key, m->key, m->key_len);
}

void qc_coord_on_client(struct qr_core *c, uint64_t client, uint16_t shard,
			const struct qr_msg *m)
{
	const struct qr_placement *pl = c->pl;
	uint32_t part = qr_placement_partition(pl, m->key, m->key_len);
	if (qr_placement_shard(pl, part) != c->cfg.shard) {
		qc_drop(c, QR_DROP_WRONG_SHARD);
		qc_reply_error_direct(c, client, m, shard, QR_EWRONG_SHARD);
		return;
	}
	/* G2 (clock_guard.c): not while our clock is out of bounds. */
	if (!qc_clock_serving(c)) {
		c->stats.clock_refused++;
		qc_reply_error_direct(c, client, m, shard, QR_ECLOCK);
		return;
	}
	bool is_read = m->op == QR_OP_GET;
	bool is_cas = qr_op_is_cas(m->op); /* linearizable: always a quorum */
	bool any = m->level == QR_LEVEL_ANY;
	uint8_t rf = (uint8_t)pl->rf;
	uint8_t need = need_of(m, is_read, is_cas, rf);
	if (need == 0) {
		qc_reply_error_direct(c, client, m, shard, QR_EINVAL);
		return;
	}
	struct dedup *retry = NULL; /* an UNAVAILABLE write asked again */
	if (!is_read && m->op != QR_OP_LIN_GET &&
	    dedup_handled(c, client, m, &retry))
		return;
	/* Fail fast, within the deadline: the CP answer. ANY writes leave
	 * hints when no replica is up. */
	if (!any &&
	    qc_live_count(c, qr_placement_replicas(pl, part), rf) < need) {
		qc_reply_error_direct(c, client, m, shard, QR_EUNAVAILABLE);
		return;
	}
	/* Writes (CAS included: an accept is a write) need W replicas that
	 * take writes: ourselves while our WAL does (we could not even log
	 * an HLC ceiling to stamp with), peers whose heartbeats do not say
	 * NO_WRITES. Else the client hears why at once: our WAL's error, or
	 * NO_SPACE (the store-full answer) when peers refuse. */
	if (!is_read && !any && !QR_BUG(ACK_WAL_REFUSED)) {
		int why = c->wal_err;
		if (!why && qc_writable_count(c, qr_placement_replicas(pl, part),
					      rf) < need)
			why = QR_ENOSPC;
		if (why) {
			c->stats.writes_refused++;
			qc_reply_error_direct(c, client, m, shard, why);
			return;
		}
	}
	struct req *q = qc_req_alloc(c);
	if (!q) {
		qc_reply_error_direct(c, client, m, shard, QR_EBUSY);
		return;
	}
	req_fill(c, q, client, shard, m, part, need);
	if (is_cas)
		qc_cas_start(c, q, m, retry);
	else if (is_read)
		qc_read_start(c, q, m);
	else
		qc_write_start(c, q, m, retry);
}

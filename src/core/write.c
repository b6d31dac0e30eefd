/* SPDX-License-Identifier: MIT */
/*
 * Writes, coordinator side: the version is stamped (intake.c), parked until
 * the HLC ceiling covers it (ceiling.c), sent to every replica not DOWN,
 * answered after W acks, retransmitted to the missing ones until the
 * deadline (UNAVAILABLE) or, once answered, a short linger.
 *
 * Invariants:
 *  W1. A write is counted for W only from an ack of a version >= its own
 *      (an older one is for another write: dropped).
 *  W2. Nothing of a parked write is sent before its ceiling is durable.
 *  W3. Hints never count toward W; level ANY is the one exception, answered
 *      once its hints are durable in our WAL (hints.c).
 *  W5. Retransmission is for reaching W: once a write is answered nothing is
 *      resent to a replica (a slow one is most often just queueing, and a
 *      resend doubles its work). The linger waits for the stragglers' acks;
 *      at its end qc_req_free hands those still missing to hints (T4),
 *      which deliver them with their own pacing.
 */
#include "core/core_pvt.h"

#include <string.h>

/*
 * A new write in its slot (intake.c filled it): take the value, stamp the
 * version above the session's token, record it for dedupe, and send it
 * unless the HLC ceiling must first cover it (parked: ceiling.c, W2).
 */
void qc_write_start(struct qr_core *c, struct req *q, const struct qr_msg *m,
		    struct dedup *retry)
{
	q->any = m->level == QR_LEVEL_ANY;
	q->tombstone = m->op == QR_OP_DELETE;
	q->value_len = m->value_len;
	memcpy(q->value, m->value, m->value_len);
	/* A session that has seen min_version must write above it, or
	 * last-writer-wins would hide its own write. But a client's token
	 * may only move our HLC a lease ahead of our wall clock: at
	 * max_offset peers would start refusing our frames (a client could
	 * cut a node off its peers). Further tokens are ignored and
	 * counted. */
	if (m->min_version) {
		uint64_t wall = qr_hlc_wall_ms(&c->hlc);
		if (QR_HLC_MS(m->min_version) <= wall + c->cfg.hlc_lease_ms)
			(void)qr_hlc_observe(&c->hlc, m->min_version, NULL);
		else
			c->stats.tokens_ignored++;
	}
	/* A retry of a write answered UNAVAILABLE completes that same write:
	 * it re-drives the version stamped the first time (which may already
	 * be on some replicas), so one request is one version. It reuses the
	 * entry: a second entry for the same request would hide its answer
	 * from later duplicates. */
	if (retry) {
		q->version = retry->version;
	} else {
		q->version.hlc = qr_hlc_now(&c->hlc);
		q->version.node = c->cfg.node_id;
	}
	(retry ? retry : qc_dedup_insert(c, q->client, q->req_id))->op_id =
		qc_op_id_of(c, q);
	qc_req_arm(c, q);
	uint64_t ms = QR_HLC_MS(q->version.hlc);
	qc_ceiling_renew(c, ms);
	if (ms >= c->ceiling_ms) {
		QR_ASSERT(!q->parked); /* H3: counted once */
		q->parked = true;
		c->parked++;
		return;
	}
	qc_write_dispatch(c, q);
}

void qc_send_replicate(struct qr_core *c, struct req *q, int i)
{
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = (uint8_t)((q->tombstone ? QR_MSGF_TOMBSTONE : 0) |
				   (q->kind == REQ_READ ? QR_MSGF_REPAIR : 0)),
		.op_id = qc_op_id_of(c, q),
		.partition = q->partition,
		.version = q->version,
		.key = q->key,
		.key_len = q->key_len,
		.value = q->value,
		.value_len = q->value_len,
	};
	qc_send_peer(c, q->replicas[i], &m);
}

/* A write's REPLICATE to every replica not DOWN (ours included: it goes
 * through the loopback queue like the others). */
void qc_write_dispatch(struct qr_core *c, struct req *q)
{
	/* W2: nothing leaves before the durable ceiling covers it. */
	QR_ASSERT(!q->parked && QR_HLC_MS(q->version.hlc) < c->ceiling_ms);
	if (q->any && qc_live_count(c, q->replicas, q->rf) == 0) {
		qc_any_hint(c, q);
		return;
	}
	for (int i = 0; i < q->rf; i++)
		if (qc_reachable(c, q->replicas[i]))
			qc_send_replicate(c, q, i);
}

void qc_coord_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
		     int status, struct qr_version v)
{
	if (op_id & HINT_OP_TAG) {
		if (status == 0)
			qc_hint_on_ack(c, from, op_id, v);
		return;
	}
	struct req *q = qc_req_by_op_id(c, op_id);
	if (q && q->hinted_any && from == c->cfg.node_id) {
		/* Level ANY: our hints for it are durable. */
		if (!q->answered)
			qc_req_answer(c, q, 0);
		qc_req_maybe_done(c, q);
		return;
	}
	int i = q ? qc_replica_idx(q, from) : -1;
	if (i < 0 || status != 0) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	uint8_t bit = (uint8_t)(1u << i);
	if (q->kind == REQ_WRITE) {
		/* A replica acks the version it holds, at least ours; an
		 * older one is an ack for another write (a slot and
		 * generation reused across our restart). */
		if (qr_version_cmp(v, q->version) < 0) {
			qc_drop(c, QR_DROP_STALE_REPLY);
			return;
		}
		if (q->done_mask & bit)
			return; /* duplicate ack */
		q->done_mask |= bit;
		qc_rtt_sample(c, q, from);
		if (!q->answered && __builtin_popcount(q->done_mask) >= q->need)
			qc_req_answer(c, q, 0);
		qc_req_maybe_done(c, q);
		return;
	}
	qc_read_on_repair_ack(c, q, i, v);
}

/* Retransmit to the replicas that have not acknowledged (not DOWN). A
 * parked write has sent nothing: ask for the ceiling again (logging it may
 * have failed). An answered write is not retransmitted (W5): it waits out
 * its linger, then qc_req_free hints whoever is still missing. */
void qc_write_timer(struct qr_core *c, struct req *q)
{
	if (q->answered) {
		qr_timer_arm(&c->wheel, &q->timer, q->linger_us);
		return;
	}
	q->rto_us = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	qc_req_arm(c, q);
	if (q->parked) {
		qc_ceiling_renew(c, QR_HLC_MS(q->version.hlc));
		return;
	}
	q->retransmitted = true;
	for (int i = 0; i < q->rf; i++) {
		if ((q->done_mask & (1u << i)) ||
		    !qc_reachable(c, q->replicas[i]))
			continue;
		c->stats.retransmits++;
		qc_send_replicate(c, q, i);
	}
}

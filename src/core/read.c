/* SPDX-License-Identifier: MIT */
/*
 * Reads, coordinator side: READ to every replica; the first R answers
 * decide; the answer is the highest version among them.
 *
 * Blocking read repair (R >= quorum, monotonic quorum reads): the client
 * is answered only when a quorum durably holds a version >= the answer, so
 * a later quorum read can never see less. For R < quorum the repair runs in
 * the background. Session tokens: an answer is current for token t if the
 * replica's watermark is above t or it holds the key above t; a read needs
 * R answers, one of them current (docs/protocol.md, "Session tokens").
 *
 *   coord_on_read_reply -> read_repair_pass -> read_progress -> answer
 *   repair ack (write.c) -> qc_read_on_repair_ack -> read_repair_pass ...
 *   timer -> qc_read_timer: ask again (token waits), resend repairs,
 *            until answered (D4)
 *
 * Invariants:
 *  D1. holds_mask has a bit only for replicas known to durably hold a
 *      version >= q->version (an answer or a repair ack); a new best
 *      resets it to the replica that sent it.
 *  D2. Repair is sent only after R answers settled the best (before that a
 *      better one may still come), and at most once per replica at a time
 *      (repair_mask).
 *  D3. A read with R >= quorum is answered OK only with hold_need holders.
 *  D4. Retransmission (READ, repair) is for answering: an answered read
 *      resends nothing; its background repair is best effort, and what it
 *      misses anti-entropy converges (anti_entropy.c).
 */
#include "core/core_pvt.h"

#include <string.h>

/* A new read in its slot (intake.c filled it): READ to every replica not
 * DOWN. */
void qc_read_start(struct qr_core *c, struct req *q, const struct qr_msg *m)
{
	/* Blocking repair for R >= quorum (monotonic quorum reads), at any
	 * level: a LOCAL_QUORUM read that is a majority of all replicas (2
	 * of 3 in one zone) promises what a QUORUM read does. */
	q->hold_need = q->need >= q->quorum ? q->quorum : 0;
	if ((QR_BUG(NO_BLOCKING_REPAIR_QUORUM) &&
	     q->need == q->quorum) ||
	    (QR_BUG(NO_BLOCKING_REPAIR_ALL) && q->need == q->rf))
		q->hold_need = 0;
	q->token = m->min_version;
	q->stale_mode = m->flags & (QR_MSGF_STALE_ERROR | QR_MSGF_STALE_QUORUM);
	qc_req_arm(c, q);
	for (int i = 0; i < q->rf; i++)
		if (qc_reachable(c, q->replicas[i]))
			qc_send_read(c, q, i);
}

void qc_send_read(struct qr_core *c, struct req *q, int i)
{
	struct qr_msg m = {
		.type = QR_MSG_READ,
		.op_id = qc_op_id_of(c, q),
		.partition = q->partition,
		.key = q->key,
		.key_len = q->key_len,
	};
	qc_send_peer(c, q->replicas[i], &m);
}

/* Reads: can we answer, and what? Called after every reply or repair ack. */
void qc_read_progress(struct qr_core *c, struct req *q)
{
	if (q->answered) {
		qc_req_maybe_done(c, q);
		return;
	}
	if (!qc_met(&q->grp, q->done_mask,
		    QR_BUG(READ_QUORUM_MINUS_ONE) ? 1 : 0))
		return;
	if (!q->valid_mask) {
		/* No answer is current for the session token yet. The
		 * timer asks again (watermarks move with heartbeats) until
		 * the deadline; STALE_ERROR asks for STALE once every live
		 * replica has answered. */
		if (q->stale_mode == QR_MSGF_STALE_ERROR &&
		    qc_all_live_answered(c, q)) {
			c->stats.stale_answers++;
			qc_req_answer(c, q, QR_ESTALE);
			qc_req_maybe_done(c, q);
		}
		return;
	}
	if (q->found && !QR_BUG(SKIP_READ_REPAIR) &&
	    __builtin_popcount(q->holds_mask) < q->hold_need)
		return; /* blocking repair still short of a quorum */
	int status = 0;
	if (!q->found || q->tombstone)
		status = QR_ENOTFOUND;
	qc_req_answer(c, q, status);
	qc_req_maybe_done(c, q);
}

/*
 * Send the best version to every replica that answered with less and is not
 * already being repaired; only once R answers have settled the best (before
 * that a better one may still come): D2.
 */
void qc_read_repair_pass(struct qr_core *c, struct req *q)
{
	if (QR_BUG(SKIP_READ_REPAIR) ||
	    (QR_BUG(NO_BACKGROUND_REPAIR) && !q->hold_need))
		return;
	if (!q->found ||
	    (!q->answered && !qc_met(&q->grp, q->done_mask, 0)))
		return;
	for (int k = 0; k < q->rf; k++) {
		uint8_t bit = (uint8_t)(1u << k);
		if (!(q->done_mask & bit) || (q->holds_mask & bit) ||
		    (q->repair_mask & bit))
			continue;
		q->repair_mask |= bit;
		c->stats.read_repairs_sent++;
		qc_send_replicate(c, q, k);
	}
}

void qc_coord_on_read_reply(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m)
{
	if (qc_refuse_future(c, m->version.hlc))
		return; /* read repair would spread it */
	struct req *q = qc_req_by_op_id(c, m->op_id);
	int i = q && q->kind == REQ_READ ? qc_replica_idx(q, from) : -1;
	if (i < 0 || (q->done_mask & (1u << i))) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	if (qr_unlikely(m->value_len > QR_VALUE_INLINE_MAX) &&
	    !q->value_ref && !c->values_free_n) {
		qc_drop(c, QR_DROP_VALUES_FULL); /* long.h V2: as if lost */
		return;
	}
	q->done_mask |= (uint8_t)(1u << i);
	q->heard_mask |= (uint8_t)(1u << i);
	qc_rtt_sample(c, q, from);
	bool has = m->status == 0;
	/* Current for the session token: the replica's watermark is above
	 * it, or it holds a version of this key above it. */
	if (!q->token ||
	    m->closed_ts + (QR_BUG(TOKEN_SERVE_AT_EQUAL) ? 1 : 0) > q->token ||
	    (has && m->version.hlc > q->token)) {
		q->valid_mask |= (uint8_t)(1u << i);
		if (m->closed_ts > q->serve_wm)
			q->serve_wm = m->closed_ts;
	}
	int cmp = has ? qr_version_cmp(m->version, q->version) : -1;
	if (has && (!q->found || cmp > 0) && !q->answered) {
		/* New best: earlier holders hold less now. */
		q->found = true;
		q->version = m->version;
		q->tombstone = (m->flags & QR_MSGF_TOMBSTONE) != 0;
		q->value_len = m->value_len;
		/* checked above: a buffer is held or free (long.h V2) */
		QR_ASSERT(qc_value_copy(c, &q->value, &q->value_ref,
					q->value_in, m->value, m->value_len));
		q->holds_mask = (uint8_t)(1u << i);
	} else if (has && (cmp >= 0 || QR_BUG(REPLY_HOLDS_OLDER))) {
		q->holds_mask |= (uint8_t)(1u << i);
	}
	qc_read_repair_pass(c, q);
	qc_read_progress(c, q);
}

/* A repair's REPLICATE_ACK from replica index i (write.c routes it here):
 * the replica durably holds v, at least the best we sent (D1). */
void qc_read_on_repair_ack(struct qr_core *c, struct req *q, int i,
			   struct qr_version v)
{
	uint8_t bit = (uint8_t)(1u << i);
	QR_ASSERT(q->kind == REQ_READ);
	if (!(q->repair_mask & bit))
		return;
	QR_ASSERT(q->found); /* D2: only a found best is ever repaired */
	q->repair_mask &= (uint8_t)~bit;
	if (qr_version_cmp(v, q->version) >= 0 ||
	    QR_BUG(REPAIR_ACK_ANY_VERSION))
		q->holds_mask |= bit;
	/* Acked an older best (a better one came meanwhile): repair again. */
	qc_read_repair_pass(c, q);
	qc_read_progress(c, q);
}

/* Ask again the replicas that have not answered (not DOWN), and resend
 * repairs not yet acknowledged. A read whose answers are all behind its
 * token asks every replica again: watermarks move with heartbeats. */
void qc_read_timer(struct qr_core *c, struct req *q)
{
	QR_ASSERT(!q->parked); /* only writes and CAS rounds park */
	if (q->answered) {
		/* D4: nothing resent once answered; the linger waits for the
		 * late answers (background repair), anti-entropy does the
		 * rest. */
		qr_timer_arm(&c->wheel, &q->timer, q->linger_us);
		return;
	}
	q->rto_us = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	qc_req_arm(c, q);
	q->retransmitted = true;
	if (!q->answered && !q->valid_mask && q->done_mask) {
		q->done_mask = 0;
		c->stats.token_waits++;
	}
	for (int i = 0; i < q->rf; i++) {
		uint8_t bit = (uint8_t)(1u << i);
		if (((q->done_mask & bit) && !(q->repair_mask & bit)) ||
		    !qc_reachable(c, q->replicas[i]))
			continue;
		c->stats.retransmits++;
		if (q->repair_mask & bit)
			qc_send_replicate(c, q, i);
		else
			qc_send_read(c, q, i);
	}
}

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
 *  W4. A write that carries a session token is stamped strictly above it,
 *      or not at all (answered CLOCK_AHEAD; nothing sent, no hint, no
 *      dedupe entry left: a retry is a new write). Until stamped
 *      (token_wait) it holds no version: no claim (closed_ts.c) waits
 *      for it, since it will be stamped above our HLC.
 *  W5. Retransmission is for reaching W: once a write is answered nothing is
 *      resent to a replica (a slow one is most often just queueing, and a
 *      resend doubles its work). The linger waits for the stragglers' acks;
 *      at its end qc_req_free hands those still missing to hints (T4),
 *      which deliver them with their own pacing.
 *  W6. Before it is answered, a write is resent to a missing replica when
 *      it is likely lost, not when it is merely slow: at its first timeout
 *      only to a replica that has since acked a write we first sent after
 *      this one (frames between two shards arrive in order, and a
 *      replica's acks leave in WAL order, so that ack means ours or its
 *      ack was dropped: the idea of TCP's RACK, RFC 8985); from its second
 *      timeout (the RTO doubled, so up to 3 RTOs after the send), or at
 *      the first when the next firing would be the deadline, to every
 *      missing replica (as W7's probes allow), which bounds the recovery
 *      of a lost frame when no later write gives evidence. The RTO
 *      includes the replica's fsync, whose tail is far above its mean:
 *      resending on the first timeout alone resent up to 18% of writes
 *      to replicas only syncing.
 *      False evidence (a replica acks at once a version it already holds,
 *      or a long write's fragments queue behind later short writes) costs
 *      one early resend, never a missed one.
 *  W7. A resend without evidence (W6's second timeout on) is a probe:
 *      at most one per replica per initial RTO (qc_rto_initial),
 *      whichever write's timer fires first, as TCP resends one segment,
 *      not its whole window, when its timer fires. A disk that stalls
 *      every node's WAL for 50-500 ms (perf/README.md,
 *      "Retransmissions under a disk stall") used to draw a resend of
 *      every write in flight to every replica it had not acked, each a
 *      duplicate to apply and a stale ack to drop, when the cluster was
 *      slowest. The replica's answer to a write probed to it is W6's
 *      evidence for every write first sent before the probe (its acks
 *      leave in WAL order), one initial RTO after the answer came: so a
 *      replica cut off and back gets what it lost at each write's next
 *      timeout after that, not one write per RTO; and if the answer was
 *      to the first copy (a slow disk, not a loss), the writes queued in
 *      the replica's next WAL batch have that RTO to be acked first.
 *      A write whose deadline is within its next two firings is
 *      resent regardless (held back, it would get only the last
 *      firing's remnant of time); evidence resends (W6) are never held
 *      back.
 */
#include "core/core_pvt.h"

#include <string.h>

/*
 * W4: a session's write is stamped strictly above its token (min_version),
 * or last-writer-wins would hide it behind what the session already saw.
 * Observing the token moves our HLC to it; but a client's token may only
 * move our HLC a lease ahead of our wall clock: at max_offset peers would
 * start refusing our frames (a client could cut a node off its peers). So
 * a write whose token is further ahead waits, unstamped and unsent, until
 * our wall clock is within a lease of it (at most max_offset minus a lease
 * for a token some node's clock made), and is answered CLOCK_AHEAD at once
 * if that wait would pass its deadline. It is never stamped below the
 * token (bug 1 of issue 13: it used to be, and was answered OK).
 * Returns the microseconds still to wait; 0: stamped.
 */
static uint64_t write_stamp(struct qr_core *c, struct req *q)
{
	if (q->token) {
		uint64_t wall = qr_hlc_wall_ms(&c->hlc);
		uint64_t tok_ms = QR_HLC_MS(q->token);
		if (tok_ms <= wall + c->cfg.hlc_lease_ms) {
			/* hlc.c refuses a token whose logical counter would
			 * overflow ours: the next millisecond takes it. */
			if (qr_hlc_observe(&c->hlc, q->token, NULL) != 0 &&
			    !QR_BUG(STAMP_BELOW_TOKEN))
				return 1000;
		} else if (!QR_BUG(STAMP_BELOW_TOKEN)) {
			return (tok_ms - wall - c->cfg.hlc_lease_ms) * 1000;
		}
	}
	q->version.hlc = qr_hlc_now(&c->hlc);
	q->version.node = c->cfg.node_id;
	QR_ASSERT(q->version.hlc > q->token || QR_BUG(STAMP_BELOW_TOKEN));
	return 0;
}

/* A stamped write: send it unless the HLC ceiling must first cover it
 * (parked: ceiling.c, W2). */
static void write_go(struct qr_core *c, struct req *q)
{
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

/*
 * A new write in its slot (intake.c filled it): take the value, stamp the
 * version above the session's token (W4: it may first wait for our wall
 * clock), record it for dedupe, and send it.
 */
void qc_write_start(struct qr_core *c, struct req *q, const struct qr_msg *m,
		    struct dedup *retry)
{
	q->any = m->level == QR_LEVEL_ANY;
	q->tombstone = m->op == QR_OP_DELETE;
	q->value_len = m->value_len;
	/* intake.c checked a buffer is free for a long value (long.h V2) */
	QR_ASSERT(qc_value_copy(c, &q->value, &q->value_ref, q->value_in,
				m->value, m->value_len));
	/* A retry of a write answered UNAVAILABLE completes that same write:
	 * it re-drives the version stamped the first time (which may already
	 * be on some replicas, and is above this request's token), so one
	 * request is one version. It reuses the entry: a second entry for
	 * the same request would hide its answer from later duplicates. */
	uint64_t wait_us = 0;
	if (retry && !QR_BUG(RETRY_RESTAMPS)) {
		q->version = retry->version;
	} else {
		q->token = m->min_version;
		wait_us = write_stamp(c, q);
	}
	qc_dedup_start(c, retry, q->client, q->req_id, qc_op_id_of(c, q));
	if (wait_us) {
		q->token_wait = true; /* unstamped: no hint when freed */
		if (qc_now_us(c) + wait_us >= q->deadline_us) {
			c->stats.tokens_ignored++; /* refused, not ignored */
			qc_req_answer(c, q, QR_ECLOCK);
			qc_req_free(c, q);
			return;
		}
		c->stats.token_write_waits++;
		qr_timer_arm(&c->wheel, &q->timer, qc_now_us(c) + wait_us);
		return;
	}
	qc_req_arm(c, q);
	write_go(c, q);
}

void qc_send_replicate(struct qr_core *c, struct req *q, int i)
{
	struct qr_msg tmp;
	uint16_t node = q->replicas[i];
	struct qr_msg *m = qc_send_begin(c, node, &tmp);
	*m = (struct qr_msg){
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
	qc_send_end(c, node, m, &tmp);
}

/* A replica a write is sent to: one that takes writes; with the injected
 * bug ACK_WAL_REFUSED, every one not DOWN, as before issue 12. */
static bool write_target(const struct qr_core *c, uint16_t node)
{
	return QR_BUG(ACK_WAL_REFUSED) ? qc_reachable(c, node)
				       : qc_writable(c, node);
}

/* A write's REPLICATE to every replica that takes writes (not DOWN, no
 * NO_WRITES heartbeat) (ours included: it goes
 * through the loopback queue like the others). */
void qc_write_dispatch(struct qr_core *c, struct req *q)
{
	/* W2: nothing leaves before the durable ceiling covers it. */
	QR_ASSERT(!q->parked && QR_HLC_MS(q->version.hlc) < c->ceiling_ms);
	if (q->any && qc_writable_count(c, q->replicas, q->rf) == 0) {
		qc_any_hint(c, q);
		return;
	}
	for (int i = 0; i < q->rf; i++)
		if (write_target(c, q->replicas[i]))
			qc_send_replicate(c, q, i);
}

/* W7: may a resend without evidence of loss go to r now? Once per RTO:
 * the first write to ask takes it. */
static bool probe_ok(struct qr_core *c, uint16_t r, uint64_t now)
{
	if (now < c->probe_next_us[r] && !QR_BUG(PROBE_UNLIMITED))
		return false;
	c->probe_next_us[r] = now + qc_rto_initial(c);
	return true;
}

/* W7: r's evidence from answered probes that is due by now joins W6's. */
static void probe_evidence_due(struct qr_core *c, uint16_t r, uint64_t now)
{
	if (c->probe_ev_seq[r] && now >= c->probe_ev_us[r]) {
		if (c->probe_ev_seq[r] > c->answered_seq[r])
			c->answered_seq[r] = c->probe_ev_seq[r];
		c->probe_ev_seq[r] = 0;
	}
}

/* W7: r answered a write probed to it when send_seq was below seq. The
 * answer may be to the first copy, with the writes sent after that copy
 * in r's next WAL batch: their acks get an RTO to come before this is
 * evidence (the reordering window of RACK, RFC 8985). One pending value
 * per peer, never postponed: while one waits, a later answer's is
 * dropped (the next probe's answer brings it again). */
static void probe_evidence(struct qr_core *c, uint16_t r, uint64_t seq)
{
	uint64_t now = qc_now_us(c);
	probe_evidence_due(c, r, now);
	if (seq <= c->answered_seq[r] || c->probe_ev_seq[r])
		return;
	c->probe_ev_us[r] = now + qc_rto_initial(c);
	c->probe_ev_seq[r] = seq;
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
	if (i >= 0 && (status == QR_ENOSPC || status == QR_EIO) &&
	    q->kind == REQ_WRITE) {
		/* A replica's store is full, or its WAL takes no writes
		 * (replica.c, R5): once too few replicas are left to reach
		 * W, the client hears why (NO_SPACE, IO_ERROR), not
		 * UNAVAILABLE at the deadline. */
		q->full_mask |= (uint8_t)(1u << i);
		if (!q->answered &&
		    !qc_met(&q->grp, (uint8_t)(RF_BITS(q->rf) & ~q->full_mask),
			    0))
			qc_req_answer(c, q, status);
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
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
		/* W6's evidence, from write acks only (they leave in WAL
		 * order; a read is answered at once): sent_seq numbers the
		 * first send, no later than the copy that was answered. */
		if (q->sent_seq > c->answered_seq[from])
			c->answered_seq[from] = q->sent_seq;
		/* W7: an answer to a write probed to it is evidence, one
		 * RTO from now, for every write first sent before the
		 * probe. */
		if ((q->probed_mask & bit) && !QR_BUG(PROBE_NO_EVIDENCE))
			probe_evidence(c, from, q->probe_seq);
		qc_rtt_sample(c, q, from);
		if (!q->answered &&
		    qc_met(&q->grp, q->done_mask,
			   QR_BUG(WRITE_QUORUM_MINUS_ONE) ? 1 : 0))
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
	if (q->token_wait) { /* W4: our wall clock may be near enough now */
		uint64_t wait_us = write_stamp(c, q);
		if (wait_us) {
			qr_timer_arm(
				&c->wheel, &q->timer,
				QR_MIN(q->deadline_us, qc_now_us(c) + wait_us));
			return;
		}
		q->token_wait = false;
		qc_req_sent(c, q);
		qc_req_arm(c, q);
		write_go(c, q);
		return;
	}
	q->rto_us = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	qc_req_arm(c, q);
	if (q->parked) {
		qc_ceiling_renew(c, QR_HLC_MS(q->version.hlc));
		return;
	}
	/* W6: evidence of loss first; everyone missing from the second
	 * timeout on, or now if the next firing is the deadline. */
	uint64_t now = qc_now_us(c);
	bool last = now + q->rto_us >= q->deadline_us;
	bool all = (q->rto_fired || last) &&
		   !QR_BUG(RTO_WAITS_FOR_EVIDENCE);
	/* W7: no probe limit once the deadline is within two firings: a
	 * resend held back now would get only the last firing's remnant of
	 * time, maybe less than a round trip. */
	uint64_t after_next = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	bool near = now + q->rto_us + after_next >= q->deadline_us;
	q->rto_fired = true;
	for (int i = 0; i < q->rf; i++) {
		uint16_t r = q->replicas[i];
		if ((q->done_mask & (1u << i)) || !write_target(c, r))
			continue;
		probe_evidence_due(c, r, now);
		bool evidence = c->answered_seq[r] > q->sent_seq;
		if (!all && !evidence) {
			c->stats.rto_deferred++;
			continue;
		}
		if (!evidence && !near && !probe_ok(c, r, now)) {
			c->stats.rto_deferred++;
			continue;
		}
		if (!evidence) {
			/* The first probe's time: a later one's (to another
			 * replica) would claim writes sent after this copy. */
			if (!q->probed_mask)
				q->probe_seq = c->send_seq + 1;
			q->probed_mask |= (uint8_t)(1u << i);
		}
		q->retransmitted = true;
		c->stats.retransmits++;
		qc_send_replicate(c, q, i);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Closed timestamps and the replication-lag view.
 *
 * A session token (the highest version a client has seen) may be served by
 * one replica alone if that replica holds every write stamped at or below
 * it. Each node tells every other node, in its heartbeats, a closed
 * timestamp: every write it stamped below that value and sent to that
 * node is durable there (acknowledged). It is the minimum of its HLC and
 * the versions of its writes that node has not acknowledged: in flight,
 * parked, or kept as hints. A replica's watermark is the minimum of what
 * every node (itself included) last told it; a read whose token is below
 * the watermark of the replica answering it is current. Claims only grow:
 * an acknowledged write stays durable. A node that restarts forgets its
 * writes in flight, so until the ones it stamped in [floor, restart) are
 * handed off (below), its closed timestamps stay at the floor.
 *
 * Invariants:
 *  S1. closed_out[n] <= our HLC, and <= the version of every write of ours
 *      node n has not acknowledged (in flight, parked, hinted, CAS ballots
 *      from PREPARE until n ACCEPTED); a hint of our own hand-off holds it
 *      at the hand-off's `from` (hints.c N5).
 *  S2. closed_in[n] only grows (claims stay true, even across restarts).
 *  S3. While our hand-off runs, closed_out[n] <= orphan_from.
 *  S4. closed_out[n] <= the durable HLC ceiling (ceiling.c), so claims stay
 *      below every version we stamp after a restart (recover.c raises the
 *      HLC to the ceiling): claims only grow across restarts.
 */
#include "core/core_pvt.h"

#include <string.h>

/* Below it, every write we stamped is durable at every replica. */
uint64_t qc_closed_floor(const struct qr_core *c)
{
	uint64_t f = UINT64_MAX;
	for (uint16_t n = 0; n < c->nodes; n++)
		if (qc_is_member(c, n)) /* a node slot no change used yet */
			f = QR_MIN(f, c->closed_out[n]);
	return f;
}

/* Whose claims bound our watermark: every member, and any other node slot
 * that has claimed and is not DOWN, as a node that left may still
 * coordinate writes to us until it installs the hand-over (the
 * simulator's checker (k): --membership seeds 361 and 670). A slot never
 * heard from (a spare) or DOWN and no member (gone) does not hold the
 * watermark for ever. */
static bool claims_count(const struct qr_core *c, uint16_t n)
{
	return qc_is_member(c, n) || n == c->cfg.node_id ||
	       (c->stats.closed_in[n] &&
		qr_detector_state(&c->det, n) != QR_PEER_DOWN);
}

void qc_watermark_update(struct qr_core *c)
{
	uint64_t wm = UINT64_MAX;
	c->stats.closed_in[c->cfg.node_id] = c->closed_out[c->cfg.node_id];
	for (uint16_t n = 0;
	     n + (QR_BUG(WATERMARK_SKIPS_LAST) ? 1 : 0) < c->nodes; n++)
		if (claims_count(c, n))
			wm = QR_MIN(wm, c->stats.closed_in[n]);
	c->stats.watermark = wm;
}

/* The request table's part of the closed timestamps (S1): each replica's
 * claim stays at or below every write and CAS ballot of ours it has not
 * acknowledged; and the lag view's unacked counts and oldest ages. */
static void scan_requests(struct qr_core *c, uint64_t *ct, uint64_t *oldest)
{
	for (uint32_t k = 0; k < c->cfg.requests_max; k++) {
		uint64_t word = c->req_busy[k / 64] >> (k % 64);
		if (!word) {
			k |= 63; /* nothing busy in the rest of this word */
			continue;
		}
		k += (uint32_t)__builtin_ctzll(word);
		const struct req *q = &c->reqs[k];
		if (q->kind == REQ_CAS) {
			/* An accept writes a state versioned by its ballot,
			 * which is stamped at PREPARE: from then on (a
			 * claim made during the prepare round trip would
			 * pass it; bug 2a of issue 13) until each replica
			 * ACCEPTED. In BACKOFF no ballot is out: the next
			 * one is stamped above our HLC, and a refused
			 * accept left hints (cas.c, X4). */
			if (q->phase != CAS_ACCEPT &&
			    (q->phase != CAS_PREPARE ||
			     QR_BUG(CAS_CLAIM_FROM_ACCEPT)))
				continue;
			for (int i = 0; i < q->rf; i++)
				if (q->phase == CAS_PREPARE ||
				    !(q->done_mask & (1u << i)))
					ct[q->replicas[i]] =
						QR_MIN(ct[q->replicas[i]],
						       q->ballot.hlc);
			continue;
		}
		if (q->kind != REQ_WRITE || q->token_wait ||
		    (QR_BUG(CLAIM_SKIPS_PARKED) && q->parked))
			continue; /* unstamped: will be above our HLC (W4) */
		for (int i = 0; i < q->rf; i++) {
			uint16_t n = q->replicas[i];
			if (q->done_mask & (1u << i))
				continue;
			ct[n] = QR_MIN(ct[n],
				       q->version.hlc +
					       (QR_BUG(CLAIM_INFLIGHT_PLUS_ONE)
							? 1
							: 0));
			if (n == c->cfg.node_id || q->parked || !q->sent_us)
				continue;
			c->stats.repl_unacked[n]++;
			if (!oldest[n] || q->sent_us < oldest[n])
				oldest[n] = q->sent_us;
		}
	}
}

/* The hints' part: a target's claim stays below every hint kept for it. */
static void scan_hints(struct qr_core *c, uint64_t *ct)
{
	for (uint32_t k = 0; k < c->cfg.hints_max; k++) {
		uint64_t word = c->hint_busy[k / 64] >> (k % 64);
		if (!word) {
			k |= 63;
			continue;
		}
		k += (uint32_t)__builtin_ctzll(word);
		const struct hint *h = &c->hints[k];
		if (!QR_BUG(CLAIM_SKIPS_HINTS))
			ct[h->target] =
				QR_MIN(ct[h->target], h->claim); /* N5 */
	}
}

/*
 * Once per heartbeat period: the closed timestamp for each node, and the
 * replication-lag view (like pg_stat_replication): per peer, writes sent
 * and not acknowledged, the oldest one's age, and the hints kept for it.
 * A scan of the busy request and hint slots (their bitmaps skip the free
 * ones), so the write path keeps no extra counters.
 */
void qc_closed_scan(struct qr_core *c)
{
	uint64_t now = qc_now_us(c);
	uint64_t hlc = qr_hlc_now(&c->hlc);
	/* S4: no claim above the durable HLC ceiling, which recovery
	 * raises our HLC to: every write we stamp after a restart is above
	 * every claim we made before it. Peers keep our highest claim across
	 * our restarts (S2); our HLC, pushed by a peer's clock ahead of ours,
	 * can be far above the ceiling of the versions we stamped (bug 3 of
	 * issue 13). The ceiling is renewed here like for a write, half a
	 * lease early, so claims lag only while a record is in flight. */
	qc_ceiling_renew(c, QR_HLC_MS(hlc));
	uint64_t cap = QR_BUG(CLAIM_ABOVE_CEILING)
			       ? hlc
			       : QR_MIN(hlc, QR_HLC_MAKE(c->ceiling_ms, 0));
	uint64_t ct[QR_NODES_MAX];
	uint64_t oldest[QR_NODES_MAX] = {0};
	for (uint16_t n = 0; n < c->nodes; n++)
		ct[n] = cap;
	memset(c->stats.repl_unacked, 0, sizeof(c->stats.repl_unacked));
	scan_requests(c, ct, oldest);
	scan_hints(c, ct);
	for (uint16_t n = 0; n < c->nodes; n++) {
		if (c->orphan_active && !QR_BUG(CLAIM_SKIPS_ORPHAN_FLOOR))
			ct[n] = QR_MIN(ct[n], c->orphan_from);
		QR_ASSERT(ct[n] <= hlc); /* S1 */
		QR_ASSERT(ct[n] <= QR_HLC_MAKE(c->ceiling_ms, 0) ||
			  QR_BUG(CLAIM_ABOVE_CEILING)); /* S4 */
		c->closed_out[n] = ct[n];
		c->stats.repl_oldest_us[n] = oldest[n] ? now - oldest[n] : 0;
	}
	qc_watermark_update(c);
}

void qc_send_heartbeats(struct qr_core *c)
{
	struct qr_msg m = {
		.type = QR_MSG_HEARTBEAT,
		.incarnation = c->cfg.incarnation,
		/* Not UP for writes while our WAL refuses them (core.c). */
		.flags = c->wal_err && !QR_BUG(ACK_WAL_REFUSED)
				 ? QR_MSGF_NO_WRITES
				 : 0,
	};
	for (uint16_t n = 0; n < c->nodes; n++) {
		if (n == c->cfg.node_id)
			continue;
		m.closed_ts = c->closed_out[n];
		qc_send_peer(c, n, &m);
	}
}

/* A peer's HEARTBEAT: hearing from it was the point (the detector saw the
 * frame), and its closed timestamp for us (S2: claims only grow; what it
 * says stays true, even across its restarts). */
void qc_closed_on_heartbeat(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m)
{
	/* Claims only grow: one beyond the sender's possible HLC would hold
	 * for ever (issue 12). */
	if (qc_refuse_future(c, m->closed_ts))
		return;
	if (m->closed_ts > c->stats.closed_in[from]) {
		c->stats.closed_in[from] = m->closed_ts;
		qc_watermark_update(c);
	}
}

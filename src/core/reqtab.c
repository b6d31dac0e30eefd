/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's request table: slots, their generations, duplicate
 * suppression of client writes, the adaptive retransmission timeout, and
 * when a slot is finished.
 *
 * State of a request slot:
 *
 *   FREE --client req--> ACTIVE --quorum met--> ANSWERED --all done--> FREE
 *                          |  \                    \--linger over--> FREE
 *                          |   \--deadline--> (UNAVAILABLE) --> FREE
 *                          \--fast fail (too many DOWN)--> FREE
 *
 *   transition                  function
 *   FREE -> ACTIVE              qc_req_alloc (intake.c)
 *   ACTIVE -> ANSWERED          qc_req_answer (write.c, read.c, cas.c)
 *   ANSWERED -> FREE            qc_req_maybe_done, or the linger timer
 *   ACTIVE -> FREE (deadline)   qc_req_timer
 *
 * Invariants:
 *  T1. A slot is named on the wire by op_id = generation << 32 | index
 *      (generation 31 bits, never 0): a reply for a recycled slot has the
 *      wrong generation and is dropped (qc_req_by_op_id).
 *  T2. req_busy has a bit set exactly for the slots in use (kind !=
 *      REQ_FREE): the periodic scans visit only those.
 *  T3. A client is answered at most once per slot (asserted in
 *      qc_req_answer).
 *  T4. A write slot freed with replicas that did not acknowledge it leaves
 *      a hint for each (qc_req_free -> qc_hint_missing).
 *  T5. Dedupe: a retried client write (same client, req_id) is not stamped
 *      twice while its entry lives (docs/protocol.md).
 */
#include "core/core_pvt.h"

#include <string.h>

/* R or W a request needs; 0 if the level asks for more than RF. */
uint8_t qc_level_count(uint8_t level, uint8_t r_or_w, uint8_t rf)
{
	switch (level) {
	case QR_LEVEL_ONE:
		return 1;
	case QR_LEVEL_QUORUM:
		return qc_quorum_of(rf);
	case QR_LEVEL_ALL:
		return rf;
	case QR_LEVEL_RW:
		return r_or_w >= 1 && r_or_w <= rf ? r_or_w : 0;
	case QR_LEVEL_ANY:
		return 1;
	}
	return 0;
}

struct req *qc_req_by_op_id(struct qr_core *c, uint64_t op_id)
{
	uint32_t idx = (uint32_t)op_id;
	if (idx >= c->cfg.requests_max)
		return NULL;
	struct req *q = &c->reqs[idx];
	if (q->kind == REQ_FREE || q->gen != (uint32_t)(op_id >> 32))
		return NULL;
	return q;
}

/* The sizes the docs quote (docs/architecture.md "What exists", and
 * docs/operations.md for hints): a change here must change them too. */
_Static_assert(sizeof(struct req) == 2680, "request slot: update the docs");
_Static_assert(sizeof(struct hint) == 1368, "hint slot: update the docs");
_Static_assert(sizeof(struct loop_slot) == 1480,
	       "loopback slot: update the docs");

struct req *qc_req_alloc(struct qr_core *c)
{
	if (c->free_count == 0)
		return NULL;
	struct req *q = &c->reqs[c->free_reqs[--c->free_count]];
	uint32_t k = (uint32_t)(q - c->reqs);
	QR_ASSERT(q->kind == REQ_FREE && !q->parked);		/* T2 */
	QR_ASSERT(!(c->req_busy[k / 64] & (1ull << (k % 64)))); /* T2 */
	uint32_t gen = (q->gen + 1) & GEN_MASK;
	memset(q, 0, offsetof(struct req, key));
	q->gen = gen ? gen : 1; /* T1: never 0 */
	c->req_busy[k / 64] |= 1ull << (k % 64);
	return q;
}

void qc_req_free(struct qr_core *c, struct req *q)
{
	QR_ASSERT(q->kind != REQ_WRITE || q->token_wait ||
		  !qr_version_is_none(q->version)); /* W4: stamped or waiting */
	if ((q->kind == REQ_WRITE && !q->token_wait) ||
	    (q->kind == REQ_CAS && q->phase == CAS_ACCEPT))
		qc_hint_missing(c, q);
	qr_timer_cancel(&c->wheel, &q->timer);
	if (q->parked) {
		QR_ASSERT(c->parked > 0); /* H3 */
		q->parked = false;
		c->parked--;
	}
	uint32_t k = (uint32_t)(q - c->reqs);
	QR_ASSERT(q->kind != REQ_FREE);			     /* T2 */
	QR_ASSERT(c->req_busy[k / 64] & (1ull << (k % 64))); /* T2 */
	QR_ASSERT(c->free_count < c->cfg.requests_max);
	q->kind = REQ_FREE;
	qc_value_release(c, &q->value_ref); /* long.h V1 */
	qc_value_release(c, &q->st_value_ref);
	c->req_busy[k / 64] &= ~(1ull << (k % 64));
	c->free_reqs[c->free_count++] = k;
}

static struct dedup *dedup_set(struct qr_core *c, uint64_t client,
			       uint64_t req_id)
{
	uint64_t x = client * 0x9e3779b97f4a7c15ull ^ req_id;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return &c->dedup[(x & c->dedup_sets_mask) * DEDUP_WAYS];
}

struct dedup *qc_dedup_find(struct qr_core *c, uint64_t client, uint64_t req_id)
{
	struct dedup *set = dedup_set(c, client, req_id);
	for (int i = 0; i < DEDUP_WAYS; i++)
		if (set[i].seq && set[i].client == client &&
		    set[i].req_id == req_id)
			return &set[i];
	return NULL;
}

struct dedup *qc_dedup_insert(struct qr_core *c, uint64_t client,
			      uint64_t req_id)
{
	struct dedup *set = dedup_set(c, client, req_id);
	/* A free way, else the oldest finished entry, else (all in flight)
	 * the oldest: an entry in flight is evicted only as a last resort. */
	struct dedup *free_way = NULL, *old_done = NULL, *old_any = NULL;
	for (int i = 0; i < DEDUP_WAYS; i++) {
		struct dedup *e = &set[i];
		if (!e->seq) {
			if (!free_way)
				free_way = e;
			continue;
		}
		if (e->op_id == 0 && (!old_done || e->seq < old_done->seq))
			old_done = e;
		if (!old_any || e->seq < old_any->seq)
			old_any = e;
	}
	struct dedup *victim = free_way	  ? free_way
			       : old_done ? old_done
					  : old_any;
	*victim = (struct dedup){
		.seq = ++c->dedup_seq, .client = client, .req_id = req_id};
	return victim;
}

void qc_req_answer(struct qr_core *c, struct req *q, int status)
{
	QR_ASSERT(!q->answered);
	q->answered = true;
	if (q->kind == REQ_WRITE || q->kind == REQ_CAS) {
		struct dedup *d = qc_dedup_find(c, q->client, q->req_id);
		if (d && d->op_id == qc_op_id_of(c, q) &&
		    status == QR_ECLOCK) {
			*d = (struct dedup){0}; /* W4: nothing stamped */
		} else if (d && d->op_id == qc_op_id_of(c, q)) {
			d->op_id = 0;
			d->status = (int16_t)status;
			d->version = q->version;
			d->first = q->kind == REQ_CAS ? q->mine_first
						      : QR_VERSION_NONE;
		}
	}
	qc_send_client_reply(c, q, status);
	/* Stragglers get a short window, not the whole deadline. */
	q->linger_us = qc_now_us(c) + c->cfg.rto_us_max;
}

/* Slot finished? Frees it and returns true. */
bool qc_req_maybe_done(struct qr_core *c, struct req *q)
{
	if (!q->answered)
		return false;
	uint8_t all = RF_BITS(q->rf);
	/* DOWN replicas are not waited for once the client has its answer,
	 * nor, for a write, replicas that take no writes (they get hints). */
	for (int i = 0; i < q->rf; i++)
		if ((q->replicas[i] != c->cfg.node_id &&
		     qr_detector_state(&c->det, q->replicas[i]) ==
			     QR_PEER_DOWN) ||
		    (q->kind == REQ_WRITE && !qc_writable(c, q->replicas[i])))
			all &= (uint8_t) ~(1u << i);
	bool done = (q->done_mask & all) == all;
	if (q->kind == REQ_READ)
		done = done && q->repair_mask == 0;
	if (done)
		qc_req_free(c, q);
	return done;
}

uint8_t qc_live_mask(struct qr_core *c, const uint8_t *replicas, uint8_t rf)
{
	uint8_t mask = 0;
	for (int i = 0; i < rf; i++)
		if (replicas[i] == c->cfg.node_id ||
		    qr_detector_state(&c->det, replicas[i]) != QR_PEER_DOWN)
			mask |= (uint8_t)(1u << i);
	return mask;
}

uint8_t qc_writable_mask(const struct qr_core *c, const uint8_t *replicas,
			 uint8_t rf)
{
	uint8_t mask = 0;
	for (int i = 0; i < rf; i++)
		if (qc_writable(c, replicas[i]))
			mask |= (uint8_t)(1u << i);
	return mask;
}

uint8_t qc_writable_count(const struct qr_core *c, const uint8_t *replicas,
			  uint8_t rf)
{
	uint8_t n = 0;
	for (int i = 0; i < rf; i++)
		n += qc_writable(c, replicas[i]);
	return n;
}

void qc_req_arm(struct qr_core *c, struct req *q)
{
	uint64_t end = q->answered ? q->linger_us : q->deadline_us;
	uint64_t at = QR_MIN(end, qc_now_us(c) + q->rto_us);
	qr_timer_arm(&c->wheel, &q->timer, at);
}

/*
 * Round-trip estimate over first-transmission answers (Karn's rule), after
 * Jacobson/Karels (RFC 6298): a write's answer includes the replica's WAL
 * sync, so the RTO adapts to the disk as well as the network. A fixed 2 ms
 * RTO retransmitted most writes on a disk whose fsync takes longer.
 */
void qc_rtt_sample(struct qr_core *c, struct req *q, uint16_t from)
{
	if (q->retransmitted || from == c->cfg.node_id || !q->sent_us)
		return;
	uint64_t r = qc_now_us(c) - q->sent_us;
	if (!c->srtt_us) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
		return;
	}
	uint64_t d = r > c->srtt_us ? r - c->srtt_us : c->srtt_us - r;
	c->rttvar_us = (3 * c->rttvar_us + d) / 4;
	c->srtt_us = (7 * c->srtt_us + r) / 8;
}

uint64_t qc_rto_initial(const struct qr_core *c)
{
	uint64_t rto = c->srtt_us + 4 * c->rttvar_us;
	return QR_MIN(QR_MAX(rto, c->cfg.rto_us_min), c->cfg.rto_us_max);
}

bool qc_all_live_answered(struct qr_core *c, const struct req *q)
{
	for (int i = 0; i < q->rf; i++)
		if (!(q->done_mask & (1u << i)) &&
		    (q->replicas[i] == c->cfg.node_id ||
		     qr_detector_state(&c->det, q->replicas[i]) !=
			     QR_PEER_DOWN))
			return false;
	return true;
}

/* A request's timer: its deadline, the end of its linger, or a
 * retransmission (write.c, read.c, cas.c). */
void qc_req_timer(struct qr_core *c, struct req *q)
{
	uint64_t now = qc_now_us(c);
	QR_ASSERT(q->kind != REQ_FREE); /* a free slot's timer is cancelled */
	if (!q->answered && now >= q->deadline_us) {
		/* Not enough replicas in time. A write may be applied on
		 * fewer than W replicas (docs/protocol.md); the replicas it
		 * missed get hints. A read answered, but by no replica
		 * current for its token, is STALE. */
		int st = QR_EUNAVAILABLE;
		if (q->kind == REQ_WRITE && q->token_wait)
			st = QR_ECLOCK; /* W4: never stamped, never sent */
		if (q->kind == REQ_READ && !q->valid_mask &&
		    qc_met(&q->grp, q->heard_mask, 0)) {
			st = QR_ESTALE;
			c->stats.stale_answers++;
		}
		qc_req_answer(c, q, st);
		qc_req_free(c, q);
		return;
	}
	if (q->answered && (now >= q->linger_us || qc_req_maybe_done(c, q))) {
		if (q->kind != REQ_FREE) {
			if (QR_BUG(LINGER_NO_HINT) && q->kind == REQ_WRITE)
				q->done_mask = RF_BITS(q->rf); /* forgets */
			qc_req_free(c, q); /* T4: hints for the missing */
		}
		return;
	}
	if (q->kind == REQ_CAS)
		qc_cas_timer(c, q);
	else if (q->kind == REQ_WRITE)
		qc_write_timer(c, q);
	else
		qc_read_timer(c, q);
}

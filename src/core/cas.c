/* SPDX-License-Identifier: MIT */
/*
 * CASPaxos in the core: the proposer (coordinator side); cas_acceptor.c
 * has the acceptor. Rystsov 2018; docs/protocol.md,
 * "Linearizable operations"; src/core/paxos.h has the acceptor rules.
 *
 * Acceptor (replica side):
 *   PREPARE(b)  -> vote (paxos.h). GRANT: log QR_WAL_PROMISE, and make the
 *                  HLC ceiling cover b; answer PROMISE with the entry (the
 *                  accepted state) once both are durable. AGAIN: answer once
 *                  the earlier record is durable. REJECT: PROMISE with
 *                  status QR_ESTALE and the ballot that won.
 *   ACCEPT(b,s) -> vote; GRANT: a write of s with version b, acked
 *                  (ACCEPTED) once durable, exactly like REPLICATE.
 * Proposer (coordinator side), one request slot per client op:
 *
 *   start --> PREPARE --quorum of promises--> decide --unanimous and no
 *               ^  |                             |     change--> answer
 *               |  +--reject--> BACKOFF          +--> ACCEPT --quorum--> answer
 *               +-----timer (new ballot)--/           |
 *                                                     +--reject--> BACKOFF
 *   any phase --deadline--> UNAVAILABLE
 *
 * Each round gets a new ballot and a new op_id generation, so a late
 * answer to an earlier round is a stale reply.
 *
 * decide: the current state is the promise with the highest version. If it
 * is one of our own accepted new states (mine[]: an earlier round of this
 * op, or of the same client request answered UNAVAILABLE), the op already
 * took effect: keep it and answer OK. Else apply the change function. When
 * the state does not change (LIN_GET, a failed precondition) and every
 * promise of the quorum names the same version, that state was accepted by
 * a quorum (chosen) and no accept is needed; otherwise the state is
 * accepted again with our ballot (CASPaxos: a read is a change that keeps
 * the value), and its version becomes the ballot.
 *
 *   transition                       function
 *   start -> PREPARE                 qc_cas_start -> cas_round
 *   PREPARE -> decide                qc_cas_on_promise -> cas_decide
 *   decide -> ACCEPT | answer        cas_decide
 *   ACCEPT -> answer                 qc_cas_on_accepted -> cas_answer
 *   any -> BACKOFF (reject)          cas_retry
 *   BACKOFF -> PREPARE (timer)       qc_cas_timer -> cas_round
 *
 * Invariants:
 *  X1. Each round has a new ballot and a new op_id generation.
 *  X2. A ballot is never sent before the durable HLC ceiling covers it.
 *  X4. An accept phase that ends without a quorum (refused: BACKOFF; or
 *      the deadline) leaves a hint of its state for every replica that
 *      did not ACCEPT it, so the state is counted in the closed
 *      timestamps (closed_ts.c S1) until those replicas hold it, even
 *      after the op ends UNAVAILABLE (bug 2b of issue 13).
 *  X3. Own-state detection sees every ballot this client request accepted
 *      its new state with, across rounds and retries after UNAVAILABLE:
 *      the last CAS_MINE_MAX exactly (mine[]), the first one exactly
 *      (mine_first, kept in the dedupe entry), and any other lies between
 *      them, so a state at it is "later than ours" (unknown outcome:
 *      UNAVAILABLE), never "not ours" (a failed precondition).
 */
#include "core/core_pvt.h"

#include <string.h>

/* A new op_id generation: answers to earlier rounds become stale. The
 * dedupe entry follows the op_id. */
static void cas_regen(struct qr_core *c, struct req *q)
{
	uint64_t old = qc_op_id_of(c, q);
	if (QR_BUG(CAS_SAME_GENERATION))
		return;
	q->gen = (q->gen + 1) & GEN_MASK; /* bit 63 of an op_id: hints */
	if (!q->gen)
		q->gen = 1;
	struct dedup *d = qc_dedup_find(c, q->client, q->req_id);
	if (d && d->op_id == old)
		d->op_id = qc_op_id_of(c, q);
}

static void cas_send(struct qr_core *c, struct req *q, int i)
{
	struct qr_msg m = {
		.type = q->phase == CAS_PREPARE ? QR_MSG_PREPARE
						: QR_MSG_ACCEPT,
		.op_id = qc_op_id_of(c, q),
		.partition = q->partition,
		.version = q->ballot,
		.key = q->key,
		.key_len = q->key_len,
	};
	if (q->phase == CAS_ACCEPT) {
		bool tomb = q->acc_new ? q->tombstone : q->st_tomb;
		if (tomb)
			m.flags = QR_MSGF_TOMBSTONE;
		else if (q->acc_new) {
			m.value = q->value;
			m.value_len = q->value_len;
		} else {
			m.value = q->st_value;
			m.value_len = q->st_value_len;
		}
	}
	qc_send_peer(c, q->replicas[i], &m);
}

/* This phase's message to every replica not DOWN and not answered yet. */
void qc_cas_dispatch(struct qr_core *c, struct req *q)
{
	/* X2: no ballot leaves before the durable ceiling covers it. */
	QR_ASSERT(!q->parked && QR_HLC_MS(q->ballot.hlc) < c->ceiling_ms);
	for (int i = 0; i < q->rf; i++)
		if (!(q->done_mask & (1u << i)) &&
		    qc_reachable(c, q->replicas[i]))
			cas_send(c, q, i);
}

/*
 * Another CAS op of this node on the same key in PREPARE or ACCEPT? Rounds
 * of one coordinator then take turns instead of duelling (each duel can
 * end a proposer whose accept was cut short with an unknown outcome).
 * Cost: a scan of the request table (requests_max slots, a few us at
 * 4096), once per round of a CAS op only.
 */
static bool cas_key_busy(const struct qr_core *c, const struct req *q)
{
	for (uint32_t i = 0; i < c->cfg.requests_max; i++) {
		const struct req *o = &c->reqs[i];
		if (o != q && o->kind == REQ_CAS && o->phase != CAS_BACKOFF &&
		    o->key_len == q->key_len &&
		    memcmp(o->key, q->key, q->key_len) == 0)
			return true;
	}
	return false;
}

/* A new round: a fresh ballot (hlc now: above every ballot this node has
 * seen, the rejections' included), under the durable HLC ceiling. */
static void cas_round(struct qr_core *c, struct req *q)
{
	if (cas_key_busy(c, q)) {
		q->phase = CAS_BACKOFF; /* try again soon */
		qr_timer_arm(&c->wheel, &q->timer,
			     QR_MIN(q->deadline_us,
				    qc_now_us(c) + c->cfg.rto_us_min / 2 +
					    c->env.random(c->env.ctx) %
						    c->cfg.rto_us_min));
		return;
	}
	cas_regen(c, q);
	q->phase = CAS_PREPARE;
	q->done_mask = 0;
	q->st_found = q->st_tomb = false;
	q->st_value_len = 0;
	q->st_version = q->first = QR_VERSION_NONE;
	q->unanimous = true;
	if (!QR_BUG(CAS_REUSE_BALLOT) || qr_version_is_none(q->ballot))
		q->ballot.hlc = qr_hlc_now(&c->hlc);
	q->ballot.node = c->cfg.node_id;
	q->rto_us = qc_rto_initial(c);
	qc_req_sent(c, q);
	q->retransmitted = false;
	c->stats.cas_rounds++;
	qc_req_arm(c, q);
	uint64_t ms = QR_HLC_MS(q->ballot.hlc);
	qc_ceiling_renew(c, ms);
	if (ms >= c->ceiling_ms) {
		QR_ASSERT(!q->parked); /* H3: counted once */
		q->parked = true;
		c->parked++;
		return;
	}
	qc_cas_dispatch(c, q);
}

/* Rejected: back off (random, doubling, capped) and try a higher ballot.
 * X4: a refused accept may have reached some acceptors: the replicas that
 * did not ACCEPT get hints of it, as when the slot is freed in ACCEPT. */
static void cas_retry(struct qr_core *c, struct req *q)
{
	if (q->phase == CAS_ACCEPT && !QR_BUG(CAS_RETRY_NO_HINT))
		qc_hint_missing(c, q);
	cas_regen(c, q);
	q->phase = CAS_BACKOFF;
	q->backoff_us = q->backoff_us
				? QR_MIN(q->backoff_us * 2, c->cfg.rto_us_max)
				: c->cfg.rto_us_min;
	uint64_t wait = c->cfg.rto_us_min / 4 +
			c->env.random(c->env.ctx) % q->backoff_us;
	qr_timer_arm(&c->wheel, &q->timer,
		     QR_MIN(q->deadline_us, qc_now_us(c) + wait));
}

static void cas_answer(struct qr_core *c, struct req *q, int status,
		       struct qr_version v)
{
	q->version = v;
	if (q->op == QR_OP_LIN_GET) {
		q->tombstone = q->st_found && q->st_tomb;
		/* The reply carries the state's value from st_value
		 * (out.c): no copy, and no second buffer for a long one. */
		q->value_len = status == 0 ? q->st_value_len : 0;
	}
	qc_req_answer(c, q, status);
	qc_req_free(c, q);
}

static void cas_decide(struct qr_core *c, struct req *q)
{
	if (q->st_found && qr_version_cmp(q->st_version, q->ballot) >= 0) {
		cas_retry(c, q); /* a state newer than our ballot */
		return;
	}
	bool exists = q->st_found && !q->st_tomb;
	bool own = false, later = false;
	/* X3: every ballot of ours that may hold our new state is in
	 * mine[] or is mine_first; one between them that the ring lost is
	 * above mine_first, so it reads as "later", never as "not ours". */
	int mines = QR_MIN(q->mine_count, CAS_MINE_MAX);
	for (int k = 0; k <= mines; k++) {
		if (!q->st_found)
			break;
		struct qr_version mk = k < mines ? q->mine[k] : q->mine_first;
		if (qr_version_is_none(mk))
			continue;
		int cmp = qr_version_cmp(q->st_version, mk);
		later = later || cmp > 0;
		/* Our state, or our state accepted again by a reader with
		 * its ballot (same bytes, higher version): a value put
		 * whose bytes someone else also wrote after ours counts as
		 * ours (docs/protocol.md). Tombstones are all alike: only
		 * the exact version counts for a delete. */
		if (cmp == 0 || (cmp > 0 && QR_BUG(CAS_OWN_ANY_LATER)) ||
		    (cmp > 0 && !q->tombstone && exists &&
		     q->st_value_len == q->value_len &&
		     memcmp(q->st_value, q->value, q->value_len) == 0))
			own = true;
	}
	if (!own && later) {
		/* A state newer than one of our own accepts and not ours:
		 * ours may have been chosen and then replaced, or never
		 * chosen. We cannot tell: the outcome is unknown. */
		cas_answer(c, q, QR_EUNAVAILABLE, q->version);
		return;
	}
	int ch = own ? 0
		     : qr_paxos_change(q->op, q->expected, exists,
				       q->st_version);
	/* A state older than our own earlier accept: ours was not chosen,
	 * but may still sit on some acceptor; accepting this state with our
	 * (higher) ballot makes sure it never will be. */
	if (ch != 1 && (q->unanimous || QR_BUG(CAS_SHORTCUT_NOT_UNANIMOUS)) &&
	    q->mine_count == 0) {
		cas_answer(c, q, ch, q->st_version); /* chosen already */
		return;
	}
	q->acc_new = ch == 1;
	q->result = (int16_t)(ch == 1 ? 0 : ch);
	if (q->acc_new) {
		if (qr_version_is_none(q->mine_first))
			q->mine_first = q->ballot; /* X3 */
		q->mine[q->mine_count++ % CAS_MINE_MAX] = q->ballot;
		q->version = q->ballot; /* remembered if UNAVAILABLE */
	}
	q->phase = CAS_ACCEPT;
	q->done_mask = 0;
	qc_cas_dispatch(c, q);
}

static struct req *cas_req_of(struct qr_core *c, uint16_t from,
			      const struct qr_msg *m, uint8_t phase, int *idx)
{
	struct req *q = qc_req_by_op_id(c, m->op_id);
	int i = q && q->kind == REQ_CAS && q->phase == phase
			? qc_replica_idx(q, from)
			: -1;
	if (i < 0 || (q->done_mask & (1u << i))) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return NULL;
	}
	*idx = i;
	return q;
}

void qc_cas_on_promise(struct qr_core *c, uint16_t from, const struct qr_msg *m)
{
	int i;
	struct req *q = cas_req_of(c, from, m, CAS_PREPARE, &i);
	if (!q)
		return;
	if (m->status == QR_ESTALE) {
		cas_retry(c, q);
		return;
	}
	if (m->status != 0 && m->status != QR_ENOTFOUND) {
		qc_drop(c, QR_DROP_UNEXPECTED);
		return;
	}
	if (qr_unlikely(m->value_len > QR_VALUE_INLINE_MAX) &&
	    !q->st_value_ref && !c->values_free_n) {
		qc_drop(c, QR_DROP_VALUES_FULL); /* long.h V2: as if lost */
		return;
	}
	struct qr_version v = m->status == 0 ? m->version : QR_VERSION_NONE;
	if (q->done_mask == 0)
		q->first = v;
	else if (qr_version_cmp(v, q->first) != 0)
		q->unanimous = false;
	if ((m->flags & QR_MSGF_UNSURE) && !QR_BUG(CAS_IGNORE_UNSURE))
		q->unanimous = false; /* installed below a promise: accept */
	q->done_mask |= (uint8_t)(1u << i);
	qc_rtt_sample(c, q, from);
	if (m->status == 0 &&
	    (!q->st_found || (qr_version_cmp(v, q->st_version) > 0 &&
			      !QR_BUG(CAS_STATE_FIRST_PROMISE)))) {
		q->st_found = true;
		q->st_version = v;
		q->st_tomb = (m->flags & QR_MSGF_TOMBSTONE) != 0;
		q->st_value_len = m->value_len;
		/* checked above: a buffer is held or free (long.h V2) */
		QR_ASSERT(qc_value_copy(c, &q->st_value, &q->st_value_ref,
					q->st_value_in, m->value,
					m->value_len));
	}
	if (__builtin_popcount(q->done_mask) >=
	    q->need - (QR_BUG(CAS_PROMISE_QUORUM_MINUS_ONE) ? 1 : 0))
		cas_decide(c, q);
}

void qc_cas_on_accepted(struct qr_core *c, uint16_t from,
			const struct qr_msg *m)
{
	int i;
	struct req *q = cas_req_of(c, from, m, CAS_ACCEPT, &i);
	if (!q)
		return;
	if (m->status == QR_ESTALE) {
		cas_retry(c, q);
		return;
	}
	if (m->status != 0) {
		qc_drop(c, QR_DROP_UNEXPECTED);
		return;
	}
	q->done_mask |= (uint8_t)(1u << i);
	qc_rtt_sample(c, q, from);
	if (__builtin_popcount(q->done_mask) >=
	    q->need - (QR_BUG(CAS_ACCEPT_QUORUM_MINUS_ONE) ? 1 : 0))
		cas_answer(c, q, q->result, q->ballot);
}

/* Retransmit this phase to the silent replicas, or start the next round
 * after a backoff. (Deadlines are handled by the caller.) */
void qc_cas_timer(struct qr_core *c, struct req *q)
{
	if (q->phase == CAS_BACKOFF) {
		cas_round(c, q);
		return;
	}
	q->rto_us = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	qc_req_arm(c, q);
	if (q->parked) {
		qc_ceiling_renew(c, QR_HLC_MS(q->ballot.hlc));
		return;
	}
	q->retransmitted = true;
	c->stats.retransmits++;
	qc_cas_dispatch(c, q);
}

/* A client's CAS op has a slot: take its arguments and run round 1. A
 * retry of a request answered UNAVAILABLE (retry != NULL) knows the ballot
 * of that request's last accepted new state: if it is the current state,
 * the op took effect and the retry answers OK, not a failed precondition
 * against its own write. */
void qc_cas_start(struct qr_core *c, struct req *q, const struct qr_msg *m,
		  struct dedup *retry)
{
	q->expected = m->expected;
	q->tombstone = m->op == QR_OP_DELETE_IF_VERSION;
	q->value_len = m->value_len;
	/* intake.c checked a buffer is free for a long value (long.h V2) */
	QR_ASSERT(qc_value_copy(c, &q->value, &q->value_ref, q->value_in,
				m->value, m->value_len));
	if (m->op != QR_OP_LIN_GET) {
		qc_dedup_start(c, retry, q->client, q->req_id,
			       qc_op_id_of(c, q));
		if (retry && !qr_version_is_none(retry->version)) {
			/* X3: the first accept of the earlier request too:
			 * a quorum may show that one (bug 4 of issue 13:
			 * round 1 accepted V@b1 on a minority, round 2
			 * V@b2, the retry saw V@b1 and answered
			 * PRECONDITION_FAILED against its own write). */
			q->mine[q->mine_count++] = retry->version;
			q->mine_first =
				qr_version_is_none(retry->first) ||
						QR_BUG(CAS_FORGET_FIRST_ACCEPT)
					? retry->version
					: retry->first;
			q->version = retry->version;
		}
	}
	cas_round(c, q);
}

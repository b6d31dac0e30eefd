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
 * Levels by zone (placement.h; "local" is this node's zone):
 *  Z1. LOCAL_ONE / LOCAL_QUORUM count only the replicas in our zone: one of
 *      them, or a majority of them; with none in our zone the request is
 *      UNAVAILABLE at once (it could never be met here).
 *  Z2. EACH_QUORUM needs a majority of the replicas of every zone that
 *      holds one; together they are a majority of all replicas, so it keeps
 *      every promise QUORUM makes (R + W > N, blocking read repair).
 *  Z3. Writes at every level go to every replica; the level only decides
 *      when the client is answered. A LOCAL write acknowledged before the
 *      other zones have it reaches them by retransmission and hints, as a
 *      write at ONE does.
 */
#include "core/core_pvt.h"

#include "common/le.h"

#include <string.h>

/* One group of every replica, needing `need` of them. */
static void groups_all(struct qc_groups *g, uint8_t rf, uint8_t need)
{
	g->n = 1;
	g->mask[0] = (uint8_t)RF_BITS(rf);
	g->need[0] = need;
}

/* LOCAL_* and EACH_QUORUM (Z1..Z3 above): 0, or QR_EUNAVAILABLE when no
 * replica is in our zone. */
static int groups_zoned(const struct qr_core *c, uint8_t level,
			const uint8_t *reps, uint8_t rf, struct qc_groups *g)
{
	const struct qr_placement *pl = c->pl;
	uint8_t zone_of_group[QC_REPS_MAX];
	g->n = 0;
	for (uint8_t i = 0; i < rf; i++) {
		uint8_t z = pl->zone[reps[i]];
		if (level != QR_LEVEL_EACH_QUORUM) {
			if (z != pl->zone[c->cfg.node_id])
				continue;
			z = 0; /* one group: ours */
		}
		unsigned k = 0;
		while (k < g->n && zone_of_group[k] != z)
			k++;
		if (k == g->n) {
			zone_of_group[g->n] = z;
			g->mask[g->n++] = 0;
		}
		g->mask[k] |= (uint8_t)(1u << i);
	}
	if (g->n == 0)
		return QR_EUNAVAILABLE;
	for (unsigned k = 0; k < g->n; k++) {
		uint8_t size = (uint8_t)__builtin_popcount(g->mask[k]);
		g->need[k] = level == QR_LEVEL_LOCAL_ONE ? 1
							 : qc_quorum_of(size);
	}
	if (QR_BUG(EACH_QUORUM_ONE_ZONE) && level == QR_LEVEL_EACH_QUORUM)
		g->n = 1; /* only the first zone's quorum is waited for */
	return 0;
}

static bool level_is_zoned(uint8_t level)
{
	return level == QR_LEVEL_LOCAL_ONE || level == QR_LEVEL_LOCAL_QUORUM ||
	       level == QR_LEVEL_EACH_QUORUM;
}

/*
 * Who must answer (the groups) and the level the request runs at: 0, or
 * QR_EINVAL (the level asks for more than RF, ANY for a read, a value with
 * an op other than a put), QR_ETOOLARGE (a value over value_bytes_max),
 * QR_EUNAVAILABLE (LOCAL_*: no replica in our
 * zone). A CAS op is always a majority of every replica.
 */
static int groups_of(const struct qr_core *c, const struct qr_msg *m,
		     bool is_read, bool is_cas, const uint8_t *reps,
		     struct qc_groups *g, uint8_t *level)
{
	uint8_t rf = (uint8_t)c->pl->rf, quorum = qc_quorum_of(rf);
	*level = is_cas ? QR_LEVEL_QUORUM : m->level;
	if (m->op != QR_OP_PUT && m->op != QR_OP_PUT_IF_ABSENT &&
	    m->op != QR_OP_PUT_IF_VERSION && m->value_len)
		return QR_EINVAL; /* a value only goes with a put */
	if (m->value_len > (c->cfg.value_bytes_max ? c->cfg.value_bytes_max
						   : QR_VALUE_BYTES_DEFAULT))
		return QR_ETOOLARGE; /* the cluster's limit (issue 15) */
	if (is_read && m->level == QR_LEVEL_ANY)
		return QR_EINVAL; /* ANY is for writes */
	if (level_is_zoned(*level)) {
		int rc = groups_zoned(c, *level, reps, rf, g);
		if (rc)
			return rc;
	} else {
		uint8_t need = is_cas ? quorum
				      : qc_level_count(m->level,
						       is_read ? m->r : m->w,
						       rf);
		if (need == 0)
			return QR_EINVAL;
		groups_all(g, rf, need);
	}
	/* A token read no replica is current for may become a quorum read
	 * (of every replica: a local quorum is not one). */
	if (is_read && m->min_version && (m->flags & QR_MSGF_STALE_QUORUM) &&
	    *level != QR_LEVEL_EACH_QUORUM &&
	    (level_is_zoned(*level) || g->need[0] < quorum)) {
		groups_all(g, rf, quorum);
		*level = QR_LEVEL_QUORUM;
	}
	return 0;
}

static uint8_t groups_need(const struct qc_groups *g)
{
	uint8_t n = 0;
	for (unsigned k = 0; k < g->n; k++)
		n = (uint8_t)(n + g->need[k]);
	return n;
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
		     const struct qc_groups *g, uint8_t level,
		     const uint8_t *reps, uint8_t n)
{
	uint64_t now = qc_now_us(c);
	uint8_t rf = (uint8_t)c->pl->rf;
	c->stats.client_ops[m->op]++;
	q->start_us = now;
	q->kind = m->op == QR_OP_GET	? REQ_READ
		  : qr_op_is_cas(m->op) ? REQ_CAS
					: REQ_WRITE;
	q->op = m->op;
	q->grp = *g;
	q->level = level;
	q->need = groups_need(g);
	q->rf = n; /* the union during a change (topology.c T1) */
	q->quorum = (uint8_t)(qc_quorum_of(rf) + (n - rf));
	memcpy(q->replicas, reps, n);
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
	qc_req_sent(c, q);
	q->key_len = m->key_len;
	memcpy(q->key, m->key, m->key_len);
}

/* QR_OP_TOPOLOGY: what this core has installed, at once (a client that
 * saw a newer epoch in a reply's header refreshes its placement). */
static void reply_topology(struct qr_core *c, uint64_t client,
			   const struct qr_msg *m)
{
	uint8_t v[QR_TOPOLOGY_VALUE_BYTES];
	qr_st64(v, c->epoch);
	qr_st64(v + 8, c->pl->members);
	qr_st64(v + 16, c->pl_new ? c->pl_new->members : 0);
	struct qr_msg r = {
		.type = QR_MSG_CLIENT_REPLY,
		.req_id = m->req_id,
		.value = v,
		.value_len = sizeof(v),
	};
	qc_send_client_msg(c, client, &r);
	c->stats.client_ops[QR_OP_TOPOLOGY]++;
	c->stats.client_ok++;
}

void qc_coord_on_client(struct qr_core *c, uint64_t client, uint16_t shard,
			const struct qr_msg *m)
{
	const struct qr_placement *pl = c->pl;
	if (m->op == QR_OP_TOPOLOGY) {
		reply_topology(c, client, m);
		return;
	}
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
	/* T6: nor while a peer's frame said we are behind (our placement
	 * may be one we left: even our own replica's answer would be). */
	if (qc_topo_behind(c)) {
		c->stats.epoch_refused++;
		qc_reply_error_direct(c, client, m, shard, QR_EUNAVAILABLE);
		return;
	}
	bool is_read = m->op == QR_OP_GET;
	bool is_cas = qr_op_is_cas(m->op); /* linearizable: always a quorum */
	bool any = m->level == QR_LEVEL_ANY;
	uint8_t rf = (uint8_t)pl->rf, level, in_new, reps[QC_REPS_MAX];
	uint8_t n = qc_topo_replicas(c, part, reps, &in_new);
	struct qc_groups g;
	int bad = groups_of(c, m, is_read, is_cas, reps, &g, &level);
	if (bad) {
		qc_reply_error_direct(c, client, m, shard, bad);
		return;
	}
	qc_topo_widen(c, &g, level, !is_read, reps, rf, n, in_new);
	struct dedup *retry = NULL; /* an UNAVAILABLE write asked again */
	if (!is_read && m->op != QR_OP_LIN_GET &&
	    dedup_handled(c, client, m, &retry))
		return;
	/* Fail fast, within the deadline: the CP answer. ANY writes leave
	 * hints when no replica is up. */
	if (!any && !qc_met(&g, qc_live_mask(c, reps, n), 0)) {
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
		if (!why && !qc_met(&g, qc_writable_mask(c, reps, n), 0))
			why = QR_ENOSPC;
		if (why) {
			c->stats.writes_refused++;
			qc_reply_error_direct(c, client, m, shard, why);
			return;
		}
	}
	/* A long value needs a buffer of the value pool (long.h V2): BUSY,
	 * like a full request table, when none is free. */
	if (qr_unlikely(m->value_len > QR_VALUE_INLINE_MAX) &&
	    c->values_free_n == 0) {
		qc_drop(c, QR_DROP_VALUES_FULL);
		qc_reply_error_direct(c, client, m, shard, QR_EBUSY);
		return;
	}
	struct req *q = qc_req_alloc(c);
	if (!q) {
		qc_reply_error_direct(c, client, m, shard, QR_EBUSY);
		return;
	}
	req_fill(c, q, client, shard, m, part, &g, level, reps, n);
	if (is_cas)
		qc_cas_start(c, q, m, retry);
	else if (is_read)
		qc_read_start(c, q, m);
	else
		qc_write_start(c, q, m, retry);
}

/* SPDX-License-Identifier: MIT */
/*
 * The replica side: REPLICATE and READ from coordinators (ourselves
 * included), logged before applied, answered once durable.
 *
 * Invariants:
 *  R1. Durable before visible to a quorum. A replica acknowledges a
 *      REPLICATE, and answers a READ with an entry, only once the WAL
 *      record that holds that entry is durable (entry lsn <= durable lsn).
 *      Until then the reply waits in the pending queue, released in lsn
 *      order by qr_core_on_wal_durable(). So every "I hold version v" a
 *      coordinator counts survives a crash of that replica.
 *  R2. Log before apply. A newer version is applied to the store only
 *      after the WAL accepted its record; a WAL refusal changes nothing and
 *      sends no ack (the coordinator retransmits).
 *  R3. The pending queue is released in lsn order (records become durable
 *      in lsn order), and never holds more than pending_max replies.
 *  R4. A replica message is used only for a partition of ours on our shard
 *      whose key hashes to the partition it names (qc_replica_owns).
 *  R5. While our WAL takes no writes (qr_core_set_wal_error), a newer
 *      version is refused with that error before anything is logged or
 *      applied; what we hold is still acked and read (it is durable).
 */
#include "core/core_pvt.h"

#include <string.h>

void qc_pending_push(struct qr_core *c, const struct pending *p)
{
	if (c->pend_count == c->cfg.pending_max) {
		/* No ack: the coordinator retransmits, and we answer then. */
		qc_drop(c, QR_DROP_PENDING_FULL);
		return;
	}
	QR_ASSERT(p->lsn > c->durable_lsn); /* R1: only what is not durable */
	uint32_t slot = (c->pend_head + c->pend_count) % c->cfg.pending_max;
	struct pending *d = &c->pend[slot];
	d->lsn = p->lsn;
	d->op_id = p->op_id;
	d->dst = p->dst;
	d->type = p->type;
	d->key_len = p->key_len;
	d->version = p->version;
	if (p->type == QR_MSG_READ_REPLY || p->type == QR_MSG_PROMISE)
		memcpy(d->key, p->key, p->key_len);
	c->pend_count++;
}

/* type: QR_MSG_REPLICATE_ACK, or QR_MSG_ACCEPTED for a CASPaxos accept. */
static void send_ack(struct qr_core *c, uint16_t dst, uint64_t op_id,
		     struct qr_version v, uint8_t type)
{
	struct qr_msg tmp;
	struct qr_msg *m = qc_send_begin(c, dst, &tmp);
	*m = (struct qr_msg){
		.type = type,
		.op_id = op_id,
		.version = v,
	};
	qc_send_end(c, dst, m, &tmp);
}

/* Answer a READ (type QR_MSG_READ_REPLY) or a granted PREPARE
 * (QR_MSG_PROMISE) from the store as it is now: the entry if durable, else
 * queue the answer behind the WAL. */
void qc_answer_read(struct qr_core *c, uint8_t type, uint16_t dst,
		    uint64_t op_id, const uint8_t *key, uint8_t key_len)
{
	struct qr_store_view v;
	struct qr_msg m = {
		.type = type,
		.op_id = op_id,
		/* Every write stamped below it is durable here: a session
		 * token below it may be served by us alone. */
		.closed_ts = QR_BUG(SERVE_BELOW_WATERMARK) ? UINT64_MAX
							   : c->stats.watermark,
	};
	/* A partition we gain in a topology change and have not filled
	 * lacks older writes whatever the claims say (topology.c T3): no
	 * token is served by us alone. */
	if (qr_unlikely(c->pl_new) &&
	    qc_topo_unfilled(c, qr_placement_partition(c->pl, key, key_len)))
		m.closed_ts = 0;
	if (qr_store_get(c->store, key, key_len, &v) == 0) {
		if (v.lsn > c->durable_lsn && !(QR_BUG(READ_REPLY_BEFORE_WAL) &&
						type == QR_MSG_READ_REPLY)) {
			struct pending p = {
				.lsn = v.lsn,
				.op_id = op_id,
				.dst = dst,
				.type = type,
				.key_len = key_len,
			};
			memcpy(p.key, key, key_len);
			qc_pending_push(c, &p);
			return;
		}
		m.version = v.version;
		if (v.tombstone)
			m.flags |= QR_MSGF_TOMBSTONE;
		if (type == QR_MSG_PROMISE &&
		    qr_paxos_unsure(&c->paxos,
				    qr_paxos_slot_of(&c->paxos, key, key_len),
				    v.version))
			m.flags |= QR_MSGF_UNSURE;
		m.value = v.value;
		m.value_len = v.value_len;
	} else {
		m.status = QR_ENOTFOUND;
	}
	if (type == QR_MSG_READ_REPLY)
		c->stats.reads_served++;
	qc_send_peer(c, dst, &m);
}

/* A write we cannot take: counted, and answered with why (a push is just
 * dropped: nobody waits for it). */
static void refuse(struct qr_core *c, uint16_t dst, uint64_t op_id,
		   const struct qr_store_write *w, uint8_t ack_type,
		   enum qr_core_drop why, int status)
{
	qc_drop(c, why);
	if (op_id == AE_NO_ACK)
		return;
	struct qr_msg m = {.type = ack_type,
			   .op_id = op_id,
			   .partition = w->partition,
			   .version = w->version,
			   .status = (int16_t)status};
	qc_send_peer(c, dst, &m);
}

/* Would applying w (over cur, the entry held, or none) grow the store past
 * its byte limit? Shrinking or keeping its size is always allowed, so a
 * full store still takes deletes and smaller values. */
static bool store_bytes_over(const struct qr_core *c,
			     const struct qr_store_write *w,
			     const struct qr_store_view *cur)
{
	if (!c->cfg.store_bytes_max)
		return false;
	uint64_t old = cur ? (uint64_t)cur->key_len + cur->value_len : 0;
	uint64_t new = (uint64_t)w->key_len + w->value_len;
	return new > old &&qr_store_bytes(c->store) + (new - old) >
	       c->cfg.store_bytes_max;
}

/* R2: log w, then apply it (cur: the entry after). false if the WAL
 * refused it or the store could not take it: nothing is acknowledged. */
static bool log_then_apply(struct qr_core *c, const struct qr_store_write *w,
			   uint64_t key_hash, uint8_t ack_type, bool had,
			   struct qr_store_view *cur)
{
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = w->tombstone ? QR_WAL_TOMBSTONE : QR_WAL_PUT,
		.partition = w->partition,
		.version = w->version,
		.key = w->key,
		.key_len = w->key_len,
		.value = w->value,
		.value_len = w->value_len,
	};
	int wrc = c->env.wal_append(c->env.ctx, &rec);
	if (wrc != 0) {
		qc_wal_refused(c, wrc);
		return false;
	}
	struct qr_store_write sw = *w;
	sw.lsn = c->next_lsn++;
	c->stats.wal_appends++;
	/* Not an ACCEPT: mark it if it goes below a CASPaxos promise
	 * (paxos.h, "unsure states"; the table is read only when
	 * w->version is below the highest promise). */
	if (ack_type != QR_MSG_ACCEPTED)
		qr_paxos_install_key(&c->paxos, w->key, w->key_len, w->version);
	int rc = qr_store_apply_hashed(c->store, &sw, key_hash, cur);
	if (rc < 0) {
		/* Logged but not applied (table full): recovery
		 * would apply it; refuse the ack instead of lying. */
		qc_drop(c, QR_DROP_WAL);
		return false;
	}
	c->stats.replicate_applied++;
	if (!had)
		qc_ae_gc_inserted(c, w);
	return true;
}

/*
 * Apply a replicated write: log, then apply, then ack once durable. Used for
 * REPLICATE from peers and for the coordinator's own replica (dst == self).
 */
void qc_replica_write(struct qr_core *c, uint16_t dst, uint64_t op_id,
		      const struct qr_store_write *w, uint8_t ack_type)
{
	struct qr_store_view cur;
	int cmp = 1;
	/* One hash for the lookup and the apply. */
	uint64_t key_hash = qr_store_key_hash(w->key, w->key_len);
	bool had = qr_store_get_hashed(c->store, w->key, w->key_len, key_hash,
				       &cur) == 0;
	if (had)
		cmp = qr_version_cmp(w->version, cur.version);
	if (cmp > 0 &&
	    (store_bytes_over(c, w, had ? &cur : NULL) ||
	     (!had && qr_store_count(c->store) >= c->cfg.keys_max))) {
		/* Store full: refused BEFORE the WAL append, so nothing is
		 * logged that recovery could not apply (issue 12: a node
		 * whose WAL held more keys than its store could not restart).
		 * The coordinator hears NO_SPACE; a push is just dropped. */
		refuse(c, dst, op_id, w, ack_type, QR_DROP_STORE_FULL,
		       QR_ENOSPC);
		return;
	}
	if (cmp > 0 && c->wal_err && QR_BUG(ACK_WAL_REFUSED)) {
		/* The injected bug: taken and acked as if durable, never
		 * logged (tests/sim checker (j) must catch it). */
		struct qr_store_write sw = *w;
		sw.lsn = c->durable_lsn;
		if (qr_store_apply(c->store, &sw, &cur) < 0)
			return;
	} else if (cmp > 0 && c->wal_err) {
		/* R5: our WAL takes no writes (disk full, I/O error): refused
		 * before anything is logged or applied, with the reason, so
		 * the coordinator counts us out at once instead of
		 * retransmitting into silence (issue 12 item 5). */
		refuse(c, dst, op_id, w, ack_type, QR_DROP_WAL_REFUSING,
		       c->wal_err);
		return;
	} else if (cmp > 0 || (QR_BUG(APPLY_OLDER) && cmp < 0)) {
		if (!log_then_apply(c, w, key_hash, ack_type, had, &cur))
			return;
	} else if (cmp == 0) {
		c->stats.replicate_same++;
	} else {
		c->stats.replicate_older++;
	}
	/* cur: the entry now, holding w->version or newer. */
	if (op_id == AE_NO_ACK)
		return; /* an anti-entropy push: nobody waits for it */
	if (QR_BUG(ACK_BEFORE_WAL) || cur.lsn <= c->durable_lsn ||
	    (QR_BUG(ACCEPTED_BEFORE_WAL) && ack_type == QR_MSG_ACCEPTED) ||
	    (QR_BUG(ACK_HELD_AT_ONCE) && cmp <= 0)) {
		send_ack(c, dst, op_id, cur.version, ack_type);
		return;
	}
	/* Field by field: an ack has no key, and zeroing the 255 bytes
	 * of p.key on every write cost more than all the rest here. */
	struct pending p;
	p.lsn = QR_BUG(ACK_WAITS_NEXT_LSN) ? c->durable_lsn + 1 : cur.lsn;
	p.op_id = op_id;
	p.dst = dst;
	p.type = ack_type;
	p.key_len = 0;
	p.version = cur.version;
	qc_pending_push(c, &p);
}

/* A replica message must be for a partition of ours, on our shard. */
bool qc_replica_owns(struct qr_core *c, const struct qr_msg *m)
{
	if (qr_placement_partition(c->pl, m->key, m->key_len) != m->partition) {
		qc_drop(c, QR_DROP_WIRE);
		return false;
	}
	if (qr_placement_shard(c->pl, m->partition) != c->cfg.shard) {
		qc_drop(c, QR_DROP_WRONG_SHARD);
		return false;
	}
	if (!qc_topo_is_replica(c, m->partition, c->cfg.node_id)) { /* T2 */
		qc_drop(c, QR_DROP_NOT_REPLICA);
		return false;
	}
	return true;
}

void qc_replica_on_replicate(struct qr_core *c, uint16_t from,
			     const struct qr_msg *m)
{
	if (!qc_replica_owns(c, m) || qc_refuse_future(c, m->version.hlc))
		return; /* writes, repairs, hints, pushes alike */
	struct qr_store_write w = {
		.partition = m->partition,
		.version = m->version,
		.tombstone = (m->flags & QR_MSGF_TOMBSTONE) != 0,
		.key = m->key,
		.key_len = m->key_len,
		.value = m->value,
		.value_len = m->value_len,
	};
	if (w.tombstone && w.value_len) {
		qc_drop(c, QR_DROP_WIRE);
		return;
	}
	/* A write request its sender stamped before its restart, still in
	 * flight after the sender's hand-off asked us: a copy made now might
	 * be one no hand-off covers. (Its hints, replayed from its WAL, are
	 * tracked by the new incarnation's closed timestamps: let through.) */
	if (!(m->flags & (QR_MSGF_NOACK | QR_MSGF_REPAIR)) &&
	    !(m->op_id & HINT_OP_TAG) && m->version.node == from &&
	    m->version.hlc < c->peer_restart[from]) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	if (!(m->flags & (QR_MSGF_NOACK | QR_MSGF_REPAIR)) &&
	    !qc_ae_gc_admit(c, &w))
		return; /* a straggling write: see qc_ae_gc_admit */
	qc_replica_write(c, from,
			 (m->flags & QR_MSGF_NOACK) ? AE_NO_ACK : m->op_id, &w,
			 QR_MSG_REPLICATE_ACK);
}

void qc_replica_on_read(struct qr_core *c, uint16_t from,
			const struct qr_msg *m)
{
	if (!qc_replica_owns(c, m))
		return;
	qc_answer_read(c, QR_MSG_READ_REPLY, from, m->op_id, m->key,
		       m->key_len);
}

static void on_wal_durable(struct qr_core *c, uint64_t lsn)
{
	QR_ASSERT(lsn < c->next_lsn);
	c->durable_lsn = lsn;
	if (c->ceiling_next_lsn && lsn >= c->ceiling_next_lsn)
		qc_ceiling_durable(c);
	qc_loop_drain(c);
	while (c->pend_count) {
		struct pending *p = &c->pend[c->pend_head];
		if (p->lsn > lsn)
			break;
		/* A copy (the callee may push new ones), of the key only
		 * where it is used: most replies are acks. */
		struct pending cp;
		memcpy(&cp, p, offsetof(struct pending, key));
		if (cp.type == QR_MSG_READ_REPLY || cp.type == QR_MSG_PROMISE)
			memcpy(cp.key, p->key, cp.key_len);
		QR_ASSERT(cp.lsn <= c->durable_lsn); /* R1 */
		c->pend_head = (c->pend_head + 1) % c->cfg.pending_max;
		/* Emptied: start again at slot 0, so a queue that drains at
		 * every durable point reuses a few warm slots instead of
		 * walking the whole ring (pending_max x 304 bytes) through
		 * the cache. The order and the bound are unchanged. */
		if (--c->pend_count == 0)
			c->pend_head = 0;
		if (cp.type == QR_MSG_REPLICATE_ACK ||
		    cp.type == QR_MSG_ACCEPTED)
			send_ack(c, cp.dst, cp.op_id, cp.version, cp.type);
		else
			qc_answer_read(c, cp.type, cp.dst, cp.op_id, cp.key,
				       cp.key_len);
		qc_loop_drain(c); /* a reply to ourselves (loop.c) */
	}
}

void qr_core_on_wal_durable(struct qr_core *c, uint64_t lsn)
{
	if (lsn <= c->durable_lsn)
		return;
	qc_clock_hold(c); /* G4 */
	on_wal_durable(c, lsn);
	qc_clock_release(c);
}

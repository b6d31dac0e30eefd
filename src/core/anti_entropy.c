/* SPDX-License-Identifier: MIT */
/*
 * Anti-entropy.
 *
 * Replicas compare partitions by digest, so they converge for keys nobody
 * reads (Dynamo's Merkle exchange, flattened: one digest per partition;
 * partitions are small, so a mismatch simply pushes the partition). Every
 * ae_interval_us a node takes the next partition it replicates on this
 * shard and sends its DIGEST to the other replicas. A replica whose digest
 * differs pushes all its entries of that partition back as REPLICATE
 * NOACK (apply keeps the higher version, so pushing is always safe) and,
 * unless the DIGEST was itself a reply, answers with its own DIGEST so the
 * first side pushes what it has too. qr_core_ae_request() (`quorate
 * repair`) and a peer coming back (DOWN -> not DOWN) run the same steps
 * over every partition at once, AE_BURST_PER_TICK a tick.
 *
 * Tombstone collection rides on the exchange (docs/protocol.md has the
 * rule and why; core/gc.h the bookkeeping). A DIGEST is flagged DURABLE
 * when every entry of the partition is durable at the sender; an equal
 * DURABLE digest from a replica is a match record. After sending its
 * digests for a partition a node removes the tombstones that are older
 * than tombstone_grace_ms on the HLC, durable here, and covered by an
 * aged match record of every other replica. The digest a node sends is
 * "virtual": its entries plus the tombstones it collected (the delta), so
 * replicas that collect at different moments do not push them back.
 * Writes (not pushes) older than the grace for a key we do not hold are
 * refused: they could be older than a tombstone we collected.
 *
 * Invariants:
 *  A1. A push is REPLICATE NOACK: applied like any replicated write (keeps
 *      the higher version), never acknowledged.
 *  A2. A tombstone is collected only once durable here, older than the
 *      grace, and covered by an aged match record of every other replica.
 *  A3. The work DIGESTs from one peer cause here is bounded (issue 12: one
 *      44-byte DIGEST made a node push a whole partition, x964): a token
 *      bucket per peer of ae_entries_per_s entries a second, that many at
 *      most at once. A DIGEST costs 1 token to look at and one per entry
 *      of a mismatching partition to push; one the bucket cannot pay is
 *      dropped (QR_DROP_AE_RATE) and changes nothing: the scheduled
 *      exchange repairs that partition a later round.
 */
#include "core/core_pvt.h"

#include <string.h>

#define AE_BURST_PER_TICK 8 /* on-demand partitions per tick */
#define AE_ENTRIES_PER_S_DEFAULT 100000 /* A3: per peer */

struct ae_digest {
	uint64_t digest;
	uint32_t entries;
	bool durable;	      /* every entry's lsn <= durable_lsn */
	uint64_t durable_lsn; /* in: the core's */
};

/* An entry's share of the digest: order-free (xor), key and version and
 * the tombstone bit. */
static uint64_t ae_entry_hash(const uint8_t *key, uint8_t key_len,
			      struct qr_version v, bool tombstone)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint8_t i = 0; i < key_len; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	h ^= v.hlc * 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)v.node << 48 | (uint64_t)tombstone << 47;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h;
}

static int ae_digest_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_digest *d = arg;
	d->digest ^=
		ae_entry_hash(v->key, v->key_len, v->version, v->tombstone);
	d->entries++;
	if (v->lsn > d->durable_lsn)
		d->durable = false;
	return 0;
}

static struct ae_digest ae_partition_digest(struct qr_core *c, uint32_t p)
{
	struct ae_digest d = {0, 0, true, c->durable_lsn};
	qr_store_for_each_in_partition(c->store, p, ae_digest_entry, &d);
	return d;
}

/* What we hold plus the tombstones we collected (core/gc.h). */
static struct ae_digest ae_virtual(struct qr_core *c, uint32_t p,
				   struct ae_digest d)
{
	uint32_t n;
	d.digest ^= qr_gc_delta(&c->gc, p, &n);
	d.entries += n;
	return d;
}

static void ae_send_digest(struct qr_core *c, uint16_t to, uint32_t p,
			   struct ae_digest d, bool reply)
{
	struct qr_msg m = {
		.type = QR_MSG_DIGEST,
		.flags = (uint8_t)((reply ? QR_MSGF_REPLY : 0) |
				   (d.durable ? QR_MSGF_DURABLE : 0)),
		.partition = p,
		.entries = d.entries,
		.digest = d.digest,
	};
	c->stats.ae_digests_sent++;
	qc_send_peer(c, to, &m);
}

struct ae_push {
	struct qr_core *c;
	uint16_t to;
};

static int ae_push_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_push *a = arg;
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = QR_MSGF_NOACK | (v->tombstone ? QR_MSGF_TOMBSTONE : 0),
		.partition = v->partition,
		.version = v->version,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->value_len,
	};
	a->c->stats.ae_entries_pushed++;
	qc_send_peer(a->c, a->to, &m);
	return 0;
}

/* HLC milliseconds now, without issuing a timestamp. */
static uint64_t ae_hlc_ms(struct qr_core *c)
{
	return QR_MAX(QR_HLC_MS(c->hlc.last), qr_hlc_wall_ms(&c->hlc));
}

/* Is v older than the tombstone grace (so a tombstone above it may have
 * been collected)? Never with GC off. */
static bool ae_gc_expired(struct qr_core *c, struct qr_version v)
{
	uint64_t g = c->cfg.tombstone_grace_ms;
	return g && QR_HLC_MS(v.hlc) + g < ae_hlc_ms(c);
}

/* A client write (not a read repair, not a push) older than the grace for
 * a key we do not hold is refused: a tombstone above it may have been
 * collected here, and applying it would resurrect the value the delete
 * hid. Only a write stuck longer than the grace (or re-driven by a late
 * retry) gets here; it is answered UNAVAILABLE. Pushes and read repairs
 * are how a replica gets old data it missed: a stale one is excluded by
 * the match records' age (hold >= grace > a request's life). */
bool qc_ae_gc_admit(struct qr_core *c, const struct qr_store_write *w)
{
	struct qr_store_view v;
	if (!ae_gc_expired(c, w->version) ||
	    qr_store_get(c->store, w->key, w->key_len, &v) == 0)
		return true;
	qc_drop(c, QR_DROP_EXPIRED);
	return false;
}

/* A request's deadline: at most half the grace, so that a read's repairs
 * and a write's retransmissions end well before a tombstone above them
 * can be collected (the match records age a whole grace). */
uint64_t qc_ae_gc_life_us(const struct qr_core *c, uint64_t deadline_us)
{
	uint64_t g = c->cfg.tombstone_grace_ms;
	return g ? QR_MIN(deadline_us, g * 1000 / 2) : deadline_us;
}

/* qc_replica_write stored a key we did not hold. */
void qc_ae_gc_inserted(struct qr_core *c, const struct qr_store_write *w)
{
	if (w->tombstone && c->cfg.tombstone_grace_ms)
		qr_gc_inserted(
			&c->gc, w->partition,
			ae_entry_hash(w->key, w->key_len, w->version, true));
}

struct ae_collect {
	struct qr_core *c;
	uint64_t safe_lsn; /* held by every replica up to this lsn */
	uint32_t n;
};

static int ae_collect_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_collect *a = arg;
	struct qr_core *c = a->c;
	if (!v->tombstone || v->lsn > c->durable_lsn ||
	    !ae_gc_expired(c, v->version))
		return 0;
	/* GC_EARLY: without waiting for every replica to hold it. */
	if (v->lsn > a->safe_lsn && !QR_BUG(GC_EARLY))
		return 0;
	memcpy(c->ae_keys[a->n], v->key, v->key_len);
	c->ae_key_lens[a->n] = v->key_len;
	return ++a->n == AE_GC_BATCH; /* the rest at the next step */
}

/* Collect the tombstones of p that every replica holds (see above). */
static void ae_gc_collect(struct qr_core *c, uint32_t p)
{
	const struct qr_placement *pl = c->pl;
	if (!c->cfg.tombstone_grace_ms)
		return;
	int self = qr_placement_replica_index(pl, p, c->cfg.node_id);
	struct ae_collect a = {
		.c = c,
		.safe_lsn = qr_gc_safe_lsn(&c->gc, p, self, qc_now_us(c)),
	};
	if (!a.safe_lsn && !QR_BUG(GC_EARLY))
		return;
	qr_store_for_each_in_partition(c->store, p, ae_collect_entry, &a);
	for (uint32_t i = 0; i < a.n; i++) {
		struct qr_store_view v;
		int rc = qr_store_get(c->store, c->ae_keys[i],
				      c->ae_key_lens[i], &v);
		QR_ASSERT(rc == 0 && v.tombstone);
		qr_gc_collected(
			&c->gc, p,
			ae_entry_hash(v.key, v.key_len, v.version, true));
		rc = qr_store_remove(c->store, c->ae_keys[i],
				     c->ae_key_lens[i]);
		QR_ASSERT(rc == 0);
		c->stats.tombstones_collected++;
	}
}

void qc_ae_step(struct qr_core *c)
{
	const struct qr_placement *pl = c->pl;
	if (QR_BUG(SKIP_ANTI_ENTROPY))
		return;
	for (uint32_t tries = 0; tries < pl->partitions; tries++) {
		uint32_t p = c->ae_next;
		c->ae_next = (c->ae_next + 1) & (pl->partitions - 1);
		if (qr_placement_shard(pl, p) != c->cfg.shard ||
		    qr_placement_replica_index(pl, p, c->cfg.node_id) < 0)
			continue;
		struct ae_digest d =
			ae_virtual(c, p, ae_partition_digest(c, p));
		const uint8_t *reps = qr_placement_replicas(pl, p);
		for (int i = 0; i < pl->rf; i++)
			if (reps[i] != c->cfg.node_id &&
			    qr_detector_state(&c->det, reps[i]) != QR_PEER_DOWN)
				ae_send_digest(c, reps[i], p, d, false);
		/* After the digests (which still hold them): replicas that
		 * have not collected yet record us as holding them. None
		 * during a topology change (topology.c T4). */
		if (!c->pl_new)
			ae_gc_collect(c, p);
		return;
	}
}

void qr_core_ae_request(struct qr_core *c)
{
	c->ae_burst = c->gc.mine;
	c->stats.ae_passes++;
}

/* Each tick: a peer back from DOWN gets a pass (it missed writes), and an
 * on-demand pass goes on a few partitions at a time. */
void qc_ae_tick(struct qr_core *c)
{
	uint64_t down = 0;
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != c->cfg.node_id &&
		    qr_detector_state(&c->det, n) == QR_PEER_DOWN)
			down |= 1ull << n;
	if (c->ae_down & ~down)
		qr_core_ae_request(c);
	c->ae_down = down;
	for (int i = 0; i < AE_BURST_PER_TICK && c->ae_burst; i++) {
		c->ae_burst--;
		qc_ae_step(c);
	}
}

/* A3: refill from's bucket to now, then take cost tokens if it holds
 * them. False: over budget (nothing taken). */
static bool ae_budget_take(struct qr_core *c, uint16_t from, uint64_t cost)
{
	uint64_t rate = c->cfg.ae_entries_per_s ? c->cfg.ae_entries_per_s
						: AE_ENTRIES_PER_S_DEFAULT;
	uint64_t now = qc_now_us(c);
	uint64_t *tok = &c->ae_tokens[from], *at = &c->ae_refill_us[from];
	if (!*at) { /* first DIGEST from this peer: a full bucket */
		*tok = rate;
		*at = now;
	}
	uint64_t add = now > *at ? (now - *at) * rate / 1000000 : 0;
	if (add) { /* (a remainder under one token is dropped) */
		*tok = QR_MIN(rate, *tok + add);
		*at = now;
	}
	if (*tok < cost)
		return false;
	*tok -= cost;
	return true;
}

void qc_ae_on_digest(struct qr_core *c, uint16_t from, const struct qr_msg *m)
{
	const struct qr_placement *pl = c->pl;
	uint32_t p = m->partition;
	if (p >= pl->partitions) {
		qc_drop(c, QR_DROP_WIRE);
		return;
	}
	if (qr_placement_shard(pl, p) != c->cfg.shard) {
		qc_drop(c, QR_DROP_WRONG_SHARD);
		return;
	}
	/* T2: both of us replicas in the owners' or the new placement;
	 * GC records only for owners, and none during a change (T4). */
	int idx = c->pl_new ? -1 : qr_placement_replica_index(pl, p, from);
	if (!qc_topo_is_replica(c, p, c->cfg.node_id) ||
	    !qc_topo_is_replica(c, p, from)) {
		qc_drop(c, QR_DROP_NOT_REPLICA);
		return;
	}
	/* A gainer's own DIGEST is its stream (only owners run rounds):
	 * what we answer may fill it, so no request of O alone from now
	 * on (topology.c T6). */
	if (!(m->flags & QR_MSGF_REPLY) && qc_topo_gainer(c, p, from))
		qc_topo_fence_older(c);
	if (!ae_budget_take(c, from, 1)) { /* A3: the scan */
		qc_drop(c, QR_DROP_AE_RATE);
		return;
	}
	struct ae_digest d = ae_partition_digest(c, p);
	struct ae_digest v = ae_virtual(c, p, d);
	bool real = d.digest == m->digest && d.entries == m->entries;
	if (real || (v.digest == m->digest && v.entries == m->entries)) {
		/* It holds what we hold (and, for a virtual match, the
		 * tombstones we collected, or it collected them too). */
		if ((m->flags & QR_MSGF_DURABLE) && idx >= 0)
			qr_gc_matched(&c->gc, p, idx, c->next_lsn - 1,
				      qc_now_us(c));
		if (real && d.durable) /* T3: all of it on our disk */
			qc_topo_stream_matched(c, p, from);
		/* A gainer learns of the match from our answer (T3). */
		if (!(m->flags & QR_MSGF_REPLY) && qc_topo_gainer(c, p, from))
			ae_send_digest(c, from, p, v, true);
		if (real && (v.digest != d.digest || v.entries != d.entries))
			qr_gc_forget(&c->gc, p); /* it lacks our delta */
		return;
	}
	if (!ae_budget_take(c, from, d.entries)) { /* A3: the push */
		qc_drop(c, QR_DROP_AE_RATE);
		return;
	}
	c->stats.ae_mismatches++;
	struct ae_push a = {c, from};
	qr_store_for_each_in_partition(c->store, p, ae_push_entry, &a);
	if (!(m->flags & QR_MSGF_REPLY))
		ae_send_digest(c, from, p, v, true);
}

void qc_ae_stream_digest(struct qr_core *c, uint16_t to, uint32_t p)
{
	ae_send_digest(c, to, p, ae_partition_digest(c, p), false);
}

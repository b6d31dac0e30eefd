/* SPDX-License-Identifier: MIT */
/*
 * Hinted handoff: a write some replica did not acknowledge before its
 * request slot was freed (deadline, linger, or the replica was DOWN) is
 * kept and re-sent to that replica until it acknowledges. Logged to the WAL
 * (QR_WAL_HINT) so a restart replays it. Level ANY with every replica DOWN
 * lives in hints alone.
 *
 * State of a hint slot:
 *
 *   FREE --hint_add--> WAITING --hint_delay, target up--> SENT
 *                         ^                                |  \--ack--> FREE
 *                         +----------rto_us_max------------+
 *   any --older than half the tombstone grace--> FREE (hand-off afresh)
 *
 *   transition          function
 *   FREE -> WAITING     qc_hint_add
 *   WAITING -> SENT     hint_send (from qc_hints_replay)
 *   SENT -> FREE        qc_hint_on_ack
 *   any -> FREE         hint_expire
 *
 * Invariants:
 *  N1. hint_busy has a bit set exactly for used slots; free_hints holds the
 *      others.
 *  N2. hint_records/hint_bytes per target equal the sum over used slots.
 *  N3. A hint lives less than half the tombstone grace (the Cassandra rule:
 *      the hint window is shorter than the GC grace).
 *  N4. Every live hint is in each WAL snapshot (qr_core_snapshot_hints) or
 *      in the log above it, so a restart after a snapshot replays it.
 *  N5. A hint holds its target's claim at or below h->claim: its version
 *      for a write's hint, the hand-off's `from` for a hint of our own
 *      hand-off. Such a hint carries a store entry that may have superseded
 *      an older write of ours in the range that the target lacks too, so
 *      its version is not a bound for that one (seed 11008387: an expired
 *      hint's hand-off re-hinted the newer entry, completed, and the
 *      target's watermark passed the superseded write it never got). An
 *      expiring hint hands off afresh from its claim, for the same reason.
 *  N6. A hint of a long value (issue 15) that our store holds at exactly
 *      its version keeps no copy: it sends the store's entry for the key,
 *      at its version or a later one (a newer write or a delete that
 *      superseded it: last-writer-wins makes that cover the hinted
 *      write), so hints of long values do not hold value buffers while a
 *      replica is away. Others hold a buffer (long.h V1), or are lost.
 */
#include "core/core_pvt.h"

#include <string.h>

#define HINT_SENDS_PER_TICK 256
/* Long values (issue 15): long hints in flight to one target (sent less
 * than rto_us_max ago and not acknowledged). A long value is up to
 * hundreds of frames, and a target's reassembly slots are sized at two
 * long messages per peer by default (long.c): more would only evict each
 * other, and
 * re-sending what never completed only adds load. A cap per pass was not
 * enough: a target back from a crash got every peer's long hints again
 * every rto_us_max while it could complete none, and never caught up
 * (simulator seed 7367). */
#define HINT_LONG_IN_FLIGHT 2

static void hint_free(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	QR_ASSERT(h->used);					    /* N1 */
	QR_ASSERT(c->hint_busy[slot / 64] & (1ull << (slot % 64))); /* N1 */
	QR_ASSERT(c->stats.hint_records[h->target] > 0);	    /* N2 */
	QR_ASSERT(c->stats.hint_bytes[h->target] >=
		  (uint64_t)h->key_len + h->value_len); /* N2 */
	h->used = false;
	if (h->value_len > QR_VALUE_INLINE_MAX)
		c->hints_long--;
	qc_value_release(c, &h->value_ref); /* long.h V1 */
	c->hint_busy[slot / 64] &= ~(1ull << (slot % 64));
	c->stats.hint_records[h->target]--;
	c->stats.hint_bytes[h->target] -= (uint64_t)h->key_len + h->value_len;
	c->free_hints[c->free_hint_count++] = slot;
	if (h->job && c->jobs[h->job - 1].gen == h->job_gen)
		qc_orphan_job_hint_done(c, (uint16_t)(h->job - 1));
}

/*
 * Keep a hint of write w for target. log: also write it to the WAL, so a
 * restart replays it. 0, or QR_EFULL (counted: the write is then handed
 * off by an orphan sync, and our closed timestamps wait for it).
 */
int qc_hint_add(struct qr_core *c, uint16_t target,
		const struct qr_store_write *w, bool log, bool from_store,
		uint16_t job, uint32_t job_gen, uint64_t claim)
{
	/* A long value our store holds at exactly this version is read
	 * from there when the hint is sent (N6): no value buffer. */
	struct qr_store_view sv;
	bool in_store = w->value_len > QR_VALUE_INLINE_MAX && !w->tombstone &&
			qr_store_get(c->store, w->key, w->key_len, &sv) == 0 &&
			qr_version_cmp(sv.version, w->version) == 0;
	if (c->free_hint_count == 0 ||
	    (w->value_len > QR_VALUE_INLINE_MAX && !in_store &&
	     !c->values_free_n)) {
		c->stats.hints_lost++; /* long.h V2 for a long value */
		return QR_EFULL;
	}
	uint32_t slot = c->free_hints[--c->free_hint_count];
	struct hint *h = &c->hints[slot];
	QR_ASSERT(!h->used);					       /* N1 */
	QR_ASSERT(!(c->hint_busy[slot / 64] & (1ull << (slot % 64)))); /* N1 */
	c->hint_busy[slot / 64] |= 1ull << (slot % 64);
	uint32_t gen = (h->gen + 1) & GEN_MASK;
	h->gen = gen ? gen : 1;
	h->used = true;
	h->tombstone = w->tombstone;
	h->target = target;
	h->job = job;
	h->job_gen = job_gen;
	h->partition = w->partition;
	h->version = w->version;
	h->claim = QR_MIN(claim, w->version.hlc);
	h->sent_us = 0;
	h->created_us = qc_now_us(c);
	h->from_store = from_store;
	h->key_len = w->key_len;
	h->value_len = w->value_len;
	memcpy(h->key, w->key, w->key_len);
	h->in_store = in_store;
	if (in_store)
		h->value = NULL; /* N6 */
	else if (QR_BUG(HINT_SHARES_LONG_VALUE) &&
		 w->value_len > QR_VALUE_INLINE_MAX)
		h->value = (uint8_t *)(uintptr_t)w->value; /* the bug: V1 */
	else
		QR_ASSERT(qc_value_copy(c, &h->value, &h->value_ref,
					h->value_in, w->value,
					w->value_len)); /* checked above */
	c->stats.hints_created++;
	if (w->value_len > QR_VALUE_INLINE_MAX)
		c->hints_long++;
	c->stats.hint_records[target]++;
	c->stats.hint_bytes[target] += (uint64_t)w->key_len + w->value_len;
	if (job)
		c->jobs[job - 1].outstanding++;
	if (!log)
		return 0;
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = QR_WAL_HINT,
		.partition = w->partition,
		.version = w->version,
		.key = w->key,
		.key_len = w->key_len,
		.value = w->value,
		.value_len = w->value_len,
		.aux = (uint16_t)(target |
				  (w->tombstone ? QR_WAL_AUX_TOMBSTONE : 0)),
	};
	/* Refused: the hint still lives in memory; only a restart would
	 * lose it, and a restart hands our writes off anyway. */
	int wrc = c->env.wal_append(c->env.ctx, &rec);
	if (wrc != 0) {
		qc_wal_refused(c, wrc);
		return 0;
	}
	c->next_lsn++;
	c->stats.wal_appends++;
	return 0;
}

/* N6: the entry an in-store hint sends: the store's, at the hint's version
 * or above (a later write or delete superseded it there, and under
 * last-writer-wins delivering it covers the hinted one). False when the
 * key is gone (a tombstone above it was collected, which happens only
 * once every replica held it): the hint has nothing left to deliver. */
static bool hint_from_store(const struct qr_core *c, const struct hint *h,
			    struct qr_store_view *sv)
{
	return qr_store_get(c->store, h->key, h->key_len, sv) == 0 &&
	       qr_version_cmp(sv->version, h->version) >= 0;
}

/*
 * N4: snapshots carry the live hints. A WAL snapshot at begin lsn B lets
 * the log below B be deleted, hint records included; the snapshot source
 * (the shard loop's) adds, after each partition's store entries, this
 * partition's hints as QR_WAL_HINT records (lsn 0: not a log position),
 * so a hint whose record was below B survives the restart (bug 5 of
 * issue 13: an ANY write acknowledged on durable hints was lost). A hint
 * that is created or delivered during the fuzzy scan is also in, or out
 * of, the log above B: replayed twice at worst (a second delivery of the
 * same version, harmless). Cost: a walk of hint_busy (hints_max / 64
 * words) per partition, plus the live hints.
 */
int qr_core_snapshot_hints(const struct qr_core *c, uint32_t partition,
			   int (*fn)(void *arg, const struct qr_wal_record *rec),
			   void *arg)
{
	if (QR_BUG(SNAPSHOT_DROPS_HINTS))
		return 0;
	for (uint32_t k = 0; k < c->cfg.hints_max; k++) {
		uint64_t word = c->hint_busy[k / 64] >> (k % 64);
		if (!word) {
			k |= 63;
			continue;
		}
		k += (uint32_t)__builtin_ctzll(word);
		const struct hint *h = &c->hints[k];
		QR_ASSERT(h->used); /* N1 */
		if (h->partition != partition)
			continue;
		struct qr_wal_record rec = {
			.type = QR_WAL_HINT,
			.partition = h->partition,
			.version = h->version,
			.key = h->key,
			.key_len = h->key_len,
			.value = h->value,
			.value_len = h->tombstone ? 0 : h->value_len,
			.aux = (uint16_t)(h->target |
					  (h->tombstone ? QR_WAL_AUX_TOMBSTONE
							: 0)),
		};
		struct qr_store_view sv;
		if (h->in_store && !hint_from_store(c, h, &sv))
			continue; /* superseded and collected: delivered */
		if (h->in_store) { /* N6: what the store holds, >= it */
			rec.version = sv.version;
			rec.value = sv.value;
			rec.value_len = sv.tombstone ? 0 : sv.value_len;
			rec.aux = (uint16_t)(h->target |
					     (sv.tombstone ? QR_WAL_AUX_TOMBSTONE
							   : 0));
		}
		int rc = fn(arg, &rec);
		if (rc)
			return rc;
	}
	return 0;
}

/* A write slot is being freed: every replica that did not acknowledge it
 * gets a hint (hints never count toward W). For a CASPaxos op in its
 * accept phase, the state being accepted (a replica installing it from a
 * hint marks it unsure, as any install below a promise: paxos.h). */
void qc_hint_missing(struct qr_core *c, const struct req *q)
{
	struct qr_store_write w = qc_req_write_of(q);
	if (q->kind == REQ_CAS) {
		w.version = q->ballot;
		w.tombstone = q->acc_new ? q->tombstone : q->st_tomb;
		w.value = q->acc_new ? q->value : q->st_value;
		w.value_len = w.tombstone  ? 0
			      : q->acc_new ? q->value_len
					   : q->st_value_len;
	}
	for (int i = QR_BUG(HINT_MISSING_SKIPS_FIRST) ? 1 : 0; i < q->rf; i++) {
		if (q->done_mask & (1u << i))
			continue;
		if (qc_hint_add(c, q->replicas[i], &w, true, false, 0, 0,
				UINT64_MAX) != 0)
			qc_orphan_begin(c, w.version.hlc, qr_hlc_now(&c->hlc));
	}
}

/* Level ANY with every replica DOWN: the write lives in our hints; it is
 * answered once they are durable in our WAL. */
void qc_any_hint(struct qr_core *c, struct req *q)
{
	struct qr_store_write w = qc_req_write_of(q);
	uint64_t lsn0 = c->next_lsn;
	for (int i = 0; i < q->rf; i++) {
		if (qc_hint_add(c, q->replicas[i], &w, true, false, 0, 0,
				UINT64_MAX) != 0) {
			qc_orphan_begin(c, q->version.hlc, qr_hlc_now(&c->hlc));
			return; /* not durable anywhere: the deadline answers */
		}
		q->done_mask |= (uint8_t)(1u << i);
	}
	if (c->next_lsn - lsn0 != q->rf)
		return; /* the WAL refused a hint: not durable, no OK */
	q->hinted_any = true;
	struct pending p = {
		.lsn = c->next_lsn - 1,
		.op_id = qc_op_id_of(c, q),
		.dst = c->cfg.node_id,
		.type = QR_MSG_REPLICATE_ACK,
		.version = q->version,
	};
	if (p.lsn <= c->durable_lsn || QR_BUG(ANY_BEFORE_WAL)) {
		qc_req_answer(c, q, 0);
		qc_req_maybe_done(c, q);
		return;
	}
	qc_pending_push(c, &p);
}

static void hint_send(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	uint64_t op_id = HINT_OP_TAG | (uint64_t)h->gen << 32 | slot;
	h->sent_us = QR_MAX(qc_now_us(c), 1);
	/* Our own missed write (target == us) goes through the loopback
	 * queue and is admitted like one from a peer. A hand-off from a store
	 * is a repair: its copy was current when
	 * the hint was made, and hints live less than the tombstone grace
	 * (qc_hints_replay), so no tombstone above it can have been collected
	 * meanwhile (docs/protocol.md). */
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = (uint8_t)((h->tombstone ? QR_MSGF_TOMBSTONE : 0) |
				   (h->from_store ? QR_MSGF_REPAIR : 0)),
		.op_id = op_id,
		.partition = h->partition,
		.version = h->version,
		.key = h->key,
		.key_len = h->key_len,
		.value = h->value,
		.value_len = h->value_len,
	};
	if (h->in_store) {
		struct qr_store_view sv;
		if (!hint_from_store(c, h, &sv)) {
			c->stats.hints_delivered++; /* N6: nothing left */
			hint_free(c, slot);
			return;
		}
		m.version = sv.version;
		m.value = sv.value;
		m.value_len = sv.tombstone ? 0 : sv.value_len;
		m.flags = (uint8_t)((sv.tombstone ? QR_MSGF_TOMBSTONE : 0) |
				    (h->from_store ? QR_MSGF_REPAIR : 0));
	}
	qc_send_peer(c, h->target, &m);
}

void qc_hint_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
		    struct qr_version v)
{
	uint32_t slot = (uint32_t)op_id;
	if (slot >= c->cfg.hints_max) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	struct hint *h = &c->hints[slot];
	if (!h->used || h->gen != ((op_id >> 32) & GEN_MASK) ||
	    h->target != from || qr_version_cmp(v, h->version) < 0) {
		qc_drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	c->stats.hints_delivered++;
	hint_free(c, slot);
}

/*
 * A hint older than half the tombstone grace is given up: delivered later,
 * it could bring back a value whose delete was collected meanwhile (the
 * Cassandra rule: the hint window is shorter than the GC grace). What it
 * carried is then handed off afresh from the stores that hold it: an
 * orphan sync for a write hint, a rescan for a hand-off's.
 */
static void hint_expire(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	c->stats.hints_lost++;
	if (h->job) {
		if (c->jobs[h->job - 1].gen == h->job_gen) {
			c->jobs[h->job - 1].scanned = false; /* no DONE yet */
			c->jobs[h->job - 1].next_p = 0;
		}
	} else if (!QR_BUG(HINT_EXPIRY_NO_HANDOFF)) {
		/* A write hint, or one of our own hand-off's: hand off afresh
		 * from the stores that hold it. A write held by none was
		 * never acknowledged, except at level ANY: that one is lost
		 * with its hints (ANY's documented risk: no replica came back
		 * within the hint window). */
		qc_orphan_begin(c, h->claim, qr_hlc_now(&c->hlc)); /* N5 */
	}
	hint_free(c, slot);
}

/* Count the long hints in flight to each target into out. */
static void long_in_flight(const struct qr_core *c, uint64_t now,
			   uint8_t out[QR_NODES_MAX])
{
	uint32_t words = (c->cfg.hints_max + 63) / 64;
	for (uint32_t wi = 0; wi < words; wi++)
		for (uint64_t word = c->hint_busy[wi]; word;
		     word &= word - 1) {
			const struct hint *h =
				&c->hints[wi * 64 +
					  (uint32_t)__builtin_ctzll(word)];
			if (h->value_len > QR_VALUE_INLINE_MAX && h->sent_us &&
			    now - h->sent_us < c->cfg.rto_us_max &&
			    out[h->target] < UINT8_MAX)
				out[h->target]++;
		}
}

/* Once per heartbeat period: (re)send hints to targets that are not DOWN,
 * a bounded number per pass, each at most once per rto_us_max. */
void qc_hints_replay(struct qr_core *c)
{
	uint64_t now = qc_now_us(c);
	uint64_t life_us = c->cfg.tombstone_grace_ms * 1000 / 2;
	unsigned sent = 0;
	uint8_t long_out[QR_NODES_MAX] = {0};
	uint32_t words = (c->cfg.hints_max + 63) / 64;
	if (c->hints_long)
		long_in_flight(c, now, long_out);
	for (uint32_t n = 0; n < words; n++) {
		uint32_t wi = (c->hint_cursor + n) % words;
		uint64_t word = c->hint_busy[wi]; /* a copy: slots may free */
		while (word) {
			uint32_t slot =
				wi * 64 + (uint32_t)__builtin_ctzll(word);
			word &= word - 1;
			struct hint *h = &c->hints[slot];
			if (life_us && now - h->created_us > life_us) {
				hint_expire(c, slot);
				continue;
			}
			/* A topology change took the target off the
			 * partition: what the hint holds met its level in
			 * both replica sets (topology.c T1) or was never
			 * acknowledged, or (level ANY) it is still in the
			 * hints to its other replicas; the target would
			 * refuse it. */
			if (!h->job &&
			    !qc_topo_is_replica(c, h->partition, h->target)) {
				c->stats.hints_moot++;
				hint_free(c, slot);
				continue;
			}
			if (h->sent_us && now - h->sent_us < c->cfg.rto_us_max)
				continue;
			if (now - h->created_us < c->cfg.hint_delay_us)
				continue;
			/* Not to a target DOWN or whose WAL refuses writes
			 * (its heartbeats say so): it would refuse. */
			if (!qc_writable(c, h->target))
				continue;
			if (h->value_len > QR_VALUE_INLINE_MAX) {
				if (long_out[h->target] >= HINT_LONG_IN_FLIGHT &&
				    !QR_BUG(LONG_HINTS_UNCAPPED))
					continue;
				if (long_out[h->target] < UINT8_MAX)
					long_out[h->target]++;
			}
			hint_send(c, slot);
			qc_loop_drain(c);
			if (++sent >= HINT_SENDS_PER_TICK) {
				c->hint_cursor = (wi + 1) % words;
				return;
			}
		}
	}
}

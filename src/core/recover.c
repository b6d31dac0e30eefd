/* SPDX-License-Identifier: MIT */
/*
 * Recovery: the WAL's records replayed into a new core, in lsn order,
 * before any other event.
 *
 * Invariants:
 *  V1. After recovery the HLC is at or above every version and ceiling in
 *      the WAL: no version is ever stamped twice.
 *  V2. next_lsn is above every replayed lsn, durable_lsn at the last one.
 *  V3. A node with a past starts its hand-off (orphan.c) and holds its
 *      closed timestamps at the recovered floor until it is done.
 *  V4. Recovery never raises the HLC further than the node could have
 *      stamped or accepted: a record (a write, hint or promise: not a
 *      ceiling, our own record and the bound itself) whose version is
 *      more than max_offset_ms beyond both the highest HLC ceiling
 *      logged before it and our wall clock now is refused
 *      (QR_ECLOCK, the record named in qr_core_recover_message), not
 *      adopted. Such a record was forged before frames were authenticated
 *      or is corrupt (issue 12 item 2: one raised the HLC by 86,399,900 ms
 *      and the peers marked the node DOWN). A real one is never beyond
 *      wall + max_offset at its receipt (the FUTURE check), and the wall
 *      clock does not go back by more than the ceiling covers.
 *  RB1. A node started to rebuild (cfg.rebuild: its disk was lost; the
 *      data directory is empty) is *rebuilding* until its hand-off of
 *      every version ([0, restart_hlc): every entry any node holds is
 *      hinted to every replica lacking it, orphan.c P3) is done: every
 *      node answered ORPHAN_DONE, so it durably holds everything a live
 *      replica held when asked. Meanwhile it answers no READ, PREPARE or
 *      ACCEPT (counted, drops.REBUILDING): an empty replica counted in R
 *      breaks R + W > N, an acceptor that forgot its accepts and promises
 *      breaks CASPaxos. It acks writes (its copy is durable: W stays
 *      honest) and coordinates.
 *  RB2. Its claims, and its own watermark, stay at 0 until then (V3 with
 *      floor 0): peers keep the claims they had made to it before its
 *      disk died, which it no longer makes true.
 *  RB3. Its promise floor starts at its restart HLC: it never grants a
 *      ballot it might have refused before (its promises are gone). This
 *      and "no version stamped twice" need its HLC at restart above
 *      everything it stamped or promised before: quorated --rebuild is
 *      started at least max_offset + hlc_lease after the node died
 *      (docs/operations.md; a disk replacement takes longer).
 */
#include "core/core_pvt.h"

#include <inttypes.h>
#include <stdio.h>

static const char *type_name(uint8_t t)
{
	switch (t) {
	case QR_WAL_PUT: return "PUT";
	case QR_WAL_TOMBSTONE: return "TOMBSTONE";
	case QR_WAL_HINT: return "HINT";
	case QR_WAL_CLOCK: return "CLOCK";
	case QR_WAL_PROMISE: return "PROMISE";
	}
	return "?";
}

/* V4: 0, or QR_ECLOCK with the record named in c->recover_msg. */
static int recover_bound(struct qr_core *c, const struct qr_wal_record *rec)
{
	uint64_t ms = QR_HLC_MS(rec->version.hlc);
	uint64_t wall = qr_hlc_wall_ms(&c->hlc);
	uint64_t base = QR_MAX(c->ceiling_ms, wall);
	uint64_t limit = base + c->hlc.max_offset_ms;
	if (ms <= limit)
		return 0;
	c->stats.recover_refused++;
	snprintf(c->recover_msg, sizeof(c->recover_msg),
		 "record lsn %" PRIu64 " (%s, partition %" PRIu32
		 ", version %" PRIu64 ".%u): %" PRIu64
		 " ms beyond the logged HLC ceiling (%" PRIu64
		 " ms) or our wall clock (%" PRIu64 " ms) + max_offset (%" PRIu64
		 " ms): refused, not adopted",
		 rec->lsn, type_name(rec->type), rec->partition,
		 rec->version.hlc, rec->version.node, ms - base, c->ceiling_ms,
		 wall, c->hlc.max_offset_ms);
	return QR_ECLOCK;
}

static void recover_lsn(struct qr_core *c, uint64_t lsn)
{
	if (lsn >= c->next_lsn)
		c->next_lsn = lsn + 1;
	if (lsn > c->durable_lsn)
		c->durable_lsn = lsn;
	QR_ASSERT(c->durable_lsn < c->next_lsn); /* V2 */
}

/* A QR_WAL_CLOCK record: the ceiling, the closed floor, the promise floor. */
static void recover_clock(struct qr_core *c, const struct qr_wal_record *rec)
{
	/* Every version stamped before the crash is below this. */
	c->ceiling_ms = QR_MAX(c->ceiling_ms, QR_HLC_MS(rec->version.hlc));
	if (rec->value_len == 8) {
		const uint8_t *b = rec->value;
		uint64_t f = 0;
		for (int i = 7; i >= 0; i--)
			f = f << 8 | b[i];
		c->floor_recovered = QR_MAX(c->floor_recovered, f);
	}
	qr_hlc_raise(&c->hlc, rec->version.hlc);
	/* Every ballot promised before the crash is below it (the ceiling
	 * was durable before the PROMISE went out): a floor for promises
	 * whose records a snapshot dropped. */
	qr_paxos_raise_floor(&c->paxos, rec->version);
}

/* A QR_WAL_HINT record: the hint again, in memory. */
static void recover_hint(struct qr_core *c, const struct qr_wal_record *rec)
{
	uint16_t target = rec->aux & ~QR_WAL_AUX_TOMBSTONE;
	struct qr_store_write w = {
		.partition = rec->partition,
		.version = rec->version,
		.tombstone = (rec->aux & QR_WAL_AUX_TOMBSTONE) != 0,
		.key = rec->key,
		.key_len = rec->key_len,
		.value = rec->value,
		.value_len = rec->value_len,
	};
	/* Replayed even if delivered before the crash (harmless). If the
	 * slots are full, the restart's hand-off covers it. */
	if (target < c->nodes && rec->key_len &&
	    rec->partition < c->pl->partitions)
		(void)qc_hint_add(c, target, &w, false, false, 0, 0,
				  UINT64_MAX);
}

int qr_core_recover(struct qr_core *c, const struct qr_wal_record *rec)
{
	c->recover_msg[0] = 0;
	if (rec->type != QR_WAL_PUT && rec->type != QR_WAL_TOMBSTONE &&
	    rec->type != QR_WAL_HINT && rec->type != QR_WAL_CLOCK &&
	    rec->type != QR_WAL_PROMISE) {
		recover_lsn(c, rec->lsn);
		return 0;
	}
	/* V4. Not a ceiling: that is our own record, and the bound itself
	 * (refusing one could let us stamp a version twice). */
	if (rec->type != QR_WAL_CLOCK) {
		int brc = recover_bound(c, rec);
		if (brc)
			return brc;
	}
	if (rec->type == QR_WAL_CLOCK) {
		recover_clock(c, rec);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type == QR_WAL_PROMISE) {
		qr_paxos_recover(&c->paxos, rec->key, rec->key_len,
				 rec->version);
		qr_hlc_raise(&c->hlc, rec->version.hlc);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type == QR_WAL_HINT) {
		recover_hint(c, rec);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	struct qr_store_write w = {
		.partition = rec->partition,
		.version = rec->version,
		.tombstone = rec->type == QR_WAL_TOMBSTONE,
		.key = rec->key,
		.key_len = rec->key_len,
		.value = rec->value,
		.value_len = rec->value_len,
		.lsn = rec->lsn,
	};
	int rc = qr_store_apply(c->store, &w, NULL);
	if (rc < 0)
		return rc;
	recover_lsn(c, rec->lsn);
	qr_hlc_raise(&c->hlc, rec->version.hlc);
	return 0;
}

void qr_core_recovered(struct qr_core *c, uint64_t last_lsn)
{
	recover_lsn(c, last_lsn);
	for (uint16_t n = 0; n < c->nodes; n++)
		c->closed_out[n] = c->floor_recovered;
	/* A node with a past may have writes in flight it forgot: hand off
	 * the ones stamped since the floor (every one is below our HLC,
	 * which recovery raised to the durable ceiling). A rebuilding one
	 * forgot everything: every version (RB1, RB2). */
	bool rebuild = c->cfg.rebuild && !QR_BUG(REBUILD_IGNORED);
	if (last_lsn || rebuild) {
		c->restart_hlc = qr_hlc_now(&c->hlc);
		qc_orphan_begin(c, rebuild ? 0 : c->floor_recovered,
				c->restart_hlc);
	}
	if (rebuild) {
		c->rebuilding = true;
		c->stats.rebuilding = 1;
		qr_paxos_raise_floor(&c->paxos, /* RB3 */
				     (struct qr_version){c->restart_hlc, 0});
	}
	/* Which recovered entries went below a promise is not known: none
	 * of them backs a read without an accept (paxos.h). */
	qr_paxos_taint_all(&c->paxos,
			   (struct qr_version){c->hlc.last, UINT16_MAX});
}

const char *qr_core_recover_message(const struct qr_core *c)
{
	return c->recover_msg;
}

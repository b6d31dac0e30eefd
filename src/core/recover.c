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
 */
#include "core/core_pvt.h"

static void recover_lsn(struct qr_core *c, uint64_t lsn)
{
	if (lsn >= c->next_lsn)
		c->next_lsn = lsn + 1;
	if (lsn > c->durable_lsn)
		c->durable_lsn = lsn;
	QR_ASSERT(c->durable_lsn < c->next_lsn); /* V2 */
}

int qr_core_recover(struct qr_core *c, const struct qr_wal_record *rec)
{
	if (rec->type == QR_WAL_CLOCK) {
		/* Every version stamped before the crash is below this. */
		c->ceiling_ms =
			QR_MAX(c->ceiling_ms, QR_HLC_MS(rec->version.hlc));
		if (rec->value_len == 8) {
			const uint8_t *b = rec->value;
			uint64_t f = 0;
			for (int i = 7; i >= 0; i--)
				f = f << 8 | b[i];
			c->floor_recovered = QR_MAX(c->floor_recovered, f);
		}
		qr_hlc_raise(&c->hlc, rec->version.hlc);
		/* Every ballot promised before the crash is below it (the
		 * ceiling was durable before the PROMISE went out): a floor
		 * for promises whose records a snapshot dropped. */
		qr_paxos_raise_floor(&c->paxos, rec->version);
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
		/* Replayed even if delivered before the crash (harmless). If
		 * the slots are full, the restart's hand-off covers it. */
		if (target < c->nodes && rec->key_len &&
		    rec->partition < c->pl->partitions)
			(void)qc_hint_add(c, target, &w, false, false, 0, 0);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type != QR_WAL_PUT && rec->type != QR_WAL_TOMBSTONE) {
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
	 * which recovery raised to the durable ceiling). */
	if (last_lsn) {
		c->restart_hlc = qr_hlc_now(&c->hlc);
		qc_orphan_begin(c, c->floor_recovered, c->restart_hlc);
	}
	/* Which recovered entries went below a promise is not known: none
	 * of them backs a read without an accept (paxos.h). */
	qr_paxos_taint_all(&c->paxos,
			   (struct qr_version){c->hlc.last, UINT16_MAX});
}

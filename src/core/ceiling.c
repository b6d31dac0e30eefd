/* SPDX-License-Identifier: MIT */
/*
 * HLC lease records: versions are unique across crashes.
 *
 * A node never stamps a version whose HLC milliseconds reach the clock
 * ceiling that is durable in its WAL (QR_WAL_CLOCK records, renewed
 * hlc_lease_ms ahead, half a lease early), and recovery raises the HLC to
 * that ceiling. Without this a node could crash, lose its newest versions,
 * restart with a wall clock behind them and stamp one of them again on a
 * different write (found by the simulator: seed 110577). A write whose
 * version is not yet covered waits, parked, for the ceiling record.
 *
 * Invariants:
 *  H1. At most one ceiling record is in flight (ceiling_next_lsn != 0).
 *  H2. ceiling_ms only grows, and only when its record is durable.
 *  H3. parked counts exactly the slots with q->parked set.
 */
#include "core/core_pvt.h"

/* Log a new HLC ceiling when ms gets within half a lease of the highest one
 * logged. */
void qc_ceiling_renew(struct qr_core *c, uint64_t ms)
{
	uint64_t top = QR_MAX(c->ceiling_ms, c->ceiling_next_ms);
	if (ms + c->cfg.hlc_lease_ms / 2 < top || c->ceiling_next_lsn)
		return;
	static const uint8_t clock_key = 0;
	/* The closed floor rides along: after a crash, only our writes at
	 * or above it need handing off (docs/protocol.md). */
	uint64_t floor =
		QR_BUG(FLOOR_LOGS_HLC) ? c->hlc.last : qc_closed_floor(c);
	uint8_t floor_le[8];
	for (int b = 0; b < 8; b++)
		floor_le[b] = (uint8_t)(floor >> (8 * b));
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = QR_WAL_CLOCK,
		.version = {QR_HLC_MAKE(ms + c->cfg.hlc_lease_ms, 0),
			    c->cfg.node_id},
		.key = &clock_key,
		.key_len = 1,
		.value = floor_le,
		.value_len = sizeof(floor_le),
	};
	int wrc = c->env.wal_append(c->env.ctx, &rec);
	if (wrc != 0) {
		qc_wal_refused(c, wrc);
		return;
	}
	c->next_lsn++;
	c->stats.wal_appends++;
	QR_ASSERT(!c->ceiling_next_lsn); /* H1: one record in flight */
	c->ceiling_next_ms = ms + c->cfg.hlc_lease_ms;
	c->ceiling_next_lsn = rec.lsn;
}

/* The ceiling record at lsn is durable: release parked writes under it. */
void qc_ceiling_durable(struct qr_core *c)
{
	QR_ASSERT(c->ceiling_next_lsn && c->ceiling_next_lsn <= c->durable_lsn);
	c->ceiling_ms = QR_MAX(c->ceiling_ms, c->ceiling_next_ms); /* H2 */
	c->ceiling_next_lsn = 0;
	for (uint32_t i = 0; i < c->cfg.requests_max && c->parked; i++) {
		struct req *q = &c->reqs[i];
		if ((q->kind != REQ_WRITE && q->kind != REQ_CAS) ||
		    !q->parked ||
		    QR_HLC_MS(qc_req_stamp(q).hlc) >= c->ceiling_ms)
			continue;
		QR_ASSERT(c->parked > 0); /* H3 */
		q->parked = false;
		c->parked--;
		/* Sent now: its timeouts count from here (the timer ran
		 * for the ceiling until now). */
		qc_req_sent(c, q);
		q->rto_us = qc_rto_initial(c);
		qc_req_arm(c, q);
		if (q->kind == REQ_CAS)
			qc_cas_dispatch(c, q);
		else
			qc_write_dispatch(c, q);
		qc_loop_drain(c); /* what it sent ourselves (loop.c) */
	}
	/* Parked writes the new ceiling does not cover need the next one. */
	if (c->parked)
		qc_ceiling_renew(c, QR_HLC_MS(qr_hlc_now(&c->hlc)));
}

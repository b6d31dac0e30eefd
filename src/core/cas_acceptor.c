/* SPDX-License-Identifier: MIT */
/*
 * The CASPaxos acceptor (replica side). Rystsov 2018; docs/protocol.md,
 * "Linearizable operations"; src/core/paxos.h has the voting rules.
 *
 *   PREPARE(b)  -> vote. GRANT: log QR_WAL_PROMISE, and make the HLC
 *                  ceiling cover b; answer PROMISE with the entry (the
 *                  accepted state) once both are durable. AGAIN: answer once
 *                  the earlier record is durable. REJECT: PROMISE with
 *                  status QR_ESTALE and the ballot that won.
 *   ACCEPT(b,s) -> vote; GRANT: a write of s with version b, acked
 *                  (ACCEPTED) once durable, exactly like REPLICATE.
 *
 * Invariants:
 *  Y1. A PROMISE leaves only once its promise record and a ceiling above
 *      its ballot are durable (the recovered promise floor relies on it).
 *  Y2. An ACCEPTED leaves only once the accepted state is durable (R1).
 */
#include "core/core_pvt.h"

#include <string.h>

static struct qr_version entry_version(struct qr_core *c, const uint8_t *key,
				       uint8_t key_len)
{
	struct qr_store_view v;
	if (qr_store_get(c->store, key, key_len, &v) == 0)
		return v.version;
	return QR_VERSION_NONE;
}

void qc_acceptor_on_prepare(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m)
{
	if (!qc_replica_owns(c, m) || qc_refuse_future(c, m->version.hlc))
		return; /* a far-future ballot would block the key */
	struct qr_paxos_slot *s =
		qr_paxos_slot_of(&c->paxos, m->key, m->key_len);
	struct qr_version beat;
	enum qr_paxos_vote vote = qr_paxos_prepare_vote(
		&c->paxos, s, m->version, entry_version(c, m->key, m->key_len),
		&beat);
	if (vote == QR_PAXOS_REJECT) {
		struct qr_msg r = {
			.type = QR_MSG_PROMISE,
			.op_id = m->op_id,
			.status = QR_ESTALE,
			.version = beat,
		};
		c->stats.cas_rejects++;
		qc_send_peer(c, from, &r);
		return;
	}
	uint64_t wait_lsn = s->lsn;
	if (vote == QR_PAXOS_GRANT) {
		struct qr_wal_record rec = {
			.lsn = c->next_lsn,
			.type = QR_WAL_PROMISE,
			.partition = m->partition,
			.version = m->version,
			.key = m->key,
			.key_len = m->key_len,
		};
		int wrc = c->env.wal_append(c->env.ctx, &rec);
		if (wrc != 0) {
			qc_wal_refused(c, wrc);
			return;
		}
		c->next_lsn++;
		c->stats.wal_appends++;
		c->stats.cas_promises++;
		qr_paxos_promise(&c->paxos, s, m->version);
		s->lsn = rec.lsn;
		wait_lsn = rec.lsn;
	}
	/* The recovered floor relies on: every ballot promised is below a
	 * durable HLC ceiling before the PROMISE leaves. */
	uint64_t ms = QR_HLC_MS(m->version.hlc);
	if (ms >= c->ceiling_ms) {
		qc_ceiling_renew(c, ms);
		if (!c->ceiling_next_lsn || ms >= c->ceiling_next_ms) {
			qc_drop(c, QR_DROP_WAL); /* the proposer retransmits */
			return;
		}
		wait_lsn = QR_MAX(wait_lsn, c->ceiling_next_lsn);
	}
	if (wait_lsn > c->durable_lsn && !QR_BUG(PROMISE_BEFORE_WAL)) {
		struct pending p = {
			.lsn = wait_lsn,
			.op_id = m->op_id,
			.dst = from,
			.type = QR_MSG_PROMISE,
			.key_len = m->key_len,
		};
		memcpy(p.key, m->key, m->key_len);
		qc_pending_push(c, &p);
		return;
	}
	QR_ASSERT(wait_lsn <= c->durable_lsn || QR_BUG(PROMISE_BEFORE_WAL));
	qc_answer_read(c, QR_MSG_PROMISE, from, m->op_id, m->key, m->key_len);
}

void qc_acceptor_on_accept(struct qr_core *c, uint16_t from,
			   const struct qr_msg *m)
{
	if (!qc_replica_owns(c, m) || qc_refuse_future(c, m->version.hlc))
		return;
	struct qr_paxos_slot *s =
		qr_paxos_slot_of(&c->paxos, m->key, m->key_len);
	struct qr_version beat;
	if (qr_paxos_accept_vote(&c->paxos, s, m->version,
				 entry_version(c, m->key, m->key_len),
				 &beat) == QR_PAXOS_REJECT) {
		struct qr_msg r = {
			.type = QR_MSG_ACCEPTED,
			.op_id = m->op_id,
			.status = QR_ESTALE,
			.version = beat,
		};
		c->stats.cas_rejects++;
		qc_send_peer(c, from, &r);
		return;
	}
	struct qr_store_write w = {
		.partition = m->partition,
		.version = m->version,
		.tombstone = (m->flags & QR_MSGF_TOMBSTONE) != 0,
		.key = m->key,
		.key_len = m->key_len,
		.value = m->value,
		.value_len = m->value_len,
	};
	qc_replica_write(c, from, m->op_id, &w, QR_MSG_ACCEPTED);
}

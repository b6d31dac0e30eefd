/* SPDX-License-Identifier: MIT */
/*
 * libquorate's asynchronous calls (include/quorate/client.h): submit
 * checks a request and starts it in the table (client_req.c); poll turns
 * the engine (read replies, resend or expire what is due, send the frames
 * this turn filled) and hands completions back; flush sends what batch
 * mode queued.
 *
 * Invariants: submit either starts the request (0: exactly one completion
 * will come) or changes nothing but stats.requests (an error: none will
 * come); the caller's key, options and inline value are copied before
 * submit returns (a long value and a GET's buffer are only pointed to, and
 * stay the caller's until the completion is handed back: no pool of
 * max_inflight x value_bytes_max bytes, no copy of a 1 MiB value); poll
 * never waits past its timeout, nor at all while a completion is ready.
 */
#include "client/client_pvt.h"

#include <string.h>

#include "common/clock.h"
#include "common/compiler.h"

_Static_assert(QR_CLIENT_GET == 2 && QR_CLIENT_TOPOLOGY == 8, "api ops");

/* The wire's op for a public one; 0: none. */
static uint8_t wire_op(unsigned api)
{
	static const uint8_t map[] = {
		[QR_CLIENT_PUT] = QR_OP_PUT,
		[QR_CLIENT_GET] = QR_OP_GET,
		[QR_CLIENT_DEL] = QR_OP_DELETE,
		[QR_CLIENT_GET_LINEARIZABLE] = QR_OP_LIN_GET,
		[QR_CLIENT_PUT_IF_ABSENT] = QR_OP_PUT_IF_ABSENT,
		[QR_CLIENT_PUT_IF_VERSION] = QR_OP_PUT_IF_VERSION,
		[QR_CLIENT_DEL_IF_VERSION] = QR_OP_DELETE_IF_VERSION,
		[QR_CLIENT_TOPOLOGY] = QR_OP_TOPOLOGY,
	};
	return api < sizeof(map) ? map[api] : 0;
}

static bool carries_value(uint8_t wop)
{
	return wop == QR_OP_PUT || wop == QR_OP_PUT_IF_ABSENT ||
	       wop == QR_OP_PUT_IF_VERSION;
}

/* The level of q checked against the replication factor (0 or
 * QR_EINVAL), its flags, its weakness and its session token set. */
static int check_level(struct qr_client *c, struct qr_creq *q,
		       const struct qr_req_opts *o)
{
	bool is_write = q->wop != QR_OP_GET && q->wop != QR_OP_LIN_GET &&
			q->wop != QR_OP_TOPOLOGY;
	if (q->wop == QR_OP_TOPOLOGY) { /* any node answers it alone */
		q->level = QR_LEVEL_ONE;
		q->weak = true;
		return 0;
	}
	q->level = o->consistency ? (uint8_t)o->consistency : QR_LEVEL_QUORUM;
	q->flags = o->on_stale == QR_ON_STALE_ERROR    ? QR_MSGF_STALE_ERROR
		   : o->on_stale == QR_ON_STALE_QUORUM ? QR_MSGF_STALE_QUORUM
						       : 0;
	if ((unsigned)o->on_stale > QR_ON_STALE_QUORUM ||
	    (!is_write && q->level == QR_LEVEL_ANY))
		return QR_EINVAL;
	if (qr_op_is_cas(q->wop)) {
		/* CASPaxos always asks a majority: level QUORUM only. */
		if (o->consistency && o->consistency != QR_CONSISTENCY_QUORUM)
			return QR_EINVAL;
		q->level = QR_LEVEL_QUORUM;
		if ((q->wop == QR_OP_PUT_IF_VERSION ||
		     q->wop == QR_OP_DELETE_IF_VERSION) &&
		    qr_version_is_none(q->expected))
			return QR_EINVAL;
	}
	uint8_t rf = c->pl.rf;
	if (q->level == QR_LEVEL_RW) {
		q->r = o->r;
		q->w = o->w;
		uint8_t need = is_write ? o->w : o->r;
		if (need < 1 || need > rf || o->r > rf || o->w > rf)
			return QR_EINVAL;
	} else if (q->level >= QR_LEVEL_END) {
		return QR_EINVAL;
	}
	/* Reads of at least a quorum already see every write and read of
	 * at least a quorum (R + W > N): they need be current only for what
	 * the session saw below quorum. */
	uint8_t count = q->level == QR_LEVEL_ONE      ? 1
			: q->level == QR_LEVEL_QUORUM ? (uint8_t)(rf / 2 + 1)
			: q->level == QR_LEVEL_ALL    ? rf
			: q->level == QR_LEVEL_RW     ? (is_write ? o->w : o->r)
			: q->level == QR_LEVEL_EACH_QUORUM
				? (uint8_t)(rf / 2 + 1) /* contains one */
				: 0; /* LOCAL_*: not a quorum of all */
	q->weak = count < rf / 2 + 1;
	q->min_version = o->min_version;
	if (!q->min_version && c->opt.session)
		q->min_version = is_write || q->weak ? c->session
						     : c->session_weak;
	return 0;
}

/* Copy rq into q and route it: 0 or QR_EINVAL. */
static int fill(struct qr_client *c, struct qr_creq *q,
		const struct qr_request *rq, uint8_t wop)
{
	static const struct qr_req_opts defaults;
	const struct qr_req_opts *o = rq->opts ? rq->opts : &defaults;
	q->client_op = (uint8_t)rq->op;
	q->wop = wop;
	q->user = rq->user;
	q->expected = (struct qr_version){rq->if_hlc, rq->if_node};
	int rc = check_level(c, q, o);
	if (rc)
		return rc;
	q->key_len = (uint8_t)rq->key_len;
	memcpy(q->key, rq->key, rq->key_len);
	if (carries_value(wop) && rq->value_len) {
		q->value_len = (uint32_t)rq->value_len;
		if (rq->value_len <= QR_VALUE_INLINE_MAX)
			memcpy(q->value, rq->value, rq->value_len);
		else
			q->big = rq->value; /* the caller's until done */
	} else if (!carries_value(wop)) {
		q->out = rq->buf;
		q->out_cap = rq->buf ? rq->buf_cap : 0;
	}
	uint32_t part = qr_placement_partition(&c->pl, rq->key, rq->key_len);
	q->shard = qr_placement_shard(&c->pl, part);
	memcpy(q->replicas, qr_placement_replicas(&c->pl, part), c->pl.rf);
	q->start = c->opt.coordinator == QR_COORD_RANDOM
			   ? (uint8_t)qr_rng_below(&c->rng, c->pl.rf)
			   : 0;
	/* A client with a zone starts at the first replica there. */
	for (unsigned i = 0; c->zone >= 0 && i < c->pl.rf; i++)
		if (c->pl.zone[q->replicas[(q->start + i) % c->pl.rf]] ==
		    c->zone) {
			q->start = (uint8_t)((q->start + i) % c->pl.rf);
			break;
		}
	q->attempts = (uint8_t)(c->opt.retries + 1);
	uint64_t dl_us =
		(uint64_t)(o->deadline_ms ? o->deadline_ms : c->opt.deadline_ms) *
		1000;
	q->interval_us = dl_us / q->attempts;
	q->deadline_us = dl_us; /* from t0: qr_cl_start adds it */
	return 0;
}

int qr_client_submit(struct qr_client *c, const struct qr_request *rq)
{
	if (!c || !rq)
		return QR_EINVAL;
	uint8_t wop = wire_op((unsigned)rq->op);
	if (!wop || !rq->key || !rq->key_len ||
	    (carries_value(wop) && rq->value_len && !rq->value))
		return QR_EINVAL;
	if (rq->key_len > QR_KEY_BYTES_MAX ||
	    (carries_value(wop) && rq->value_len > c->opt.value_bytes_max))
		return QR_ETOOLARGE;
	struct qr_creq *q = qr_cl_take(c);
	if (!q)
		return QR_EBUSY;
	c->stats.requests++;
	int rc = fill(c, q, rq, wop);
	if (rc) {
		qr_cl_give(c, q);
		return rc;
	}
	uint64_t now = qr_clock_mono_us();
	q->deadline_us += now;
	if (q->big && (rc = qr_cl_long_head(c, q, now))) {
		qr_cl_give(c, q);
		return rc;
	}
	qr_cl_start(c, q, now);
	if (!c->opt.batch)
		qr_cl_flush(c);
	return 0;
}

int qr_client_flush(struct qr_client *c)
{
	if (!c)
		return QR_EINVAL;
	qr_cl_flush(c);
	return 0;
}

/* One turn: replies, timers, frames out. 0 or QR_EIO. */
static int turn(struct qr_client *c)
{
	qr_cl_flush(c); /* what batch mode queued: out before we read */
	int rc = qr_cl_receive(c);
	qr_cl_timers(c, qr_clock_mono_us());
	qr_cl_flush(c);
	return rc;
}

int qr_client_poll(struct qr_client *c, struct qr_completion *out,
		   unsigned max, int timeout_ms)
{
	if (!c || (max && !out))
		return QR_EINVAL;
	uint64_t now = qr_clock_mono_us();
	uint64_t end = timeout_ms < 0 ? UINT64_MAX
				      : now + (uint64_t)timeout_ms * 1000;
	for (;;) {
		int rc = turn(c);
		unsigned n = qr_cl_deliver(c, out, max);
		if (n)
			return (int)n;
		if (rc)
			return rc;
		now = qr_clock_mono_us();
		if (now >= end || !c->live || !max)
			return 0;
		uint64_t until = QR_MIN(qr_cl_next_due(c), end);
		if (until > now)
			c->tp->wait(c->ep, (until - now) * 1000);
	}
}

int qr_client_timeout_ms(const struct qr_client *c)
{
	if (c->done_head != QR_CLIENT_NIL || c->nframes)
		return 0;
	if (!c->live)
		return -1;
	uint64_t due = qr_cl_next_due(c), now = qr_clock_mono_us();
	if (due <= now)
		return 0;
	uint64_t ms = (due - now + 999) / 1000;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

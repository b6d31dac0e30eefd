/* SPDX-License-Identifier: MIT */
/*
 * Output: messages to peers are packed into one frame per peer, and client
 * replies into one frame per client (CLIENT_FRAMES open at once), sent when
 * full or at qr_core_flush(): a burst of requests from one client is
 * answered in as few frames as fit.
 *
 * Invariants:
 *  O1. Every message the core builds fits an empty frame (asserted): a
 *      full frame is flushed and the message put again, never dropped.
 *  O2. A peer frame carries an HLC taken when it is sent (the HLC paper's
 *      send event), above every version stamped in it.
 *  O4. With auth = mac a peer frame is sealed (auth.c) after its HLC is
 *      stamped, so the MAC covers every byte sent.
 *  O3. Messages to ourselves never reach a peer frame: qc_send_peer puts
 *      them on the loopback queue (loop.c), delivered like any other.
 *  O4. A client frame holds replies for one client only, and no reply waits
 *      past the end of the event that made it: every driver calls
 *      qr_core_flush() after each batch of events, and it sends them all.
 *  O5. A peer frame is at most peer_frame_bytes (MAC trailer included),
 *      a client frame at most QR_FRAME_BYTES_MAX: what the receivers'
 *      decoders accept (wire.h), whatever the sender's buffer holds.
 */
#include "core/core_pvt.h"

#include "core/wire_long.h"

#include <string.h>

void qc_peer_frame_begin(struct qr_core *c, uint16_t node)
{
	struct qr_frame_hdr h = {
		.cluster_id = c->cfg.cluster_id,
		.src_node = c->cfg.node_id,
		.dst_node = node,
		.shard = c->cfg.shard,
	};
	/* Room for the authentication trailer (auth.h) after the last
	 * message: every message still fits an empty frame (O1). */
	size_t cap = qc_peer_frame(c) -
		     (c->cfg.auth == QR_AUTH_MAC ? QR_AUTH_TRAILER_BYTES : 0);
	qr_wire_frame_begin(&c->out[node].w, c->out[node].buf, cap, &h);
}

static void peer_flush(struct qr_core *c, uint16_t node)
{
	struct peer_out *o = &c->out[node];
	if (o->w.count == 0)
		return;
	size_t len = qr_wire_frame_end(&o->w);
	/* Send event (HLC paper): the frame carries a fresh timestamp, which
	 * is above every version stamped in it. */
	qr_wire_frame_set_hlc(o->buf, qr_hlc_now(&c->hlc));
	qr_wire_frame_set_epoch(o->buf, c->epoch); /* T6: now, not at begin */
	len = qc_auth_seal(c, node, o->buf, len); /* last: covers it all */
	c->stats.frames_out++;
	c->stats.msgs_out += o->w.count;
	c->env.send(c->env.ctx, node, 0, o->buf, len);
	qc_peer_frame_begin(c, node);
}

void qc_send_peer(struct qr_core *c, uint16_t node, const struct qr_msg *m)
{
	QR_DASSERT(node < c->nodes);
	if (node == c->cfg.node_id) {
		qc_loop_put(c, m); /* O3: our own replica, through loop.c */
		return;
	}
	if (qr_unlikely(qr_wire_is_long(m))) {
		qc_long_send(c, node, 0, m); /* as FRAGs, back here (V3) */
		return;
	}
	int rc = qr_wire_put(&c->out[node].w, m);
	if (rc == QR_EFULL) {
		peer_flush(c, node);
		rc = qr_wire_put(&c->out[node].w, m);
	}
	QR_ASSERT(rc == 0); /* every message we build fits an empty frame */
}

static void client_flush(struct qr_core *c, struct client_out *o)
{
	if (!o->open)
		return;
	o->open = false;
	size_t len = qr_wire_frame_end(&o->f.w);
	qr_wire_frame_set_hlc(o->f.buf, qr_hlc_now(&c->hlc));
	/* A reply from a newer epoch tells the client to refresh its
	 * placement (docs/client.md). */
	qr_wire_frame_set_epoch(o->f.buf, c->epoch);
	c->stats.frames_out++;
	c->stats.msgs_out += o->f.w.count;
	c->env.send(c->env.ctx, QR_NODE_CLIENT, o->client, o->f.buf, len);
}

static void client_begin(struct qr_core *c, struct client_out *o,
			 uint64_t client)
{
	struct qr_frame_hdr h = {
		.cluster_id = c->cfg.cluster_id,
		.src_node = c->cfg.node_id,
		.dst_node = QR_NODE_CLIENT,
		.shard = c->cfg.shard,
	};
	qr_wire_frame_begin(&o->f.w, o->f.buf, sizeof(o->f.buf), &h);
	o->client = client;
	o->open = true;
}

/* The open frame for client, else a new one (flushing the oldest-opened
 * when all are in use). A scan of CLIENT_FRAMES entries. */
static struct client_out *client_frame(struct qr_core *c, uint64_t client)
{
	struct client_out *free_o = NULL;
	for (int i = 0; i < CLIENT_FRAMES; i++) {
		struct client_out *o = &c->cout[i];
		if (o->open && o->client == client)
			return o;
		if (!o->open && !free_o)
			free_o = o;
	}
	if (!free_o) {
		free_o = &c->cout[c->cout_victim++ % CLIENT_FRAMES];
		client_flush(c, free_o);
	}
	client_begin(c, free_o, client);
	return free_o;
}

void qc_send_client_msg(struct qr_core *c, uint64_t client,
			const struct qr_msg *m)
{
	struct client_out *o = client_frame(c, client);
	int rc = qr_wire_put(&o->f.w, m);
	if (rc == QR_EFULL) {
		client_flush(c, o);
		client_begin(c, o, client);
		rc = qr_wire_put(&o->f.w, m);
	}
	QR_ASSERT(rc == 0); /* O1 */
}

void qc_send_client_reply(struct qr_core *c, const struct req *q, int status)
{
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REPLY,
		.req_id = q->req_id,
		.status = (int16_t)status,
		.version = q->version,
	};
	if (q->kind == REQ_READ ||
	    (q->kind == REQ_CAS && q->op == QR_OP_LIN_GET)) {
		if (q->kind == REQ_READ)
			m.closed_ts = q->serve_wm;
		m.answered = (uint8_t)__builtin_popcount(q->done_mask);
		for (int i = 0; i < q->rf; i++)
			if (q->done_mask & (1u << i))
				m.replica_mask |= 1ull << q->replicas[i];
		if (status == 0) {
			/* a linearizable read answers with the state it
			 * agreed on (cas.c cas_answer) */
			m.value = q->kind == REQ_CAS ? q->st_value : q->value;
			m.value_len = q->value_len;
		}
		if (q->tombstone)
			m.flags |= QR_MSGF_TOMBSTONE;
	} else {
		m.answered = (uint8_t)__builtin_popcount(q->done_mask);
		for (int i = 0; i < q->rf; i++)
			if (q->done_mask & (1u << i))
				m.replica_mask |= 1ull << q->replicas[i];
	}
	if (qr_unlikely(qr_wire_is_long(&m)))
		qc_long_send(c, QR_NODE_CLIENT, q->client, &m); /* V3 */
	else
		qc_send_client_msg(c, q->client, &m);
	if (q->start_us) {
		uint64_t now = qc_now_us(c);
		enum qr_core_lat k = q->kind == REQ_READ  ? QR_LAT_READ
				     : q->kind == REQ_CAS ? QR_LAT_CAS
							  : QR_LAT_WRITE;
		qr_hist_record(&c->lat[k], now > q->start_us
						   ? (now - q->start_us) * 1000
						   : 0);
	}
	if (status == 0)
		c->stats.client_ok++;
	else {
		c->stats.client_err++;
		if (status < 0 && status >= QR_ERR_MIN)
			c->stats.client_err_by[-status]++;
	}
}

/* An error reply for a request that never got a slot. */
void qc_reply_error_direct(struct qr_core *c, uint64_t client,
			   const struct qr_msg *m, uint16_t shard, int err)
{
	struct req tmp;
	memset(&tmp, 0, offsetof(struct req, key));
	tmp.kind = m->op == QR_OP_GET ? REQ_READ : REQ_WRITE;
	tmp.client = client;
	tmp.req_id = m->req_id;
	tmp.client_shard = shard;
	qc_send_client_reply(c, &tmp, err);
}

void qr_core_flush(struct qr_core *c)
{
	QR_ASSERT(c->loop_count == 0); /* L4: every event drained it */
	qc_clock_hold(c); /* G4: one reading for every frame's stamp */
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != c->cfg.node_id)
			peer_flush(c, n);
	for (int i = 0; i < CLIENT_FRAMES; i++)
		client_flush(c, &c->cout[i]); /* O4 */
	qc_clock_release(c);
}

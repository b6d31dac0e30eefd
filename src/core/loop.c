/* SPDX-License-Identifier: MIT */
/*
 * The loopback queue: messages a node sends to itself (its coordinator to
 * its own replica and back) travel like any other message. They are
 * encoded into loopback frames by qc_send_peer() and decoded and
 * dispatched by qc_loop_drain(), which the event entry points call between
 * units of work (each message of a frame, each timer, each reply the WAL
 * releases) and at the end of every event.
 *
 * Why: a direct call from the replica side into the coordinator side (an
 * ack of our own replica counted inline) could finish and free the request
 * its caller was still working on, so every sender had to send to remote
 * replicas first and re-check afterwards that its request still existed.
 * With the queue, a handler never runs inside another: no ordering rule,
 * no re-check (docs/architecture.md, "Loopback").
 *
 * Invariants:
 *  L1. Handlers never nest: qc_loop_drain() is not re-entered (asserted);
 *      a message queued while draining is delivered in the same drain,
 *      after the ones before it (FIFO).
 *  L2. The frame being drained is never written: the writer appends only
 *      to the last frame of the ring while it is open, and the drain seals
 *      the head before reading it.
 *  L3. Bounded: LOOP_FRAMES frames; a message that finds them all full is
 *      dropped and counted (QR_DROP_LOOP_FULL), like a lost frame: the
 *      sender's retransmission recovers it. Draining between units keeps
 *      the queue to a few messages, so this is a guard, not a path.
 *  L4. The queue is empty when an event returns (qr_core_flush asserts it).
 */
#include "core/core_pvt.h"

static void loop_begin(struct qr_core *c, uint32_t idx)
{
	struct qr_frame_hdr h = {
		.cluster_id = c->cfg.cluster_id,
		.src_node = c->cfg.node_id,
		.dst_node = c->cfg.node_id,
		.shard = c->cfg.shard,
	};
	qr_wire_frame_begin(&c->loop[idx].w, c->loop[idx].buf,
			    sizeof(c->loop[idx].buf), &h);
}

/* Open a new frame at the tail of the ring: false if the ring is full. */
static bool loop_open_next(struct qr_core *c)
{
	if (c->loop_count == LOOP_FRAMES)
		return false;
	loop_begin(c, (c->loop_head + c->loop_count) % LOOP_FRAMES);
	c->loop_count++;
	c->loop_open = true;
	return true;
}

void qc_loop_put(struct qr_core *c, const struct qr_msg *m)
{
	if (!c->loop_open && !loop_open_next(c)) {
		qc_drop(c, QR_DROP_LOOP_FULL);
		return;
	}
	uint32_t tail = (c->loop_head + c->loop_count - 1) % LOOP_FRAMES;
	int rc = qr_wire_put(&c->loop[tail].w, m);
	if (rc == QR_EFULL) {
		c->loop_open = false;
		if (!loop_open_next(c)) {
			qc_drop(c, QR_DROP_LOOP_FULL);
			return;
		}
		tail = (tail + 1) % LOOP_FRAMES;
		rc = qr_wire_put(&c->loop[tail].w, m);
	}
	QR_ASSERT(rc == 0); /* O1: every message fits an empty frame */
	c->stats.loop_msgs++;
}

void qc_loop_drain(struct qr_core *c)
{
	if (!c->loop_count)
		return;
	QR_ASSERT(!c->loop_draining); /* L1 */
	c->loop_draining = true;
	while (c->loop_count) {
		struct peer_out *o = &c->loop[c->loop_head];
		if (c->loop_count == 1)
			c->loop_open = false; /* L2: seal the head */
		size_t len = qr_wire_frame_end(&o->w);
		struct qr_frame_reader r;
		struct qr_frame_hdr h;
		int rc = qr_wire_frame_open(&r, o->buf, len, c->cfg.cluster_id,
					    &h);
		QR_ASSERT(rc == 0); /* we encoded it */
		struct qr_msg m;
		while ((rc = qr_wire_next(&r, &m)) > 0)
			qc_dispatch_peer_msg(c, c->cfg.node_id, &m);
		QR_ASSERT(rc == 0);
		c->loop_head = (c->loop_head + 1) % LOOP_FRAMES;
		c->loop_count--;
	}
	c->loop_draining = false;
}

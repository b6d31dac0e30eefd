/* SPDX-License-Identifier: MIT */
/*
 * The loopback queue: messages a node sends to itself (its coordinator to
 * its own replica and back) travel like any other message. qc_send_peer()
 * copies them (the message and its key and value bytes) into a FIFO of
 * slots; qc_loop_drain(), which the event entry points call between units
 * of work (each message of a frame, each timer, each reply the WAL
 * releases) and at the end of every event, dispatches them as messages
 * from ourselves.
 *
 * The senders of every write (REPLICATE, acks) build their message in the
 * slot itself (qc_send_begin / qc_send_end, core_pvt.h), and the slot's
 * prefetch hashes the sender's key, not the slot's fresh copy: a load of
 * bytes just stored by narrower stores does not take them from the store
 * buffer, it waits until they reach the cache, behind the replicas' store
 * misses. In core-bench 9.8% of a write's samples sat on the first load
 * of the message copy; without the copy a write costs 5-6% less
 * (perf/README.md).
 *
 * A copy, not the wire codec: the bytes never leave the process, so there
 * is nothing to encode, check or byte-swap (encoding them cost ~11% more
 * instructions per quorum op in core-bench). The copy is what makes the
 * message independent of its sender: the request slot or store entry its
 * key and value came from may change before it is drained.
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
 *  L2. A queued message owns its key and value bytes (its slot's copies):
 *      nothing a handler does changes a message still in the queue.
 *  L3. Bounded: LOOP_SLOTS slots; a message that finds them all full is
 *      dropped and counted (QR_DROP_LOOP_FULL; a long value that finds
 *      no value buffer, long.h V2: QR_DROP_VALUES_FULL), like a lost frame: the
 *      sender's retransmission recovers it. Draining between units keeps
 *      the queue to a few messages, so this is a guard, not a path.
 *  L4. The queue is empty when an event returns (qr_core_flush asserts it).
 *  L5. Between qc_loop_claim() and qc_loop_commit() (qc_send_begin and
 *      qc_send_end) nothing is sent to ourselves and nothing is drained:
 *      the claimed slot is the next free one until it is committed
 *      (asserted at the commit). The senders fill it with an initializer
 *      of plain values.
 */
#include "core/core_pvt.h"

#include <string.h>

struct qr_msg *qc_loop_claim(struct qr_core *c)
{
	if (c->loop_count == LOOP_SLOTS)
		return NULL;
	return &c->loop[(c->loop_head + c->loop_count) % LOOP_SLOTS].m;
}

void qc_loop_commit(struct qr_core *c, const struct qr_msg *m)
{
	QR_ASSERT(c->loop_count < LOOP_SLOTS);
	struct loop_slot *s =
		&c->loop[(c->loop_head + c->loop_count) % LOOP_SLOTS];
	QR_ASSERT(m == &s->m); /* L5: nothing was queued since the claim */
	QR_ASSERT(s->m.key_len <= sizeof(s->key));
	/* Drained after the sender's unit of work: time for the load. From
	 * the sender's key (the slot's copy is not written yet): hashing
	 * bytes just stored waits for them to reach the cache. */
	const void *ticket;
	qc_prefetch_msg(c, 0, false, &s->m, 0, &ticket);
	uint8_t *value = s->value_in;
	if (s->m.value_len &&
	    !qc_value_copy(c, &value, &s->value_ref, s->value_in, s->m.value,
			   s->m.value_len)) {
		qc_drop(c, QR_DROP_VALUES_FULL); /* long.h V2, as L3 */
		return;
	}
	if (s->m.key_len)
		memcpy(s->key, s->m.key, s->m.key_len);
	s->m.key = s->key; /* L2 */
	s->m.value = value;
	c->loop_count++;
	c->stats.loop_msgs++;
}

void qc_loop_put(struct qr_core *c, const struct qr_msg *m)
{
	struct qr_msg *slot = qc_loop_claim(c);
	if (!slot) {
		qc_drop(c, QR_DROP_LOOP_FULL);
		return;
	}
	*slot = *m;
	qc_loop_commit(c, slot);
}

void qc_loop_drain(struct qr_core *c)
{
	if (!c->loop_count)
		return;
	QR_ASSERT(!c->loop_draining); /* L1 */
	c->loop_draining = true;
	while (c->loop_count) {
		/* The slot stays ours until the handler returns: new
		 * messages go behind it (L2). */
		struct loop_slot *s = &c->loop[c->loop_head];
		qc_dispatch_peer_msg(c, c->cfg.node_id, &s->m);
		qc_value_release(c, &s->value_ref); /* long.h V1 */
		c->loop_head = (c->loop_head + 1) % LOOP_SLOTS;
		c->loop_count--;
	}
	/* Empty: the next message takes the first slot again, so the few
	 * slots in use stay in the cache instead of all 32 (46 KB) taking
	 * turns. */
	c->loop_head = 0;
	c->loop_draining = false;
}

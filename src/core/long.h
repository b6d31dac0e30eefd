/* SPDX-License-Identifier: MIT */
/*
 * Long messages and large values in the core (issue 15,
 * docs/large-values.md). Private to src/core (included by core_pvt.h).
 *
 * A value longer than QR_VALUE_INLINE_MAX does not fit a request slot's,
 * hint's or loopback slot's inline array: it lives in a buffer of the
 * core's value pool, which the holder owns until it lets go. The pool is
 * fixed at create (values_max buffers of value_bytes_max bytes, calloc'd
 * so that pages are only touched by use), counted, and never grows.
 *
 * Invariants:
 *  V1. A holder (request value or CAS state, hint, loopback slot) owns at
 *      most one pool buffer per value field, named by a ref (index + 1;
 *      0: the value is inline). Freeing the holder gives it back; the
 *      free-buffer stack plus the refs held are values_max, each once
 *      (qr_core_values_audit, which the simulator runs: checker (v)).
 *  V2. No buffer free means the holder cannot take the value: the caller
 *      answers the client BUSY, or drops the message (counted,
 *      QR_DROP_VALUES_FULL) as a lost frame, which the sender's
 *      retransmission recovers. A hint that gets no buffer is a lost hint
 *      (hints_lost: the hand-off path of hints.c covers it).
 *  V3. A long message out is encoded once (into the ring of V5, or the
 *      scratch buffer for a client) and
 *      sent as FRAG messages through the same per-destination frames as
 *      every other message (O1 still holds: each FRAG fits an empty frame).
 *  V5. The long messages sent to peers last stay encoded in a byte ring
 *      (at most LONG_KEEP, fewer when their bytes fill it; V3 encodes
 *      straight into it, and an entry whose bytes a newer message
 *      overwrote is no longer whole): a FRAG_NACK from the peer a message
 *      went to, naming a whole one by id, incarnation, total, chunk and
 *      CRC, gets just the chunks it lists. A NACK for anything else is
 *      counted and ignored: the protocol's own retransmission sends it
 *      whole. Long replies to clients are encoded in a scratch buffer
 *      (clients never NACK) and do not push peers' messages out.
 *  V4. A long message in is handed to the protocol only whole and checked
 *      (reasm.h A1, wire_long.h W1), and as if it had come in one frame:
 *      the reassembly slot is released after its handler returns.
 */
#ifndef QR_CORE_LONG_H
#define QR_CORE_LONG_H

#include <stdbool.h>
#include <stdint.h>

struct qr_core;
struct qr_msg;
struct qr_client_key;

/* Allocate the pool, the reassembler and the long buffer (C2). 0 or
 * QR_ENOMEM. */
int qc_long_init(struct qr_core *c);
void qc_long_fini(struct qr_core *c);

/*
 * Make *dst hold len bytes copied from src: the inline array when they fit,
 * else a pool buffer (kept from before, or taken). *ref names the pool
 * buffer held (0: none). False, with nothing changed, when no buffer is
 * free (V2).
 */
bool qc_value_copy(struct qr_core *c, uint8_t **dst, uint32_t *ref,
		   uint8_t *inline_buf, const uint8_t *src, uint32_t len);
/* Give back the buffer held under *ref, if any (V1). */
void qc_value_release(struct qr_core *c, uint32_t *ref);
uint32_t qc_values_in_use(const struct qr_core *c);

/* Send m, whose value does not fit a frame, as fragments: to node, or
 * with node == QR_NODE_CLIENT to the client (V3). */
void qc_long_send(struct qr_core *c, uint16_t node, uint64_t client,
		  const struct qr_msg *m);
/* A FRAG from a peer (src_node) or a client (src_node == QR_NODE_CLIENT:
 * client, shard and who as for its frame): kept, or when it completes its
 * message, that message handled (V4). */
void qc_long_on_frag(struct qr_core *c, uint16_t src_node, uint64_t client,
		     uint16_t shard, const struct qr_client_key *who,
		     const struct qr_msg *m);
/* Timer: free reassembly slots whose time is up (reasm.h A4), and NACK
 * the peers' messages that stalled (A8). */
void qc_long_expire(struct qr_core *c);
/* A FRAG_NACK from peer `from`: send again the chunks it names of the
 * long message we sent it, if we still keep it (V5). */
void qc_long_on_nack(struct qr_core *c, uint16_t from, const struct qr_msg *m);

#endif

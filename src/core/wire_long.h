/* SPDX-License-Identifier: MIT */
/*
 * Long messages (issue 15, docs/large-values.md): a message whose value
 * does not fit one frame travels as FRAG messages and is put back together
 * by the receiver's reassembler (reasm.h) before anything reads it.
 *
 * Long form, the byte string that is cut into fragments:
 *   value_len u32 | the message encoded as in a frame, with value_len 0
 *   and no value | the value_len value bytes
 * Only types that carry a value have a long form, and only with a value
 * longer than QR_VALUE_INLINE_MAX (a shorter one always travels inline:
 * one message has one encoding).
 *
 * Invariants:
 *  W1. qr_wire_long_decode() accepts exactly what qr_wire_long_encode()
 *      produces for a valid message: the same range checks as the frame
 *      decoder with the value bound raised to QR_VALUE_BYTES_MAX, the
 *      value-less part decoded by qr_wire_next() itself, every byte of the
 *      string accounted for. It never reads outside [buf, buf + len).
 *  W2. Every fragment of one long message carries the same identity
 *      (sender incarnation, message id), total, chunk and CRC32C of the
 *      whole string, so the reassembler can refuse mixtures (reasm.h A1).
 */
#ifndef QR_CORE_WIRE_LONG_H
#define QR_CORE_WIRE_LONG_H

#include <stddef.h>
#include <stdint.h>

#include "core/reasm.h"
#include "core/wire.h"

_Static_assert(QR_FRAG_CHUNK_MIN == QR_REASM_CHUNK_MIN, "chunk floor");

/* The message needs its long form: its value does not go inline (a
 * FRAG's chunk is not a value: it always fits its frame). */
static inline bool qr_wire_is_long(const struct qr_msg *m)
{
	return m->value_len > QR_VALUE_INLINE_MAX && m->type != QR_MSG_FRAG;
}

/* Bytes of m's long form (0 for a type without a value). */
size_t qr_wire_long_bytes(const struct qr_msg *m);
/* Encode m's long form into buf: the bytes written, or QR_EINVAL (no
 * value type, a value that would go inline, a field out of range) or
 * QR_EFULL (cap too small). */
long qr_wire_long_encode(const struct qr_msg *m, uint8_t *buf, size_t cap);
/* Decode a long form: 0 and *m (key and value point into buf), or a
 * QR_EWIRE_* error (W1). */
int qr_wire_long_decode(const uint8_t *buf, size_t len, struct qr_msg *m);

/* The chunk a sender cuts long messages into so that one FRAG fills what
 * is left of a frame of frame_cap bytes (multiple of 8, >= the floor;
 * frame_cap is clamped to QR_FRAME_JUMBO_MAX). */
uint32_t qr_wire_frag_chunk(size_t frame_cap);
/* FRAG i of the long form msg (total bytes, CRC32C crc): fills out and
 * returns 1, or 0 when i is past the last fragment. */
int qr_wire_frag_msg(struct qr_msg *out, const uint8_t *msg, uint32_t total,
		     uint32_t crc, uint32_t chunk, uint64_t msg_id,
		     uint32_t incarnation, uint32_t i);
/* The reassembler's view of a decoded FRAG from sender src. */
void qr_wire_frag_of(const struct qr_msg *m, uint64_t src, struct qr_frag *f);

#endif

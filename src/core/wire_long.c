/* SPDX-License-Identifier: MIT */
/*
 * Long messages: the long form and its fragments (wire_long.h W1, W2).
 * The value-less part of a long form is an ordinary message, written and
 * read by wire.c's own codec, so a long message is checked by the same
 * code as a short one; only the value bound differs.
 */
#include "core/wire_long.h"

#include <string.h>

#include "common/compiler.h"
#include "common/le.h"
#include "quorate/err.h"

#define LONG_PREFIX 4u /* value_len u32 */

size_t qr_wire_long_bytes(const struct qr_msg *m)
{
	struct qr_msg bare;

	if (!qr_wire_carries_value(m->type))
		return 0;
	bare = *m;
	bare.value = NULL;
	bare.value_len = 0;
	return LONG_PREFIX + qr_wire_msg_bytes(&bare) + m->value_len;
}

long qr_wire_long_encode(const struct qr_msg *m, uint8_t *buf, size_t cap)
{
	struct qr_frame_writer w;
	struct qr_msg bare;
	int rc;

	if (!qr_wire_is_long(m) || !qr_wire_long_fields_ok(m) ||
	    m->value == NULL)
		return QR_EINVAL;
	if (cap < qr_wire_long_bytes(m))
		return QR_EFULL;
	bare = *m;
	bare.value = NULL;
	bare.value_len = 0;
	/* A writer over the bytes after the prefix: its frame header is not
	 * used, so the message starts at offset 0 of that region. */
	w.buf = buf + LONG_PREFIX;
	w.len = 0;
	w.cap = (uint16_t)QR_MIN(cap - LONG_PREFIX, (size_t)QR_FRAME_BYTES_MAX);
	w.count = 0;
	rc = qr_wire_put(&w, &bare);
	if (rc < 0)
		return rc;
	qr_st32(buf, m->value_len);
	memcpy(buf + LONG_PREFIX + w.len, m->value, m->value_len);
	return (long)(LONG_PREFIX + w.len + m->value_len);
}

int qr_wire_long_decode(const uint8_t *buf, size_t len, struct qr_msg *m)
{
	struct qr_frame_reader r;
	uint32_t vlen;
	int rc;

	if (len < LONG_PREFIX + QR_MSG_HDR_BYTES)
		return QR_EWIRE_SHORT;
	vlen = qr_ld32(buf);
	if (vlen <= QR_VALUE_INLINE_MAX || vlen > QR_VALUE_BYTES_MAX ||
	    vlen > len - LONG_PREFIX - QR_MSG_HDR_BYTES)
		return QR_EWIRE_LENGTH;
	/* One message exactly fills [4, len - vlen). */
	r.buf = buf + LONG_PREFIX;
	r.len = len - LONG_PREFIX - vlen;
	r.off = 0;
	r.left = 1;
	rc = qr_wire_next(&r, m);
	if (rc < 0)
		return rc;
	if (rc == 0 || r.off != r.len)
		return QR_EWIRE_LENGTH;
	if (!qr_wire_carries_value(m->type) || m->value_len != 0)
		return QR_EWIRE_FIELD;
	m->value = buf + len - vlen;
	m->value_len = vlen;
	if (!qr_wire_long_fields_ok(m))
		return QR_EWIRE_FIELD;
	return 0;
}

uint32_t qr_wire_frag_chunk(size_t frame_cap)
{
	size_t room;

	frame_cap = QR_MIN(frame_cap, (size_t)QR_FRAME_JUMBO_MAX);
	room = frame_cap > QR_FRAME_HDR_BYTES + QR_FRAG_FIXED_BYTES
		       ? frame_cap - QR_FRAME_HDR_BYTES - QR_FRAG_FIXED_BYTES
		       : 0;
	room &= ~(size_t)7;
	return (uint32_t)QR_MAX(room, (size_t)QR_FRAG_CHUNK_MIN);
}

int qr_wire_frag_msg(struct qr_msg *out, const uint8_t *msg, uint32_t total,
		     uint32_t crc, uint32_t chunk, uint64_t msg_id,
		     uint32_t incarnation, uint32_t i)
{
	struct qr_frag f;

	if (qr_frag_cut(&f, msg, total, chunk, i) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	out->type = QR_MSG_FRAG;
	out->op_id = msg_id;
	out->incarnation = incarnation;
	out->frag.total = total;
	out->frag.chunk = chunk;
	out->frag.crc = crc;
	out->frag.offset = f.offset;
	out->value = f.data;
	out->value_len = f.len;
	return 1;
}

void qr_wire_frag_of(const struct qr_msg *m, uint64_t src, struct qr_frag *f)
{
	f->src = src;
	f->incarnation = m->incarnation;
	f->msg_id = m->op_id;
	f->total = m->frag.total;
	f->chunk = m->frag.chunk;
	f->crc = m->frag.crc;
	f->offset = m->frag.offset;
	f->data = m->value;
	f->len = m->value_len;
}

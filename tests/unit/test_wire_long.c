/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of long messages (src/core/wire_long.c, wire_long.h W1/W2):
 * every type that carries a value round-trips through its long form at
 * 1,025 B, 64 KiB, 1 MiB and QR_VALUE_BYTES_MAX, and through FRAGs in
 * frames and the reassembler back to the same bytes; a value that fits
 * inline has no long form (one encoding per message); every truncation of
 * a long form is rejected and every single-bit flip is rejected or decodes
 * to a valid message that re-encodes to exactly the flipped bytes (read
 * from a buffer ending at a PROT_NONE page: an out-of-bounds read faults);
 * FRAG's fields are range-checked by the encoder and the chunk helper
 * fills a frame. Runs in about a second.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/crc32c.h"
#include "common/le.h"
#include "core/reasm.h"
#include "core/wire_long.h"
#include "quorate/err.h"
#include "unit.h"

#define CLUSTER 0x10c0ffeeu

static uint8_t key_bytes[QR_KEY_BYTES_MAX];
static uint8_t *value_bytes; /* QR_VALUE_BYTES_MAX of a pattern */
static uint8_t *lf;	     /* a long form */

static const struct qr_frame_hdr hdr = {.cluster_id = CLUSTER,
					.src_node = 3,
					.dst_node = QR_NODE_CLIENT};

static void setup(void)
{
	if (value_bytes)
		return;
	value_bytes = malloc(QR_VALUE_BYTES_MAX);
	lf = malloc(QR_LONG_BYTES_MAX);
	CU_ASSERT_FATAL(value_bytes && lf);
	for (uint32_t i = 0; i < QR_VALUE_BYTES_MAX; i++)
		value_bytes[i] = (uint8_t)(i * 37u + (i >> 9));
	for (unsigned i = 0; i < sizeof(key_bytes); i++)
		key_bytes[i] = (uint8_t)(0x40 + i);
}

static const uint8_t valued_types[] = {
	QR_MSG_CLIENT_REQ,  QR_MSG_CLIENT_REPLY, QR_MSG_REPLICATE,
	QR_MSG_READ_REPLY, QR_MSG_PROMISE,	 QR_MSG_ACCEPT,
};

/* A message of a value-carrying type with its fields set (valid). */
static struct qr_msg sample(uint8_t type, uint32_t value_len)
{
	struct qr_msg m = {.type = type, .value = value_bytes,
			   .value_len = value_len};
	bool keyed = type == QR_MSG_CLIENT_REQ || type == QR_MSG_REPLICATE ||
		     type == QR_MSG_ACCEPT;
	m.op_id = 0xd1d2d3d4d5d6d7d8ull;
	m.partition = 0xe1e2e3e4u;
	m.version = (struct qr_version){0xf1f2f3f4f5f6f7f8ull, 0x0102};
	switch (type) {
	case QR_MSG_CLIENT_REQ:
		m = (struct qr_msg){.type = type, .value = value_bytes,
				    .value_len = value_len};
		m.req_id = 0x0102030405060708ull;
		m.op = QR_OP_PUT;
		m.level = QR_LEVEL_RW;
		m.r = 2;
		m.w = 3;
		m.deadline_us = 0xa1a2a3a4u;
		m.min_version = 0xb1b2b3b4b5b6b7b8ull;
		break;
	case QR_MSG_CLIENT_REPLY:
		m = (struct qr_msg){.type = type, .value = value_bytes,
				    .value_len = value_len};
		m.req_id = 0x0102030405060708ull;
		m.answered = 3;
		m.replica_mask = 7;
		m.version = (struct qr_version){0xa1a2a3a4a5a6a7a8ull, 2};
		m.closed_ts = 0x2122232425262728ull;
		break;
	case QR_MSG_READ_REPLY:
		m.closed_ts = 0x3132333435363738ull;
		break;
	case QR_MSG_PROMISE:
		m.status = QR_ESTALE;
		break;
	}
	if (keyed) {
		m.key = key_bytes;
		m.key_len = QR_KEY_BYTES_MAX;
	}
	return m;
}

static bool msg_equal(const struct qr_msg *a, const struct qr_msg *b)
{
	return a->type == b->type && a->flags == b->flags &&
	       a->req_id == b->req_id && a->op == b->op &&
	       a->level == b->level && a->r == b->r && a->w == b->w &&
	       a->deadline_us == b->deadline_us &&
	       a->min_version == b->min_version && a->status == b->status &&
	       a->answered == b->answered &&
	       a->replica_mask == b->replica_mask && a->op_id == b->op_id &&
	       a->partition == b->partition &&
	       qr_version_cmp(a->version, b->version) == 0 &&
	       a->closed_ts == b->closed_ts && a->key_len == b->key_len &&
	       (!a->key_len || !memcmp(a->key, b->key, a->key_len)) &&
	       a->value_len == b->value_len &&
	       !memcmp(a->value, b->value, a->value_len);
}

static struct qr_reasm_msg frag_out; /* through_frags' message */

/* The long form in lf through FRAGs (chunk for a full frame), each in a
 * frame of its own, decoded, reassembled: the bytes handed out, or NULL.
 * The frames go in reverse order, the first one twice. */
static const uint8_t *through_frags(struct qr_reasm *ra, uint32_t total)
{
	uint32_t chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX);
	uint32_t crc = qr_crc32c(0, lf, total), n = (total + chunk - 1) / chunk;
	struct qr_reasm_msg out;
	const uint8_t *got = NULL;
	for (uint32_t k = 0; k <= n; k++) {
		uint32_t i = k == n ? n - 1 : n - 1 - k; /* last: a dup */
		uint8_t frame[QR_FRAME_BYTES_MAX];
		struct qr_frame_writer w;
		struct qr_frame_reader r;
		struct qr_msg f, d;
		struct qr_frag fr;
		CU_ASSERT_FATAL(qr_wire_frag_msg(&f, lf, total, crc, chunk,
						 0x77, 9, i) == 1);
		qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
		CU_ASSERT_FATAL(qr_wire_put(&w, &f) == 0);
		size_t len = qr_wire_frame_end(&w);
		CU_ASSERT_FATAL(qr_wire_frame_open(&r, frame, len, CLUSTER,
						   NULL) == 0);
		CU_ASSERT_FATAL(qr_wire_next(&r, &d) == 1);
		qr_wire_frag_of(&d, 3, &fr);
		int rc = qr_reasm_add(ra, &fr, 0, &out);
		CU_ASSERT(rc == 0 || rc == 1);
		if (rc == 1) {
			CU_ASSERT_PTR_NULL(got); /* once */
			CU_ASSERT(out.len == total && out.msg_id == 0x77 &&
				  out.incarnation == 9 && out.src == 3);
			got = out.data;
			frag_out = out;
		}
	}
	return got;
}

static void test_roundtrip_every_valued_type_and_size(void)
{
	static const uint32_t sizes[] = {QR_VALUE_INLINE_MAX + 1, 64u << 10,
					 1u << 20, QR_VALUE_BYTES_MAX};
	struct qr_reasm ra;
	struct qr_reasm_config cfg = {.slots = 1,
				      .bytes_max = QR_LONG_BYTES_MAX,
				      .per_src_max = 1,
				      .timeout_ns = 1};
	setup();
	CU_ASSERT_FATAL(qr_reasm_init(&ra, &cfg) == 0);
	for (size_t t = 0; t < QR_ARRAY_LEN(valued_types); t++) {
		for (size_t s = 0; s < QR_ARRAY_LEN(sizes); s++) {
			struct qr_msg m = sample(valued_types[t], sizes[s]), d;
			size_t want = qr_wire_long_bytes(&m);
			CU_ASSERT_FATAL(want > sizes[s] &&
					want <= QR_LONG_BYTES_MAX);
			CU_ASSERT_EQUAL(qr_wire_long_encode(&m, lf, want - 1),
					QR_EFULL);
			CU_ASSERT_EQUAL_FATAL(qr_wire_long_encode(&m, lf, want),
					      (long)want);
			CU_ASSERT_EQUAL(qr_ld32(lf), sizes[s]);
			CU_ASSERT_EQUAL_FATAL(
				qr_wire_long_decode(lf, want, &d), 0);
			CU_ASSERT(msg_equal(&m, &d));
			CU_ASSERT(d.value == lf + want - sizes[s]);
			const uint8_t *back = through_frags(&ra, (uint32_t)want);
			CU_ASSERT_PTR_NOT_NULL_FATAL(back);
			CU_ASSERT_EQUAL_FATAL(qr_wire_long_decode(back, want,
								  &d),
					      0);
			CU_ASSERT(msg_equal(&m, &d));
			qr_reasm_release(&ra, &frag_out);
		}
	}
	CU_ASSERT_EQUAL(ra.st.drop_crc + ra.st.drop_bad, 0);
	qr_reasm_fini(&ra);
}

/* One message, one encoding: an inline value (or none) has no long form,
 * and a long form claiming one is refused; so is one whose inner message
 * carries a value of its own, one of a type without a value, and one
 * over QR_VALUE_BYTES_MAX. */
static void test_one_encoding_per_message(void)
{
	setup();
	struct qr_msg m = sample(QR_MSG_REPLICATE, QR_VALUE_INLINE_MAX), d;
	CU_ASSERT_FALSE(qr_wire_is_long(&m));
	CU_ASSERT_EQUAL(qr_wire_long_encode(&m, lf, QR_LONG_BYTES_MAX),
			QR_EINVAL);
	m.value_len = QR_VALUE_BYTES_MAX + 1;
	CU_ASSERT_EQUAL(qr_wire_long_encode(&m, lf, QR_LONG_BYTES_MAX),
			QR_EINVAL);
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT};
	CU_ASSERT_EQUAL(qr_wire_long_bytes(&hb), 0);
	hb.value = value_bytes;
	hb.value_len = 5000;
	CU_ASSERT_EQUAL(qr_wire_long_encode(&hb, lf, QR_LONG_BYTES_MAX),
			QR_EINVAL);
	/* A valid 1,025 B form, then its prefix and value cut to 1,024. */
	m.value_len = QR_VALUE_INLINE_MAX + 1;
	long n = qr_wire_long_encode(&m, lf, QR_LONG_BYTES_MAX);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(qr_wire_long_decode(lf, (size_t)n, &d), 0);
	qr_st32(lf, QR_VALUE_INLINE_MAX);
	CU_ASSERT_EQUAL(qr_wire_long_decode(lf, (size_t)n - 1, &d),
			QR_EWIRE_LENGTH);
	qr_st32(lf, QR_VALUE_BYTES_MAX + 1);
	CU_ASSERT(qr_wire_long_decode(lf, (size_t)n, &d) < 0);
	/* Inner message with an inline value of 5 bytes, then 1,025 more. */
	struct qr_frame_writer w = {.buf = lf + 4,
				    .cap = QR_FRAME_BYTES_MAX};
	struct qr_msg inner = sample(QR_MSG_REPLICATE, 5);
	CU_ASSERT_FATAL(qr_wire_put(&w, &inner) == 0);
	qr_st32(lf, QR_VALUE_INLINE_MAX + 1);
	memcpy(lf + 4 + w.len, value_bytes, QR_VALUE_INLINE_MAX + 1);
	CU_ASSERT_EQUAL(qr_wire_long_decode(lf, 4u + w.len +
						    QR_VALUE_INLINE_MAX + 1,
					    &d),
			QR_EWIRE_FIELD);
	/* A HEARTBEAT's long form. */
	w = (struct qr_frame_writer){.buf = lf + 4, .cap = QR_FRAME_BYTES_MAX};
	hb.value = NULL;
	hb.value_len = 0;
	CU_ASSERT_FATAL(qr_wire_put(&w, &hb) == 0);
	memcpy(lf + 4 + w.len, value_bytes, QR_VALUE_INLINE_MAX + 1);
	CU_ASSERT_EQUAL(qr_wire_long_decode(lf, 4u + w.len +
						    QR_VALUE_INLINE_MAX + 1,
					    &d),
			QR_EWIRE_FIELD);
}

/* A copy of buf ending where a PROT_NONE page begins. */
static uint8_t *guarded_copy(const uint8_t *buf, size_t len)
{
	static uint8_t *base;
	static size_t span;
	if (!base) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		span = 4 * page;
		void *p = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CU_ASSERT_FATAL(p != MAP_FAILED);
		base = p;
		CU_ASSERT_FATAL(mprotect(base + span, page, PROT_NONE) == 0);
	}
	CU_ASSERT_FATAL(len <= span);
	uint8_t *dst = base + span - len;
	if (len)
		memcpy(dst, buf, len);
	return dst;
}

static bool is_wire_err(int rc)
{
	return rc <= QR_EWIRE_SHORT && rc >= QR_EWIRE_COUNT;
}

/* W1: every proper prefix is rejected; every single-bit flip is rejected
 * with a QR_EWIRE_* error or decodes to a valid message whose long form
 * is exactly the flipped bytes. */
static void test_every_truncation_and_bit_flip(void)
{
	static uint8_t base[4096], re[4096];
	setup();
	for (size_t t = 0; t < QR_ARRAY_LEN(valued_types); t++) {
		struct qr_msg m = sample(valued_types[t], 1100), d;
		long n = qr_wire_long_encode(&m, base, sizeof(base));
		CU_ASSERT_FATAL(n > 0);
		for (long cut = 0; cut < n; cut++) {
			int rc = qr_wire_long_decode(
				guarded_copy(base, (size_t)cut), (size_t)cut,
				&d);
			CU_ASSERT(rc < 0 && is_wire_err(rc));
		}
		unsigned ok = 0, bad = 0;
		for (long bit = 0; bit < n * 8; bit++) {
			base[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			uint8_t *g = guarded_copy(base, (size_t)n);
			int rc = qr_wire_long_decode(g, (size_t)n, &d);
			if (rc == 0) {
				ok++;
				CU_ASSERT(qr_wire_long_fields_ok(&d));
				CU_ASSERT_EQUAL(qr_wire_long_encode(&d, re,
								    sizeof(re)),
						n);
				CU_ASSERT(!memcmp(re, g, (size_t)n));
			} else {
				bad++;
				CU_ASSERT(is_wire_err(rc));
			}
			base[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Flips in the value and most fields stay valid; in the
		 * prefix, lengths and types they do not. */
		CU_ASSERT(ok > 1100 * 8 && bad > 32);
	}
}

/* FRAG: the chunk fills a frame (8-byte multiple, the floor below, the
 * frame maximum above); fragments cover the form in order and stop; the
 * encoder refuses every inconsistent field. */
static void test_frag_fields(void)
{
	setup();
	uint32_t chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(chunk, (QR_FRAME_BYTES_MAX - QR_FRAME_HDR_BYTES -
				QR_FRAG_FIXED_BYTES) & ~7u);
	/* jumbo peer frames (limits.h L6): the chunk grows with the frame up
	 * to QR_FRAME_JUMBO_MAX, no further */
	uint32_t jumbo = qr_wire_frag_chunk(QR_FRAME_JUMBO_MAX);
	CU_ASSERT_EQUAL(jumbo, (QR_FRAME_JUMBO_MAX - QR_FRAME_HDR_BYTES -
				QR_FRAG_FIXED_BYTES) & ~7u);
	CU_ASSERT_EQUAL(qr_wire_frag_chunk(QR_FRAME_JUMBO_MAX * 4), jumbo);
	CU_ASSERT_EQUAL(qr_wire_frag_chunk(100), QR_FRAG_CHUNK_MIN);
	CU_ASSERT_EQUAL(qr_wire_frag_chunk(QR_FRAME_BYTES_MAX - 32) % 8, 0);
	uint8_t frame[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_msg f;
	uint32_t total = 3 * chunk + 5, crc = 0x12345678;
	memcpy(lf, value_bytes, total);
	for (uint32_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL_FATAL(qr_wire_frag_msg(&f, lf, total, crc,
						       chunk, 0xabc, 0xdef, i),
				      1);
		CU_ASSERT(f.type == QR_MSG_FRAG && f.op_id == 0xabc &&
			  f.incarnation == 0xdef && f.frag.total == total &&
			  f.frag.chunk == chunk && f.frag.crc == crc &&
			  f.frag.offset == i * chunk &&
			  f.value == lf + i * chunk &&
			  f.value_len == (i < 3 ? chunk : 5));
		qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
		CU_ASSERT_EQUAL(qr_wire_put(&w, &f), 0); /* fills a frame */
		struct qr_frag fr;
		qr_wire_frag_of(&f, 42, &fr);
		CU_ASSERT(fr.src == 42 && fr.msg_id == 0xabc &&
			  fr.incarnation == 0xdef && fr.total == total &&
			  fr.chunk == chunk && fr.crc == crc &&
			  fr.offset == i * chunk && fr.data == f.value &&
			  fr.len == f.value_len);
	}
	CU_ASSERT_EQUAL(qr_wire_frag_msg(&f, lf, total, crc, chunk, 1, 1, 4),
			0);
	struct qr_msg good;
	qr_wire_frag_msg(&good, lf, total, crc, chunk, 1, 1, 1);
	struct qr_msg bad[6];
	for (int i = 0; i < 6; i++)
		bad[i] = good;
	bad[0].frag.offset += 8;		   /* not a chunk boundary */
	bad[1].frag.offset = 4 * chunk;		   /* past the end */
	bad[2].frag.chunk = QR_FRAG_CHUNK_MIN - 8; /* under the floor */
	bad[3].value_len = chunk - 1;		   /* not what it must hold */
	bad[4].frag.total = QR_LONG_BYTES_MAX + 1;
	bad[5].frag.total = 0;
	for (int i = 0; i < 6; i++) {
		qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
		CU_ASSERT_EQUAL(qr_wire_put(&w, &bad[i]), QR_EINVAL);
	}
}

/* FRAG_NACK: round-trips through a frame; refused when its bitmap is
 * empty, longer than QR_FRAG_NACK_BYTES_MAX, or names chunks past the
 * message's last, or its offset is off a chunk boundary. */
static void test_frag_nack_fields(void)
{
	uint32_t chunk = 1024, total = 20 * chunk + 7; /* 21 chunks */
	uint8_t bits[QR_FRAG_NACK_BYTES_MAX + 1] = {0x05, 0x80, 0x01};
	struct qr_msg good = {.type = QR_MSG_FRAG_NACK, .op_id = 0x1234,
			      .incarnation = 77,
			      .frag = {.total = total, .chunk = chunk,
				       .crc = 0xfeed, .offset = 2 * chunk},
			      .value = bits, .value_len = 3};
	uint8_t frame[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_reader r;
	struct qr_msg d;
	qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
	CU_ASSERT_EQUAL_FATAL(qr_wire_put(&w, &good), 0);
	size_t len = qr_wire_frame_end(&w);
	CU_ASSERT_FATAL(qr_wire_frame_open(&r, frame, len, CLUSTER, NULL) == 0);
	CU_ASSERT_FATAL(qr_wire_next(&r, &d) == 1);
	CU_ASSERT(d.type == QR_MSG_FRAG_NACK && d.op_id == 0x1234 &&
		  d.incarnation == 77 && d.frag.total == total &&
		  d.frag.chunk == chunk && d.frag.crc == 0xfeed &&
		  d.frag.offset == 2 * chunk && d.value_len == 3 &&
		  memcmp(d.value, bits, 3) == 0);
	CU_ASSERT_FALSE(qr_wire_carries_value(QR_MSG_FRAG_NACK));
	struct qr_msg bad[5];
	for (int i = 0; i < 5; i++)
		bad[i] = good;
	bad[0].value_len = 0;			    /* names nothing */
	bad[1].value_len = QR_FRAG_NACK_BYTES_MAX + 1; /* too long */
	bad[2].value_len = 4; /* 19 chunks from chunk 2: 3 bytes at most */
	bad[3].frag.offset = 2 * chunk + 8;	    /* off a boundary */
	bad[4].frag.offset = total + 1;		    /* past the end */
	for (int i = 0; i < 5; i++) {
		qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
		CU_ASSERT_EQUAL(qr_wire_put(&w, &bad[i]), QR_EINVAL);
	}
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"roundtrip_every_valued_type_and_size",
		 test_roundtrip_every_valued_type_and_size},
		{"one_encoding_per_message", test_one_encoding_per_message},
		{"every_truncation_and_bit_flip",
		 test_every_truncation_and_bit_flip},
		{"frag_fields", test_frag_fields},
		{"frag_nack_fields", test_frag_nack_fields},
		{NULL, NULL},
	};
	return qr_unit_main("wire_long", cases);
}
